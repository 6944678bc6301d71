# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reconcile one section-config entry (a datastore, remote, sync/prune/verify job) with what the user asked.

PBS config items are read from the list call (``GET /config/<kind>``, whose answer carries the file's
``digest``) and written back with that digest, so a concurrent change fails instead of being overwritten.
Options are cleared with PBS's ``delete`` list (an array of property names), never by sending empty values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .client import PBSClient, PBSError
from .tasks import is_upid, task_failure, wait_for_task


@dataclass
class Kind:
    path: str                       # /config/sync
    key: str                        # the id property: "id" or "name"
    label: str                      # "sync job"
    defaults: dict = field(default_factory=dict)      # what PBS means when a property is absent
    write_only: tuple = ()          # never returned by GET (a remote's password)
    create_only: tuple = ()         # cannot be changed after creation (a datastore's path)
    groups: tuple = ()              # sets of properties given as a whole (keep-* retention)


def desired_from_params(params: dict, option_to_api: dict) -> dict:
    """The API properties the user set; '' on a string option means "remove it" (None in the result)."""
    desired = {}
    for option, api in option_to_api.items():
        value = params.get(option)
        if value is None:
            continue
        desired[api] = None if value == "" else value
    return desired


def _effective(item: dict, kind: Kind, prop: str):
    # PBS leaves properties at their default out of its answers.
    return item.get(prop, kind.defaults.get(prop))


def plan_update(current: dict, desired: dict, kind: Kind, write_secret: bool) -> tuple[dict, list]:
    """(properties to set, properties to delete) to turn current into desired."""
    desired = dict(desired)
    for group in kind.groups:
        if any(desired.get(p) is not None for p in group):
            for prop in group:
                desired.setdefault(prop, None)
    changes, delete = {}, []
    for prop, value in desired.items():
        if prop in kind.write_only:
            if write_secret and value is not None:
                changes[prop] = value
            continue
        if value is None:
            if prop in current:
                delete.append(prop)
            continue
        now = _effective(current, kind, prop)
        if isinstance(value, list):
            if sorted(map(str, now or [])) != sorted(map(str, value)):
                changes[prop] = value
        elif now != value:
            changes[prop] = value
    return changes, sorted(delete)


def _public(item: dict | None, kind: Kind) -> dict:
    return {k: v for k, v in (item or {}).items() if k not in kind.write_only}


class SectionConfig:
    def __init__(self, client: PBSClient, kind: Kind, task_timeout: float = 600):
        self.client = client
        self.kind = kind
        self.task_timeout = task_timeout

    def read(self, ident: str) -> tuple[dict | None, str | None]:
        items, digest = self.client.get(self.kind.path)
        for item in items or []:
            if item.get(self.kind.key) == ident:
                return item, digest
        return None, digest

    def _item_path(self, ident: str) -> str:
        return f"{self.kind.path}/{self.client.quote(ident)}"

    def _finish(self, data):
        # Some writes (datastore create/remove) run as a worker task and answer with its UPID.
        if is_upid(data):
            failure = task_failure(wait_for_task(self.client, data, self.task_timeout))
            if failure:
                raise PBSError(failure, kind="task")

    def ensure(self, ident: str, desired: dict, state: str, check_mode: bool, write_secret: bool = False,
               delete_params: dict | None = None) -> dict:
        """Returns the module result: changed, diff, the item after, and what was sent."""
        current, digest = self.read(ident)
        before = _public(current, self.kind)
        result = {"changed": False, "diff": {"before": before, "after": before}}
        if state == "absent":
            if current is None:
                result.update(item={})
                return result
            result.update(changed=True, item={}, diff={"before": before, "after": {}})
            if not check_mode:
                params = dict(delete_params or {}, digest=digest)
                data, _digest = self.client.call("DELETE", self._item_path(ident), params)
                self._finish(data)
            return result

        if current is None:
            body = {k: v for k, v in desired.items() if v is not None}
            body[self.kind.key] = ident
            after = _public(body, self.kind)
            result.update(changed=True, created=True, request={"method": "POST", "path": self.kind.path,
                                                               "params": _public(body, self.kind)},
                          diff={"before": {}, "after": after}, item=after)
            if not check_mode:
                data, _digest = self.client.call("POST", self.kind.path, body)
                self._finish(data)
                result["item"] = _public(self.read(ident)[0], self.kind)
            return result

        fixed = [p for p in self.kind.create_only if p in desired and desired[p] != current.get(p)]
        if fixed:
            raise PBSError(f"{self.kind.label} {ident!r}: {', '.join(fixed)} cannot be changed after creation "
                           f"(it is {current.get(fixed[0])!r}). Remove it first (state=absent) to recreate it.",
                           kind="immutable")
        desired = {k: v for k, v in desired.items() if k not in self.kind.create_only}
        changes, delete = plan_update(current, desired, self.kind, write_secret)
        if not changes and not delete:
            result["item"] = before
            return result
        after = {k: v for k, v in before.items() if k not in delete}
        after.update(_public(changes, self.kind))
        params = dict(changes)
        if delete:
            params["delete"] = delete
        params["digest"] = digest
        shown = {k: ("********" if k in self.kind.write_only else v) for k, v in params.items()}
        result.update(changed=True, item=after, diff={"before": before, "after": after},
                      request={"method": "PUT", "path": self._item_path(ident), "params": shown})
        if not check_mode:
            data, _digest = self.client.call("PUT", self._item_path(ident), params)
            self._finish(data)
            result["item"] = _public(self.read(ident)[0], self.kind)
        return result
