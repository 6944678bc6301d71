"""Make realistic photo and video files for tests, with exactly the metadata a test needs.

* :func:`exif_block` builds an EXIF (TIFF) block by hand: Make/Model/Software/Orientation,
  DateTimeOriginal + SubSecTimeOriginal + OffsetTimeOriginal, GPS, and an Apple MakerNote with a
  ContentIdentifier (the Live Photo key). Hand-built so tests control every byte.
* :func:`jpeg`, :func:`heic` (pillow-heif), :func:`png` put real pixels around it (Pillow).
* :func:`movie` makes a MOV/MP4 with the QuickTime creation date, Apple content identifier and
  location: with ffmpeg when installed (``prefer_ffmpeg``), else a minimal hand-built ISO-BMFF
  file that players and our parser accept.
* Bad inputs: :func:`truncated`, :func:`corrupt_jpeg_restart`, random bytes, text, empty files.
* :func:`make_inbox` writes a whole realistic inbox (years of JPEGs with GPS, HEIC, a Live Photo
  pair, duplicates, an IMG_0001 counter wrap-around, a screenshot, a movie, every kind of bad
  input, ignorable junk) and returns what a correct ingest must do with each file.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import shutil
import struct
import subprocess
import uuid
import zlib
from pathlib import Path

# ------------------------------------------------------------------------------------------ EXIF

_TYPES = {"byte": 1, "ascii": 2, "short": 3, "long": 4, "rational": 5, "undefined": 7, "slong": 9}


def _encode_value(kind: str, value, endian: str) -> tuple[int, int, bytes]:
    code = _TYPES[kind]
    if kind == "ascii":
        raw = value.encode("utf-8") + b"\x00"
        return code, len(raw), raw
    if kind in ("byte", "undefined"):
        raw = bytes(value)
        return code, len(raw), raw
    values = value if isinstance(value, (list, tuple)) else [value]
    if kind == "rational":
        raw = b"".join(struct.pack(endian + "II", num, den) for num, den in values)
        return code, len(values), raw
    fmt = {"short": "H", "long": "I", "slong": "i"}[kind]
    return code, len(values), struct.pack(endian + fmt * len(values), *values)


def _ifd(entries: list[tuple[int, str, object]], start: int, endian: str) -> bytes:
    """One IFD at ``start`` (offset from the TIFF header) followed by its out-of-line values."""
    entries = sorted(entries, key=lambda e: e[0])
    data_at = start + 2 + 12 * len(entries) + 4
    head, data = [struct.pack(endian + "H", len(entries))], b""
    for tag, kind, value in entries:
        code, count, raw = _encode_value(kind, value, endian)
        if len(raw) <= 4:
            head.append(struct.pack(endian + "HHI", tag, code, count) + raw.ljust(4, b"\x00"))
        else:
            head.append(struct.pack(endian + "HHII", tag, code, count, data_at + len(data)))
            data += raw + (b"\x00" if len(raw) % 2 else b"")
    return b"".join(head) + struct.pack(endian + "I", 0) + data


def apple_makernote(content_identifier: str) -> bytes:
    """An Apple iOS MakerNote (big-endian, offsets from its start) holding tag 0x11."""
    entries = [(0x0001, "slong", 14), (0x0011, "ascii", content_identifier)]
    return b"Apple iOS\x00" + b"\x00\x01" + b"MM" + _ifd(entries, 14, ">")


def _dms(value: float) -> list[tuple[int, int]]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60 * 10000)
    return [(degrees, 1), (minutes, 1), (seconds, 10000)]


def exif_block(make: str | None = None, model: str | None = None, software: str | None = None,
               orientation: int | None = None, datetime_original: str | None = None,
               subsec: str | None = None, offset: str | None = None, create_date: str | None = None,
               gps: tuple | None = None, content_identifier: str | None = None,
               size: tuple[int, int] | None = None, endian: str = ">", header: bool = True) -> bytes:
    """An EXIF block (``Exif\\0\\0`` + TIFF). ``gps`` = (lat, lon) or (lat, lon, alt_m)."""
    ifd0: list = []
    if make:
        ifd0.append((0x010F, "ascii", make))
    if model:
        ifd0.append((0x0110, "ascii", model))
    if orientation:
        ifd0.append((0x0112, "short", orientation))
    if software:
        ifd0.append((0x0131, "ascii", software))
    exif: list = [(0x9000, "undefined", b"0232")]
    if datetime_original:
        exif.append((0x9003, "ascii", datetime_original))
    if create_date:
        exif.append((0x9004, "ascii", create_date))
    if offset:
        exif.append((0x9011, "ascii", offset))
    if subsec:
        exif.append((0x9291, "ascii", subsec))
    if size:
        exif += [(0xA002, "long", size[0]), (0xA003, "long", size[1])]
    if content_identifier:
        exif.append((0x927C, "undefined", apple_makernote(content_identifier)))
    gps_entries: list = []
    if gps:
        lat, lon = gps[0], gps[1]
        gps_entries = [(0x0000, "byte", b"\x02\x03\x00\x00"), (0x0001, "ascii", "N" if lat >= 0 else "S"),
                       (0x0002, "rational", _dms(lat)), (0x0003, "ascii", "E" if lon >= 0 else "W"),
                       (0x0004, "rational", _dms(lon))]
        if len(gps) > 2 and gps[2] is not None:
            gps_entries += [(0x0005, "byte", b"\x01" if gps[2] < 0 else b"\x00"),
                            (0x0006, "rational", [(round(abs(gps[2]) * 100), 100)])]
    # layout: header | IFD0 | Exif IFD | GPS IFD; pointer values are fixed-size, so lay out twice
    ifd0_full = ifd0 + [(0x8769, "long", 0)] + ([(0x8825, "long", 0)] if gps_entries else [])
    first = _ifd(ifd0_full, 8, endian)
    exif_at = 8 + len(first)
    exif_raw = _ifd(exif, exif_at, endian)
    gps_at = exif_at + len(exif_raw)
    ifd0_full = ifd0 + [(0x8769, "long", exif_at)] + ([(0x8825, "long", gps_at)] if gps_entries else [])
    first = _ifd(ifd0_full, 8, endian)
    tiff = (b"MM\x00*" if endian == ">" else b"II*\x00") + struct.pack(endian + "I", 8) + first + exif_raw
    if gps_entries:
        tiff += _ifd(gps_entries, gps_at, endian)
    return (b"Exif\x00\x00" if header else b"") + tiff


# ------------------------------------------------------------------------------------------ images

def _pixels(size: tuple[int, int], seed: int):
    from PIL import Image  # pylint: disable=import-outside-toplevel
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    # a little structure so that encoders produce realistic data and different seeds differ
    for _block in range(12):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        w, h = rng.randrange(1, max(2, size[0] // 3)), rng.randrange(1, max(2, size[1] // 3))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        image.paste(colour, (x, y, min(size[0], x + w), min(size[1], y + h)))
    return image


def jpeg(size: tuple[int, int] = (96, 64), seed: int = 0, quality: int = 85, restart: bool = False, **exif) -> bytes:
    """A real JPEG with the EXIF fields given (see :func:`exif_block`); none: no EXIF at all."""
    image = _pixels(size, seed)
    out = io.BytesIO()
    options = {"quality": quality}
    if exif:
        options["exif"] = exif_block(**exif)
    if restart:
        options["restart_marker_blocks"] = 1
    image.save(out, "JPEG", **options)
    return out.getvalue()


def heic(size: tuple[int, int] = (96, 64), seed: int = 0, **exif) -> bytes:
    """A real HEIC (pillow-heif, HEVC) with an Exif item built from the fields given."""
    import pillow_heif  # pylint: disable=import-outside-toplevel
    image = _pixels(size, seed)
    heif = pillow_heif.from_pillow(image)
    out = io.BytesIO()
    options = {"quality": 60}
    if exif:
        options["exif"] = exif_block(**exif)
    heif.save(out, **options)
    return out.getvalue()


def png(size: tuple[int, int] = (120, 260), seed: int = 0) -> bytes:
    """A PNG like a phone screenshot: no EXIF, no date of its own."""
    out = io.BytesIO()
    _pixels(size, seed).save(out, "PNG")
    return out.getvalue()


def png16(size: tuple[int, int] = (64, 48), seed: int = 0, gray: bool = False) -> bytes:
    """A 16-bit PNG (48-bit RGB, or 16-bit grey) as scanners write them."""
    w, h = size
    channels = 1 if gray else 3
    rows = b"".join(b"\x00" + b"".join(struct.pack(">H", ((x * 977 + y * 131 + c * 4099 + seed * 17) * 37) & 0xFFFF)
                                       for x in range(w) for c in range(channels)) for y in range(h))

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 0 if gray else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def tiff16(size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    """An uncompressed 48-bit RGB TIFF (little-endian), as film scanners write them."""
    w, h = size
    pixels = b"".join(struct.pack("<H", ((x * 977 + y * 131 + c * 4099 + seed * 17) * 37) & 0xFFFF)
                      for y in range(h) for x in range(w) for c in range(3))
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 3, None), (259, 3, 1, 1), (262, 3, 1, 2),
               (273, 4, 1, None), (277, 3, 1, 3), (278, 4, 1, h), (279, 4, 1, len(pixels)), (284, 3, 1, 1)]
    ifd_offset = 8
    ifd_size = 2 + 12 * len(entries) + 4
    bps_offset = ifd_offset + ifd_size
    data_offset = bps_offset + 6
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        if tag == 258:
            ifd += struct.pack("<HHII", tag, kind, count, bps_offset)
        elif tag == 273:
            ifd += struct.pack("<HHII", tag, kind, count, data_offset)
        elif kind == 3:
            ifd += struct.pack("<HHIHH", tag, kind, count, value, 0)
        else:
            ifd += struct.pack("<HHII", tag, kind, count, value)
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", ifd_offset) + ifd + struct.pack("<HHH", 16, 16, 16) + pixels


def truncated(data: bytes, keep: float = 0.6) -> bytes:
    return data[: max(1, int(len(data) * keep))]


def corrupt_jpeg_restart(seed: int = 0) -> bytes:
    """A JPEG whose restart markers are out of order: Pillow decodes it silently into grey
    blocks, libjpeg warns 'Corrupt JPEG data'; the vault must reject it."""
    data = bytearray(jpeg(size=(64, 64), seed=seed, restart=True, make="Canon", model="X",
                          datetime_original="2020:01:01 10:00:00"))
    first = data.find(b"\xff\xd0")
    second = data.find(b"\xff\xd1")
    assert first > 0 and second > 0, "Pillow wrote no restart markers"
    data[first + 1], data[second + 1] = 0xD1, 0xD0
    return bytes(data)


# ------------------------------------------------------------------------------------------ movies

def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full(kind: bytes, version: int, payload: bytes, flags: int = 0) -> bytes:
    return _box(kind, bytes([version]) + flags.to_bytes(3, "big") + payload)


_QT_EPOCH_OFFSET = 2082844800  # seconds from 1904-01-01 to 1970-01-01


def handmade_movie(creation_utc: int | None = None, creationdate: str | None = None,
                   content_identifier: str | None = None, location: str | None = None,
                   make: str | None = None, model: str | None = None, size: tuple[int, int] = (320, 240),
                   duration: float = 2.0, brand: bytes = b"qt  ", mdat_bytes: int = 4096, seed: int = 0,
                   rotation: int = 0) -> bytes:
    """A minimal but well-formed QuickTime/MP4 file: ftyp, moov (mvhd, one video trak, Apple
    'keys'/'ilst' metadata), mdat. ``creation_utc`` is a Unix time for mvhd."""
    timescale = 600
    created = (creation_utc + _QT_EPOCH_OFFSET) if creation_utc is not None else 0
    mvhd = _full(b"mvhd", 0, struct.pack(">IIII", created, created, timescale, int(duration * timescale))
                 + struct.pack(">IH", 0x00010000, 0x0100) + b"\x00" * 10
                 + struct.pack(">9i", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000) + b"\x00" * 24
                 + struct.pack(">I", 2))
    matrix = {0: (0x10000, 0, 0, 0x10000), 90: (0, 0x10000, -0x10000, 0), 180: (-0x10000, 0, 0, -0x10000),
              270: (0, -0x10000, 0x10000, 0)}[rotation]
    tkhd = _full(b"tkhd", 0, struct.pack(">IIIII", created, created, 1, 0, int(duration * timescale))
                 + b"\x00" * 8 + struct.pack(">HHHH", 0, 0, 0, 0)
                 + struct.pack(">9i", matrix[0], matrix[1], 0, matrix[2], matrix[3], 0, 0, 0, 0x40000000)
                 + struct.pack(">II", size[0] << 16, size[1] << 16), flags=3)
    hdlr = _full(b"hdlr", 0, b"mhlr" + b"vide" + b"\x00" * 12 + b"\x00")
    mdhd = _full(b"mdhd", 0, struct.pack(">IIIIHH", created, created, timescale, int(duration * timescale), 0, 0))
    trak = _box(b"trak", tkhd + _box(b"mdia", mdhd + hdlr))
    keys = []
    if creationdate:
        keys.append(("com.apple.quicktime.creationdate", creationdate))
    if content_identifier:
        keys.append(("com.apple.quicktime.content.identifier", content_identifier))
    if location:
        keys.append(("com.apple.quicktime.location.ISO6709", location))
    if make:
        keys.append(("com.apple.quicktime.make", make))
    if model:
        keys.append(("com.apple.quicktime.model", model))
    meta = b""
    if keys:
        key_entries = b"".join(struct.pack(">I", 8 + len(k)) + b"mdta" + k.encode() for k, _v in keys)
        keys_box = _full(b"keys", 0, struct.pack(">I", len(keys)) + key_entries)
        ilst = b"".join(_box(struct.pack(">I", i + 1), _box(b"data", struct.pack(">II", 1, 0) + v.encode()))
                        for i, (_k, v) in enumerate(keys))
        meta = _box(b"meta", _full(b"hdlr", 0, b"\x00" * 4 + b"mdta" + b"\x00" * 12 + b"\x00")
                    + keys_box + _box(b"ilst", ilst))
    moov = _box(b"moov", mvhd + trak + meta)
    ftyp = _box(b"ftyp", brand + b"\x00\x00\x02\x00" + brand + (b"isom" if brand != b"qt  " else b""))
    payload = random.Random(seed).randbytes(mdat_bytes)
    return ftyp + _box(b"wide", b"") + _box(b"mdat", payload) + moov


def ffmpeg_movie(path: Path, creationdate: str | None = None, creation_utc_iso: str | None = None,
                 content_identifier: str | None = None, location: str | None = None, make: str | None = None,
                 model: str | None = None, seconds: float = 1.0, size: tuple[int, int] = (160, 120),
                 seed: int = 0) -> bytes:
    """A real H.264 movie made by ffmpeg with Apple QuickTime keys (``-movflags use_metadata_tags``)."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg_movie needs ffmpeg"
    path = Path(path)
    args = [ffmpeg, "-y", "-v", "error", "-f", "lavfi", "-i",
            f"testsrc=duration={seconds}:size={size[0]}x{size[1]}:rate=10",
            "-vf", f"hue=h={seed * 37 % 360}", "-c:v", "libx264", "-pix_fmt", "yuv420p",
            "-movflags", "use_metadata_tags"]
    for key, value in (("com.apple.quicktime.creationdate", creationdate), ("creation_time", creation_utc_iso),
                       ("com.apple.quicktime.content.identifier", content_identifier),
                       ("com.apple.quicktime.location.ISO6709", location),
                       ("com.apple.quicktime.make", make), ("com.apple.quicktime.model", model)):
        if value:
            args += ["-metadata", f"{key}={value}"]
    subprocess.run(args + [str(path)], check=True, capture_output=True, timeout=120)
    return path.read_bytes()


