"""Run a collection module in tests: in-process (fast) or through ``ansible`` itself (real packaging).

Both check the result against the module's RETURN documentation (``support.return_docs``).

``run_module(module, args, check_mode=False)`` calls ``module.main()`` with the arguments the way
AnsibleModule receives them (``ansible.module_utils.testing.patch_module_args``) and returns the
result dict, with ``failed`` set when the module called ``fail_json`` and ``warnings`` as text.

``run_adhoc(name, args, check_mode=False)`` runs ``ansible localhost -m sovereign.cloud.<name>``
with the repository's ansible.cfg: the module travels in its AnsiballZ wrapper exactly as in a
playbook (process pools and lazy imports included). Slower (~3 s); use it once per module.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from unittest import mock

from ansible.module_utils import _internal as module_utils_internal
from ansible.module_utils.testing import patch_module_args

from support import return_docs

REPO = Path(__file__).resolve().parents[2]


def run_module(module, args: dict, check_mode: bool = False) -> dict:
    args = dict(args)
    if check_mode:
        args["_ansible_check_mode"] = True
    out = io.StringIO()
    # A module process starts with no warnings; in this test process an earlier module's warnings
    # (ansible keeps them in a module-level dict) would otherwise reach this result.
    from ansible.module_utils.common import warnings as module_warnings
    module_warnings._global_warnings.clear()  # pylint: disable=protected-access
    module_warnings._global_deprecations.clear()  # pylint: disable=protected-access
    # Once controller code is imported (other tests), module warnings go to the controller's display
    # instead of the result; a module process never has it, so the test run should not either.
    with patch_module_args(args), contextlib.redirect_stdout(out), \
            mock.patch.object(module_utils_internal, "is_controller", False):
        try:
            module.main()
        except SystemExit:
            pass
    text = out.getvalue().strip()
    if not text:
        return {"failed": True, "msg": "the module printed nothing"}
    result = json.loads(text[text.index("{"):])
    # ansible-core >= 2.19 sends warnings as structured events; tests read their text.
    result["warnings"] = [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]
    return return_docs.check(module.__name__.rpartition(".")[2], result)


def run_adhoc(name: str, args: dict, check_mode: bool = False, timeout: int = 300) -> dict:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "json",
           "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_FORCE_COLOR": "0",
           "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_LOCALHOST_WARNING": "0"}
    command = [str(Path(sys.executable).parent / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
               "-m", f"sovereign.cloud.{name}", "-a", json.dumps(args)]
    if check_mode:
        command.append("--check")
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    try:
        # The json callback's document comes first; the summary callback prints after it.
        report, _end = json.JSONDecoder().raw_decode(proc.stdout.lstrip())
        result = report["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError) as exc:
        raise AssertionError(f"ansible {name} gave no result (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}") \
            from exc
    # The callback adds the task's own keys (action, _ansible_*); the module's are the rest.
    return_docs.check(name, {k: v for k, v in result.items() if k != "action" and not k.startswith("_ansible")})
    return result
