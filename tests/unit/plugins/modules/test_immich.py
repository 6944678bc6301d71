"""sovereign.cloud.immich_library and immich_info against the stand-in Immich server
(tests/support/immich_standin.py; Immich itself cannot run here), in its 2.x and 3.x answer shapes."""

from __future__ import annotations

import pytest

from ansible_collections.sovereign.cloud.plugins.modules import immich_info, immich_library
from support import media_factory
from support.ansible_module import run_adhoc, run_module
from support.immich_standin import ImmichStandIn


@pytest.fixture(params=["2.7.5", "3.2.2"], ids=["immich2", "immich3"])
def immich(request):
    with ImmichStandIn(version=request.param, scan_seconds=0.6) as server:
        yield server


@pytest.fixture
def photos(tmp_path):
    """A folder of real photos (and a movie), as an import path sees it."""
    root = tmp_path / "media"
    (root / "2024").mkdir(parents=True)
    for i in range(3):
        (root / "2024" / f"IMG_{i:04d}.JPG").write_bytes(media_factory.jpeg(seed=i))
    media_factory.movie(root / "2024" / "IMG_0003.MOV", prefer_ffmpeg=False)
    (root / "@eaDir").mkdir()
    (root / "@eaDir" / "SYNOPHOTO_THUMB.jpg").write_bytes(media_factory.jpeg(seed=9))
    return root


def args(immich, **extra) -> dict:
    return {"api_url": immich.url, "api_key": immich.api_key, "_ansible_diff": True, **extra}


def library_args(immich, photos, **extra) -> dict:
    wanted = {"name": "Photo vault", "owner": "admin@example.com", "import_paths": [str(photos)],
              "exclusion_patterns": ["**/@eaDir/**"], **extra}
    return args(immich, **wanted)


def test_create_then_second_run_changes_nothing(immich, photos):
    first = run_module(immich_library, library_args(immich, photos))
    assert first["changed"] is True and not first.get("failed"), first
    [library] = immich.libraries.values()
    assert library["ownerId"] == immich.admin["id"] and library["importPaths"] == [str(photos)]
    assert library["exclusionPatterns"] == ["**/@eaDir/**"]
    assert first["validation"] == [{"importPath": str(photos), "isValid": True}]
    assert first["diff"]["before"] == {} and first["diff"]["after"]["importPaths"] == [str(photos)]

    second = run_module(immich_library, library_args(immich, photos))
    assert second["changed"] is False, second
    assert second["summary"] == "library 'Photo vault' is up to date"
    assert len(immich.libraries) == 1
    # The key is a no_log option: it never appears in a result.
    assert immich.api_key not in repr(first) + repr(second)


def test_check_mode_reports_the_change_without_making_it(immich, photos, tmp_path):
    check = run_module(immich_library, library_args(immich, photos), check_mode=True)
    assert check["changed"] is True and "would be created" in check["summary"]
    assert immich.libraries == {}

    run_module(immich_library, library_args(immich, photos))
    other = tmp_path / "icloud-import"
    other.mkdir()
    check = run_module(immich_library, library_args(immich, photos, import_paths=[str(photos), str(other)]),
                       check_mode=True)
    assert check["changed"] is True and "would be updated (importPaths)" in check["summary"]
    assert check["diff"]["before"]["importPaths"] == [str(photos)]
    assert check["diff"]["after"]["importPaths"] == sorted([str(photos), str(other)])
    [library] = immich.libraries.values()
    assert library["importPaths"] == [str(photos)]  # unchanged on the server


def test_update_import_paths_is_validated_and_saved(immich, photos, tmp_path):
    run_module(immich_library, library_args(immich, photos))
    other = tmp_path / "icloud-import"
    other.mkdir()
    update = run_module(immich_library, library_args(immich, photos, import_paths=[str(other)]))
    assert update["changed"] is True and update["summary"] == "library 'Photo vault' updated (importPaths)"
    assert update["diff"] == {"before": {**update["diff"]["before"], "importPaths": [str(photos)]},
                              "after": {**update["diff"]["before"], "importPaths": [str(other)]}}
    [library] = immich.libraries.values()
    assert library["importPaths"] == [str(other)]
    assert run_module(immich_library, library_args(immich, photos, import_paths=[str(other)]))["changed"] is False


