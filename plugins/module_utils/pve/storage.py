# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A storage entry of the datacenter (``/storage``, ``/etc/pve/storage.cfg``), type ``pbs``, compared key by key.

What PVE does, and what follows for idempotence (pve-storage, PBSPlugin.pm and API2/Storage/Config.pm):

- ``server`` and ``datastore`` are *fixed*: PVE refuses to change them in place ("can't change value of fixed
  parameter"). A change needs the entry removed and added again (``recreate``); backup jobs name the storage by
  id and keep working, backups on the PBS are not touched by either call.
- ``password`` (the PBS password or API token secret), ``encryption-key`` and ``master-pubkey`` are *sensitive*:
  PVE keeps them in ``/etc/pve/priv/storage/<id>.pw|.enc|.master.pem`` and never returns them. The password can
  only be compared by sending it, so it is sent on create and, with ``update_password: always``, on every run
  (then the task always reports a change). For the encryption key PVE writes the key's own ``fingerprint`` into
  storage.cfg (``encryption-key <fingerprint>``, or ``1`` for a key without one), so a key given as JSON is
  compared by that fingerprint.
- GET answers ``content`` and ``nodes`` as comma lists in no promised order, ``prune-backups`` as the property
  string (an object in some answers): all three are compared parsed, order-free.
- PUT takes the changed keys, ``delete`` for keys to drop back to PVE's default, and ``digest`` (of storage.cfg as
  read) so a concurrent change is refused rather than overwritten.

- POST activates a new entry that is enabled on the node answering (PVE logs in to the PBS and looks for the
  datastore) and refuses to add it when that fails; PUT does not, so a wrong fingerprint given to an existing entry is
  accepted and only the next backup fails.

Reading needs Datastore.Allocate on ``/storage/<id>``; writing Datastore.Allocate on ``/storage``.
"""

from __future__ import annotations

import json

from .backup_job import format_prune, parse_prune
from .client import PveClient, PveError, format_fingerprint, normalise_fingerprint

# module option -> API key (the keys this module manages; password and encryption-key are handled apart).
TO_API = {"server": "server", "port": "port", "datastore": "datastore", "username": "username",
          "pbs_fingerprint": "fingerprint", "namespace": "namespace", "content": "content",
          "prune_backups": "prune-backups", "max_protected_backups": "max-protected-backups", "nodes": "nodes",
          "enabled": "disable"}
MANAGED = tuple(TO_API.values()) + ("encryption-key",)
# PBSPlugin's options(): fixed => 1 (so also required on create).
FIXED = ("server", "datastore")
REQUIRED = ("server", "datastore")
# PVE's value when a key is absent.
DEFAULTS = {"port": "8007", "content": "backup", "disable": "0", "namespace": ""}
SECRET = "(not shown)"


def _items(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        items = value
    else:
        items = str(value).replace(";", ",").replace(" ", ",").split(",")
    return sorted({str(i).strip() for i in items if str(i).strip()})


def fingerprint_text(value) -> str:
    """A TLS certificate fingerprint as PVE's schema takes it (``AA:BB:...``, 32 pairs); usage error otherwise."""
    hexed = normalise_fingerprint(str(value))
    if len(hexed) != 64 or any(c not in "0123456789abcdef" for c in hexed):
        raise PveError(f"pbs_fingerprint {value!r} is not a sha256 fingerprint (32 hex pairs, AA:BB:...). Read it on the "
                       "PBS with `proxmox-backup-manager cert info` (Fingerprint) or in its dashboard "
                       "(Show Fingerprint).", "usage")
    return format_fingerprint(hexed)


def canonical(key: str, value) -> str | None:
    """A storage value as comparable text; None for absent or PVE's default."""
    if value is None:
        return None
    if key == "disable":
        # The module option is `enabled`; PVE's key is `disable`. Booleans from the API come as 0/1.
        if isinstance(value, bool):
            text = "1" if value else "0"
        else:
            text = "1" if str(value).lower() in ("1", "true", "yes", "on") else "0"
    elif key in ("content", "nodes"):
        text = ",".join(_items(value))
    elif key == "prune-backups":
        text = format_prune(parse_prune(value))
    elif key == "fingerprint":
        text = normalise_fingerprint(str(value)) if str(value).strip() else ""
    elif key == "namespace":
        text = str(value).strip("/")
    elif key == "encryption-key":
        text = normalise_fingerprint(str(value)) if str(value) not in ("", "1") else str(value)
    else:
        text = str(value).strip()
    if text == "" or DEFAULTS.get(key) == text:
        return None
    return text


def wire(key: str, value) -> str:
    """The value as the API takes it."""
    if key == "disable":
        return canonical(key, value) or "0"
    if key in ("content", "nodes"):
        return ",".join(_items(value))
    if key == "prune-backups":
        return format_prune(parse_prune(value))
    if key == "fingerprint":
        return fingerprint_text(value)
    if key == "namespace":
        return str(value).strip("/")
    return str(value)


