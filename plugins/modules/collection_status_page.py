#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: collection_status_page
short_description: Write the "is everything safe?" page from every host's job statuses
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Evaluates what M(sovereign.cloud.collection_status) gathered on each host. Every item is green, amber or red
    with the age of its last success and the one command that fixes it. An expected job with no status is red,
    a failed last run is red, a late one amber or red by its thresholds.
  - Thresholds come from O(settings) (the inventory's C(status_thresholds)), then the role's expectation file,
    then how often the job runs (amber after 1.5 times, red after 3 times that).
  - Writes one self-contained HTML page (no external assets, light and dark, readable on a phone) to O(path) and
    the same report as JSON to O(json_path), each atomically.
  - Runs where the page should be, normally on the controller (C(delegate_to=localhost)).
extends_documentation_fragment:
  - sovereign.cloud.attributes
attributes:
  check_mode:
    support: full
    details: Evaluates and returns everything, writes nothing.
  diff_mode:
    support: full
    details: The text summary before (from the previous JSON report) and after.
options:
  hosts:
    description:
      - Each host's M(sovereign.cloud.collection_status) result, keyed by host name. A null value means the host
        could not be reached; it shows as one red item.
    type: dict
    required: true
  settings:
    description:
      - Per host, C(thresholds) (keyed C(<kind>--<name>), C(<kind>) or C(default); each with C(every),
        C(amber_after), C(red_after) in seconds or as C(90m), C(36h), C(2d), C(1w)), and C(expected), the jobs to
        expect where no role wrote an expectation (each with C(kind), C(name) and optionally C(title), C(every), C(fix)).
    type: dict
    default: {}
  path:
    description: Where to write the HTML page.
    type: path
    required: true
  json_path:
    description: Where to write the JSON report. Default O(path) with C(.json) instead of C(.html).
    type: path
  again:
    description: The command the page's footer names to check again (the playbook with its inventory).
    type: str
    default: ansible-playbook playbooks/status.yml
  mode:
    description: File mode of the page and the report.
    type: raw
    default: "0644"
seealso:
  - module: sovereign.cloud.collection_status
"""

EXAMPLES = r"""
- name: Write the status page
  sovereign.cloud.collection_status_page:
    hosts: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'status_gathered'))) }}"
    path: ~/.local/share/sovereign-cloud/status.html
  delegate_to: localhost
  run_once: true
  register: status_page
"""

RETURN = r"""
overall:
  description: C(green), C(amber) or C(red) (C(amber) when nothing is recorded or expected at all).
  returned: always
  type: str
  sample: red
counts:
  description: Items per state.
  returned: always
  type: dict
  sample: {"red": 1, "amber": 0, "green": 6}
checks:
  description:
    - Every item, red first. C(host), C(kind), C(name), C(title), C(group), C(state), C(reason), C(summary),
      C(age) (seconds since the last success, or null), C(age_text), C(fix), C(every), C(amber_after),
      C(red_after), C(expected), C(known_kind), C(file), C(finished_at), C(last_success_at).
  returned: always
  type: list
  elements: dict
  sample: [{"host": "nas", "kind": "restic.backup", "name": "media", "state": "red",
            "reason": "last success 5 days ago, expected every day",
            "fix": "systemctl start sovereign-restic-media.service"}]
text:
  description: A few lines for a terminal or a mail (the state, then each item that needs a look and its fix).
  returned: always
  type: str
page:
  description: The HTML page's path.
  returned: always
  type: str
json_path:
  description: The JSON report.
  returned: always
  type: str
summary:
  description: One line.
  returned: always
  type: str
  sample: "red: 1 not safe, 0 late, 6 fine; page at /home/me/.local/share/sovereign-cloud/status.html"
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic
from ansible_collections.sovereign.cloud.plugins.module_utils.status import evaluate, render


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "hosts": {"type": "dict", "required": True},
            "settings": {"type": "dict", "default": {}},
            "path": {"type": "path", "required": True},
            "json_path": {"type": "path"},
            "again": {"type": "str", "default": "ansible-playbook playbooks/status.yml"},
            "mode": {"type": "raw", "default": "0644"},
        },
        supports_check_mode=True,
    )
    params = module.params
    path = params["path"]
    json_path = params["json_path"] or (os.path.splitext(path)[0] + ".json")
    try:
        mode = int(str(params["mode"]), 8)
        report = evaluate.report(params["hosts"], params["settings"])
    except (ValueError, KeyError, TypeError) as exc:
        module.fail_json(msg=f"cannot evaluate the statuses: {exc}. Check status_thresholds and status_expected "
                             "in the inventory.")
    page = render.render_html(report, again=params["again"])
    text = render.render_text(report, path)
    previous = atomic.read_json(json_path)
    before = render.render_text(previous, path) if isinstance(previous, dict) and "items" in previous else ""
    old_page = None
    try:
        with open(path, encoding="utf-8") as handle:
            old_page = handle.read()
    except OSError:
        pass
    changed = old_page != page or previous != report
    if changed and not module.check_mode:
        try:
            atomic.write_text(path, page, mode=mode)
            atomic.write_json(json_path, report, mode=mode)
        except OSError as exc:
            module.fail_json(msg=f"cannot write the status page to {path} / {json_path}: {exc}")
    counts = report["counts"]
    summary = (f"{report['overall']}: {counts['red']} not safe, {counts['amber']} late, {counts['green']} fine; "
               f"page at {path}")
    module.exit_json(changed=changed, overall=report["overall"], counts=counts, checks=report["items"], text=text,
                     page=path, json_path=json_path, summary=summary, diff={"before": before, "after": text})


if __name__ == "__main__":
    main()
