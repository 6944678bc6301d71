#!/usr/bin/env bash
# Run `ansible-test sanity` offline.
# ansible-test only accepts a collection at .../ansible_collections/<ns>/<name>, so the tracked
# (and untracked, not ignored) files are copied into .cache/sanity.XXXXXX/ansible_collections/sovereign/cloud.
# Its pip bootstrap host is unreachable here: a shim at the cached get-pip path installs pip
# with ensurepip instead (see ../shared/reference/ansible-toolchain.md section 4).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# The venv's own Python (first on PATH under make): ansible-test finds python<version> in .venv/bin.
# A fixed version would pick a pyenv shim that fails when that version is not pyenv's global one.
python_version=${SANITY_PYTHON:-$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')}

# Keep ansible-test's venv cache and the pip shim out of the user's home.
export HOME="$root/.cache/ansible-test-home"
mkdir -p "$HOME/.ansible/test/cache"
# The pip version(s) ansible-test pins, read from its own source so an upgrade keeps working.
pip_versions=$(python - <<'PY'
import pathlib, re
import ansible_test._internal.python_requirements as pr
print(" ".join(sorted(set(re.findall(r"pip='([0-9.]+)'", pathlib.Path(pr.__file__).read_text())))))
PY
)
for pip_version in $pip_versions; do
  cat > "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py" <<'SHIM'
import subprocess, sys
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + args)
SHIM
done

# A private copy per run, so that parallel runs never see each other's files.
work=$(mktemp -d "$root/.cache/sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/sovereign/cloud"
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard -- . ':!.collections' ':!.ci' \
  | while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done \
  | tar --null --no-recursion -T - -cf - | tar -xf - -C "$dest"
cd "$dest"
# The copy is its own git repository so ansible-test lists exactly these files.
git init -q && git add -A && git -c user.name=sanity -c user.email=sanity@example.com commit -qm sanity
ansible-test sanity --venv --python "$python_version" --color no "$@"
