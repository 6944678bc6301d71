#!/usr/bin/env bash
# Run `molecule test` for each scenario given, report each result, fail if any failed.
# MOLECULE_JOBS scenarios run at once (default 2: a scenario mostly waits on its container, so two
# share this 2-core machine well); each one's output goes to .cache/molecule-logs/<scenario>.log
# and is printed whole when it ends, so the log reads one scenario at a time.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=scripts/podman/env.sh
. scripts/podman/env.sh
[ $# -gt 0 ] || { echo "usage: $0 SCENARIO..." >&2; exit 2; }
jobs_max=${MOLECULE_JOBS:-2}
logs=.cache/molecule-logs
mkdir -p "$logs"

run_one() {
  local scenario=$1 start rc
  start=$(date +%s)
  # One run per scenario at a time on this machine: two checkouts running the same scenario would
  # fight over the same container names.
  flock "/tmp/sovereign-molecule-$scenario.lock" molecule test -s "$scenario" >"$logs/$scenario.log" 2>&1
  rc=$?
  {
    echo "=== molecule test -s $scenario"
    cat "$logs/$scenario.log"
    if [ "$rc" -eq 0 ]; then
      echo "=== molecule $scenario: passed in $(( $(date +%s) - start )) s"
    else
      echo "=== molecule $scenario: FAILED after $(( $(date +%s) - start )) s"
    fi
  } | flock "$logs/.print.lock" cat
  return "$rc"
}

declare -A pids=()
failed=()
collect() {  # wait for one finished scenario
  local pid scenario
  wait -n -p pid "${!pids[@]}"
  local rc=$?
  scenario=${pids[$pid]}
  unset "pids[$pid]"
  [ "$rc" -eq 0 ] || failed+=("$scenario")
}
for scenario in "$@"; do
  while [ ${#pids[@]} -ge "$jobs_max" ]; do collect; done
  run_one "$scenario" &
  pids[$!]=$scenario
done
while [ ${#pids[@]} -gt 0 ]; do collect; done

if [ ${#failed[@]} -gt 0 ]; then
  echo "molecule: failed scenarios: ${failed[*]}" >&2
  exit 1
fi
echo "molecule: all $# scenario(s) passed"
