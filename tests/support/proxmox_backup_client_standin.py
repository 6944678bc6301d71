"""A STAND-IN for ``proxmox-backup-client`` (not installable here: not in Debian, not on PyPI), for tests only.

It checks its arguments against the documented CLI (reference/proxmox-syncthing-restic.md §6, from the
3.2.4 source) and answers like the real client where the tests look:
- ``backup <label>.<pxar|img|conf|log>:<path> [--repository R] [--keyfile F] [--ns NS] [--backup-id ID]
  [--backup-type host] [--exclude P]...``; ``snapshot list --output-format json``;
  ``restore <type>/<id>/<time> <archive> <target> [--pattern P]... [--keyfile F]``;
- repository ``[[USER@REALM[!TOKEN]@]HOST[:PORT]:]DATASTORE`` from ``--repository`` or ``PBS_REPOSITORY``;
  the secret from ``PBS_PASSWORD`` (or ``PBS_PASSWORD_FILE``); the server fingerprint from ``PBS_FINGERPRINT``;
- a wrong fingerprint fails like the real client run without a TTY: the "certificate fingerprint does not
  match" warning, then ``Error: ... certificate verify failed``, exit status 255.
Unlike the real client, snapshots are plain directories (``<root>/<store>/<ns>/<type>/<id>/<time>/<archive>/``),
so a restore copies files. The "server" it talks to is a JSON file named by ``PBS_STANDIN_CONFIG``
(default /etc/proxmox-backup-client-standin.json): ``{"root", "host", "port", "fingerprint", "tokens": {auth: secret},
"datastores": [..]}``. Every call is appended to ``<root>/calls.jsonl`` (argv, without the environment's secrets).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
import time
from datetime import datetime, timezone

REPOSITORY = re.compile(r"^(?:(?:(?P<auth>[^@!:]+@[A-Za-z0-9_.-]+(?:![A-Za-z0-9_.-]+)?)@)?"
                        r"(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+)(?::(?P<port>\d+))?:)?"
                        r"(?P<store>[A-Za-z0-9_][A-Za-z0-9._-]{2,31})$")
SPEC = re.compile(r"^(?P<label>[A-Za-z0-9_][A-Za-z0-9._-]*)\.(?P<type>pxar|img|conf|log):(?P<path>.+)$")
FINGERPRINT = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){31}$")
WITH_VALUE = {"--repository", "--keyfile", "--ns", "--backup-id", "--backup-type", "--backup-time", "--exclude",
              "--pattern", "--output-format", "--crypt-mode", "--chunk-size"}
FLAGS = {"--all-file-systems", "--skip-lost-and-found", "--dry-run", "--allow-existing-dirs", "--overwrite"}


def fail(message: str, code: int = 255) -> None:
    print(f"Error: {message}", file=sys.stderr)
    sys.exit(code)


def parse(argv: list[str]) -> tuple[list[str], dict]:
    positional, options = [], {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name in FLAGS:
                options[name] = True
            elif name in WITH_VALUE:
                if not eq:
                    i += 1
                    if i >= len(argv):
                        fail(f"parameter '{name[2:]}': missing value")
                    value = argv[i]
                options.setdefault(name, []).append(value)
            else:
                fail(f"schema does not allow additional properties: '{name[2:]}'", 255)
        else:
            positional.append(arg)
        i += 1
    return positional, options


def server() -> dict:
    path = os.environ.get("PBS_STANDIN_CONFIG", "/etc/proxmox-backup-client-standin.json")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def secret() -> str | None:
    if os.environ.get("PBS_PASSWORD"):
        return os.environ["PBS_PASSWORD"]
    if os.environ.get("PBS_PASSWORD_FILE"):
        with open(os.environ["PBS_PASSWORD_FILE"], encoding="utf-8") as handle:
            return handle.readline().rstrip("\n")
    return None


def connect(options: dict, cfg: dict) -> tuple[dict, str]:
    repo = (options.get("--repository") or [os.environ.get("PBS_REPOSITORY", "")])[-1]
    if not repo:
        fail("unable to get (default) repository")
    match = REPOSITORY.match(repo)
    if not match:
        fail("parameter verification failed - 'repository': value does not match the regex pattern")
    auth = match.group("auth") or "root@pam"
    host = (match.group("host") or "localhost").strip("[]")
    port = int(match.group("port") or 8007)
    if host not in (cfg.get("host", "localhost"), "localhost") or port != cfg.get("port", 8007):
        fail("error trying to connect: tcp connect error: Connection refused (os error 111)")
    pinned = os.environ.get("PBS_FINGERPRINT", "")
    if pinned and not FINGERPRINT.match(pinned):
        fail("parameter verification failed - 'fingerprint': value does not match the regex pattern")
    if pinned.lower() != cfg["fingerprint"].lower():
        print("WARNING: certificate fingerprint does not match expected fingerprint!", file=sys.stderr)
        print(f"expected:    {pinned.lower() or '(none)'}", file=sys.stderr)
        fail("error trying to connect: error:0A000086:SSL routines:tls_post_process_server_certificate:"
             "certificate verify failed:../ssl/statem/statem_clnt.c:1889:")
    password = secret()
    if password is None:
        fail("no password input mechanism available")
    if cfg.get("tokens", {}).get(auth) != password:
        fail("authentication failed - invalid credentials" if "!" not in auth else
             "authentication failed - invalid API token", 255)
    store = match.group("store")
    if store not in cfg.get("datastores", [store]):
        fail(f"no such datastore '{store}'")
    return cfg, os.path.join(cfg["root"], store)


def keyfile_of(options: dict) -> str | None:
    path = (options.get("--keyfile") or [None])[-1]
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                if "data" not in json.load(handle):
                    raise ValueError("no data")
        except (OSError, ValueError) as exc:
            fail(f"unable to load encryption key from {path!r} - {exc}")
    return path


def snapshot_dirs(store_dir: str, ns: str) -> list[tuple[str, dict]]:
    base = os.path.join(store_dir, *(f"ns/{p}" for p in ns.split("/") if p))
    found = []
    for kind in ("host", "ct", "vm"):
        for backup_id in sorted(os.listdir(os.path.join(base, kind))) if os.path.isdir(os.path.join(base, kind)) else []:
            for stamp in sorted(os.listdir(os.path.join(base, kind, backup_id))):
                meta = os.path.join(base, kind, backup_id, stamp, "index.json")
                if os.path.isfile(meta):
                    with open(meta, encoding="utf-8") as handle:
                        found.append((os.path.dirname(meta), json.load(handle)))
    return found


def cmd_backup(positional: list[str], options: dict) -> None:
    if not positional:
        fail("parameter verification failed - 'backupspec': parameter is missing and it is not optional.")
    cfg, store_dir = connect(options, server())
    keyfile = keyfile_of(options)
    ns = (options.get("--ns") or [""])[-1]
    if ns and not os.path.isdir(os.path.join(store_dir, *(f"ns/{p}" for p in ns.split("/")))):
        fail(f"namespace '{ns}' does not exist")
    backup_type = (options.get("--backup-type") or ["host"])[-1]
    backup_id = (options.get("--backup-id") or [socket.gethostname()])[-1]
    stamp = int((options.get("--backup-time") or [time.time()])[-1])
    base = os.path.join(store_dir, *(f"ns/{p}" for p in ns.split("/") if p), backup_type, backup_id)
    when = datetime.fromtimestamp(stamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    target = os.path.join(base, when)
    files = []
    for spec in positional:
        match = SPEC.match(spec)
        if not match:
            fail(f"unable to parse backup specification '{spec}'")
        if match.group("type") != "pxar":
            fail("the stand-in backs up directories (.pxar) only")
        source = match.group("path")
        if not os.path.isdir(source):
            fail(f"unable to access '{source}' - No such file or directory (os error 2)")
        archive = match.group("label") + ".pxar"
        print(f"Starting backup: {backup_type}/{backup_id}/{when}")
        print(f"Upload directory '{source}' to '{archive}.didx'")
        shutil.copytree(source, os.path.join(target, archive), symlinks=True,
                        ignore=shutil.ignore_patterns(*(p.lstrip("/") for p in options.get("--exclude", []))))
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _s, fs in os.walk(os.path.join(target, archive)) for f in fs)
        files.append({"filename": archive + ".didx", "crypt-mode": "encrypt" if keyfile else "none", "size": size})
    files.append({"filename": "index.json.blob", "crypt-mode": "none", "size": 0})
    meta = {"backup-type": backup_type, "backup-id": backup_id, "backup-time": stamp, "files": files,
            "size": sum(f["size"] for f in files), "owner": connect_owner(options), "protected": False}
    with open(os.path.join(target, "index.json"), "w", encoding="utf-8") as handle:
        json.dump(meta, handle)
    print(f"Duration: 0.01s\nEnd Time: {when}")


def connect_owner(options: dict) -> str:
    repo = (options.get("--repository") or [os.environ.get("PBS_REPOSITORY", "")])[-1]
    return (REPOSITORY.match(repo).group("auth") or "root@pam")


def cmd_snapshot(positional: list[str], options: dict) -> None:
    if positional[:1] != ["list"]:
        fail(f"unknown command 'snapshot {' '.join(positional)}'")
    _cfg, store_dir = connect(options, server())
    ns = (options.get("--ns") or [""])[-1]
    items = [meta for _path, meta in snapshot_dirs(store_dir, ns)]
    if (options.get("--output-format") or ["text"])[-1].startswith("json"):
        print(json.dumps(items))
    else:
        for meta in items:
            print(f"{meta['backup-type']}/{meta['backup-id']}/{meta['backup-time']}")


def pattern_regex(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append({"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char)) if char != "[" else "[")
        if char == "[":
            end = pattern.find("]", i + 1)
            out[-1] = pattern[i:end + 1] if end > 0 else re.escape(char)
            i = end if end > 0 else i
        i += 1
    return re.compile("^" + "".join(out) + "(/.*)?$")


def cmd_restore(positional: list[str], options: dict) -> None:
    if len(positional) != 3:
        fail("parameter verification failed - 'snapshot', 'archive-name' and 'target' are required")
    snapshot, archive, target = positional
    _cfg, store_dir = connect(options, server())
    ns = (options.get("--ns") or [""])[-1]
    found = {f"{m['backup-type']}/{m['backup-id']}/"
             f"{datetime.fromtimestamp(m['backup-time'], tz=timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}": (p, m)
             for p, m in snapshot_dirs(store_dir, ns)}
    if snapshot not in found:
        fail(f"unable to find snapshot '{snapshot}'")
    path, meta = found[snapshot]
    name = archive if archive.endswith(".pxar") else archive.removesuffix(".didx")
    entry = next((f for f in meta["files"] if f["filename"] == name + ".didx"), None)
    if entry is None:
        fail(f"unable to find archive '{archive}' in snapshot")
    if entry["crypt-mode"] == "encrypt" and not keyfile_of(options):
        fail("missing key - archive is encrypted")
    source = os.path.join(path, name)
    patterns = [pattern_regex(p) for p in options.get("--pattern", [])]
    for directory, _subdirs, names in os.walk(source):
        for filename in names:
            full = os.path.join(directory, filename)
            inside = "/" + os.path.relpath(full, source)
            if patterns and not any(p.match(inside) for p in patterns):
                continue
            dest = os.path.join(target, inside.lstrip("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy2(full, dest)


def main(argv: list[str]) -> None:
    cfg_path = os.environ.get("PBS_STANDIN_CONFIG", "/etc/proxmox-backup-client-standin.json")
    try:
        root = server()["root"]
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, "calls.jsonl"), "a", encoding="utf-8") as log:
            log.write(json.dumps({"argv": argv, "env": sorted(k for k in os.environ if k.startswith("PBS_"))}) + "\n")
    except (OSError, ValueError, KeyError) as exc:
        fail(f"stand-in configuration {cfg_path}: {exc}", 2)
    if not argv:
        fail("no command specified")
    positional, options = parse(argv[1:])
    commands = {"backup": cmd_backup, "snapshot": cmd_snapshot, "restore": cmd_restore}
    if argv[0] not in commands:
        fail(f"unknown command '{argv[0]}'")
    commands[argv[0]](positional, options)


if __name__ == "__main__":
    main(sys.argv[1:])
