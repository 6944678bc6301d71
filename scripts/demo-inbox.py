# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""demo-inbox.py DIR: write the sample photo inbox that `make demo` ingests (and the tests reuse).

DIR gets two watched folders, as a family's would look: ``icloud/`` (an icloudpd download folder:
YYYY/MM/DD folders, iPhone HEICs, a Live Photo pair, an icloudpd XMP sidecar) and ``phone/`` (a
Syncthing folder from an Android phone and an old camera card): JPEGs with EXIF and GPS from 2008
to 2025, a photo that arrived both ways (a duplicate), two different IMG_0001.JPG (a camera's
counter wrap-around), a screenshot PNG, a truncated JPEG (must be rejected), and a video when ffmpeg
is installed. Everything is made with fixed seeds and fixed modification times, so the bytes are
the same on every run; DIR is built in a temporary folder and renamed into place, and an existing
DIR is left alone (a second `make demo` changes nothing).

Next to DIR, ``DIR.manifest.json`` says what a correct ingest must do with each file: ``good``
(relative path -> sha256, YYYY/MM/DD, extension), ``rejected`` (relative path -> reason word),
``duplicates`` (sha256 -> paths), ``live_pairs``, ``video`` (whether a video was made).
"""

from __future__ import annotations

import calendar
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support import media_factory as mf  # noqa: E402  pylint: disable=wrong-import-position

SIZE = (1600, 1200)  # big enough for real thumbnails, small enough for a quick demo

# (relative path, year, month, day, time, camera, GPS (lat, lon, alt), seed); phone/ is the Syncthing folder.
JPEGS = [
    ("phone/DCIM/2008/IMG_0001.JPG", "2008:08:16 14:02:11", "+02:00", ("Canon", "Canon EOS 40D"), (43.7102, 7.2620, 12.0), 8),
    ("phone/DCIM/2008/IMG_0002.JPG", "2008:08:16 14:05:40", "+02:00", ("Canon", "Canon EOS 40D"), (43.7105, 7.2631, 11.0), 9),
    ("phone/DCIM/2012/DSC_0418.JPG", "2012:12:24 19:31:02", "-07:00", ("NIKON CORPORATION", "NIKON D7000"), (51.1784, -115.5708, 1383.0), 12),
    ("phone/DCIM/2016/DSC_2210.JPG", "2016:07:01 11:15:48", "-06:00", ("NIKON CORPORATION", "NIKON D750"), (53.5461, -113.4938, 645.0), 16),
    # the camera's counter wrapped: a second, different IMG_0001.JPG eight years later
    ("phone/DCIM/2016/IMG_0001.JPG", "2016:09:03 09:12:30", "-06:00", ("Canon", "Canon EOS 80D"), (49.2827, -123.1207, 5.0), 17),
    ("phone/Camera/PXL_20200614_181502123.jpg", "2020:06:14 12:15:02", "-06:00", ("Google", "Pixel 4a"), (51.0447, -114.0719, 1045.0), 20),
    ("phone/Camera/PXL_20211031_003012456.jpg", "2021:10:30 18:30:12", "-06:00", ("Google", "Pixel 4a"), (51.0486, -114.0708, 1048.0), 21),
    ("phone/Camera/PXL_20230219_154510789.jpg", "2023:02:19 08:45:10", "-07:00", ("Google", "Pixel 7"), (50.1163, -122.9574, 675.0), 23),
    ("icloud/2019/04/20/IMG_1203.JPG", "2019:04:20 10:11:12", "+01:00", ("Apple", "iPhone XR"), (51.5007, -0.1246, 20.0), 19),
    ("icloud/2022/08/09/IMG_4410.JPG", "2022:08:09 17:40:05", "+02:00", ("Apple", "iPhone 13"), (46.2044, 6.1432, 375.0), 22),
]
HEICS = [
    ("icloud/2024/05/01/IMG_6001.HEIC", "2024:05:01 12:34:56", "-05:00", ("Apple", "iPhone 15 Pro"), (39.0997, -94.5786, 270.0), 24),
    ("icloud/2025/01/12/IMG_7310.HEIC", "2025:01:12 08:05:33", "-07:00", ("Apple", "iPhone 15 Pro"), (51.4254, -116.1773, 1600.0), 25),
]


def epoch(exif_date: str, offset: str) -> float:
    """The instant of an EXIF wall-clock time with its offset (fixed, whatever the host's time zone)."""
    date, clock = exif_date.split(" ")
    y, mo, d = (int(x) for x in date.split(":"))
    h, mi, s = (int(x) for x in clock.split(":"))
    sign = -1 if offset.startswith("-") else 1
    oh, om = (int(x) for x in offset[1:].split(":"))
    return calendar.timegm((y, mo, d, h, mi, s)) - sign * (oh * 3600 + om * 60)


def build(root: Path) -> dict:
    good: dict = {}
    rejected: dict = {}
    live_pairs: list = []

    def add(rel: str, data: bytes, folder: str, ext: str, mtime: float) -> None:
        mf.write(root / rel, data, mtime)
        good[rel] = {"sha256": mf.sha256(data), "folder": folder, "ext": ext, "size": len(data)}

    for rel, when, offset, (make, model), gps, seed in JPEGS:
        data = mf.jpeg(size=SIZE, seed=seed, make=make, model=model, orientation=1, datetime_original=when,
                       subsec="00", offset=offset, gps=gps)
        add(rel, data, when[:10].replace(":", "/"), "jpg", epoch(when, offset))

    # The same photo arrived twice: from the phone over Syncthing and from iCloud (another name).
    shared = mf.jpeg(size=SIZE, seed=30, make="Apple", model="iPhone 13", datetime_original="2022:08:10 09:00:00",
                     subsec="00", offset="+02:00", gps=(46.5197, 6.6323, 372.0))
    for rel in ("phone/Camera/IMG_4415.JPG", "icloud/2022/08/10/IMG_4415.JPG"):
        add(rel, shared, "2022/08/10", "jpg", epoch("2022:08:10 09:00:00", "+02:00"))

    for rel, when, offset, (make, model), gps, seed in HEICS:
        cid = f"DEMO-{seed:04d}-0000-0000-000000000000" if rel.endswith("IMG_6001.HEIC") else None
        data = mf.heic(size=SIZE, seed=seed, make=make, model=model, orientation=1, software="18.4",
                       datetime_original=when, subsec="000", offset=offset, gps=gps, content_identifier=cid)
        add(rel, data, when[:10].replace(":", "/"), "heic", epoch(when, offset))

    # The Live Photo's movie: same ContentIdentifier as IMG_6001.HEIC, same base name.
    movie_rel = "icloud/2024/05/01/IMG_6001.MOV"
    movie_at = epoch("2024:05:01 12:34:56", "-05:00")
    movie = mf.movie(root / movie_rel, creationdate="2024-05-01T12:34:56-0500",
                     content_identifier="DEMO-0024-0000-0000-000000000000", make="Apple", model="iPhone 15 Pro",
                     location="+39.0997-094.5786+270.000/", seed=6001)
    os.utime(root / movie_rel, (movie_at, movie_at))
    good[movie_rel] = {"sha256": mf.sha256(movie), "folder": "2024/05/01", "ext": "mov", "size": len(movie)}
    live_pairs.append(["icloud/2024/05/01/IMG_6001.HEIC", movie_rel])

    # No EXIF date: icloudpd's XMP sidecar gives it.
    plain = mf.jpeg(size=SIZE, seed=31)
    sidecar_at = epoch("2021:07:04 20:15:00", "-06:00")
    mf.write(root / "icloud/2021/07/04/IMG_3120.JPG.xmp",
             mf.icloudpd_sidecar("2021-07-04T20:15:00-0600", 51.0447, -114.0719, "Canada Day"), sidecar_at)
    add("icloud/2021/07/04/IMG_3120.JPG", plain, "2021/07/04", "jpg", sidecar_at)

    # A screenshot: a PNG with no date of its own but the one in its name.
    shot_at = epoch("2024:03:04 15:16:17", "+00:00")
    add("phone/Screenshots/Screenshot 2024-03-04 at 15.16.17.png", mf.png(size=(1170, 2532), seed=32),
        "2024/03/04", "png", shot_at)

    # A video from the phone, when ffmpeg is here to make a real one.
    video = shutil.which("ffmpeg") is not None
    if video:
        rel = "phone/Camera/PXL_20230702_201500000.mp4"
        data = mf.ffmpeg_movie(root / rel, creation_utc_iso="2023-07-02T20:15:00Z", make="Google", model="Pixel 7",
                               seconds=2.0, size=(320, 240), seed=7)
        at = epoch("2023:07:02 20:15:00", "+00:00")
        os.utime(root / rel, (at, at))
        good[rel] = {"sha256": mf.sha256(data), "folder": "2023/07/02", "ext": "mp4", "size": len(data)}

    # A copy that stopped half-way: the vault must reject it and never store it.
    cut_at = epoch("2019:04:21 10:00:00", "+01:00")
    cut = mf.truncated(mf.jpeg(size=SIZE, seed=33, make="Apple", model="iPhone XR",
                               datetime_original="2019:04:21 10:00:00"), 0.5)
    mf.write(root / "icloud/2019/04/21/IMG_1210.JPG", cut, cut_at)
    rejected["icloud/2019/04/21/IMG_1210.JPG"] = "truncated"

    duplicates: dict = {}
    for rel, info in good.items():
        duplicates.setdefault(info["sha256"], []).append(rel)
    duplicates = {sha: sorted(rels) for sha, rels in duplicates.items() if len(rels) > 1}
    return {"good": good, "rejected": rejected, "duplicates": duplicates, "live_pairs": live_pairs,
            "video": video, "sources": {"icloud": "icloud", "phone": "phone"}}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: demo-inbox.py DIR", file=sys.stderr)
        return 2
    target = Path(argv[0]).resolve()
    manifest = target.with_name(target.name + ".manifest.json")
    if target.exists():
        print(f"demo inbox: {target} is already there (delete it to make it again)")
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        expected = build(work)
        tmp_manifest = work.with_name(work.name + ".manifest.json")
        tmp_manifest.write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.chmod(work, 0o755)
        os.replace(tmp_manifest, manifest)  # the manifest first: the inbox appears last, complete
        os.rename(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        work.with_name(work.name + ".manifest.json").unlink(missing_ok=True)
        raise
    files = len(expected["good"]) + len(expected["rejected"])
    print(f"demo inbox: wrote {files} files to {target} ({len(expected['good'])} photos and videos, "
          f"{len(expected['duplicates'])} duplicated, {len(expected['rejected'])} corrupt"
          f"{', a video' if expected['video'] else ', no video (ffmpeg is not installed)'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
