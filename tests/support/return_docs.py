"""A module's RETURN documentation against what it really returns.

``documented(name)`` reads the module's RETURN (YAML) from its source; ``check(name, result)``
raises AssertionError for a returned key that RETURN does not document. The helpers that run
modules in tests (``support.ansible_module``, the syncthing tests' subprocess runner) call it on
every result, so any module test that meets an undocumented key fails; and every key seen is
recorded in ``SEEN`` for tests that check the other direction (a documented key never returned).
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
MODULES = REPO / "plugins" / "modules"
# Keys Ansible itself adds or reserves for a task's status (AnsibleModule.exit_json/fail_json; ``rc`` of a failed
# command): never documented in RETURN (tests/unit/test_repository.py), so not compared.
COMMON = frozenset({"changed", "failed", "msg", "diff", "invocation", "warnings", "deprecations", "skipped",
                    "exception", "rc", "stdout", "stderr", "unreachable", "results", "ansible_facts",
                    "_ansible_no_log", "_raw"})
SEEN: dict[str, set[str]] = defaultdict(set)


def module_names() -> list[str]:
    return sorted(p.stem for p in MODULES.glob("*.py") if p.stem != "__init__")


@functools.lru_cache(maxsize=None)
def documented(name: str) -> dict:
    """The module's RETURN as a dict of key -> its documentation."""
    tree = ast.parse((MODULES / f"{name}.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "RETURN" for t in node.targets):
            return yaml.safe_load(node.value.value) or {}
    raise AssertionError(f"{name} has no RETURN")


def undocumented(name: str, result: dict) -> list[str]:
    return sorted(set(result) - set(documented(name)) - COMMON)


def check(name: str, result: dict) -> dict:
    """Record the keys a run returned and fail on one that RETURN does not document."""
    SEEN[name].update(set(result) - COMMON)
    extra = undocumented(name, result)
    assert not extra, f"{name} returned {extra}, which its RETURN does not document"
    return result


def assert_matches(name: str, results: list[dict]) -> None:
    """The runs in ``results`` together return every documented key, each successful run every key
    documented as ``returned: always``, and no run a key RETURN does not document."""
    docs = documented(name)
    for key, doc in docs.items():
        assert isinstance(doc, dict) and {"description", "returned", "type"} <= set(doc), \
            f"{name} RETURN {key}: needs description, returned and type"
    assert results, f"{name}: no run to compare"
    for result in results:
        check(name, result)
        if not result.get("failed"):
            missing = sorted(k for k, doc in docs.items() if doc["returned"] == "always" and k not in result)
            assert not missing, f"{name} did not return {missing}, documented as returned always: {result}"
    never = sorted(set(docs) - set().union(*(set(r) for r in results)))
    assert not never, f"{name} documents {never} but no run returned them"
