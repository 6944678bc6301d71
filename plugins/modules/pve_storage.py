#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pve_storage
short_description: Manage a Proxmox Backup Server storage entry of Proxmox VE (create, update, remove)
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Creates, updates or removes a storage entry of the datacenter (C(/storage), C(/etc/pve/storage.cfg),
    Datacenter > Storage in the web UI) of type C(pbs), the target of backup jobs.
  - An existing entry is brought to the options given, key by key; a renewed PBS certificate
    (O(pbs_fingerprint)), a new namespace, retention or node list is applied on the next run. Only the changed keys are sent, options set to
    V('') (or V([])) are removed so PVE's default applies, and options not given are left as they are.
    O(content), O(nodes) and O(prune_backups) are compared as sets and a mapping, so order does not matter.
  - PVE cannot change O(server) or O(datastore) of an existing entry. The module fails and says so, or with
    O(recreate=true) removes the entry and adds it again under the same name.
  - PVE never returns the password (or token secret) or the encryption key. See O(update_password) for how the
    password is handled; the encryption key is compared by its fingerprint, which PVE does keep.
  - C(community.proxmox.proxmox_storage) 2.0.0 (the one ansible 14 bundles) only creates entries and never updates
    an existing one; 2.1.0 adds an update behind an opt-in option.
  - Needs Datastore.Allocate on C(/storage); a missing privilege is named before anything is written.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.pve
options:
  name:
    description: The storage id (C(pve-storage-id)), such as V(pbs-1250p); backup jobs name the storage by it.
    type: str
    required: true
  type:
    description: The storage type. Only V(pbs) is supported.
    type: str
    choices: [pbs]
    default: pbs
  server:
    description: Host name or address of the PBS. Required to create; fixed afterwards (see O(recreate)).
    type: str
  port:
    description: Port of the PBS API. V(8007) is PVE's default (the key is then removed).
    type: int
  datastore:
    description: The PBS datastore. Required to create; fixed afterwards (see O(recreate)).
    type: str
  username:
    description: User (C(user@realm)) or API token (C(user@realm!name)) PVE logs in to the PBS with.
    type: str
  password:
    description:
      - Password of O(username), or the API token's secret. Keep it in ansible-vault.
      - Sent when the entry is created (and recreated); for an existing entry see O(update_password).
    type: str
  update_password:
    description:
      - V(on_create) sends O(password) only when the entry is created; an existing entry keeps the password it has.
        PVE never returns the stored password, so it cannot be compared.
      - V(always) sends it on every run, so a rotated secret is applied; the task then always reports a change.
        Use it for the run that rotates the secret.
    type: str
    choices: [on_create, always]
    default: on_create
  pbs_fingerprint:
    description:
      - SHA-256 fingerprint of the PBS certificate (C(AA:BB:...), 32 pairs; C(proxmox-backup-manager cert info)).
        Compared without regard to case or colons. V('') removes it (for a certificate a public CA signed).
    type: str
  namespace:
    description: PBS namespace to back up into (it must exist on the PBS). V('') means the root namespace.
    type: str
  content:
    description: Content types, V(backup) (PVE's default for pbs) or V(none). V([]) removes the key.
    type: list
    elements: str
  prune_backups:
    description:
      - >-
        Retention PVE applies to this storage (C(prune-backups)) as a mapping (V({keep-daily: 7, keep-weekly: 4}))
        or PVE's string (V(keep-daily=7,keep-weekly=4)); keys C(keep-all), C(keep-last), C(keep-hourly),
        C(keep-daily), C(keep-weekly), C(keep-monthly), C(keep-yearly). V('') removes it.
      - A backup job's own C(prune-backups) (M(sovereign.cloud.pve_backup_job)) takes precedence over it.
    type: raw
  max_protected_backups:
    description: Most protected backups per guest (C(max-protected-backups)), V(-1) for unlimited.
    type: int
  nodes:
    description: The nodes the storage is enabled on. V([]) removes the key (all nodes).
    type: list
    elements: str
  enabled:
    description: Whether the storage is enabled (PVE's C(disable) flag, inverted).
    type: bool
  encryption_key:
    description:
      - >-
        Client-side encryption key, the JSON content of a key file made with
        C(proxmox-backup-client key create --kdf none KEYFILE). PVE keeps it in
        C(/etc/pve/priv/storage/<name>.enc) and stores its fingerprint in storage.cfg, which this module compares.
        Keep a copy of the key outside the node: backups made with it cannot be restored without it.
      - V('') removes the key from the entry (PVE deletes the key file on the node).
      - PVE's own V(autogen) is not offered, as the key would then exist only on the node.
    type: str
  recreate:
    description:
      - When O(server) or O(datastore) differ from the entry's, remove the entry and add it again with the wanted
        values (and the ones it holds). Needs O(password), and O(encryption_key) if the entry has one.
      - Without it the module fails and names the change.
    type: bool
    default: false
  state:
    description: Whether the storage entry should exist. V(absent) removes the entry only, not the backups.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    details: Only reads (GET); reports what it would send.
  diff_mode:
    support: full
    details: The managed keys before and after; the password shows as sent, never its value.
seealso:
  - module: sovereign.cloud.pve_backup_job
"""

EXAMPLES = r"""
- name: Add PBS on pbs-1250p as the storage pbs-1250p, with a PBS API token
  sovereign.cloud.pve_storage:
    api_host: 192.168.1.40
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_pve_token_secret }}"
    fingerprint: "{{ sovereign_pve_fingerprint }}"
    name: pbs-1250p
    server: 192.168.1.52
    datastore: backups
    username: pve@pbs!pve
    password: "{{ vault_pbs_pve_token_secret }}"
    pbs_fingerprint: "{{ sovereign_pbs_fingerprints['pbs-1250p'] }}"
    content: [backup]
    nodes: [intel-1250p]

