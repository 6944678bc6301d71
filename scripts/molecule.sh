#!/usr/bin/env bash
# Run `molecule test` for each scenario given, report each result, fail if any failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=scripts/podman/env.sh
. scripts/podman/env.sh
[ $# -gt 0 ] || { echo "usage: $0 SCENARIO..." >&2; exit 2; }
failed=()
for scenario in "$@"; do
  start=$(date +%s)
  echo "=== molecule test -s $scenario"
  # One run per scenario at a time on this machine: two checkouts running the same scenario would
  # fight over the same container names.
  if flock "/tmp/sovereign-molecule-$scenario.lock" molecule test -s "$scenario"; then
    echo "=== molecule $scenario: passed in $(( $(date +%s) - start )) s"
  else
    echo "=== molecule $scenario: FAILED after $(( $(date +%s) - start )) s"
    failed+=("$scenario")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "molecule: failed scenarios: ${failed[*]}" >&2
  exit 1
fi
echo "molecule: all $# scenario(s) passed"
