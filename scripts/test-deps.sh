#!/usr/bin/env bash
# Install the system tools the test suite needs on the controller (a fresh CI machine has none).
# Idempotent: only missing packages are installed. Without root or apt it says what is missing
# and carries on; the tests that need a missing tool skip with a reason. When another apt
# process holds the dpkg lock it waits (at most APT_LOCK_TIMEOUT seconds, default 600) and says for whom.
#   scripts/test-deps.sh                     the suite's tools
#   scripts/test-deps.sh PACKAGE:PROBE ...   only these (PROBE: a command, or an absolute path)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/apt.sh
. "$here/lib/apt.sh"

# package:command pairs (the command proves the package is present)
wanted=(
  "restic:restic"
  "syncthing:syncthing"
  "ffmpeg:ffmpeg"
  "libimage-exiftool-perl:exiftool"
  "libvips-tools:vipsthumbnail"
  "postgresql:/usr/lib/postgresql"
  "smbclient:smbclient"
  "rsync:rsync"
  "shellcheck:shellcheck"
  "chromium:chromium"
  "busybox:busybox"
)
[ $# -gt 0 ] && wanted=("$@")

missing=()
for pair in "${wanted[@]}"; do
  pkg=${pair%%:*}; probe=${pair#*:}
  if [[ $probe == /* ]]; then [ -e "$probe" ] && continue; else command -v "$probe" >/dev/null 2>&1 && continue; fi
  missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  rc=0
  apt_get test-deps install -y -q --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
  [ "$rc" -eq 75 ] && exit 1  # the lock stayed held: apt_get said so
  if [ "$rc" -ne 0 ]; then  # stale package lists: refresh them once
    apt_get test-deps update -q >/dev/null
    apt_get test-deps install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "test-deps: missing ${missing[*]} (not root or no apt-get); tests that need them will skip." >&2
  echo "  install them with: sudo apt-get install ${missing[*]}" >&2
fi
