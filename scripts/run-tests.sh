#!/usr/bin/env bash
# `make test`: every layer, in order of cost. Stops at the first failing layer and says which.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
step() {
  local name=$1; shift
  local start; start=$(date +%s)
  echo
  echo "################ $name"
  if ! "$@"; then
    echo "################ $name FAILED ($(( $(date +%s) - start )) s)" >&2
    exit 1
  fi
  echo "################ $name passed ($(( $(date +%s) - start )) s)"
}
step "test tools"        scripts/test-deps.sh
step "unit tests"        pytest tests/unit
step "ansible-test sanity" scripts/sanity.sh
step "ansible-lint"      ansible-lint --profile production
step "podman image"      scripts/podman/build-image.sh
scenarios=()
for f in extensions/molecule/*/molecule.yml; do d=${f%/molecule.yml}; scenarios+=("${d##*/}"); done
step "molecule"          scripts/molecule.sh "${scenarios[@]}"
step "kubernetes API server" scripts/kube-build.sh   # real kube-apiserver + etcd, built once, cached
step "integration tests" pytest tests/integration
echo
echo "make test: all layers passed in $(( $(date +%s) - t0 )) s"