def test_a_path_immich_rejects_fails_with_its_message_and_leaves_nothing(immich, photos, tmp_path):
    missing = tmp_path / "not-mounted"
    result = run_module(immich_library, library_args(immich, photos, import_paths=[str(photos), str(missing)]))
    assert result["failed"]
    assert f"{missing}: Path does not exist (ENOENT)" in result["msg"]
    assert str(photos) + ":" not in result["msg"]  # only the rejected path is named
    assert immich.libraries == {}  # the library made for validation was removed again

    run_module(immich_library, library_args(immich, photos))
    a_file = photos / "2024" / "IMG_0000.JPG"
    result = run_module(immich_library, library_args(immich, photos, import_paths=[str(a_file), "relative/dir"]))
    assert result["failed"]
    assert f"{a_file}: Not a directory" in result["msg"]
    assert "relative/dir: Import path must be absolute, try /usr/src/app/relative/dir" in result["msg"]
    [library] = immich.libraries.values()
    assert library["importPaths"] == [str(photos)]


def test_duplicate_import_paths_show_immichs_400_message(immich, photos):
    run_module(immich_library, library_args(immich, photos))
    result = run_module(immich_library, library_args(immich, photos, import_paths=[str(photos), str(photos)]))
    assert result["failed"] and "400 Array must have unique items" in result["msg"]


def test_a_bad_api_key_says_what_to_do(immich, photos):
    result = run_module(immich_library, library_args(immich, photos, api_key="not-a-key"))
    assert result["failed"]
    assert "401 Unauthorized (Invalid API key)" in result["msg"]
    assert "Account Settings > API Keys" in result["msg"]
    assert "not-a-key" not in repr(result)


def test_a_non_admin_key_gets_a_clear_403(immich, photos):
    result = run_module(immich_info, args(immich, api_key=immich.user_key))
    assert result["failed"] and "403 Forbidden" in result["msg"] and "not an Immich admin" in result["msg"]


def test_an_unknown_owner_names_the_users(immich, photos):
    result = run_module(immich_library, library_args(immich, photos, owner="nobody@example.com"))
    assert result["failed"] and "no Immich user has the email 'nobody@example.com'" in result["msg"]
    assert "admin@example.com" in result["msg"]


def test_scan_and_wait_imports_the_photos_then_reports_no_change(immich, photos):
    first = run_module(immich_library, library_args(immich, photos, scan=True, wait=True, wait_timeout=20))
    assert first["changed"] is True and not first.get("failed"), first
    # 3 JPEGs and 1 movie; the @eaDir thumbnail is excluded.
    assert first["scan"]["asset_count_before"] == 0 and first["scan"]["asset_count_after"] == 4
    assert first["library"]["assetCount"] == 4 and first["library"]["refreshedAt"]
    assert first["summary"].endswith("scanned: 0 -> 4 assets")

    again = run_module(immich_library, library_args(immich, photos, scan=True, wait=True, wait_timeout=20))
    assert again["changed"] is False and again["scan"]["waited"] is True, again

    (photos / "2024" / "IMG_0010.JPG").write_bytes(media_factory.jpeg(seed=10))
    third = run_module(immich_library, library_args(immich, photos, scan=True, wait=True, wait_timeout=20))
    assert third["changed"] is True and third["scan"]["asset_count_after"] == 5

    info = run_module(immich_info, args(immich))
    [library] = info["libraries"]
    assert library["statistics"] == {"photos": 4, "videos": 1, "total": 5, "usage": library["statistics"]["usage"]}
    assert info["statistics"]["photos"] == 4


