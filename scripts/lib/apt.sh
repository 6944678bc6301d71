# shellcheck shell=bash
# Sourced by the scripts that install packages with apt-get: `apt_get PREFIX ARGS...` runs apt-get
# once no other process holds the apt/dpkg locks (unattended-upgrades holds them for minutes on a
# fresh machine), waiting at most APT_LOCK_TIMEOUT seconds (default 600) and saying who it waits for.
# apt-get's own DPkg::Lock::Timeout covers only the dpkg lock, not `apt-get update`'s lists lock.

APT_LOCK_TIMEOUT=${APT_LOCK_TIMEOUT:-600}
_apt_locks=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock)

# "process PID (COMMAND) holds PATH", one line per held apt/dpkg lock (nothing without lslocks).
apt_lock_holders() {
  command -v lslocks >/dev/null 2>&1 || return 0
  local pid path lock
  lslocks --noheadings --raw --output PID,PATH 2>/dev/null | while read -r pid path; do
    for lock in "${_apt_locks[@]}"; do
      if [ "$path" = "$lock" ]; then
        echo "process $pid ($(ps -o comm= -p "$pid" 2>/dev/null || echo gone)) holds $path"
      fi
    done
  done
}

# apt_get PREFIX ARGS...: apt-get ARGS once the locks are free; returns 75 (EX_TEMPFAIL) when they
# stay held for APT_LOCK_TIMEOUT seconds, apt-get's status otherwise.
apt_get() {
  local prefix=$1 holders line said="" deadline=$((SECONDS + APT_LOCK_TIMEOUT))
  shift
  while holders=$(apt_lock_holders) && [ -n "$holders" ]; do
    if [ -z "$said" ]; then
      echo "$prefix: waiting up to ${APT_LOCK_TIMEOUT} s for the apt/dpkg lock:" >&2
      while IFS= read -r line; do echo "  $line"; done <<<"$holders" >&2
      said=1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$prefix: gave up after ${APT_LOCK_TIMEOUT} s waiting for the apt/dpkg lock; another package manager" >&2
      echo "  is still running (see it with: ps -o pid,etime,args -p $(echo "$holders" | awk '{print $2}' | sort -u | paste -sd,))." >&2
      echo "  Let it finish and run this again, or wait longer: APT_LOCK_TIMEOUT=1800 $0" >&2
      return 75
    fi
    sleep 1
  done
  [ -n "$said" ] && echo "$prefix: the apt/dpkg lock is free, going on" >&2
  # Between our look and apt-get's own locking another process may start: apt-get waits for the
  # dpkg lock itself for the time that is left.
  local left=$((deadline - SECONDS))
  [ "$left" -gt 0 ] || left=1
  apt-get -o DPkg::Lock::Timeout="$left" "$@"
}