def movie(path: Path, prefer_ffmpeg: bool = True, **fields) -> bytes:
    """Write a movie to ``path`` (ffmpeg when present, else hand-built) and return its bytes.
    ``fields``: creationdate, creation_utc (Unix), content_identifier, location, make, model, seed."""
    path = Path(path)
    if prefer_ffmpeg and shutil.which("ffmpeg"):
        iso = None
        if fields.get("creation_utc") is not None:
            import datetime  # pylint: disable=import-outside-toplevel
            iso = datetime.datetime.fromtimestamp(fields["creation_utc"], datetime.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%SZ")
        return ffmpeg_movie(path, creationdate=fields.get("creationdate"), creation_utc_iso=iso,
                            content_identifier=fields.get("content_identifier"), location=fields.get("location"),
                            make=fields.get("make"), model=fields.get("model"), seed=fields.get("seed", 0),
                            size=(path.suffix.lower() == ".mov" and (160, 120)) or (160, 120))
    data = handmade_movie(brand=b"qt  " if path.suffix.lower() == ".mov" else b"mp42", **fields)
    path.write_bytes(data)
    return data


# ------------------------------------------------------------------------------------------ files

def write(path: Path, data: bytes, mtime: float | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


OLD = 1_600_000_000.0  # an mtime well in the past (2020-09-13): files are not "still being written"


def icloudpd_sidecar(create_date: str, lat: float | None = None, lon: float | None = None,
                     title: str | None = None) -> bytes:
    """An XMP sidecar exactly as icloudpd writes it (root ``x:xml_doc``, one Description per
    namespace, ``%z`` offsets without a colon, decimal GPS)."""
    parts = ['<?xml version=\'1.0\' encoding=\'utf-8\'?>\n<x:xml_doc xmlns:x="adobe:ns:meta/" '
             'x:xmptk="icloudpd 1.32.2+abc"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">']
    if title:
        parts.append(f'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
                     f'<dc:title>{title}</dc:title></rdf:Description>')
    if lat is not None:
        parts.append(f'<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/">'
                     f'<exif:GPSLatitude>{lat}</exif:GPSLatitude><exif:GPSLongitude>{lon}</exif:GPSLongitude>'
                     '</rdf:Description>')
    parts.append(f'<rdf:Description rdf:about="" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">'
                 f'<photoshop:DateCreated>{create_date}</photoshop:DateCreated></rdf:Description>'
                 f'<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">'
                 f'<xmp:CreateDate>{create_date}</xmp:CreateDate></rdf:Description>')
    parts.append("</rdf:RDF></x:xml_doc>")
    return "".join(parts).encode()


def make_inbox(root: Path, video: bool = True, prefer_ffmpeg: bool = True) -> dict:
    """A realistic inbox under ``root``; returns the expectations a correct ingest must meet:

    ``good``: relative path -> {sha256, folder (YYYY/MM/DD), ext, date_source}
    ``duplicates``: sha256 -> [relative paths] (one original, every path recorded)
    ``rejected``: relative path -> a word the reason must contain
    ``ignored``: relative paths that must not appear anywhere
    ``live_pairs``: [(still rel path, movie rel path)]
    """
    root = Path(root)
    good: dict = {}
    rejected: dict = {}
    ignored: list = []
    cid = str(uuid.UUID(int=0x1234))

    def add(rel: str, data: bytes, folder: str, ext: str, source: str, mtime: float = OLD) -> None:
        write(root / rel, data, mtime)
        good[rel] = {"sha256": sha256(data), "folder": folder, "ext": ext, "date_source": source}

    # JPEGs across years, with GPS and offsets
    for year, (lat, lon) in zip((2009, 2015, 2019, 2023), ((48.8584, 2.2945), (-33.8568, 151.2153),
                                                           (40.6892, -74.0445), (35.6586, 139.7454))):
        data = jpeg(seed=year, make="Canon", model="EOS 5D", orientation=1,
                    datetime_original=f"{year}:07:14 18:30:05", subsec="25", offset="+02:00",
                    gps=(lat, lon, 35.5))
        add(f"camera/{year}/IMG_{year}.JPG", data, f"{year}/07/14", "jpg", "exif")
    # iPhone HEIC + Live Photo movie (ContentIdentifier on both), icloudpd name-id7 names
    still = heic(seed=7, make="Apple", model="iPhone 13 Pro", orientation=6, software="17.1",
                 datetime_original="2023:05:01 12:34:56", subsec="123", offset="-05:00",
                 gps=(39.0513, -94.4799, 270.2), content_identifier=cid)
    add("icloud/2023/05/01/IMG_0042_QVkzaFV.HEIC", still, "2023/05/01", "heic", "exif")
    pairs = []
    if video:
        mov_path = root / "icloud/2023/05/01/IMG_0042_QVkzaFV.MOV"
        mov = movie(mov_path, prefer_ffmpeg=prefer_ffmpeg, creationdate="2023-05-01T12:34:56-0500",
                    content_identifier=cid, make="Apple", model="iPhone 13 Pro",
                    location="+39.0513-094.4799+270.200/", seed=1)
        os.utime(mov_path, (OLD, OLD))
        good["icloud/2023/05/01/IMG_0042_QVkzaFV.MOV"] = {"sha256": sha256(mov), "folder": "2023/05/01",
                                                          "ext": "mov", "date_source": "quicktime"}
        pairs.append(("icloud/2023/05/01/IMG_0042_QVkzaFV.HEIC", "icloud/2023/05/01/IMG_0042_QVkzaFV.MOV"))
        # a JPEG + MOV pair without identifiers: paired by base name in the same folder
        jpg = jpeg(seed=8, make="Apple", model="iPhone 8", datetime_original="2018:03:03 09:00:00")
        add("icloud/2018/IMG_7001.JPG", jpg, "2018/03/03", "jpg", "exif")
        mov2 = handmade_movie(creation_utc=1520067600, seed=2, duration=2.5)
        add("icloud/2018/IMG_7001.MOV", mov2, "2018/03/03", "mov", "quicktime")
        pairs.append(("icloud/2018/IMG_7001.JPG", "icloud/2018/IMG_7001.MOV"))
    # duplicates: the same bytes under three paths (one of them renamed)
    dup = jpeg(seed=99, make="NIKON CORPORATION", model="NIKON D750", datetime_original="2016:12:24 20:00:00")
    for rel in ("camera/2016/DSC_0001.JPG", "backup/DSC_0001.JPG", "backup/christmas.jpg"):
        write(root / rel, dup, OLD)
        good[rel] = {"sha256": sha256(dup), "folder": "2016/12/24", "ext": "jpg", "date_source": "exif"}
    # wrap-around: same name, different content, different dates
    for i, year in enumerate((2012, 2021)):
        data = jpeg(seed=200 + i, make="Canon", model="PowerShot", datetime_original=f"{year}:01:02 03:04:05")
        add(f"wrap/{year}/IMG_0001.JPG", data, f"{year}/01/02", "jpg", "exif")
    # fallbacks: icloudpd sidecar date, file-name date, mtime
    nodate = jpeg(seed=300)
    write(root / "icloud/2022/IMG_5000.JPG.xmp", icloudpd_sidecar("2022-08-09T10:11:12+0200", 46.5, 6.6, "Lake"))
    add("icloud/2022/IMG_5000.JPG", nodate, "2022/08/09", "jpg", "xmp_sidecar")
    add("screens/Screenshot 2021-03-04 at 15.16.17.png", png(seed=301), "2021/03/04", "png", "filename")
    add("misc/IMG-20190607-WA0001.jpg", jpeg(seed=302), "2019/06/07", "jpg", "filename")
    import time  # pylint: disable=import-outside-toplevel
    mtime = time.mktime((2017, 11, 12, 13, 14, 15, 0, 0, -1))
    add("misc/scan.jpg", jpeg(seed=303), "2017/11/12", "jpg", "mtime", mtime=mtime)
    # impossible EXIF date: counts as missing, falls back to the name
    add("misc/IMG_20200202_202020.jpg", jpeg(seed=304, make="X", datetime_original="0000:00:00 00:00:00"),
        "2020/02/02", "jpg", "filename")
    # content decides the extension: a PNG named .jpg
    add("misc/actually_png_20150505.jpg", png(seed=305), "2015/05/05", "png", "filename")
    # bad input
    bad = {
        "bad/truncated.jpg": (truncated(jpeg(seed=400, make="X", datetime_original="2020:01:01 00:00:00")), "truncated"),
        "bad/restart.jpg": (corrupt_jpeg_restart(seed=401), "corrupt"),
        "bad/empty.jpg": (b"", "empty"),
        "bad/random.jpg": (random.Random(402).randbytes(5000), "not recognised"),
        "bad/notes.png": (b"shopping list\nmilk\neggs\n" * 20, "text"),
        "bad/cut.heic": (truncated(heic(seed=403), 0.5), "truncated"),
    }
    if video:
        bad["bad/cut.mov"] = (truncated(handmade_movie(creation_utc=1500000000, seed=404, mdat_bytes=20000), 0.5),
                              "truncated")
    for rel, (data, word) in bad.items():
        write(root / rel, data, OLD)
        rejected[rel] = word
    # a Latin-1 name from an old Windows share: not UTF-8, a photo all the same
    latin1 = jpeg(seed=405, datetime_original="2005:05:05 05:05:05")
    (root / "latin1").mkdir(parents=True, exist_ok=True)
    add(os.fsdecode(b"latin1/caf\xe9.jpg"), latin1, "2005/05/05", "jpg", "exif")
    fifo = root / "bad/pipe.jpg"
    os.mkfifo(fifo)
    os.utime(fifo, (OLD, OLD))
    rejected["bad/pipe.jpg"] = "not a regular file"
    # ignored silently
    for rel in (".DS_Store", "camera/._IMG_2009.JPG", "camera/@eaDir/IMG_2009.JPG/SYNOFILE_THUMB_M.jpg",
                "camera/Thumbs.db", "icloud/ABCDEF.part", "sync/.stfolder/x", "sync/.stversions/old.jpg",
                "sync/~syncthing~IMG_1.JPG.tmp", "notes.txt.aae", "camera/desktop.ini", ".hidden/secret.jpg"):
        write(root / rel, jpeg(seed=500 + len(ignored)) if rel.endswith(".jpg") else b"junk", OLD)
        ignored.append(rel)
    duplicates = {}
    for rel, info in good.items():
        duplicates.setdefault(info["sha256"], []).append(rel)
    duplicates = {sha: rels for sha, rels in duplicates.items() if len(rels) > 1}
    return {"good": good, "duplicates": duplicates, "rejected": rejected, "ignored": ignored, "live_pairs": pairs}
