#!/usr/bin/env bash
# Create .venv with a Python >= 3.12 and install the pinned controller requirements.
# Re-runs are cheap: the install is skipped while requirements and constraints are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
REQ=requirements/controller.txt
LOCK=requirements/constraints.txt
STAMP="$VENV/.sovereign-requirements.sha256"

python_ok() {
  "$1" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

find_python() {
  local candidates=() c
  [ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
  for c in python3.13 python3.12 python3; do
    command -v "$c" >/dev/null 2>&1 && candidates+=("$(command -v "$c")")
  done
  # pyenv installs are not on PATH unless selected; look at them directly.
  local root=${PYENV_ROOT:-$HOME/.pyenv}
  for c in "$root"/versions/3.13*/bin/python3.13 "$root"/versions/3.12*/bin/python3.12; do
    [ -x "$c" ] && candidates+=("$c")
  done
  for c in "${candidates[@]}"; do
    if python_ok "$c"; then echo "$c"; return 0; fi
  done
  return 1
}

if [ -x "$VENV/bin/python" ] && ! python_ok "$VENV/bin/python"; then
  echo "bootstrap: $VENV uses Python < 3.12; recreating it." >&2
  rm -rf "$VENV"
fi

if [ ! -x "$VENV/bin/python" ]; then
  if ! PY=$(find_python); then
    cat >&2 <<'MSG'
bootstrap: no Python >= 3.12 found (ansible 14 needs it on the controller).
  Looked at: $PYTHON, python3.13, python3.12 and python3 on PATH, and ~/.pyenv/versions/3.1[23]*.
  Install one, then run make again:
    Debian 13 / Ubuntu 24.04:  sudo apt install python3 python3-venv
    Debian 12:                 pyenv install 3.12   (or: uv python install 3.12)
    macOS:                     brew install python@3.12
  Or point at one explicitly:  make PYTHON=/path/to/python3.12 demo
MSG
    exit 1
  fi
  echo "bootstrap: creating $VENV with $PY ($("$PY" -V 2>&1))"
  "$PY" -m venv "$VENV"
fi

want=$(cat "$REQ" "$LOCK" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing pinned controller requirements into $VENV (about a minute the first time)"
  {
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ" -c "$LOCK"
  } 2> >(sed -u "/^WARNING: Location 'file:/d" >&2)
  echo "$want" > "$STAMP"
fi
