"""The syncthing_* modules' RETURN documentation against their results, on real Syncthing (the rest
of the modules: tests/unit/plugins/modules/test_return_docs.py)."""

from __future__ import annotations

import pytest

from support import return_docs
from test_syncthing_modules import api, run_module  # pylint: disable=import-error


def test_syncthing_modules_return_what_they_document(laptop, nas, tmp_path, unique_id):
    device = dict(api(nas), device_id=laptop.device_id, name="laptop", addresses=[laptop.address])
    runs = {"syncthing_device": [run_module("syncthing_device", device, tmp_path, check=True),
                                 run_module("syncthing_device", device, tmp_path),
                                 run_module("syncthing_device", device, tmp_path)]}
    folder = dict(api(nas), id=unique_id, path=str(tmp_path / "mirror"), type="receiveonly", devices=["laptop"],
                  versioning={"type": "trashcan", "params": {"cleanoutDays": 30}}, revert_local_changes=True,
                  wait_timeout=5)
    runs["syncthing_folder"] = [run_module("syncthing_folder", folder, tmp_path, check=True),
                                run_module("syncthing_folder", folder, tmp_path),
                                run_module("syncthing_folder", dict(folder, revert_local_changes=False), tmp_path),
                                run_module("syncthing_folder", dict(folder, type="readonly"), tmp_path)]
    runs["syncthing_info"] = [run_module("syncthing_info", dict(api(nas), wait_timeout=5), tmp_path)]
    options = dict(api(nas), lan_only=True, usage_reporting=False)
    runs["syncthing_options"] = [run_module("syncthing_options", options, tmp_path, check=True),
                                 run_module("syncthing_options", options, tmp_path)]
    for name, results in runs.items():
        assert sum(bool(r.get("failed")) for r in results) == (1 if name == "syncthing_folder" else 0), results
        return_docs.assert_matches(name, [{k: v for k, v in r.items() if k != "_raw"} for r in results])


@pytest.mark.parametrize("name", ["syncthing_device", "syncthing_folder", "syncthing_info", "syncthing_options"])
def test_the_return_documentation_is_valid(name):
    assert return_docs.documented(name), name
