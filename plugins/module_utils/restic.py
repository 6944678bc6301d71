# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A small client for restic 0.14 (Debian bookworm), standard library only.

Used by the modules (``restic_repository``, ``restore_drill``) and copied next to the backup
runner that the ``restic_backup`` role installs on each host, so every quirk of restic 0.14 is
handled in one place:

* exit codes are only 0 (ok), 1 (fatal) and 3 (backup incomplete): "no repository" and "wrong
  password" are both rc 1 and are told apart by the text on stderr;
* ``--json`` output can carry non-JSON lines (warnings such as "<path> does not exist, skipping"),
  ``forget --prune --json`` prints prune's text report after the JSON, and backup errors arrive as
  JSON lines on stderr;
* ``init --json`` and ``check --json`` print text only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

OK, FATAL, INCOMPLETE = 0, 1, 3

# Retention rules restic 0.14 understands, as role/module keys -> forget flags.
RETENTION_COUNTS = ("keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly")
RETENTION_DURATIONS = ("keep_within", "keep_within_hourly", "keep_within_daily", "keep_within_weekly",
                       "keep_within_monthly", "keep_within_yearly")
RETENTION_KEYS = RETENTION_COUNTS + RETENTION_DURATIONS + ("keep_tag",)
_DURATION = re.compile(r"^(\d+[ymdh])+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MISSING = " does not exist, skipping"
_SUBSET = re.compile(r"^(\d+(\.\d+)?%|\d+/\d+|\d+[KMGT]?)$")


class ResticError(Exception):
    """restic failed; ``str()`` says what failed and what to do next."""

    def __init__(self, message: str, rc: int | None = None, stderr: str = "", kind: str = "error") -> None:
        super().__init__(message)
        self.rc = rc
        self.stderr = stderr
        self.kind = kind


# ---------------------------------------------------------------------------------------------
# Environment and env files
def parse_env_value(raw: str) -> str:
    """One value of a systemd EnvironmentFile / shell assignment: 'single', "double" (escapes
    \\" \\\\ \\` \\$), or unquoted (a backslash keeps the next character)."""
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        char = raw[i]
        if char == "'":
            end = raw.find("'", i + 1)
            if end < 0:
                raise ValueError("unterminated single quote")
            out.append(raw[i + 1:end])
            i = end + 1
        elif char == '"':
            i += 1
            while i < n and raw[i] != '"':
                if raw[i] == "\\" and i + 1 < n and raw[i + 1] in '"\\`$':
                    out.append(raw[i + 1])
                    i += 2
                else:
                    out.append(raw[i])
                    i += 1
            if i >= n:
                raise ValueError("unterminated double quote")
            i += 1
        elif char == "\\" and i + 1 < n:
            out.append(raw[i + 1])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def quote_env_value(value: str) -> str:
    """A value written so that systemd, a POSIX shell and :func:`parse_env_value` read it back."""
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError("environment values cannot contain newlines or NUL")
    return '"' + re.sub(r'(["\\`$])', r"\\\1", value) + '"'


def read_env_file(path: str) -> dict[str, str]:
    """Read ``KEY=value`` lines (comments and blank lines ignored), as the role writes them."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise ResticError(f"cannot read the restic environment file {path}: {exc.strerror}; the "
                          "sovereign.cloud.restic_backup role writes it (root only, mode 0600)", kind="config") from exc
    env: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        key, sep, raw = stripped.partition("=")
        key = key.strip()
        if key.startswith("export "):
            key = key[len("export "):].strip()
        if not sep or not _ENV_NAME.match(key):
            raise ResticError(f"{path} line {number}: expected KEY=value", kind="config")
        try:
            env[key] = parse_env_value(raw.strip())
        except ValueError as exc:
            raise ResticError(f"{path} line {number}: {exc}", kind="config") from exc
    return env


def build_env(repository: str | None = None, password: str | None = None, password_file: str | None = None,
              env_file: str | None = None, env: dict | None = None, cache_dir: str | None = None,
              base: dict | None = None) -> dict[str, str]:
    """The environment a restic process runs with: ``base`` (default: this process's), then the
    env file, then ``env``, then the explicit repository/password options."""
    result = dict(os.environ if base is None else base)
    if env_file:
        result.update(read_env_file(env_file))
    for key, value in (env or {}).items():
        if not _ENV_NAME.match(str(key)):
            raise ResticError(f"invalid environment variable name {key!r}", kind="config")
        result[str(key)] = str(value)
    if repository:
        result["RESTIC_REPOSITORY"] = repository
    if password is not None:
        result["RESTIC_PASSWORD"] = password
        result.pop("RESTIC_PASSWORD_FILE", None)
    elif password_file:
        result["RESTIC_PASSWORD_FILE"] = password_file
        result.pop("RESTIC_PASSWORD", None)
    if cache_dir:
        result["RESTIC_CACHE_DIR"] = cache_dir
    if not result.get("RESTIC_REPOSITORY") and not result.get("RESTIC_REPOSITORY_FILE"):
        raise ResticError("no restic repository given: set the repository option (or RESTIC_REPOSITORY in the "
                          "env file)", kind="config")
    if not any(result.get(k) for k in ("RESTIC_PASSWORD", "RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND")):
        raise ResticError("no restic password given: set the password or password_file option (or RESTIC_PASSWORD "
                          "in the env file); restic would otherwise wait for a password on stdin", kind="config")
    return result


def secret_values(env: dict[str, str]) -> set[str]:
    """Values that must never be shown: passwords and credentials found in ``env``."""
    markers = ("PASSWORD", "SECRET", "KEY", "TOKEN", "CREDENTIAL")
    return {value for key, value in env.items()
            if value and len(value) > 2 and any(m in key.upper() for m in markers) and not key.endswith("_FILE")}


def redact_repository(repository: str) -> str:
    """A repository location safe to print and store: ``user:password@`` becomes ``user:***@``."""
    return re.sub(r"(://[^/:@]+):[^/@]*@", r"\1:***@", repository or "")


# ---------------------------------------------------------------------------------------------
# Running restic
def find_restic(binary: str = "restic") -> str:
    path = binary if os.path.sep in binary else shutil.which(binary)
    if not path or not os.access(path, os.X_OK):
        raise ResticError(f"restic is not installed ({binary} not found): install it with 'apt-get install restic' "
                          "or apply the sovereign.cloud.restic_backup role first", kind="missing")
    return path


def run(args: list[str], env: dict[str, str], binary: str = "restic", timeout: float | None = None,
        cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run ``restic ARGS`` with no stdin (so a missing password fails instead of hanging).

    subprocess, not AnsibleModule.run_command: this file is also the library of the backup runner
    that systemd starts on the host, where there is no AnsibleModule. Modules register every secret
    in ``no_log_values`` (:func:`module_env`), and restic never prints the password.
    """
    return subprocess.run(  # pylint: disable=ansible-bad-function
        [find_restic(binary), *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        errors="replace", timeout=timeout, check=False)


# What S3 servers (AWS, Backblaze B2's S3 API, SeaweedFS, MinIO) and restic's b2: backend answer
# when the access key or its secret is wrong, or the key may not do what restic asked. restic 0.14
# then adds "Is there a repository at the following location?", which is not the problem.
_S3_DENIED = ("The request signature we calculated does not match", "SignatureDoesNotMatch",
              "The access key ID you provided does not exist", "The AWS Access Key Id you provided does not exist",
              "InvalidAccessKeyId", "Access Denied", "AccessDenied", "b2_authorize_account")
_NO_BUCKET = ("The specified bucket does not exist", "NoSuchBucket")


def classify_error(stderr: str) -> str:
    """What a rc 1 from restic 0.14 means, from its stderr text."""
    text = stderr or ""
    if "wrong password or no key found" in text:
        return "wrong_password"
    if any(marker in text for marker in _S3_DENIED):
        return "access_denied"
    if ("Is there a repository at the following location?" in text or "unable to open config file" in text
            or "repository does not exist" in text):
        return "no_repository"
    if "config file already exists" in text:
        return "exists"
    if "repository is already locked" in text or "unable to create lock" in text:
        return "locked"
    if "an empty password is not a password" in text or "Resolving password failed" in text:
        return "no_password"
    if "all target directories/files do not exist" in text:
        return "no_source"
    if "ciphertext verification failed" in text or "Pack ID does not match" in text or "repository contains errors" in text:
        return "damaged"
    return "error"


def last_lines(text: str, count: int = 6) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return "\n".join(lines[-count:])


def _line_with(text: str, markers: tuple[str, ...]) -> str:
    for line in (text or "").splitlines():
        if any(marker in line for marker in markers):
            return line.strip()
    return last_lines(text, 1)


def explain(kind: str, repository: str, stderr: str) -> str:
    """A one-paragraph explanation of a restic failure with the next step."""
    where = redact_repository(repository) or "the repository"
    detail = last_lines(stderr)
    if kind == "access_denied":
        names = ("B2_ACCOUNT_ID and B2_ACCOUNT_KEY" if (repository or "").startswith("b2:") else
                 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        return (f"the storage server of {where} refused the credentials ({_line_with(stderr, _S3_DENIED)}). Fix {names} "
                "in the repository's vaulted env (restic_backup_repositories[].env, or mac_backup_controller_restic_env on "
                "the Mac; keys rotated or mistyped?), "
                "check that the key may read, write, list and delete in that bucket, and run again")
    if kind == "no_repository" and any(marker in (stderr or "") for marker in _NO_BUCKET):
        return (f"there is no restic repository at {where}: its bucket does not exist on the storage server. "
                "Initialise the repository (restic init creates the bucket when the key may create buckets: the "
                "restic_backup role does when the repository's init is true, or sovereign.cloud.restic_repository), "
                "create the bucket with the provider, or fix the bucket name in the location")
    if kind == "wrong_password":
        return (f"the repository {where} exists but the password does not open it (restic: wrong password or no key "
                "found). Never initialise a new repository there: fix the repository password in the vault and run "
                "again")
    if kind == "no_repository":
        return (f"there is no restic repository at {where}. Initialise it (the restic_backup role does when the "
                "repository's init is true, or sovereign.cloud.restic_repository), or fix the location")
    if kind == "locked":
        return (f"the repository {where} is locked by another restic process ({detail}). Wait for it to finish; if "
                "that process is gone, run 'restic unlock'")
    if kind == "no_password":
        return f"no password for {where}: set RESTIC_PASSWORD in its env file or the password option"
    if kind == "damaged":
        return f"the repository {where} holds damaged data ({detail}); run 'restic check --read-data' and repair"
    return f"restic failed on {where}: {detail or 'no error text'}"


def raise_for(result: subprocess.CompletedProcess, repository: str, what: str) -> None:
    if result.returncode != OK:
        kind = classify_error(result.stderr)
        raise ResticError(f"{what}: {explain(kind, repository, result.stderr)}", rc=result.returncode,
                          stderr=result.stderr, kind=kind)


# ---------------------------------------------------------------------------------------------
# Parsing --json output
def json_lines(text: str) -> tuple[list, list[str]]:
    """Split restic output into JSON values and the other (text) lines.

    Each line is decoded on its own; a line holding a JSON value followed by text (or a JSON array
    followed by prune's report) keeps the value and hands the rest to the text lines.
    """
    decoder = json.JSONDecoder()
    values: list = []
    other: list[str] = []
    for line in (text or "").splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped[0] in "[{":
            try:
                value, end = decoder.raw_decode(stripped)
            except ValueError:
                other.append(stripped)
                continue
            values.append(value)
            rest = stripped[end:].strip()
            if rest:
                other.append(rest)
        else:
            other.append(stripped)
    return values, other


def _error_text(error: dict) -> str:
    if not isinstance(error, dict) or not error:
        return "unreadable"
    if isinstance(error.get("Err"), int):
        reason = os.strerror(error["Err"])
        return f"{error.get('Op', 'access')}: {reason}" if error.get("Op") else reason
    return error.get("message") or json.dumps(error, sort_keys=True)


def parse_backup(stdout: str, stderr: str, rc: int) -> dict:
    """The outcome of ``restic backup --json``: the summary counters, the snapshot id, the files
    that could not be read and any warnings."""
    out_values, out_text = json_lines(stdout)
    err_values, err_text = json_lines(stderr)
    summary: dict = {}
    errors: list[dict] = []
    for value in out_values + err_values:
        if not isinstance(value, dict):
            continue
        kind = value.get("message_type")
        if kind == "summary":
            summary = value
        elif kind == "error":
            errors.append({"item": value.get("item", ""), "during": value.get("during", ""),
                           "error": _error_text(value.get("error"))})
    # The same unreadable directory is reported for "scan" and "archival": keep one per item.
    unique: dict[str, dict] = {}
    for error in errors:
        unique.setdefault(error["item"], error)
    result = {
        "rc": rc,
        "snapshot_id": summary.get("snapshot_id"),
        "files_new": summary.get("files_new", 0),
        "files_changed": summary.get("files_changed", 0),
        "files_unmodified": summary.get("files_unmodified", 0),
        "dirs_new": summary.get("dirs_new", 0),
        "dirs_changed": summary.get("dirs_changed", 0),
        "dirs_unmodified": summary.get("dirs_unmodified", 0),
        "data_added": summary.get("data_added", 0),
        "total_files_processed": summary.get("total_files_processed", 0),
        "total_bytes_processed": summary.get("total_bytes_processed", 0),
        "duration_s": summary.get("total_duration"),
        "unreadable": list(unique.values()),
        "warnings": [line for line in out_text + err_text if not line.startswith("Fatal:")],
        "missing_paths": [line[:-len(_MISSING)] for line in out_text + err_text if line.endswith(_MISSING)],
        "fatal": [line for line in err_text + out_text if line.startswith("Fatal:")],
    }
    result["status"] = ("ok" if rc == OK and result["snapshot_id"] else
                        "incomplete" if rc == INCOMPLETE and result["snapshot_id"] else "failed")
    return result


def parse_forget(stdout: str) -> dict:
    """Kept and removed snapshots from ``restic forget --json`` (with or without ``--prune``)."""
    values, text = json_lines(stdout)
    groups = []
    for value in values:
        if isinstance(value, list):
            groups.extend(group for group in value if isinstance(group, dict))
    kept, removed = [], []
    for group in groups:
        kept.extend(snap.get("short_id") or snap.get("id", "")[:8] for snap in group.get("keep") or [])
        removed.extend(snap.get("short_id") or snap.get("id", "")[:8] for snap in group.get("remove") or [])
    return {"groups": len(groups), "kept": len(kept), "removed": len(removed), "kept_ids": kept,
            "removed_ids": removed, "text": text}


def parse_snapshots(stdout: str) -> list[dict]:
    values, _text = json_lines(stdout)
    for value in values:
        if isinstance(value, list):
            return [snap for snap in value if isinstance(snap, dict)]
    return []


# ---------------------------------------------------------------------------------------------
# Retention
def retention_args(policy: dict) -> list[str]:
    """``restic forget`` flags for a retention policy such as ``{keep_daily: 7, keep_weekly: 4}``.

    A policy must keep something: ``forget`` with no rule does nothing in 0.14, and a policy that
    would silently keep everything (or nothing) is a mistake worth stopping for.
    """
    if not isinstance(policy, dict) or not policy:
        raise ValueError("a retention policy needs at least one keep rule, e.g. {keep_within: 30d} or "
                         "{keep_daily: 7, keep_weekly: 4, keep_monthly: 6}")
    unknown = sorted(set(policy) - set(RETENTION_KEYS))
    if unknown:
        raise ValueError(f"unknown retention keys {unknown}; use {', '.join(RETENTION_KEYS)}")
    args: list[str] = []
    for key in RETENTION_KEYS:
        if key not in policy or policy[key] is None:
            continue
        value = policy[key]
        flag = "--" + key.replace("_", "-")
        if key in RETENTION_COUNTS:
            if isinstance(value, bool) or not isinstance(value, int) and not str(value).isdigit() or int(value) < 1:
                raise ValueError(f"{key} must be a whole number >= 1 (got {value!r})")
            args += [flag, str(int(value))]
        elif key in RETENTION_DURATIONS:
            if not _DURATION.match(str(value)):
                raise ValueError(f"{key} must be a duration such as 30d, 6m, 1y2m (got {value!r})")
            args += [flag, str(value)]
        else:
            for tags in value if isinstance(value, list) else [value]:
                args += [flag, str(tags)]
    if not args:
        raise ValueError("the retention policy has no keep rule with a value")
    return args


def valid_subset(subset: str) -> bool:
    """Whether ``--read-data-subset`` accepts ``subset`` (``5%``, ``1/5``, ``500M``)."""
    match = _SUBSET.match(str(subset))
    if not match:
        return False
    if str(subset).endswith("%"):
        return 0 < float(str(subset)[:-1]) <= 100
    if "/" in str(subset):
        n, t = (int(x) for x in str(subset).split("/"))
        return 1 <= n <= t
    return True


# ---------------------------------------------------------------------------------------------
# Shared module options (documented in plugins/doc_fragments/restic.py)
ARG_SPEC = {
    "repository": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "password_file": {"type": "path", "no_log": False},
    "env_file": {"type": "path"},
    "env": {"type": "dict", "default": {}, "no_log": True},
    "restic_binary": {"type": "str", "default": "restic"},
    "cache_dir": {"type": "path"},
}


def module_env(module) -> dict[str, str]:
    """The restic environment from a module's shared options; its secrets join ``no_log_values``."""
    params = module.params
    env = build_env(repository=params.get("repository"), password=params.get("password"),
                    password_file=params.get("password_file"), env_file=params.get("env_file"),
                    env=params.get("env"), cache_dir=params.get("cache_dir"))
    overlay = read_env_file(params["env_file"]) if params.get("env_file") else {}
    overlay.update({str(k): str(v) for k, v in (params.get("env") or {}).items()})
    module.no_log_values.update(secret_values(overlay) | {env[k] for k in ("RESTIC_PASSWORD",) if env.get(k)})
    return env
