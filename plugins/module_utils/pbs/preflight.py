# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Preflight of a PBS API before a role writes to it: reachable, pinned certificate, valid token, privileges.

Privileges are read from ``GET /access/permissions`` (optionally ``auth-id=`` another token, such as the
one PVE uses): its answer maps ACL paths to ``{privilege: propagate}``. A privilege counts on a path when it
is granted on that path or, with propagate, on a parent. Missing ones are named with the command that grants
them, so a run stops before the first write instead of half-way with a bare 403.
"""

from __future__ import annotations

from .client import PBSClient, PBSError


def _parents(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[:i]) for i in range(len(parts), -1, -1)]


def granted(permissions: dict, path: str, privilege: str) -> bool:
    """Whether ``privilege`` holds on ``path`` given PBS's path -> {privilege: propagate} map."""
    for index, candidate in enumerate(_parents(path)):
        privs = (permissions or {}).get(candidate) or {}
        if privilege in privs and (index == 0 or privs[privilege]):
            return True
    return False


def missing_privileges(permissions: dict, required: list[dict]) -> list[dict]:
    missing = []
    for need in required:
        for privilege in need["privileges"]:
            if not granted(permissions, need["path"], privilege):
                missing.append({"path": need["path"], "privilege": privilege})
    return missing


def grant_hint(auth_id: str, path: str, privilege: str) -> str:
    role = {"Datastore.Backup": "DatastoreBackup", "Datastore.Prune": "DatastorePowerUser",
            "Datastore.Verify": "DatastoreAdmin", "Datastore.Audit": "DatastoreAudit",
            "Remote.Read": "RemoteSyncOperator", "Remote.Audit": "RemoteAudit"}.get(privilege, "Admin")
    return f"proxmox-backup-manager acl update {path} {role} --auth-id '{auth_id}'"


def run_preflight(client: PBSClient, checks: list[dict]) -> dict:
    """Every check: {auth_id (None = the caller's token), required: [{path, privileges}]}.

    Raises PBSError (kind unreachable/fingerprint/auth/permission/not_found) with a message naming what to do.
    """
    version, _digest = client.get("/version")
    report = {"version": (version or {}).get("version"), "checks": []}
    problems = []
    for check in checks:
        auth_id = check.get("auth_id") or client.token_id
        params = {"auth-id": check["auth_id"]} if check.get("auth_id") else None
        try:
            permissions, _digest = client.get("/access/permissions", params)
        except PBSError as exc:
            if check.get("auth_id") and exc.kind in ("not_found", "api"):
                raise PBSError(f"the token {auth_id} does not exist on {client.host} ({exc.msg}). Create it on the "
                               f"PBS host: proxmox-backup-manager user generate-token {auth_id.split('!')[0]} "
                               f"{auth_id.split('!')[-1]}", kind="not_found") from None
            raise
        missing = missing_privileges(permissions or {}, check["required"])
        report["checks"].append({"auth_id": auth_id, "missing": missing})
        problems += [f"{auth_id} lacks {m['privilege']} on {m['path']} (grant it: "
                     f"{grant_hint(auth_id, m['path'], m['privilege'])})" for m in missing]
    if problems:
        raise PBSError(f"PBS {client.host}: " + "; ".join(problems), kind="permission")
    return report