def test_scan_without_wait_is_a_change_and_check_mode_queues_nothing(immich, photos):
    run_module(immich_library, library_args(immich, photos))
    check = run_module(immich_library, library_args(immich, photos, scan=True), check_mode=True)
    assert check["changed"] is False and check["scan"] == {"queued": False, "waited": False, "reason": "check mode"}
    assert immich.jobs == []
    queued = run_module(immich_library, library_args(immich, photos, scan=True))
    assert queued["changed"] is True and queued["scan"] == {"queued": True, "waited": False}
    assert len(immich.jobs) == 1


def test_a_scan_that_outlasts_wait_timeout_fails_clearly(photos):
    with ImmichStandIn(version="3.2.2", scan_seconds=30) as immich:
        result = run_module(immich_library, library_args(immich, photos, scan=True, wait=True, wait_timeout=1))
    assert result["failed"] and "still running after 1 s" in result["msg"] and "Job Queues" in result["msg"]


def test_absent_removes_the_library_and_is_idempotent(immich, photos):
    run_module(immich_library, library_args(immich, photos))
    check = run_module(immich_library, args(immich, name="Photo vault", state="absent"), check_mode=True)
    assert check["changed"] is True and len(immich.libraries) == 1
    gone = run_module(immich_library, args(immich, name="Photo vault", state="absent"))
    assert gone["changed"] is True and gone["library"] == {} and immich.libraries == {}
    assert gone["diff"]["after"] == {} and gone["diff"]["before"]["name"] == "Photo vault"
    assert run_module(immich_library, args(immich, name="Photo vault", state="absent"))["changed"] is False
    assert photos.is_dir()  # files are never touched


def test_info_reports_both_version_shapes(immich):
    info = run_module(immich_info, args(immich))
    assert not info.get("failed") and info["changed"] is False, info
    if immich.version[0] == 3:
        assert info["server"] == {"version": "3.2.2", "major": 3, "minor": 2, "patch": 2, "prerelease": None}
        assert ("GET", "/api/queues/library") not in immich.requests
    else:
        assert info["server"] == {"version": "2.7.5", "major": 2, "minor": 7, "patch": 5, "prerelease": None}
    assert info["libraries"] == [] and info["statistics"]["photos"] == 0


def test_the_2x_queue_shape_is_read_through_the_legacy_jobs_endpoint(photos):
    with ImmichStandIn(version="2.7.5", scan_seconds=0.3) as immich:
        result = run_module(immich_library, library_args(immich, photos, scan=True, wait=True, wait_timeout=20))
        assert result["scan"]["asset_count_after"] == 4, result
        assert ("GET", "/api/jobs") in immich.requests


def test_immich_library_through_ansible(photos):
    """Once through ansible itself: the module and its module_utils package travel in the AnsiballZ wrapper."""
    with ImmichStandIn(version="3.2.2") as immich:
        result = run_adhoc("immich_library", {"api_url": immich.url, "api_key": immich.api_key, "name": "Photo vault",
                                              "owner": "admin@example.com", "import_paths": [str(photos)]})
        assert result["changed"] is True and len(immich.libraries) == 1, result
        assert immich.api_key not in repr(result)


def test_api_url_may_end_in_api_and_a_server_that_is_down_is_named(photos):
    with ImmichStandIn(version="3.2.2") as immich:
        info = run_module(immich_info, args(immich, api_url=immich.url + "/api/"))
        assert info["server"]["version"] == "3.2.2", info
        url = immich.url
    down = run_module(immich_info, {"api_url": url, "api_key": "a-key-of-a-server-that-is-down"})
    assert down["failed"] and "connection refused" in down["msg"] and "docker compose ps" in down["msg"]


def test_both_modules_return_what_they_document(immich, photos):
    """RETURN against real runs (support.return_docs): every documented key comes back from some run."""
    from support import return_docs
    library = [run_module(immich_library, library_args(immich, photos), check_mode=True),
               run_module(immich_library, library_args(immich, photos)),
               run_module(immich_library, library_args(immich, photos, scan=True, wait=True, wait_timeout=20))]
    assert not any(r.get("failed") for r in library), library
    return_docs.assert_matches("immich_library", library)
    return_docs.assert_matches("immich_info", [run_module(immich_info, args(immich))])