- name: Apply a rotated token secret (always reports a change)
  sovereign.cloud.pve_storage:
    name: pbs-1250p
    password: "{{ vault_pbs_pve_token_secret }}"
    update_password: always

- name: Move the entry to another datastore (PVE cannot change it in place)
  sovereign.cloud.pve_storage:
    name: pbs-1250p
    server: 192.168.1.52
    datastore: backups-2
    password: "{{ vault_pbs_pve_token_secret }}"
    recreate: true
"""

RETURN = r"""
name:
  description: The storage id.
  returned: success
  type: str
action:
  description: What was (or would be) done, V(none), V(create), V(update), V(recreate) or V(delete).
  returned: success
  type: str
storage:
  description: >-
    The managed keys of the entry after the run (in check mode, as they would be), at PVE's spelling; keys at PVE's
    default are left out. C(encryption-key) is the key's fingerprint, never the key; the password is never shown.
  returned: success
  type: dict
  sample: {"server": "192.168.1.52", "datastore": "backups", "username": "pve@pbs!pve", "nodes": "intel-1250p",
           "fingerprint": "AB:CD:..."}
request:
  description: >-
    The parameters sent (or that would be sent) to create or update the entry; secrets appear as C((not shown)).
  returned: success
  type: dict
summary:
  description: What was done, in words.
  returned: always
  type: str
  sample: "storage pbs-1250p: update fingerprint"
kind:
  description: >-
    Why it failed: V(unreachable), V(fingerprint) (the PVE API's own certificate), V(auth), V(permission) (names the
    privilege), V(fixed) (O(server) or O(datastore) would change, see O(recreate)), V(digest) (storage.cfg changed
    meanwhile), V(missing_library), V(usage) or V(api).
  returned: on failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.pve.client import API_ARGUMENT_SPEC, PveClient, PveError
from ansible_collections.sovereign.cloud.plugins.module_utils.pve.storage import TO_API, ensure_storage

# `fingerprint` (shared spec) pins the PVE API's certificate; the PBS's pin is `pbs_fingerprint`.
OPTIONS = {
    "name": {"type": "str", "required": True},
    "type": {"type": "str", "default": "pbs", "choices": ["pbs"]},
    "server": {"type": "str"},
    "port": {"type": "int"},
    "datastore": {"type": "str"},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "update_password": {"type": "str", "default": "on_create", "choices": ["on_create", "always"],
                        "no_log": False},
    "pbs_fingerprint": {"type": "str"},
    "namespace": {"type": "str"},
    "content": {"type": "list", "elements": "str"},
    "prune_backups": {"type": "raw"},
    "max_protected_backups": {"type": "int"},
    "nodes": {"type": "list", "elements": "str"},
    "enabled": {"type": "bool"},
    "encryption_key": {"type": "str", "no_log": True},
    "recreate": {"type": "bool", "default": False},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
}


def main() -> None:
    module = AnsibleModule(argument_spec={**API_ARGUMENT_SPEC, **OPTIONS}, supports_check_mode=True)
    params = module.params
    try:
        client = PveClient.from_params(params)
        result = ensure_storage(client, params["name"], {option: params[option] for option in TO_API},
                                state=params["state"], password=params["password"],
                                update_password=params["update_password"], encryption_key=params["encryption_key"],
                                recreate=params["recreate"], check_mode=module.check_mode)
    except PveError as exc:
        module.fail_json(msg=exc.msg, kind=exc.kind, summary=f"storage {params['name']}: failed ({exc.kind})")
    if not module._diff:  # pylint: disable=protected-access
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
