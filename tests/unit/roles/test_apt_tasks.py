"""Every apt task of every role waits for a busy dpkg lock (unattended-upgrades on a fresh host)
instead of failing: ``lock_timeout`` is set, and long enough for an upgrade run to finish."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
APT = ("ansible.builtin.apt", "ansible.legacy.apt", "apt")


def tasks(items):
    for task in items or []:
        if not isinstance(task, dict):
            continue
        yield task
        for key in ("block", "rescue", "always"):
            yield from tasks(task.get(key))


def apt_tasks():
    for path in sorted(REPO.glob("roles/*/tasks/*.yml")) + sorted(REPO.glob("roles/*/handlers/*.yml")):
        for task in tasks(yaml.safe_load(path.read_text())):
            for name in APT:
                if name in task:
                    yield f"{path.relative_to(REPO)}: {task.get('name')}", task[name]


def test_every_apt_task_waits_for_the_dpkg_lock():
    found = list(apt_tasks())
    assert len(found) >= 6, "the roles' apt tasks were not found"
    short = [where for where, options in found if int((options or {}).get("lock_timeout", 0)) < 300]
    assert not short, f"apt tasks without lock_timeout >= 300: {short}"
