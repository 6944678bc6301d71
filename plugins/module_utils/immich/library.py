# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The engines of ``immich_library`` and ``immich_info``.

An external library is found by its name (and owner, when names repeat). Immich's validate endpoint
needs a library id, so a new library is created without import paths, its paths are validated, and
only then saved; when Immich rejects a path the new library is deleted again and nothing is left
behind. Import paths and exclusion patterns are compared as sets (Immich keeps them unique).

A scan is queued with ``POST /libraries/{id}/scan`` (204, no job id). Waiting for it watches the
library queue until it is idle and the library was refreshed (or the queue was seen busy), then
compares ``assetCount``: a scan that imported or removed nothing is not a change.
"""

from __future__ import annotations

import time

from ansible_collections.sovereign.cloud.plugins.module_utils.immich.client import ImmichClient, ImmichError

POLL_SECONDS = 0.5
_BUSY = ("active", "waiting", "delayed")


def _view(library: dict | None, owner_email: str | None = None) -> dict:
    """What the diff shows of a library: the fields a user manages."""
    if not library:
        return {}
    view = {"name": library.get("name"), "ownerId": library.get("ownerId"),
            "importPaths": sorted(library.get("importPaths") or []),
            "exclusionPatterns": sorted(library.get("exclusionPatterns") or [])}
    if owner_email:
        view["owner"] = owner_email
    return view


def find_library(client: ImmichClient, name: str, owner_id: str | None) -> dict | None:
    named = [lib for lib in client.libraries() if lib.get("name") == name]
    if owner_id is not None and len(named) > 1:
        named = [lib for lib in named if lib.get("ownerId") == owner_id]
    if len(named) > 1:
        raise ImmichError(f"{len(named)} Immich libraries are named {name!r} (ids {', '.join(lib['id'] for lib in named)}); "
                          "give each library a unique name in Administration > External Libraries")
    return named[0] if named else None


def _check_validation(results: list, import_paths: list) -> None:
    invalid = [item for item in results if not item.get("isValid")]
    if invalid:
        reasons = "; ".join(f"{item.get('importPath')}: {item.get('message') or 'not valid'}" for item in invalid)
        raise ImmichError(f"Immich rejected import path(s) {reasons}. Import paths are paths inside the Immich server "
                          "container: mount the host folder into immich-server (docker-compose.yml volumes, read-only "
                          "':ro') and use the path it has there")
    missing = set(import_paths) - {item.get("importPath") for item in results}
    if missing:
        raise ImmichError(f"Immich did not validate import path(s) {', '.join(sorted(missing))}")


def converge_library(client: ImmichClient, *, name: str, owner: str | None, import_paths: list | None,
                     exclusion_patterns: list | None, state: str, scan: bool, wait: bool, wait_timeout: float,
                     check_mode: bool, poll_seconds: float = POLL_SECONDS) -> dict:
    owner_id = client.user_id_by_email(owner) if owner else None
    current = find_library(client, name, owner_id)
    result: dict = {"changed": False, "library": current or {}}

    if state == "absent":
        if current:
            if not check_mode:
                client.delete(f"/libraries/{current['id']}")
            result.update(changed=True, library={}, summary=f"library {name!r} " + ("would be" if check_mode else "was")
                          + " removed (Immich removes its assets from the timeline; the files stay on disk)")
        else:
            result["summary"] = f"library {name!r} is absent"
        result["diff"] = {"before": _view(current), "after": {}}
        return result

    if owner_id is None:
        raise ImmichError("owner (the email of the library's Immich user) is required with state: present")
    if current and current.get("ownerId") != owner_id:
        raise ImmichError(f"library {name!r} belongs to another user (ownerId {current.get('ownerId')}); Immich cannot "
                          "change a library's owner: remove it (state: absent) and create it again, or pick another name")

    wanted = dict(current or {"name": name, "ownerId": owner_id, "importPaths": [], "exclusionPatterns": []})
    if import_paths is not None:
        wanted["importPaths"] = list(import_paths)
    if exclusion_patterns is not None:
        wanted["exclusionPatterns"] = list(exclusion_patterns)
    before, after = _view(current, owner if current else None), _view(wanted, owner)
    changes = [key for key in ("importPaths", "exclusionPatterns") if before.get(key) != after.get(key)] if current else []
    result["diff"] = {"before": before, "after": after}

    if current is None:
        result["changed"] = True
        if check_mode:
            result.update(library=wanted, summary=f"library {name!r} would be created (its import paths are validated "
                                                  "by Immich when it is)")
        else:
            result["library"], result["validation"] = _create(client, name, owner_id, wanted)
            result["summary"] = f"library {name!r} created"
    elif changes:
        result["changed"] = True
        results = client.validate_library(current["id"], wanted["importPaths"], wanted["exclusionPatterns"])
        _check_validation(results, wanted["importPaths"])
        result["validation"] = results
        if check_mode:
            result.update(library=wanted, summary=f"library {name!r} would be updated ({', '.join(changes)})")
        else:
            result["library"] = client.put(f"/libraries/{current['id']}", {
                "name": name, "importPaths": wanted["importPaths"], "exclusionPatterns": wanted["exclusionPatterns"]})
            result["summary"] = f"library {name!r} updated ({', '.join(changes)})"
    else:
        result["summary"] = f"library {name!r} is up to date"

    if scan:
        result["scan"] = _scan(client, result, check_mode, wait, wait_timeout, poll_seconds)
    return result


def _create(client: ImmichClient, name: str, owner_id: str, wanted: dict) -> tuple[dict, list]:
    library = client.post("/libraries", {"ownerId": owner_id, "name": name,
                                         "exclusionPatterns": wanted["exclusionPatterns"]})
    if not wanted["importPaths"]:
        return library, []
    try:
        results = client.validate_library(library["id"], wanted["importPaths"], wanted["exclusionPatterns"])
        _check_validation(results, wanted["importPaths"])
        library = client.put(f"/libraries/{library['id']}", {"importPaths": wanted["importPaths"]})
    except ImmichError:
        # Leave nothing half-made behind: the next run starts from scratch.
        client.delete(f"/libraries/{library['id']}")
        raise
    return library, results


def _scan(client: ImmichClient, result: dict, check_mode: bool, wait: bool, wait_timeout: float,
          poll_seconds: float) -> dict:
    library = result["library"]
    if check_mode:
        return {"queued": False, "waited": False, "reason": "check mode"}
    before_count, before_refreshed = library.get("assetCount", 0), library.get("refreshedAt")
    client.scan_library(library["id"])
    if not wait:
        result["changed"] = True
        result["summary"] += "; scan queued"
        return {"queued": True, "waited": False}
    start = time.monotonic()
    seen_busy, idle_polls = False, 0
    while True:
        queue = client.library_queue()
        busy = sum(int(queue.get(key) or 0) for key in _BUSY)
        fresh = client.library(library["id"])
        if busy:
            seen_busy, idle_polls = True, 0
        else:
            idle_polls += 1
            # Idle and refreshed (or seen busy) means done; a few idle polls cover a scan too fast to see.
            if seen_busy or fresh.get("refreshedAt") != before_refreshed or idle_polls >= 4:
                break
        elapsed = time.monotonic() - start
        if elapsed >= wait_timeout:
            raise ImmichError(f"the scan of library {library.get('name')!r} was still running after {wait_timeout:g} s "
                              f"({busy} library job(s) queued or active); raise wait_timeout, or watch it in Immich's "
                              "Administration > Job Queues (Library)")
        time.sleep(poll_seconds)
    after_count = fresh.get("assetCount", 0)
    result["library"] = fresh
    if after_count != before_count:
        result["changed"] = True
    result["summary"] += f"; scanned: {before_count} -> {after_count} assets"
    return {"queued": True, "waited": True, "seconds": round(time.monotonic() - start, 2),
            "asset_count_before": before_count, "asset_count_after": after_count}


def gather_info(client: ImmichClient, library_statistics: bool = True, server_statistics: bool = True) -> dict:
    info: dict = {"server": client.version()}
    libraries = client.libraries()
    if library_statistics:
        for library in libraries:
            library["statistics"] = client.library_statistics(library["id"])
    info["libraries"] = libraries
    info["statistics"] = client.get("/server/statistics") if server_statistics else {}
    return info
