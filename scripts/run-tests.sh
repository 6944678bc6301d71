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
# The slow builds (real kube-apiserver + etcd, real SeaweedFS S3 server) run niced in the background
# while the other layers test, so only a cold machine pays for them and it pays less; when cached
# they are done in a second. Their output goes to a log shown if they fail.
builds_log=$(mktemp -t sovereign-builds.XXXXXX)
setsid bash -c 'scripts/kube-build.sh && scripts/weed-build.sh' >"$builds_log" 2>&1 &
builds_pid=$!   # its own process group: a failing layer stops the Go compilers too
trap 'kill -- "-$builds_pid" 2>/dev/null || true' EXIT
wait_builds() {
  if wait "$builds_pid"; then cat "$builds_log"; else cat "$builds_log"; return 1; fi
}
step "unit tests"        pytest tests/unit
step "ansible-test sanity" scripts/sanity.sh
step "ansible-lint"      ansible-lint --profile production
step "podman image"      scripts/podman/build-image.sh
scenarios=()
for f in extensions/molecule/*/molecule.yml; do d=${f%/molecule.yml}; scenarios+=("${d##*/}"); done
step "molecule"          scripts/molecule.sh "${scenarios[@]}"
step "slow builds (kube-apiserver, etcd, weed)" wait_builds   # built once per machine, cached
step "integration tests" pytest tests/integration
echo
echo "make test: all layers passed in $(( $(date +%s) - t0 )) s"
