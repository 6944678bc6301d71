# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A datacenter backup job (``/cluster/backup``, vzdump), compared key by key with PVE's defaults.

``prune-backups`` is a property string (``keep-daily=7,keep-weekly=4,keep-monthly=6``) compared as a mapping, so
key order and a dict given by the user do not matter. Booleans go out as 1/0 (PVE refuses ``True``). A job holds
either ``all`` or ``vmid`` (``pool`` is left alone): switching from one to the other deletes the other.
Reading and writing jobs needs Sys.Audit and Sys.Modify on ``/``.
"""

from __future__ import annotations

from .client import PveClient, PveError

PRUNE_KEYS = ("keep-all", "keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly")
# module option -> API key
TO_API = {"schedule": "schedule", "storage": "storage", "all": "all", "vmids": "vmid", "exclude": "exclude",
          "mode": "mode", "prune_backups": "prune-backups", "compress": "compress", "enabled": "enabled",
          "notes_template": "notes-template", "comment": "comment"}
BOOLEAN = ("all", "enabled")
# PVE's value when a key is absent (the schema's defaults).
DEFAULTS = {"all": "0", "enabled": "1", "mode": "snapshot", "compress": "0"}


def parse_prune(value) -> dict:
    """'keep-daily=7,keep-weekly=4' or {'keep-daily': 7} (or keep_daily) -> {'keep-daily': 7, ...}.
    PVE's GET answers the job's prune-backups as an object (its schema), writes take the property string."""
    if value in (None, ""):
        return {}
    if isinstance(value, dict):
        items = value.items()
    else:
        items = [part.partition("=")[::2] for part in str(value).split(",") if part.strip()]
    out = {}
    for key, number in items:
        key = str(key).strip().replace("_", "-")
        if key not in PRUNE_KEYS:
            raise PveError(f"prune_backups: unknown key {key!r} (known: {', '.join(PRUNE_KEYS)}).", "usage")
        if isinstance(number, bool) or str(number).lower() in ("true", "false"):
            number = 1 if str(number).lower() == "true" else 0
        try:
            n = int(str(number).strip())
        except ValueError:
            raise PveError(f"prune_backups: {key} must be a whole number, not {number!r}.", "usage") from None
        if n:
            out[key] = n
    return out


def format_prune(prune: dict) -> str:
    return ",".join(f"{k}={prune[k]}" for k in PRUNE_KEYS if k in prune)


def id_list(value) -> str:
    """[51, 52] or '52,51' -> '51,52' (PVE's vmid lists)."""
    if value in (None, ""):
        return ""
    items = value if isinstance(value, (list, tuple)) else str(value).replace(";", ",").replace(" ", ",").split(",")
    return ",".join(str(n) for n in sorted({int(str(i).strip()) for i in items if str(i).strip()}))


def canonical(key: str, value) -> str | None:
    """A job value as comparable text; None for absent or PVE's default."""
    if value is None or value == "":
        return None
    if key in BOOLEAN:
        text = "1" if str(value).lower() in ("1", "true", "yes", "on") else "0"
    elif key == "prune-backups":
        text = format_prune(parse_prune(value)) or None
    elif key in ("vmid", "exclude"):
        text = id_list(value) or None
    else:
        text = str(value)
    return None if text is None or DEFAULTS.get(key) == text else text


def wire(key: str, value) -> str:
    """The value as the API takes it."""
    if key in BOOLEAN:
        return "1" if str(value).lower() in ("1", "true", "yes", "on") else "0"
    if key == "prune-backups":
        return format_prune(parse_prune(value))
    if key in ("vmid", "exclude"):
        return id_list(value)
    return str(value)


def desired_from_options(options: dict) -> dict:
    """API key -> value for the options that are set (None = leave alone)."""
    out = {}
    for option, key in TO_API.items():
        if options.get(option) is not None:
            out[key] = options[option]
    if out.get("all") and out.get("vmid"):
        raise PveError("give all: true or vmids, not both (exclude takes the guests to skip with all).", "usage")
    return out


def plan(job: dict | None, desired: dict, state: str) -> dict:
    """{'action': none|create|update|delete, 'params', 'delete', 'before', 'after'}."""
    managed = list(TO_API.values())
    before = {k: canonical(k, job.get(k)) for k in managed} if job else {}
    before = {k: v for k, v in before.items() if v is not None}
    if state == "absent":
        return {"action": "delete" if job else "none", "params": {}, "delete": [], "before": before, "after": {}}
    if job is None:
        if not desired.get("all") and not desired.get("vmid"):
            raise PveError("a new backup job needs all: true or vmids (the guests to back up).", "usage")
        params = {k: wire(k, v) for k, v in desired.items() if canonical(k, v) is not None or k in BOOLEAN}
        after = {k: canonical(k, v) for k, v in desired.items()}
        return {"action": "create", "params": params, "delete": [], "before": {},
                "after": {k: v for k, v in after.items() if v is not None}}
    params, deletes = {}, []
    after = dict(before)
    for key, value in desired.items():
        want = canonical(key, value)
        if want == before.get(key):
            continue
        if want is None:
            if key in before:
                if key in BOOLEAN or key in DEFAULTS:
                    params[key] = wire(key, value) if value not in (None, "") else DEFAULTS[key]
                else:
                    deletes.append(key)
                after.pop(key, None)
            continue
        params[key] = wire(key, value)
        after[key] = want
    # all and vmid exclude each other.
    if canonical("all", desired.get("all")) == "1" and "vmid" in before:
        deletes.append("vmid")
        after.pop("vmid", None)
    if desired.get("vmid") and before.get("all") == "1":
        params["all"] = "0"
        after.pop("all", None)
    # The schema: notes-template requires storage in the same call.
    if "notes-template" in params and "storage" not in params:
        params["storage"] = wire("storage", desired.get("storage") or job.get("storage"))
    action = "update" if params or deletes else "none"
    return {"action": action, "params": params, "delete": sorted(set(deletes)), "before": before, "after": after}


def read_job(client: PveClient, job_id: str) -> dict | None:
    for job in client.get("/cluster/backup") or []:
        if job.get("id") == job_id:
            return job
    return None


def ensure_job(client: PveClient, job_id: str, options: dict, state: str = "present",
               check_mode: bool = False) -> dict:
    if not job_id:
        raise PveError("id is required.", "usage")
    client.require([("/", "Sys.Audit")], "read the datacenter backup jobs")
    desired = desired_from_options(options)
    job = read_job(client, job_id)
    step = plan(job, desired, state)
    action = step["action"]
    if action != "none":
        client.require([("/", "Sys.Modify")], f"{action} the backup job {job_id}")
    request = dict(step["params"])
    if step["delete"]:
        request["delete"] = ",".join(step["delete"])
    if not check_mode:
        if action == "create":
            client.post("/cluster/backup", id=job_id, **request)
        elif action == "update":
            client.put(f"/cluster/backup/{job_id}", **request)
        elif action == "delete":
            client.delete(f"/cluster/backup/{job_id}")
    changed = action != "none"
    after = step["after"]
    if changed and not check_mode and action != "delete":
        job_now = read_job(client, job_id) or {}
        after = {k: canonical(k, job_now.get(k)) for k in TO_API.values()}
        after = {k: v for k, v in after.items() if v is not None}
    would = "would " if check_mode else ""
    summary = {
        "none": f"backup job {job_id}: as wanted" if state == "present" else f"backup job {job_id}: absent",
        "create": f"backup job {job_id}: {would}create ({after.get('schedule', '')} to {after.get('storage', '')}, "
                  f"{'all guests' if after.get('all') == '1' else 'vmids ' + str(after.get('vmid', ''))}, "
                  f"{after.get('prune-backups', 'storage retention')})",
        "update": f"backup job {job_id}: {would}update " + ", ".join(sorted(set(step['params']) | set(step['delete']))),
        "delete": f"backup job {job_id}: {would}delete",
    }[action]
    return {"changed": changed, "id": job_id, "action": action, "job": after,
            "request": request if changed and action != "delete" else {},
            "diff": {"before": step["before"], "after": after if state == "present" else {}}, "summary": summary}
