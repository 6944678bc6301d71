# Source me: points podman (and molecule's podman driver) at the project-local configuration.
# shellcheck shell=bash
_sc_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CONTAINERS_CONF="$_sc_root/scripts/podman/containers.conf"
# The image tag is the hash of its recipe: a changed recipe builds a new image.
SOVEREIGN_IMAGE="localhost/sovereign-cloud-bookworm:$(sha256sum < "$_sc_root/scripts/podman/build-image.sh" | cut -c1-12)"
export SOVEREIGN_IMAGE
unset _sc_root
