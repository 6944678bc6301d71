#!/usr/bin/env bash
# Install the system tools the test suite needs on the controller (a fresh CI machine has none).
# Idempotent: only missing packages are installed. Without root or apt it says what is missing
# and carries on; the tests that need a missing tool skip with a reason.
set -euo pipefail

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
)

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
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "test-deps: missing ${missing[*]} (not root or no apt-get); tests that need them will skip." >&2
  echo "  install them with: sudo apt-get install ${missing[*]}" >&2
fi
