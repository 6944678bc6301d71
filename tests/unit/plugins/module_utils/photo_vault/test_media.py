"""Content sniffing, metadata parsing and capture dates (photo_vault.media), on generated and real files."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.analyse import analyse
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.dates import filename_date, mtime_date, normalise_offset, resolve_capture_date
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.exif import parse_exif
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.formats import Media, Reader
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.icloud import live_photo_key, parse_icloudpd_name
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.sidecar import parse_source_sidecar
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.sniff import describe_unknown, sniff
from support import media_factory as mf
from support.paths import SAMPLES

NOW = dt.datetime(2026, 1, 1, 12, 0, 0)
IPHONE = {"make": "Apple", "model": "iPhone 13 Pro", "orientation": 6, "software": "17.1",
          "datetime_original": "2023:05:01 12:34:56", "subsec": "123", "offset": "-05:00",
          "gps": (39.0513, -94.4799, 270.2), "content_identifier": "A1B2C3D4-0000-4000-8000-000000000001"}


def parse(data: bytes, name: str = "file") -> Media:
    media = analyse(Reader(data=data), name, NOW)
    assert media is not None, f"{name} not recognised"
    return media


# ------------------------------------------------------------------------------------ sniffing

@pytest.mark.parametrize("head, fmt", [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF89a\x01\x00\x01\x00", "gif"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"),
    (b"RIFF\x10\x00\x00\x00AVI LIST", "avi"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "heic"),
    (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf", "heic"),
    (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1miaf", "heif"),
    (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "avif"),
    (b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom", "cr3"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", "mov"),
    (b"\x00\x00\x00\x08wide\x00\x00\x10\x00mdat", "mov"),
    (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "mp4"),
    (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "mp4"),
    (b"\x00\x00\x00\x18ftypM4V \x00\x00\x00\x01M4V M4A ", "m4v"),
    (b"\x00\x00\x00\x18ftyp3gp5\x00\x00\x00\x00\x33gp5isom", "3gp"),
    (b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A mp42", None),
    (b"II*\x00\x08\x00\x00\x00", "tiff"),
    (b"MM\x00*\x00\x00\x00\x08", "tiff"),
    (b"II*\x00\x10\x00\x00\x00CR\x02\x00", "cr2"),
    (b"IIRO\x08\x00\x00\x00", "orf"),
    (b"IIU\x00\x08\x00\x00\x00", "rw2"),
    (b"FUJIFILMCCD-RAW 0201", "raf"),
    (b"%PDF-1.7\n", None),
    (b"hello world", None),
    (b"", None),
])
def test_formats_are_recognised_by_their_magic_bytes(head, fmt):
    assert sniff(head) == fmt


def test_mpeg_transport_streams_are_recognised():
    packet = b"\x47" + b"\x00" * 187
    assert sniff(packet * 4) == "mts"
    assert sniff((b"\x00\x00\x00\x00" + packet) * 4) == "mts"


def test_the_extension_comes_from_the_content_not_the_name():
    media = parse(mf.png(), "holiday.jpg")
    assert (media.format, media.ext, media.mime) == ("png", "png", "image/png")


# ------------------------------------------------------------------------------------ EXIF

@pytest.mark.parametrize("endian", [">", "<"])
def test_jpeg_exif_gives_every_field_the_vault_records(endian):
    media = parse(mf.jpeg(size=(120, 80), endian=endian, **IPHONE), "IMG_0001.JPG")
    assert media.problem is None
    assert (media.width, media.height, media.orientation) == (120, 80, 6)
    assert (media.make, media.model, media.software) == ("Apple", "iPhone 13 Pro", "17.1")
    assert (media.gps_lat, media.gps_lon, media.gps_alt) == (39.0513, -94.4799, 270.2)
    assert media.content_identifier == IPHONE["content_identifier"]
    assert media.from_iphone
    date = media.date
    assert (date.taken_at, date.offset, date.utc, date.source) == (
        "2023-05-01T12:34:56.123", "-05:00", "2023-05-01T17:34:56.123Z", "exif")
    assert date.folder == "2023/05/01"
    assert date.xmp == "2023-05-01T12:34:56.123-05:00"


def test_heic_exif_item_is_found_through_meta_and_iloc():
    media = parse(mf.heic(size=(96, 64), **IPHONE), "IMG_0001.HEIC")
    assert media.problem is None
    assert (media.format, media.ext) == ("heic", "heic")
    assert (media.width, media.height) == (96, 64)
    assert media.date.xmp == "2023-05-01T12:34:56.123-05:00"
    assert media.content_identifier == IPHONE["content_identifier"]
    assert (media.gps_lat, media.gps_lon) == (39.0513, -94.4799)


def test_southern_western_and_below_sea_level_gps():
    media = parse(mf.jpeg(gps=(-33.8568, -151.2153, -12.5)))
    assert (media.gps_lat, media.gps_lon, media.gps_alt) == (-33.8568, -151.2153, -12.5)


def test_null_island_gps_counts_as_missing():
    media = parse(mf.jpeg(gps=(0.0, 0.0)))
    assert media.gps_lat is None and media.gps_lon is None


def test_create_date_is_used_when_date_time_original_is_missing():
    media = parse(mf.jpeg(create_date="2011:02:03 04:05:06"))
    assert media.date.taken_at == "2011-02-03T04:05:06" and media.date.source == "exif"


@pytest.mark.parametrize("value", ["0000:00:00 00:00:00", "2020:13:01 00:00:00", "2020:02:30 10:00:00",
                                   "1800:01:01 00:00:00", "2026:01:05 00:00:00", "    :  :     :  :  ", "garbage"])
def test_impossible_exif_dates_count_as_missing(value):
    media = parse(mf.jpeg(datetime_original=value))
    assert media.date is None


def test_an_impossible_date_leaves_a_note():
    media = parse(mf.jpeg(datetime_original="0000:00:00 00:00:00"))
    assert "impossible" in media.date_note


def test_a_date_two_days_ahead_is_still_possible():
    media = parse(mf.jpeg(datetime_original="2026:01:03 11:00:00"))
    assert media.date.taken_at == "2026-01-03T11:00:00"


@pytest.mark.parametrize("offset, expected", [("+02:00", "+02:00"), ("+0530", "+05:30"), ("-12:00", "-12:00"),
                                              ("+14:00", "+14:00"), ("+15:00", None), ("-13:00", None),
                                              ("+02:75", None), ("junk", None), ("Z", "+00:00")])
def test_offsets_are_normalised_or_dropped(offset, expected):
    assert normalise_offset(offset) == expected


def test_damaged_exif_keeps_the_photo_and_notes_the_problem():
    data = bytearray(mf.jpeg(make="Canon", datetime_original="2020:01:01 10:00:00"))
    at = data.find(b"Exif\x00\x00") + 6
    data[at + 4:at + 8] = b"\xff\xff\xff\x00"  # IFD0 offset far outside the block
    media = parse(bytes(data))
    assert media.problem is None
    assert media.date is None and media.make is None
    assert any("EXIF unreadable" in note for note in media.notes)


def test_an_ifd_that_points_to_itself_does_not_loop():
    tiff = b"MM\x00*\x00\x00\x00\x08" + struct.pack(">H", 1) + struct.pack(">HHII", 0x8769, 4, 1, 8) + b"\x00\x00\x00\x08"
    media = Media("jpeg")
    parse_exif(media, Reader(data=tiff), 0, now=NOW)
    assert media.date is None


# ------------------------------------------------------------------------------------ movies

def test_handmade_movie_gives_apple_date_identifier_location_and_size():
    data = mf.handmade_movie(creationdate="2023-05-01T12:34:56-0500", content_identifier="CID-1",
                             location="+39.0513-094.4799+270.200/", make="Apple", model="iPhone 13 Pro",
                             creation_utc=1682962496, size=(1920, 1080), duration=2.5, rotation=90)
    media = parse(data, "IMG_0001.MOV")
    assert media.problem is None
    assert (media.format, media.ext, media.media_type) == ("mov", "mov", "video")
    assert media.date.xmp == "2023-05-01T12:34:56-05:00" and media.date.source == "quicktime"
    assert media.content_identifier == "CID-1"
    assert (media.gps_lat, media.gps_lon, media.gps_alt) == (39.0513, -94.4799, 270.2)
    assert (media.width, media.height, media.duration, media.orientation) == (1920, 1080, 2.5, 6)
    assert media.from_iphone


def test_movie_without_apple_keys_uses_the_utc_creation_time():
    media = parse(mf.handmade_movie(creation_utc=1520067600, brand=b"mp42"), "VID.MP4")
    assert media.format == "mp4"
    assert (media.date.taken_at, media.date.offset, media.date.source) == ("2018-03-03T09:00:00", "+00:00",
                                                                           "quicktime")


def test_movie_with_a_zero_creation_time_has_no_date():
    assert parse(mf.handmade_movie(creation_utc=None), "x.mov").date is None


@pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg is not installed (scripts/test-deps.sh installs it)")
def test_ffmpeg_movie_with_apple_metadata(tmp_path):
    data = mf.ffmpeg_movie(tmp_path / "x.mov", creationdate="2021-06-07T08:09:10+0200",
                           creation_utc_iso="2021-06-07T06:09:10Z", content_identifier="CID-FF",
                           location="+48.8584+002.2945+035.000/", make="Apple", model="iPhone 12")
    media = parse(data, "x.mov")
    assert media.problem is None
    assert media.date.xmp == "2021-06-07T08:09:10+02:00"
    assert media.content_identifier == "CID-FF"
    assert (media.gps_lat, media.gps_lon) == (48.8584, 2.2945)
    assert (media.width, media.height, media.duration) == (160, 120, 1.0)


def test_large_files_parse_the_same_through_a_file_descriptor(tmp_path):
    data = mf.handmade_movie(creationdate="2023-05-01T12:34:56-0500", content_identifier="CID", mdat_bytes=300_000)
    path = tmp_path / "big.mov"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        streamed = analyse(Reader(fd=fd), "big.mov", NOW)
    finally:
        os.close(fd)
    in_memory = parse(data, "big.mov")
    assert streamed.as_dict() == in_memory.as_dict()
    assert streamed.date == in_memory.date


# ------------------------------------------------------------------------------------ damage

@pytest.mark.parametrize("make, name, word", [
    (lambda: mf.truncated(mf.jpeg(size=(200, 200), seed=1)), "x.jpg", "truncated JPEG"),
    (lambda: mf.truncated(mf.heic(size=(200, 200), seed=1), 0.5), "x.heic", "truncated"),
    (lambda: mf.truncated(mf.handmade_movie(creation_utc=1, mdat_bytes=10000), 0.5), "x.mov", "truncated"),
    (lambda: mf.handmade_movie(creation_utc=1)[:-200], "x.mov", "truncated"),
    (lambda: mf.truncated(mf.png(seed=1)), "x.png", "truncated PNG"),
    (mf.corrupt_jpeg_restart, "x.jpg", "restart marker"),
])
def test_truncated_and_corrupt_files_have_a_problem(make, name, word):
    media = parse(make(), name)
    assert media.problem and word in media.problem


def test_a_movie_without_its_moov_box_is_incomplete():
    data = mf.handmade_movie(creation_utc=1)
    moov = data.find(b"moov") - 4
    media = parse(data[:moov], "x.mov")
    assert "no movie header" in media.problem


def test_png_with_a_flipped_bit_fails_its_checksum():
    data = bytearray(mf.png(seed=3))
    data[60] ^= 0x01
    assert "checksum" in parse(bytes(data), "x.png").problem


@pytest.mark.parametrize("data, word", [(b"", "empty"), (b"\x00" * 100, "zero bytes"),
                                        (b"shopping list\nmilk\n", "text"), (b"<!DOCTYPE html><html>", "HTML"),
                                        (bytes(range(256)), "not recognised")])
def test_unknown_content_is_described_in_words(data, word):
    assert word in describe_unknown(data[:4096], len(data))


def _mutations(data: bytes, rng: random.Random, count: int):
    for _mutation in range(count):
        buf = bytearray(data)
        kind = rng.randrange(4)
        if kind == 0:  # flip bytes
            for _flip in range(rng.randrange(1, 8)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif kind == 1:  # truncate
            del buf[rng.randrange(1, len(buf)):]
        elif kind == 2:  # huge sizes in a header word
            at = rng.randrange(0, min(len(buf) - 4, 4096))
            buf[at:at + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x00\x00\x00\x01", b"\x7f\xff\xff\xff"])
        else:  # duplicate a slice (nested structures pointing back)
            at = rng.randrange(len(buf))
            buf[at:at] = buf[max(0, at - 64):at]
        yield bytes(buf)


def test_adversarial_input_never_crashes_or_hangs():
    rng = random.Random(20260101)
    movie = mf.handmade_movie(creationdate="2023-05-01T12:34:56-0500", content_identifier="X", creation_utc=5)
    seeds = [mf.jpeg(**IPHONE), mf.heic(**IPHONE), mf.png(), movie, mf.exif_block(**IPHONE)[6:]]
    slowest = 0.0
    for seed in seeds:
        for data in _mutations(seed, rng, 400):
            start = time.perf_counter()
            media = analyse(Reader(data=data), "fuzz", NOW)  # must not raise
            slowest = max(slowest, time.perf_counter() - start)
            if media is not None:
                media.as_dict()
    assert slowest < 2.0, f"a mutated file took {slowest:.2f} s to parse"


def test_hostile_counts_and_offsets_are_bounded():
    # an IFD claiming 65535 entries, a box claiming 2**64 bytes, a keys box with 2**32 entries
    tiff = b"II*\x00\x08\x00\x00\x00" + b"\xff\xff" + b"\x00" * 32
    assert analyse(Reader(data=tiff), "x.tif", NOW).problem
    huge_box = b"\x00\x00\x00\x18ftypqt  \x00\x00\x02\x00qt  " + b"\x00\x00\x00\x01moov" + b"\xff" * 8
    assert "truncated" in analyse(Reader(data=huge_box), "x.mov", NOW).problem


# ------------------------------------------------------------------------------------ TIFF and RAW

def _tiff_file(entries, endian="<", payload=b"\x00" * 64):
    """A small baseline TIFF with one strip; ``entries`` extra (tag, type, count, value) in IFD0."""
    base = [(0x0100, 3, 1, 4), (0x0101, 3, 1, 4), (0x0106, 3, 1, 2)]
    all_entries = sorted(base + entries)
    ifd_size = 2 + 12 * (len(all_entries) + 2) + 4
    strip_at = 8 + ifd_size
    all_entries = sorted(all_entries + [(0x0111, 4, 1, strip_at), (0x0117, 4, 1, len(payload))])
    magic = b"II*\x00" if endian == "<" else b"MM\x00*"
    out = magic + struct.pack(endian + "I", 8) + struct.pack(endian + "H", len(all_entries))
    for tag, typ, count, value in all_entries:
        out += struct.pack(endian + "HHI", tag, typ, count) + (struct.pack(endian + "I", value) if typ == 4 else
                                                               struct.pack(endian + "HH", value, 0) if typ == 3 else value)
    return out + b"\x00\x00\x00\x00" + payload


def test_plain_tiff_dng_and_raw_by_make():
    assert parse(_tiff_file([]), "scan.tif").format == "tiff"
    dng = parse(_tiff_file([(0xC612, 1, 4, b"\x01\x04\x00\x00")]), "x.dng")
    assert (dng.format, dng.ext) == ("dng", "dng")
    make_at = b"NIKON\x00\x00\x00"
    nef = _tiff_file([(0x010F, 2, 6, b"\x00\x00\x00\x00"), (0x0106, 3, 1, 32803)])
    # point Make at the payload, where we write the string
    nef = bytearray(nef)
    entries_start = 10
    count = struct.unpack("<H", nef[8:10])[0]
    for i in range(count):
        at = entries_start + 12 * i
        if struct.unpack("<H", nef[at:at + 2])[0] == 0x010F:
            nef[at + 8:at + 12] = struct.pack("<I", len(nef) - 64)
    nef[len(nef) - 64:len(nef) - 64 + len(make_at)] = make_at
    media = parse(bytes(nef), "DSC_0001.NEF")
    assert (media.make, media.format, media.ext) == ("NIKON", "nef", "nef")


def test_an_unknown_raw_keeps_its_own_raw_extension():
    media = parse(_tiff_file([(0x0106, 3, 1, 32803)]), "IMG_0001.3FR")
    assert (media.format, media.ext) == ("raw", "3fr")


def test_truncated_tiff_strips_are_a_problem():
    data = _tiff_file([])
    assert "truncated" in parse(data[:-10], "x.tif").problem


# ------------------------------------------------------------------------------------ names and dates

@pytest.mark.parametrize("name, expected", [
    ("IMG_20230501_123456.jpg", "2023-05-01T12:34:56"),
    ("PXL_20230501_123456789.jpg", "2023-05-01T12:34:56"),
    ("VID_20190102_030405.mp4", "2019-01-02T03:04:05"),
    ("20230501_123456.jpg", "2023-05-01T12:34:56"),
    ("2023-05-01 12.34.56.jpg", "2023-05-01T12:34:56"),
    ("Screenshot 2023-05-01 at 12.34.56.png", "2023-05-01T12:34:56"),
    ("Screenshot_20230501-123456_Chrome.png", "2023-05-01T12:34:56"),
    ("IMG-20230501-WA0001.jpg", "2023-05-01T00:00:00"),
    ("signal-2023-05-01-123456.jpg", "2023-05-01T12:34:56"),
    ("IMG_0001.JPG", None),
    ("DSC01234.JPG", None),
    ("P1010123.JPG", None),
    ("scan_20231301.jpg", None),          # month 13
    ("IMG_21230101_000000.jpg", None),    # the future
    ("photo_12019051234.jpg", None),      # digits inside a longer number
])
def test_dates_in_file_names(name, expected):
    date = filename_date(name, NOW)
    assert (date.taken_at if date else None) == expected
    if date:
        assert date.offset is None and date.source == "filename"


def test_mtime_date_is_the_hosts_local_time_with_its_offset():
    mtime = time.mktime((2017, 11, 12, 13, 14, 15, 0, 0, -1))
    date = mtime_date(int(mtime * 1e9))
    assert date.taken_at == "2017-11-12T13:14:15" and date.source == "mtime" and date.offset


@pytest.mark.parametrize("name, stem, id7", [
    ("IMG_1234_QVkzaFV.HEIC", "IMG_1234", "QVkzaFV"),
    ("IMG_1234_QVkzaFV_HEVC.MOV", "IMG_1234_HEVC", "QVkzaFV"),
    ("IMG_0001-medium_QVkzaFV.JPG", "IMG_0001-medium", "QVkzaFV"),
])
def test_icloudpd_name_id7_is_recognised(name, stem, id7):
    parsed = parse_icloudpd_name(name)
    assert (parsed.stem, parsed.id7) == (stem, id7)
    assert parsed.record_prefix == "AY3hU"


@pytest.mark.parametrize("name", ["holiday_picture.jpg", "IMG_1234.HEIC", "IMG_1234_HEVC.MOV", "photo_1234567.jpg",
                                  "IMG_ABCDEFG.JPG", "IMG_20230501.jpg"])
def test_ordinary_names_are_not_taken_for_icloudpd_ids(name):
    assert parse_icloudpd_name(name) is None


@pytest.mark.parametrize("name", ["IMG_1234.HEIC", "IMG_1234.MOV", "IMG_1234_HEVC.MOV", "img_1234.jpg",
                                  "IMG_1234_QVkzaFV.HEIC", "IMG_1234_QVkzaFV.MOV", "IMG_1234_QVkzaFV_HEVC.MOV"])
def test_live_photo_key_is_shared_by_still_and_movie(name):
    assert live_photo_key(name) == "img_1234"


def test_icloudpd_sidecar_is_read_with_offset_gps_and_title():
    sidecar = parse_source_sidecar(mf.icloudpd_sidecar("2022-08-09T10:11:12+0200", 46.5, 6.6, "Lake"), NOW)
    assert sidecar.from_icloudpd
    assert sidecar.date.xmp == "2022-08-09T10:11:12+02:00" and sidecar.date.source == "xmp_sidecar"
    assert (sidecar.gps_lat, sidecar.gps_lon, sidecar.title) == (46.5, 6.6, "Lake")


def test_unusable_sidecars_are_ignored():
    assert parse_source_sidecar(b"<not xml", NOW) is None
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    assert parse_source_sidecar(bomb, NOW) is None


def test_capture_date_order():
    exif = parse(mf.jpeg(datetime_original="2010:01:01 10:00:00"))
    bare = parse(mf.jpeg())
    sidecar = parse_source_sidecar(mf.icloudpd_sidecar("2022-08-09T10:11:12+0200"), NOW)
    mtime = int(time.mktime((2017, 11, 12, 13, 14, 15, 0, 0, -1)) * 1e9)
    # an icloudpd sidecar never overrides the file's own EXIF date
    assert resolve_capture_date(exif, "IMG_20200101_000000.jpg", mtime, sidecar, NOW).source == "exif"
    assert resolve_capture_date(bare, "IMG_20200101_000000.jpg", mtime, sidecar, NOW).source == "xmp_sidecar"
    assert resolve_capture_date(bare, "IMG_20200101_000000.jpg", mtime, None, NOW).source == "filename"
    assert resolve_capture_date(bare, "IMG_0001.jpg", mtime, None, NOW).source == "mtime"
    # the icloudpd id never forms part of a date
    assert resolve_capture_date(bare, "IMG_0001_MjAyMzA.jpg", mtime, None, NOW).source == "mtime"


# ------------------------------------------------------------------------------------ real samples

def _samples():
    if not SAMPLES.is_dir():
        return []
    return sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.suffix.lower() in (".jpg", ".heic", ".heif"))


@pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"real sample photos not present at {SAMPLES}")
def test_real_samples_parse_and_only_the_corrupt_one_has_a_problem():
    for path in _samples():
        media = analyse(Reader(data=path.read_bytes()), path.name, NOW)
        assert media is not None, path
        if path.name == "corrupted.jpg":
            assert media.problem and "corrupt JPEG data" in media.problem
        else:
            assert media.problem is None, (path, media.problem)
            assert media.width and media.height


@pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"real sample photos not present at {SAMPLES}")
@pytest.mark.skipif(not shutil.which("exiftool"), reason="exiftool is not installed (scripts/test-deps.sh installs it)")
def test_real_samples_agree_with_exiftool():
    paths = _samples()
    out = subprocess.run(["exiftool", "-j", "-n", "-api", "LargeFileSupport=1", "-EXIF:DateTimeOriginal",
                          "-EXIF:CreateDate", "-EXIF:OffsetTimeOriginal", "-EXIF:Make", "-EXIF:Model",
                          "-EXIF:Orientation", "-GPSLatitude", "-GPSLongitude", "-MakerNotes:ContentIdentifier",
                          "-MakerNotes:MediaGroupUUID", *map(str, paths)], capture_output=True, text=True, check=False)
    truth = {Path(item["SourceFile"]).name + str(Path(item["SourceFile"]).parent): item for item in json.loads(out.stdout)}
    compared = 0
    for path in paths:
        item = truth[path.name + str(path.parent)]
        media = analyse(Reader(data=path.read_bytes()), path.name, NOW)
        if "Make" in item:
            assert media.make == str(item["Make"]).strip(), path
        if "Model" in item:
            assert media.model == str(item["Model"]).strip(), path
        if "Orientation" in item:
            assert media.orientation == item["Orientation"], path
        if "GPSLatitude" in item and item["GPSLatitude"] not in (0, "") and item.get("GPSLongitude") not in (0, ""):
            assert abs(media.gps_lat - float(item["GPSLatitude"])) < 1e-6, path
            assert abs(media.gps_lon - float(item["GPSLongitude"])) < 1e-6, path
        original = item.get("DateTimeOriginal") or item.get("CreateDate")
        if original and media.date is not None:
            assert media.date.taken_at[:19] == original.replace(":", "-", 2).replace(" ", "T")[:19], path
            compared += 1
        cid = item.get("ContentIdentifier") or item.get("MediaGroupUUID")
        if cid:
            assert media.content_identifier == cid, path
    assert compared > 40
