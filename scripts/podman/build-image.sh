#!/usr/bin/env bash
# Build the Debian bookworm image that molecule scenarios boot (systemd as PID 1) from scratch:
# debootstrap from the mirror in this machine's own apt sources, then `podman import`.
# No registry is contacted. The tag is the hash of this file, so the image is rebuilt only
# when this recipe changes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/podman/env.sh
. "$here/env.sh"
# shellcheck source=scripts/lib/apt.sh
. "$here/../lib/apt.sh"

need=()
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v runc >/dev/null 2>&1 || need+=(runc)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "build-image: installing ${need[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    rc=0
    apt_get build-image install -y -q "${need[@]}" >/dev/null || rc=$?
    [ "$rc" -eq 75 ] && exit 1  # the lock stayed held: apt_get said so
    if [ "$rc" -ne 0 ]; then
      apt_get build-image update -q >/dev/null && apt_get build-image install -y -q "${need[@]}" >/dev/null
    fi
  else
    echo "build-image: molecule needs ${need[*]}, which are missing, and this is not a root shell on a" >&2
    echo "  Debian-like system, so they cannot be installed here. Install them, e.g.:" >&2
    echo "    sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi

if podman image exists "$SOVEREIGN_IMAGE"; then
  echo "build-image: $SOVEREIGN_IMAGE is up to date"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "build-image: debootstrap needs root to build $SOVEREIGN_IMAGE; run 'sudo make image' once." >&2
  exit 1
fi

# The mirror this machine already uses (deb822 first, then the classic format): never hard-coded.
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) {print $i; exit}}' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
fi
if [ -z "$mirror" ]; then
  echo "build-image: no Debian mirror found in /etc/apt/sources.list{,.d}; add one, or set it in apt first." >&2
  exit 1
fi

work=$(mktemp -d /var/tmp/sovereign-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "build-image: debootstrap bookworm from $mirror (about a minute)"
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,ca-certificates,iproute2,procps,tzdata,locales \
  bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
# Containers boot systemd without a console: mask the units that only make sense on real hardware.
chroot "$work/rootfs" systemctl mask -q \
  getty@tty1.service console-getty.service systemd-udevd.service systemd-udev-trigger.service \
  systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount >/dev/null 2>&1 || true
echo 'deb '"$mirror"' bookworm main' > "$work/rootfs/etc/apt/sources.list"
# Throwaway test hosts: dpkg need not fsync every file it unpacks (halves package installs).
echo force-unsafe-io > "$work/rootfs/etc/dpkg/dpkg.cfg.d/sovereign-test-unsafe-io"
# Ship real package lists: a fresh host with an empty but recent lists/ directory would look
# "valid" to cache_valid_time and make --check report packages as unavailable.
chroot "$work/rootfs" apt-get update -q >/dev/null
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb
tar -C "$work/rootfs" -c . | podman import --quiet \
  --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$SOVEREIGN_IMAGE" >/dev/null
echo "build-image: built $SOVEREIGN_IMAGE"
