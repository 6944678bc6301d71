"""Every credential-looking option of every module and every role entry point is ``no_log``.

The modules' argument specs are taken from the modules themselves (``main()`` is run up to its
``AnsibleModule(...)``), the roles' from ``meta/argument_specs.yml``; sub-options are walked too.
An option looks like a credential when a word of its name is one of CREDENTIAL_WORDS, unless it
names where a credential lives (``*_id``, ``*_file``, ``*_path``, ``*_dir``, ...). Options whose
value can be a secret without the name saying so (a catalog DSN) are listed in SECRET_BY_VALUE.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from unittest import mock

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args

REPO = Path(__file__).resolve().parents[2]
CREDENTIAL_WORDS = {"password", "passwd", "secret", "secrets", "token", "tokens", "dsn", "key", "keys", "apikey",
                    "passphrase", "credential", "credentials", "cookie", "cookies"}
NOT_A_CREDENTIAL_SUFFIXES = {"id", "ids", "file", "files", "path", "paths", "dir", "directory", "url", "name", "names",
                             "mode", "owner", "group", "length", "type", "algorithm", "bits", "size"}
# Options whose value may hold a password although their name does not say so: a PostgreSQL DSN,
# restic's environment (S3 and B2 keys).
SECRET_BY_VALUE = {"catalog", "photo_vault_catalog", "env"}
# Deliberately not secret although the name has a credential word; each with the reason.
NOT_SECRET = {
    ("samba_user", "update_password"): "a choice (always/on_create), not a password",
    ("pbs_remote", "update_password"): "a choice (always/on_create), not a password",
    ("pve_storage", "update_password"): "a choice (always/on_create), not a password",
    ("pve_host:main", "pve_host_pbs_storages.update_password"): "a choice (always/on_create), not a password",
    ("pbs_server:main", "pbs_server_client_tokens"): "token ids and the privileges to check, no secret",
}
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__")


class Captured(Exception):
    def __init__(self, spec: dict) -> None:
        super().__init__("captured")
        self.spec = spec


def module_argument_spec(name: str) -> dict:
    module = importlib.import_module(f"ansible_collections.sovereign.cloud.plugins.modules.{name}")

    def capture(*_args, **kwargs):
        raise Captured(kwargs.get("argument_spec") or _args[0])

    with patch_module_args({}), mock.patch.object(module, "AnsibleModule", capture):
        try:
            module.main()
        except Captured as captured:
            return captured.spec
    raise AssertionError(f"{name}.main() did not build an AnsibleModule")


def role_argument_specs() -> dict[str, dict]:
    specs = {}
    for path in sorted(REPO.glob("roles/*/meta/argument_specs.yml")):
        role = path.parent.parent.name
        for entry, spec in (yaml.safe_load(path.read_text()).get("argument_specs") or {}).items():
            specs[f"{role}:{entry}"] = spec.get("options") or {}
    return specs


def looks_like_credential(name: str) -> bool:
    words = [w for w in re.split(r"[_\-.]", name.lower()) if w]
    if not words or words[-1] in NOT_A_CREDENTIAL_SUFFIXES:
        return False
    return bool(CREDENTIAL_WORDS & set(words)) or name in SECRET_BY_VALUE


def unprotected(owner: str, options: dict, prefix: str = "") -> list[str]:
    found = []
    for name, spec in (options or {}).items():
        spec = spec or {}
        where = f"{prefix}{name}"
        names = [name, *(spec.get("aliases") or [])]
        if any(looks_like_credential(n) for n in names) and spec.get("no_log") is not True \
                and (owner, where) not in NOT_SECRET:
            found.append(f"{owner}: {where}")
        found += unprotected(owner, spec.get("options") or spec.get("suboptions"), f"{where}.")
    return found


def test_the_rule_knows_a_credential_from_where_one_lives():
    assert all(looks_like_credential(n) for n in ("password", "api_key", "restic_backup_password", "dsn", "token",
                                                  "smb_share_users_passphrase", "catalog", "client_secret"))
    assert not any(looks_like_credential(n) for n in ("device_id", "key_file", "ssh_key_path", "keep_last",
                                                      "monkey", "tokenizer", "password_file", "api_key_dir"))


@pytest.mark.parametrize("name", MODULES)
def test_module_credentials_are_no_log(name):
    assert unprotected(name, module_argument_spec(name)) == []


def test_role_credentials_are_no_log():
    specs = role_argument_specs()
    assert len(specs) >= 6, "the roles' argument specs were not found"
    problems = [p for owner, options in specs.items() for p in unprotected(owner, options)]
    assert problems == [], "credential-looking options without no_log: true:\n  " + "\n  ".join(problems)
