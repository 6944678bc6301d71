# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A container's mount point ``mpN`` (``/nodes/{node}/lxc/{vmid}/config``).

PVE facts (pve-container): the value is a property string, the volume first (an absolute host path makes it a
bind mount), then keys PVE rewrites in alphabetical order with booleans as 1/0; so values are compared parsed,
with PVE's defaults (``ro=0``, ``backup=0``, ...) dropped. GET config merges pending changes unless
``current=1``; PUT takes ``digest`` and refuses a stale one. On a running container a new ``mpN`` is hot-plugged
and a changed or deleted one stays pending until the container restarts. Bind mounts are root@pam's alone.
"""

from __future__ import annotations

import re

from .client import BIND_MOUNT_HELP, PveClient, PveError

BOOLEAN_KEYS = ("ro", "backup", "acl", "quota", "replicate", "shared", "keepattrs")
# The value PVE assumes when a key is absent; a key at its default is not written.
DEFAULTS = {"ro": "0", "backup": "0", "quota": "0", "replicate": "1", "shared": "0"}
TRUE = ("1", "true", "yes", "on")
MP_KEY = re.compile(r"^mp(\d+)$")


def parse_mount(text: str) -> dict:
    """``/mnt/media,mp=/mnt/media,ro=1`` -> {'volume': '/mnt/media', 'mp': '/mnt/media', 'ro': '1'}."""
    out = {}
    for n, part in enumerate(str(text or "").split(",")):
        key, eq, value = part.partition("=")
        if not eq:
            if n == 0 and part:
                out["volume"] = part
            continue
        out[key.strip()] = value.strip()
    return out


def normalise(mount: dict) -> dict:
    """Booleans as 0/1, paths without a trailing slash, keys at PVE's default dropped."""
    out = {}
    for key, value in mount.items():
        value = str(value)
        if key in BOOLEAN_KEYS:
            value = "1" if value.lower() in TRUE else "0"
        if key in ("volume", "mp") and len(value) > 1:
            value = value.rstrip("/")
        if DEFAULTS.get(key) == value:
            continue
        out[key] = value
    return out


def format_mount(mount: dict) -> str:
    """PVE's canonical form: the volume, then the other keys sorted."""
    mount = normalise(mount)
    return ",".join([mount["volume"]] + [f"{k}={mount[k]}" for k in sorted(mount) if k != "volume"])


def desired_mount(host_path: str, container_path: str, ro: bool = False, backup: bool = False,
                  extra: dict | None = None) -> dict:
    mount = {"volume": host_path, "mp": container_path, "ro": "1" if ro else "0", "backup": "1" if backup else "0"}
    for key, value in (extra or {}).items():
        if key in ("volume", "mp"):
            raise PveError(f"extra may not set {key}: use host_path and container_path.", "usage")
        mount[key] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    return normalise(mount)


def same_mount(current: str | None, desired: dict) -> bool:
    return current is not None and normalise(parse_mount(current)) == normalise(desired)


def is_bind(mount: dict) -> bool:
    volume = mount.get("volume", "")
    return volume.startswith("/") and not volume.startswith("/dev/")


def find_vmid(client: PveClient, node: str, hostname: str) -> int:
    """The vmid of the container named hostname on node (PVE lists the hostname as ``name``)."""
    listed = client.get(f"/nodes/{node}/lxc") or []
    found = sorted(int(ct["vmid"]) for ct in listed if ct.get("name") == hostname)
    if not found:
        names = ", ".join(f"{ct.get('vmid')} ({ct.get('name')})" for ct in sorted(listed, key=lambda c: int(c["vmid"])))
        raise PveError(f"no container with hostname {hostname!r} on node {node} (there: {names or 'none'}). Check "
                       "hostname and node, or give vmid.", "not_found")
    if len(found) > 1:
        raise PveError(f"several containers on node {node} have hostname {hostname!r} ({found}); give vmid.",
                       "usage")
    return found[0]


