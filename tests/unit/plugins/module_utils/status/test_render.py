"""The status page as HTML, JSON and text; and the HTML in headless Chromium (Debian's chromium).

The Chromium test saves screenshots under tests/output/status-page/ (gitignored): a red page on a
laptop screen in light mode and on a phone in dark mode, and a green page on a laptop.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.common import status
from ansible_collections.sovereign.cloud.plugins.module_utils.status import evaluate, render

REPO = Path(__file__).resolve().parents[5]
ARTEFACTS = REPO / "tests" / "output" / "status-page"
NOW = dt.datetime(2026, 12, 4, 6, 0, tzinfo=dt.timezone.utc)


def entry(kind, name, ok=True, hours=1.0, **fields):
    finished = status.iso(NOW - dt.timedelta(hours=hours))
    previous = {"last_success_at": status.iso(NOW - dt.timedelta(hours=hours + 50))}
    doc = status.build(kind, name, ok, fields.pop("summary", "did its job"), finished_at=finished,
                       previous=previous, **fields)
    return {"file": f"/var/lib/sovereign-cloud/status/{kind}--{name}.json", "doc": doc, "error": None}


def sample(broken: bool = True) -> dict:
    """Two hosts and the kinds the roles write today; with ``broken`` a stale backup, a failed one and a
    check that never ran."""
    nas = [entry("photo_vault.ingest", "photos", hours=3, summary="12 new, 1,204 unchanged"),
           entry("photo_vault.thumbnails", "photos", hours=3, summary="24 thumbnails made"),
           entry("photo_vault.verify", "photos", hours=30, summary="verified 500 of 51,234 originals, all match"),
           entry("restic.backup", "media", hours=100 if broken else 5, summary="snapshot 4f2a91c0: 12 new"),
           entry("zfs.scrub", "tank", hours=24 * 12, summary="scrub finished: 0 errors", details={"result": "ok"})]
    pve = [entry("pbs.backup", "media", ok=not broken, hours=2,
                 summary="backup of /srv/media to pbs@pbs:store failed: the datastore is full <full>",
                 fix="systemctl start sovereign-pbs-backup-media.service"),
           entry("pbs.restore_drill", "media", hours=24 * 9, summary="50 files restored, all match the catalog"),
           entry("icloud.session", "alice", hours=5, summary="session valid for 41 more days")]
    expectations = [{"kind": "restic.check", "name": "offsite", "every": 604800}] if broken else []
    hosts = {"nas": {"now": status.iso(NOW), "statuses": nas, "expectations": expectations},
             "pve": {"now": status.iso(NOW), "statuses": pve, "expectations": []}}
    return evaluate.report(hosts, now=NOW)


def test_the_page_is_self_contained_and_accessible():
    page = render.render_html(sample())
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page
    assert 'name="viewport"' in page and "prefers-color-scheme:dark" in page
    assert "default-src 'none'" in page  # nothing can load, even by mistake
    for external in ("src=", "href=", "url(", "@import", "<script", "<link"):
        assert external not in page, external
    assert 'role="status"' in page and "<h1>Something is not safe</h1>" in page
    # state in words, never colour alone; the fix of each red item, selectable
    assert page.count("Not safe</span>") == 3
    assert "<code>systemctl start sovereign-restic-check-offsite.service</code>" in page
    assert "<code>systemctl start sovereign-restic-media.service</code>" in page
    assert "&lt;full&gt;" in page and "<full>" not in page  # summaries are escaped
    assert '<time datetime="' in page


def test_a_green_page_says_so():
    report = sample(broken=False)
    assert report["overall"] == "green"
    page = render.render_html(report)
    assert "<h1>Everything is safe</h1>" in page and "All 8 checks are fine." in page
    assert "Needs a look" not in page
    assert render.render_text(report).startswith("sovereign.cloud status: GREEN (0 red, 0 amber, 8 green on 2 hosts)")


def test_the_text_names_each_fix_and_the_json_round_trips():
    report = sample()
    text = render.render_text(report, "/tmp/status.html")
    assert "RED   nas: Restic backup: media: Overdue: it should succeed every day. (last success 4 days ago)" in text
    assert "fix: systemctl start sovereign-restic-check-offsite.service" in text
    assert text.endswith("page: /tmp/status.html")
    assert json.loads(render.render_json(report)) == report


def test_an_empty_report_is_not_called_safe():
    report = evaluate.report({"nas": {"statuses": [], "expectations": []}}, now=NOW)
    page = render.render_html(report)
    assert report["overall"] == "amber" and "Nothing to show yet" in page


# --------------------------------------------------------------------------------------- chromium
def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        pytest.skip("chromium is not installed (scripts/test-deps.sh installs Debian's chromium)")
    return binary


def headless(binary: str, page: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--enable-logging=stderr", "--v=0", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)


def console(stderr: str) -> list[str]:
    """What the page said on the console (errors, CSP violations): Chromium logs them as CONSOLE lines."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def background_rows_from(png: Path, top: int) -> bool:
    """Whether every row of the screenshot from ``top`` down is the page background."""
    image = pytest.importorskip("PIL.Image").open(png).convert("RGB")
    width, height = image.size
    background = image.getpixel((2, height - 2))
    band = image.crop((0, top, width, height))
    return band.getextrema() == tuple((channel, channel) for channel in background)


def test_the_page_in_headless_chromium(tmp_path):
    binary = chromium()
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    red, green = ARTEFACTS / "red.html", ARTEFACTS / "green.html"
    red.write_text(render.render_html(sample()), encoding="utf-8")
    green.write_text(render.render_html(sample(broken=False)), encoding="utf-8")

    # The DOM as Chromium built it, and nothing on the console.
    dom = headless(binary, red, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Something is not safe" in dom.stdout
    assert console(dom.stderr) == []
    # The check would see an error: a page with a blocked external image does log one.
    leaky = tmp_path / "leaky.html"
    leaky.write_text(red.read_text().replace("</main>", '<img src="https://example.com/x.png"></main>'))
    assert any("Content Security Policy" in line for line in console(headless(binary, leaky, "--dump-dom").stderr))

    shots = {"red-laptop-light.png": (red, "1366,768", []),
             "red-phone-dark.png": (red, "390,844", ["--force-dark-mode"]),
             "green-laptop-light.png": (green, "1366,768", []),
             "red-laptop-tall.png": (red, "1366,1200", [])}
    for name, (page, size, extra) in shots.items():
        shot = ARTEFACTS / name
        shot.unlink(missing_ok=True)
        result = headless(binary, page, f"--window-size={size}", f"--screenshot={shot}", *extra)
        assert result.returncode == 0 and shot.stat().st_size > 10_000, result.stderr[-2000:]
        assert console(result.stderr) == [], name
    # One laptop screen: on a taller window everything below 768 px is empty background.
    assert background_rows_from(ARTEFACTS / "red-laptop-tall.png", 768)
    # Dark mode is dark: the phone screenshot's background is.
    image = pytest.importorskip("PIL.Image").open(ARTEFACTS / "red-phone-dark.png").convert("RGB")
    assert sum(image.getpixel((2, image.size[1] - 2))) < 100
    assert re.search(r"prefers-color-scheme:dark", red.read_text())
