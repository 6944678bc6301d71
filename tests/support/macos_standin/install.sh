#!/bin/sh
# Install the macOS stand-ins (NOT macOS: tests/support/macos_standin/bin/*, Python executables that
# keep their state in files) on a Linux test host, as the mac_nodes molecule scenario's prepare does:
#   install.sh SRC_BIN_DIR [--gui-session UID]...
# Copies every stand-in to /usr/local/bin, creates the state directory ($MACOS_STANDIN_STATE,
# default /var/lib/macos-standin; sticky and world-writable, since brew and defaults run as the
# users who own them), records the given uids as logged in to a GUI session (launchctl), and writes
# /etc/macos-standin: the marker the roles require, with their *_allow_standin variable, before
# they accept a host that is not Darwin.
set -eu
src=$1
shift
state=${MACOS_STANDIN_STATE:-/var/lib/macos-standin}
mkdir -p "$state" /usr/local/bin
chmod 1777 "$state"
for tool in "$src"/*; do
  # Any python shebang becomes /usr/bin/python3 (the test image has no `python`).
  sed '1s|^#!.*python.*$|#!/usr/bin/python3|' "$tool" > "/usr/local/bin/$(basename "$tool")"
  chmod 0755 "/usr/local/bin/$(basename "$tool")"
done
sessions=""
while [ $# -gt 0 ]; do
  case $1 in
    --gui-session) sessions="$sessions${sessions:+, }$2"; shift 2 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ ! -f "$state/launchctl.json" ]; then
  printf '{"sessions": [%s], "services": {}}\n' "$sessions" > "$state/launchctl.json"
fi
printf 'macOS stand-ins from sovereign.cloud tests/support/macos_standin (not macOS)\nstate=%s\n' "$state" > /etc/macos-standin