def plan(config: dict, current: dict, running: bool, mp: str, desired: dict | None) -> dict:
    """What to send. config: GET config (pending merged); current: GET config current=1.
    Returns {'changed', 'params', 'before', 'after', 'pending'} where pending says whether the change (or one
    already staged) waits for a restart."""
    before = config.get(mp)
    if desired is None:  # absent
        after = None
        changed = before is not None
        params = {"delete": mp} if changed else {}
    else:
        after = format_mount(desired)
        changed = not same_mount(before, desired)
        params = {mp: after} if changed else {}
    active = current.get(mp)
    if after is None:
        pending = running and active is not None
    elif changed:
        # A running container hot-plugs a new mpN; a changed one waits.
        pending = running and active is not None
    else:
        pending = not same_mount(active, desired)
    return {"changed": changed, "params": params, "before": before, "after": after, "pending": pending}


def ensure_mount(client: PveClient, node: str, mp: str, vmid: int | None = None, hostname: str | None = None,
                 host_path: str | None = None, container_path: str | None = None, ro: bool = False,
                 backup: bool = False, extra: dict | None = None, state: str = "present", restart: bool = False,
                 check_mode: bool = False, task_timeout: int = 300) -> dict:
    if not MP_KEY.match(mp or "") or int(MP_KEY.match(mp).group(1)) > 255:
        raise PveError(f"mp {mp!r} is not a mount point key mp0 ... mp255.", "usage")
    desired = None
    if state == "present":
        if not host_path or not container_path:
            raise PveError("state present needs host_path and container_path.", "usage")
        if not container_path.startswith("/"):
            raise PveError(f"container_path {container_path!r} must be an absolute path.", "usage")
        desired = desired_mount(host_path, container_path, ro, backup, extra)
    if vmid is None:
        if not hostname:
            raise PveError("give vmid or hostname.", "usage")
        vmid = find_vmid(client, node, hostname)
    base = f"/nodes/{node}/lxc/{vmid}"
    config = client.get(f"{base}/config") or {}
    current = client.get(f"{base}/config", current=1) or {}
    status = (client.get(f"{base}/status/current") or {}).get("status")
    running = status == "running"
    step = plan(config, current, running, mp, desired)
    where = f"{mp} of container {vmid} on {node}"
    result = {"vmid": vmid, "node": node, "mp": mp, "value": step["after"], "changed": step["changed"],
              "pending": False, "restarted": False, "status": status,
              "diff": {"before": {mp: step["before"]} if step["before"] else {},
                       "after": {mp: step["after"]} if step["after"] else {}}}
    if step["changed"]:
        needed = [(f"/vms/{vmid}", "VM.Config.Disk")]
        if not check_mode:
            params = dict(step["params"], digest=config.get("digest"))
            client.put(f"{base}/config", **params)
        else:
            client.require(needed, f"change {where}")
            if desired is not None and is_bind(desired) and not client.may_bind_mount:
                raise PveError(f"PUT {base}/config would be refused for {client.who} (mount point type bind is "
                               f"only allowed for root@pam). {BIND_MOUNT_HELP}", "bind_mount", 403)
        if not check_mode:
            after_cur = client.get(f"{base}/config", current=1) or {}
            staged = (after_cur.get(mp) is not None) if desired is None else not same_mount(after_cur.get(mp), desired)
            result["pending"] = running and staged
        else:
            result["pending"] = step["pending"]
    else:
        result["pending"] = step["pending"]
    if result["pending"] and restart:
        result["changed"] = True
        result["restarted"] = True
        if not check_mode:
            upid = client.post(f"{base}/status/reboot", timeout=min(task_timeout, 600))
            if upid:
                client.wait_task(node, upid, task_timeout)
            result["pending"] = False
        else:
            result["pending"] = False
    what = {"present": f"{mp}: {step['after']}", "absent": f"{mp} removed"}[state]
    if not result["changed"]:
        summary = f"container {vmid} ({node}): {mp} as wanted"
        if result["pending"]:
            summary += ", pending until the container restarts"
    else:
        verb = "would set" if check_mode else "set"
        summary = f"container {vmid} ({node}): {verb} {what}"
        if result["restarted"]:
            summary += ", restarted" if not check_mode else ", would restart"
        elif result["pending"]:
            summary += ", pending until the container restarts (restart: true, or `pct reboot " f"{vmid}`)"
    result["summary"] = summary
    return result