def shown(key: str, value) -> str | None:
    """A canonical value as the diff shows it (the fingerprint with colons, as PVE shows it)."""
    if value is not None and key in ("fingerprint", "encryption-key") and len(value) == 64:
        return format_fingerprint(value)
    return value


def key_fingerprint(key_json: str) -> str:
    """The fingerprint inside a PBS encryption key (``proxmox-backup-client key create --kdf none``), canonical;
    ``1`` for a key without one (PVE writes that). Usage error for anything that is not such a key."""
    try:
        decoded = json.loads(key_json)
    except (TypeError, ValueError):
        decoded = None
    if not isinstance(decoded, dict) or "data" not in decoded:
        raise PveError("encryption_key is not a JSON formatted PBS encryption key (the content of a key file made with "
                       "`proxmox-backup-client key create --kdf none KEYFILE`, with a `data` field).", "usage")
    fingerprint = decoded.get("fingerprint")
    return normalise_fingerprint(str(fingerprint)) if fingerprint else "1"


def desired_from_options(options: dict) -> dict:
    """API key -> value for the options that are set (None = leave alone; '' or [] = back to PVE's default)."""
    out = {}
    for option, key in TO_API.items():
        value = options.get(option)
        if value is None:
            continue
        if option == "enabled":
            value = not value
        if key == "fingerprint" and str(value).strip():
            fingerprint_text(value)  # fail early on a malformed pin
        if key == "prune-backups":
            parse_prune(value)  # fail early on an unknown key
        out[key] = value
    return out


def view(config: dict | None) -> dict:
    """The managed keys of a storage as PVE returns it, canonical, defaults left out."""
    if not config:
        return {}
    out = {k: canonical(k, config.get(k)) for k in MANAGED}
    return {k: v for k, v in out.items() if v is not None}


def plan(config: dict | None, desired: dict, state: str, password: str | None = None,
         update_password: str = "on_create", encryption_key: str | None = None, recreate: bool = False,
         storage_type: str = "pbs") -> dict:
    """{'action': none|create|update|recreate|delete, 'params', 'delete', 'secrets', 'before', 'after', 'fixed'}.

    ``params`` holds the non-secret keys to send; ``secrets`` the sensitive ones (password, encryption-key) to add
    to the same request. ``fixed`` lists the fixed keys that differ (a recreate, or a refusal without it)."""
    before = view(config)
    empty = {"params": {}, "delete": [], "secrets": {}, "fixed": []}
    if config is not None and config.get("type") not in (None, storage_type):
        raise PveError(f"storage {config.get('storage', '')!r} exists with type {config.get('type')}, not "
                       f"{storage_type}. Remove it in Datacenter > Storage, or choose another name.", "usage")
    if state == "absent":
        return {"action": "delete" if config is not None else "none", **empty, "before": before, "after": {}}
    want_key = None
    if encryption_key is not None and encryption_key != "":
        want_key = key_fingerprint(encryption_key)
    if config is None:
        missing = [k for k in REQUIRED if canonical(k, desired.get(k)) is None]
        if missing:
            raise PveError(f"a new pbs storage needs {' and '.join(missing)}.", "usage")
        params = {k: wire(k, v) for k, v in desired.items() if canonical(k, v) is not None}
        secrets = {}
        if password:
            secrets["password"] = password
        after = {k: canonical(k, v) for k, v in desired.items()}
        after = {k: v for k, v in after.items() if v is not None}
        if want_key:
            secrets["encryption-key"] = encryption_key
            after["encryption-key"] = want_key
        return {"action": "create", **empty, "params": params, "secrets": secrets, "before": {}, "after": after}

    params, deletes, secrets = {}, [], {}
    after = dict(before)
    fixed = []
    for key, value in desired.items():
        want = canonical(key, value)
        if want == before.get(key):
            continue
        if key in FIXED:
            fixed.append(key)
            after[key] = want
            continue
        if want is None:
            deletes.append(key)
            after.pop(key, None)
        else:
            params[key] = wire(key, value)
            after[key] = want
    if encryption_key == "" and "encryption-key" in before:
        deletes.append("encryption-key")
        after.pop("encryption-key")
    elif want_key and want_key != before.get("encryption-key"):
        secrets["encryption-key"] = encryption_key
        after["encryption-key"] = want_key
    if password and update_password == "always":
        secrets["password"] = password
    if fixed:
        if not recreate:
            changes = ", ".join(f"{k} {before.get(k)!r} -> {canonical(k, desired[k])!r}" for k in fixed)
            raise PveError(f"PVE cannot change {' and '.join(fixed)} of an existing pbs storage in place ({changes}). "
                           "Set recreate: true to remove the entry and add it again under the same name (backup jobs "
                           "refer to it by name and keep working; the backups on the PBS stay), or use a new name.",
                           "fixed")
        if "encryption-key" in before and not want_key:
            raise PveError("recreating the storage would delete its encryption key on the node (PVE removes "
                           "/etc/pve/priv/storage/<name>.enc with the entry). Give the key as encryption_key (from "
                           "your copy of it), or change the storage by hand.", "usage")
        if not password:
            raise PveError("recreating the storage needs password (PVE removes the stored password with the entry "
                           "and cannot return it).", "usage")
        # The new entry: what it holds now, the wanted changes, and the secrets again.
        merged = {k: v for k, v in (config or {}).items() if k in TO_API.values() and canonical(k, v) is not None}
        merged.update(desired)
        params = {k: wire(k, v) for k, v in merged.items() if canonical(k, v) is not None}
        secrets = {"password": password}
        if want_key:
            secrets["encryption-key"] = encryption_key
        after = view(merged)
        if want_key:
            after["encryption-key"] = want_key
        return {"action": "recreate", "params": params, "delete": [], "secrets": secrets, "fixed": sorted(fixed),
                "before": before, "after": after}
    action = "update" if params or deletes or secrets else "none"
    return {"action": action, "params": params, "delete": sorted(set(deletes)), "secrets": secrets, "fixed": [],
            "before": before, "after": after}


