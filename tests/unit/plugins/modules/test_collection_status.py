"""collection_status (gather on a host) and collection_status_page (the page on the controller)."""

from __future__ import annotations

import json

from ansible_collections.sovereign.cloud.plugins.module_utils.common import status
from ansible_collections.sovereign.cloud.plugins.modules import collection_status, collection_status_page
from support import return_docs
from support.ansible_module import run_module


def test_gather_then_page(tmp_path):
    state, expect = tmp_path / "state", tmp_path / "status.d"
    expect.mkdir()
    status.write_status(str(state), "photo_vault.ingest", "photos", True, "12 new")
    (state / "status" / "broken--x.json").write_text("{")
    (expect / "restic.backup--media.json").write_text(json.dumps({"kind": "restic.backup", "name": "media"}))
    gathered = run_module(collection_status, {"state_dir": str(state), "expectations_dir": str(expect)})
    assert not gathered["changed"] and len(gathered["statuses"]) == 2 and len(gathered["expectations"]) == 1
    assert gathered["summary"] == f"2 statuses, 1 expectations under {state}"
    empty = run_module(collection_status, {"state_dir": str(tmp_path / "none"),
                                           "expectations_dir": str(tmp_path / "none")}, check_mode=True)
    assert empty["statuses"] == [] and empty["expectations"] == []
    return_docs.assert_matches("collection_status", [gathered, empty])

    page = tmp_path / "out" / "status.html"
    args = {"hosts": {"nas": gathered, "pve": None}, "path": str(page),
            "settings": {"nas": {"thresholds": {"default": {"amber_after": "2d"}}}}}
    checked = run_module(collection_status_page, args, check_mode=True)
    assert checked["changed"] and not page.exists()
    written = run_module(collection_status_page, args)
    assert written["changed"] and page.is_file() and (tmp_path / "out" / "status.json").is_file()
    assert written["overall"] == "red" and written["counts"] == {"red": 3, "amber": 0, "green": 1}
    assert written["summary"] == f"red: 3 not safe, 0 late, 1 fine; page at {page}"
    assert "fix: systemctl start sovereign-restic-media.service" in written["text"]
    assert written["diff"]["before"] == "" and written["diff"]["after"] == written["text"]
    assert "Check again: <code>ansible-playbook playbooks/status.yml</code>" in page.read_text()
    bad = run_module(collection_status_page, dict(args, settings={"nas": {"thresholds": {"default": {"every": "x"}}}}))
    assert bad["failed"] and "status_thresholds" in bad["msg"]
    return_docs.assert_matches("collection_status_page", [checked, written, bad])
