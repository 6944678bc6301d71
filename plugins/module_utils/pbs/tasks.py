# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PBS worker tasks: UPID parsing and waiting for a task to stop.

UPID = ``UPID:{node}:{pid}:{pstart}:{task_id}:{starttime}:{worker_type}:{worker_id}:{auth_id}:``; a stopped
task's ``exitstatus`` is ``OK``, ``WARNINGS: n``, ``Error: msg`` or ``unknown``.
"""

from __future__ import annotations

import time

from .client import PBSClient, PBSError


def is_upid(value) -> bool:
    return isinstance(value, str) and value.startswith("UPID:") and value.count(":") >= 9


def upid_node(upid: str) -> str:
    return upid.split(":")[1]


def wait_for_task(client: PBSClient, upid: str, timeout: float, poll_interval: float = 1.0,
                  clock=time.monotonic, sleep=time.sleep) -> dict:
    """Polls the task until it stops; returns its status dict. Raises PBSError(kind='timeout') past timeout."""
    path = f"/nodes/{client.quote(upid_node(upid))}/tasks/{client.quote(upid)}/status"
    deadline = clock() + timeout
    while True:
        status, _digest = client.get(path)
        if status.get("status") == "stopped":
            return status
        if clock() >= deadline:
            raise PBSError(f"task {upid} still running after {timeout:g} s. It goes on on the server; follow it "
                           f"with `proxmox-backup-manager task log {upid}`.", kind="timeout")
        sleep(poll_interval)


def task_failure(status: dict) -> str | None:
    """None when the task ended OK, else the message to fail with."""
    exitstatus = str(status.get("exitstatus", "unknown"))
    if exitstatus == "OK":
        return None
    upid = status.get("upid", "")
    if exitstatus.startswith("WARNINGS"):
        return f"task {upid} ended with {exitstatus}: read `proxmox-backup-manager task log {upid}`."
    return f"task {upid} failed: {exitstatus}. Read `proxmox-backup-manager task log {upid}`."