def read_storage(client: PveClient, name: str) -> dict | None:
    try:
        return client.get(f"/storage/{name}")
    except PveError as exc:
        if exc.status == 500 and "does not exist" in exc.msg:
            return None
        raise


def explain_create(exc: PveError, name: str) -> PveError:
    """PVE activates a new, enabled entry (logs in to the PBS, lists its datastores) and refuses to add it when that
    fails: say what to check."""
    if any(text in exc.msg for text in ("error fetching datastores", "Cannot find datastore", "fingerprint")):
        exc.msg += (f" PVE checks the PBS when it adds {name}: check server, port, username and password (the token "
                    "needs Datastore.Audit or Datastore.Backup on the datastore) and pbs_fingerprint "
                    "(`proxmox-backup-manager cert info` on the PBS), or add it with enabled: false.")
    return exc


def _diff(step: dict, state: str) -> dict:
    before = {k: shown(k, v) for k, v in step["before"].items()}
    after = {k: shown(k, v) for k, v in step["after"].items()} if state == "present" else {}
    if "password" in step["secrets"]:
        # PVE never returns it: the diff can only say that it is sent.
        if step["action"] != "create":
            before["password"] = SECRET
        after["password"] = SECRET + (" (sent again)" if step["action"] == "update" else "")
    return {"before": before, "after": after}


def ensure_storage(client: PveClient, name: str, options: dict, state: str = "present", password: str | None = None,
                   update_password: str = "on_create", encryption_key: str | None = None, recreate: bool = False,
                   check_mode: bool = False) -> dict:
    if not name:
        raise PveError("name is required.", "usage")
    client.require([(f"/storage/{name}", "Datastore.Allocate")], f"read the storage {name}")
    desired = desired_from_options(options)
    config = read_storage(client, name)
    step = plan(config, desired, state, password=password, update_password=update_password,
                encryption_key=encryption_key, recreate=recreate)
    action = step["action"]
    if action != "none":
        client.require([("/storage", "Datastore.Allocate")], f"{action} the storage {name}")
    request = dict(step["params"])
    if step["delete"]:
        request["delete"] = ",".join(step["delete"])
    if action == "update" and config and config.get("digest"):
        request["digest"] = config["digest"]
    sent = dict(request, **step["secrets"])
    if not check_mode:
        if action in ("create", "recreate"):
            if action == "recreate":
                client.delete(f"/storage/{name}")
            try:
                client.post("/storage", storage=name, type="pbs", **sent)
            except PveError as exc:
                raise explain_create(exc, name) from None
        elif action == "update":
            client.put(f"/storage/{name}", **sent)
        elif action == "delete":
            client.delete(f"/storage/{name}")
    changed = action != "none"
    after = step["after"]
    if changed and not check_mode and action != "delete":
        after = view(read_storage(client, name))
    step = dict(step, after=after)
    shown_request = dict(request, **{k: SECRET for k in step["secrets"]}) if changed and action != "delete" else {}
    would = "would " if check_mode else ""
    what = f"{after.get('server', '')}:{after.get('datastore', '')}"
    summary = {
        "none": f"storage {name}: as wanted" if state == "present" else f"storage {name}: absent",
        "create": f"storage {name}: {would}create pbs {what}",
        "update": f"storage {name}: {would}update "
                  + ", ".join(sorted(set(step["params"]) | set(step["delete"]) | set(step["secrets"]))),
        "recreate": f"storage {name}: {would}remove and add again ({', '.join(step['fixed'])} changed) as pbs {what}",
        "delete": f"storage {name}: {would}remove",
    }[action]
    return {"changed": changed, "name": name, "action": action,
            "storage": {k: shown(k, v) for k, v in after.items()} if state == "present" else {},
            "request": shown_request, "diff": _diff(step, state), "summary": summary}
