# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Thumbnails of the photo vault: decode once, largest size first, upright, sRGB.

A pure engine: it never touches the catalog. The ingest worker (which already holds the file's
bytes) and the ``photo_thumbnails`` module (which reads originals from the vault) both call::

    result = make_thumbnails(data, path, fmt, sha256, thumbs_root,
                             sizes=DEFAULT_SIZES, quality=85, write=True, metadata=None)
    catalog.record_thumbnails(sha256, thumbs_root, result.status, SETTINGS,
                              result.sizes, result.reason)

``data`` is the file's bytes (or None: then ``path`` is read); ``fmt`` is the vault's normalised
extension (``jpg``, ``heic``, ``png``, ``dng``, ``mov``...). The result never raises: ``status`` is
``ok`` (``sizes`` holds name -> (width, height, bytes)), ``skipped`` (no thumbnail can be made
here, e.g. a video without ffmpeg; ``reason`` says why), ``failed`` (the file does not decode;
``reason`` says how: the only outcome that says anything about the file) or ``error`` (the file
decoded, or could not be tried, but the thumbnails could not be made or written here and now:
the thumbnails root full, not writable or not a directory, out of memory, an encoder error;
nothing is recorded and the next run tries again). ``write=False`` does everything but write (check mode, benchmarks).

Files (each written to a temp file in its final directory, then renamed: never a partial file
under its final name; no fsync, they can be regenerated)::

    <thumbs_root>/<medium|small|tiny>/<sha256[:2]>/<sha256>.jpg
    <thumbs_root>/metadata/<sha256[:2]>/<sha256>.json     caller's metadata + dimensions

How: the image is decoded once at the smallest scale that still covers the largest size (JPEG
DCT scaling: libvips ``shrink`` or Pillow ``draft``), resized to the largest size, turned upright
(EXIF orientation; for HEIC/HEIF libheif already applies the container's irot/imir, so the EXIF
tag is not applied a second time), converted to 8-bit sRGB (embedded ICC profiles such as
Display P3 and CMYK are converted, alpha is flattened onto white), and each smaller size is made
from the one above it. Thumbnails carry no metadata. JPEG, PNG, TIFF, WebP and GIF go through
pyvips when it is installed (faster, stricter about corrupt data) and through Pillow otherwise.
HEIC/HEIF are decoded once by pillow-heif (the floor: ~0.35 s of CPU per 12 MP here) and resized
by libvips without copying the pixels (Pillow without pyvips); the embedded 320x240 preview is
not used, since the full decode is needed for the larger sizes anyway and the tiny size costs
~2 ms from the small one. When a HEIF's container transform and its EXIF Orientation disagree,
the container wins (the HEIF rule, followed by libheif, libvips/Immich and Apple). RAW files use
their largest embedded baseline JPEG preview turned by the RAW's own orientation; videos get a
poster frame from ``ffmpeg`` (1 s in, or the first frame of shorter clips). Heavy libraries are
imported lazily, so importing this module needs nothing beyond the standard library.

In a process pool, call ``configure_worker(1)`` in each worker: one decoding thread per worker
and no libvips operation cache cost the least CPU when every core runs a worker, and glibc gives
decoded images back to the system (measured peak per worker: about 100 MB for 12 MP JPEG, 120 MB
for 12 MP HEIC, whatever the number of photos).

``SETTINGS`` identifies sizes, quality and engine version: the catalog stores it with each asset
so that changed settings regenerate the thumbnails. ``validate_image(data, fmt)`` is the cheap
"does it decode" check for ingests with thumbnails turned off.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import warnings
from dataclasses import dataclass, field

from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic

ENGINE_VERSION = 1
DEFAULT_SIZES = (("medium", 1920, 1080), ("small", 500, 500), ("tiny", 150, 150))
DEFAULT_QUALITY = 85
METADATA_DIR = "metadata"
# Files larger than this are decoded from their path instead of being read into memory.
MAX_IN_MEMORY = 64 * 1024 * 1024
FFMPEG_TIMEOUT = 120
POSTER_SEEK_SECONDS = 1.0

JPEG_FORMATS = frozenset({"jpg", "jpeg", "jpe", "jfif"})
HEIF_FORMATS = frozenset({"heic", "heif", "hif", "heics", "heifs"})
RASTER_FORMATS = frozenset({"png", "gif", "webp", "tif", "tiff", "bmp", "avif"})
RAW_FORMATS = frozenset({"dng", "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "raf", "rw2",
                         "orf", "pef", "srw", "x3f", "3fr", "iiq", "erf", "mef", "mos", "raw", "rwl"})
VIDEO_FORMATS = frozenset({"mov", "mp4", "m4v", "3gp", "3g2", "avi", "mkv", "mts", "m2ts", "webm", "mpg", "mpeg"})

_ORIENTATION_TAG = 0x0112
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Pillow first box-shrinks by the largest whole factor that keeps at least the target size (as
# JPEG DCT scaling does), then resamples with Lanczos: twice as fast as a gap of 2 at 12 MP.
_PIL_REDUCING_GAP = 1.0
_WHITE = (255, 255, 255)


def settings_string(sizes=DEFAULT_SIZES, quality: int = DEFAULT_QUALITY) -> str:
    """The settings the catalog stores; any change means the thumbnails must be made again."""
    parts = ",".join(f"{name}={width}x{height}" for name, width, height in _ordered(sizes))
    return f"v{ENGINE_VERSION};{parts};q={quality};srgb;upright"


class ThumbnailError(Exception):
    """The image cannot be made into thumbnails; the message is the user-facing reason."""


class ThumbnailSkip(Exception):
    """No thumbnail can be made on this machine (a tool is missing, no preview); not an error."""


@dataclass
class ThumbnailResult:
    """Outcome for one asset. ``sizes``: name -> (width, height, bytes), as the catalog records it."""

    sha256: str
    status: str
    reason: str | None = None
    sizes: dict = field(default_factory=dict)
    width: int | None = None      # the original, upright (after orientation)
    height: int | None = None
    engine: str | None = None     # which decoder made them: pyvips, pillow, pillow-heif, ffmpeg...
    notes: list = field(default_factory=list)  # non-fatal remarks (e.g. an unusable ICC profile)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_dict(self) -> dict:
        return {"sha256": self.sha256, "status": self.status, "reason": self.reason,
                "sizes": {name: list(value) for name, value in self.sizes.items()},
                "width": self.width, "height": self.height, "engine": self.engine, "notes": list(self.notes)}


# ---------------------------------------------------------------------------------------- paths
def thumbnail_paths(thumbs_root: str, sha256: str, sizes=DEFAULT_SIZES) -> dict[str, str]:
    """name -> path of each thumbnail, plus ``metadata`` -> path of the JSON file."""
    if not _SHA256.fullmatch(sha256 or ""):
        raise ValueError(f"not a sha256 (64 lowercase hex digits): {sha256!r}")
    shard = sha256[:2]
    paths = {name: os.path.join(thumbs_root, name, shard, sha256 + ".jpg") for name, _w, _h in _ordered(sizes)}
    paths[METADATA_DIR] = os.path.join(thumbs_root, METADATA_DIR, shard, sha256 + ".json")
    return paths


def shard_file_names(directory: str, suffix: str) -> set[str]:
    """Names ending in ``suffix`` in the shard directories under ``directory``."""
    names: set[str] = set()
    try:
        shards = [e.path for e in os.scandir(directory) if e.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return names
    for shard in shards:
        try:
            names.update(e.name for e in os.scandir(shard) if e.name.endswith(suffix))
        except OSError:
            continue
    return names


def missing_thumbnails(thumbs_root: str, sha256: str, sizes=DEFAULT_SIZES) -> list[str]:
    """Names (``medium``, ``small``, ``tiny``, ``metadata``) whose file is not on disk."""
    return [name for name, path in thumbnail_paths(thumbs_root, sha256, sizes).items() if not os.path.isfile(path)]


def fit_within(width: int, height: int, box_width: int, box_height: int) -> tuple[int, int]:
    """The size of ``width`` x ``height`` scaled to fit the box, keeping its aspect, never enlarged."""
    scale = min(box_width / width, box_height / height, 1.0)
    if scale >= 1.0:
        return width, height
    return max(1, int(width * scale + 0.5)), max(1, int(height * scale + 0.5))


def _ordered(sizes) -> list[tuple[str, int, int]]:
    """Sizes largest first, so that each one is made from the one before it."""
    return sorted(((str(n), int(w), int(h)) for n, w, h in sizes), key=lambda s: s[1] * s[2], reverse=True)


SETTINGS = settings_string()


def normalise_format(fmt: str) -> str:
    fmt = (fmt or "").lower().lstrip(".")
    return {"jpeg": "jpg", "jpe": "jpg", "jfif": "jpg", "tiff": "tif", "hif": "heif"}.get(fmt, fmt)


# ---------------------------------------------------------------------------------------- entry points
def make_thumbnails(data: bytes | None, path: str | None, fmt: str, sha256: str, thumbs_root: str,
                    sizes=DEFAULT_SIZES, quality: int = DEFAULT_QUALITY, write: bool = True,
                    metadata: dict | None = None, engine: str = "auto") -> ThumbnailResult:
    """Make every size of one asset's thumbnails (see the module docstring). Never raises.

    ``engine``: ``auto`` (pyvips when installed, else Pillow), ``pillow`` or ``pyvips`` (for tests
    and benchmarks; HEIC always uses pillow-heif).
    """
    result = ThumbnailResult(sha256=sha256, status="failed")
    fmt = normalise_format(fmt)
    ordered = _ordered(sizes)
    stage = "decode"  # only a failure in this stage says the file is bad
    try:
        if not ordered:
            raise ThumbnailError("no thumbnail sizes were requested")
        if not _SHA256.fullmatch(sha256 or ""):
            raise ThumbnailError(f"not a sha256 (64 lowercase hex digits): {sha256!r}")
        largest = ordered[0]
        with warnings.catch_warnings():  # Pillow warns about damaged EXIF blocks: the outcome says enough
            warnings.simplefilter("ignore")
            image = _decode_largest(data, path, fmt, largest[1], largest[2], result, engine)
            stage = "encode"
            encoded = _encode_all(image, ordered, quality, result)
        result.status, result.reason = "ok", None
        if write:
            stage = "write"
            _write_all(thumbs_root, sha256, ordered, encoded, result, metadata, fmt)
    except ThumbnailSkip as exc:
        result.status, result.reason, result.sizes = "skipped", str(exc), {}
        if write:
            _write_metadata_only(thumbs_root, sha256, ordered, result, metadata, fmt)
    except ImportError as exc:
        result.status, result.sizes = "skipped", {}
        result.reason = (f"the image library {exc.name or exc} is not installed on this host "
                         "(install Pillow and pillow-heif, e.g. with the photo_vault role)")
    except MemoryError:
        result.status, result.sizes = "error", {}
        result.reason = "out of memory while making thumbnails; run with fewer workers or on a host with more memory"
    except Exception as exc:  # pylint: disable=broad-exception-caught  # one bad file never aborts a batch
        result.status, result.sizes = ("failed" if stage == "decode" else "error"), {}
        if isinstance(exc, ThumbnailError):
            result.reason = str(exc)
        elif stage == "decode":
            result.reason = f"cannot make thumbnails of this {fmt or 'file'}: {_describe(exc)}"
        else:
            result.reason = f"cannot {stage} the thumbnails of this {fmt or 'file'}: {_describe(exc)}"
    return result


def validate_image(data: bytes | None, fmt: str, path: str | None = None) -> tuple[bool, str | None]:
    """Cheaply check that an image decodes (for ingests with thumbnails off): (ok, reason).

    JPEG: fully entropy-decoded at 1/8 scale (truncated or corrupt data fails). PNG, TIFF, WebP,
    GIF: fully decoded. HEIC/HEIF: container structure (truncation) and headers only; libheif
    does not report damaged HEVC data, and a full decode costs ~0.5 s. RAW and video: not
    checked here (True). Without the image libraries: (True, "not checked: ..."). Never raises.
    """
    fmt = normalise_format(fmt)
    try:
        if fmt in VIDEO_FORMATS or fmt in RAW_FORMATS:
            return True, None
        if data is None:
            data = _read_file(path)
        if not data:
            return False, "the file is empty"
        if fmt in HEIF_FORMATS:
            _check_isobmff(data, fmt)
            heif = _pillow_heif().open_heif(data, convert_hdr_to_8bit=True)
            if heif.size[0] < 1 or heif.size[1] < 1:
                return False, "the HEIF file has no image"
            return True, None
        if fmt in JPEG_FORMATS or fmt in RASTER_FORMATS:
            vips = _pyvips()
            if vips is not None:
                options = {"shrink": 8} if fmt in JPEG_FORMATS else {}
                image = vips.Image.new_from_buffer(data, "", access="sequential", fail_on="truncated", **options)
                image.avg()  # forces the whole decode, a strip at a time
                return True, None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image = _pil().open(io.BytesIO(data))
                if fmt in JPEG_FORMATS:
                    image.draft(image.mode, (max(1, image.size[0] // 8), max(1, image.size[1] // 8)))
                image.load()
            return True, None
        return True, None
    except ImportError as exc:  # cannot check here is not "does not decode": never reject for it
        return True, f"not checked: the image library {exc.name or exc} is not installed"
    except Exception as exc:  # pylint: disable=broad-exception-caught
        return False, f"the {fmt or 'file'} does not decode: {_describe(exc)}"


def configure_worker(threads: int = 1) -> None:
    """Tune the image libraries for one process of a process pool: no operation cache, ``threads``
    decoding threads each (one per worker costs the least CPU when every core runs a worker)."""
    threads = max(1, int(threads))
    _fixed_mmap_threshold()
    vips = _pyvips()
    if vips is not None:
        vips.cache_set_max(0)
        vips.concurrency_set(threads)
    try:
        _pillow_heif().options.DECODE_THREADS = threads
    except ImportError:
        pass


def _fixed_mmap_threshold(limit: int = 8 << 20) -> None:
    """glibc only: serve every allocation above ``limit`` (full-size decoded images) from mmap and
    give it back to the system when freed. glibc otherwise raises the threshold after the first
    large free and a worker's peak creeps up from photo to photo (130 MB instead of 115 MB after a
    few 12 MP HEICs). Costs ~6 % of CPU on HEIC (fresh pages), nothing measurable on JPEG."""
    try:
        import ctypes  # pylint: disable=import-outside-toplevel
        libc = ctypes.CDLL(None)
        mallopt = getattr(libc, "mallopt", None)
        if mallopt is not None and not os.environ.get("MALLOC_MMAP_THRESHOLD_"):
            mallopt(-3, int(limit))  # M_MMAP_THRESHOLD
    except (OSError, AttributeError, TypeError, ValueError):
        pass  # not glibc: nothing to tune


def available_engines() -> dict[str, str | None]:
    """Versions of the decoders this machine has (None = not installed), for reports and benchmarks."""
    out: dict[str, str | None] = {}
    try:
        import PIL  # pylint: disable=import-outside-toplevel
        out["pillow"] = PIL.__version__
    except ImportError:
        out["pillow"] = None
    try:
        out["pillow_heif"] = _pillow_heif().__version__
    except ImportError:
        out["pillow_heif"] = None
    vips = _pyvips()
    out["pyvips"] = None if vips is None else "libvips %d.%d.%d" % (vips.version(0), vips.version(1), vips.version(2))
    out["ffmpeg"] = shutil.which("ffmpeg")
    return out


# ---------------------------------------------------------------------------------------- lazy imports
_LOCK = threading.Lock()
_STATE: dict = {}


def _pil():
    from PIL import Image  # pylint: disable=import-outside-toplevel
    return Image


def _pillow_heif():
    import pillow_heif  # pylint: disable=import-outside-toplevel
    return pillow_heif


def _pyvips():
    """The pyvips module, or None when it (or libvips) is not installed."""
    if "pyvips" not in _STATE:
        with _LOCK:
            try:
                import pyvips  # pylint: disable=import-outside-toplevel
                # The operation cache would keep decoded images of earlier files alive.
                pyvips.cache_set_max(0)
                _STATE["pyvips"] = pyvips
            except Exception:  # pylint: disable=broad-exception-caught  # ImportError, or OSError without libvips
                _STATE["pyvips"] = None
    return _STATE["pyvips"]


def _describe(exc: BaseException) -> str:
    """One line from an exception; libvips' "unable to call ..." wrappers reduced to their detail."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    detail = [line for line in lines if not line.startswith("unable to call") and not line.endswith("load error")]
    text = "; ".join(dict.fromkeys(detail or lines)) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


# ---------------------------------------------------------------------------------------- decoding
def _decode_largest(data, path, fmt, box_w, box_h, result, engine):
    """Decode once into an upright 8-bit sRGB RGB Pillow image fitting the largest box."""
    if fmt in VIDEO_FORMATS:
        return _video_poster(data, path, box_w, box_h, result)
    if data is None:
        if not path:
            raise ThumbnailError("neither the file's bytes nor its path were given")
        try:
            size = os.stat(path).st_size
        except OSError as exc:
            raise ThumbnailError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if size == 0:
            raise ThumbnailError("the file is empty")
        if size <= MAX_IN_MEMORY or fmt in HEIF_FORMATS:
            data = _read_file(path)
    elif not data:
        raise ThumbnailError("the file is empty")
    if fmt in HEIF_FORMATS:
        return _decode_heif(data, box_w, box_h, result, engine)
    if fmt in RAW_FORMATS:
        preview, orientation = _raw_preview(data, path, fmt)
        result.notes.append("made from the RAW file's embedded JPEG preview")
        return _decode_raster(preview, None, "jpg", box_w, box_h, result, engine, orientation)
    if fmt in JPEG_FORMATS or fmt in RASTER_FORMATS:
        return _decode_raster(data, path, fmt, box_w, box_h, result, engine)
    raise ThumbnailSkip(f"no thumbnails for {fmt or 'this'} files")


def _read_file(path: str | None) -> bytes:
    if not path:
        raise ThumbnailError("no path to read")
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    try:
        try:
            fd = os.open(path, flags | getattr(os, "O_NOATIME", 0))
        except PermissionError:  # O_NOATIME needs ownership of the file
            fd = os.open(path, flags)
        with os.fdopen(fd, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ThumbnailError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _decode_raster(data, path, fmt, box_w, box_h, result, engine, orientation=None):
    use_vips = engine in ("auto", "pyvips") and _pyvips() is not None
    if engine == "pyvips" and not use_vips:
        raise ThumbnailSkip("pyvips is not installed")
    if fmt == "avif" and not use_vips:
        raise ThumbnailSkip("AVIF needs pyvips (pyvips-binary), which is not installed")
    if use_vips:
        result.engine = "pyvips"
        return _vips_decode(data, path, fmt, box_w, box_h, result, orientation)
    result.engine = "pillow"
    return _pil_decode(data, path, fmt, box_w, box_h, result, orientation)


def _upright_size(width, height, orientation):
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _target_stored(width, height, orientation, box_w, box_h):
    """Target size of the largest thumbnail in the file's stored (not yet rotated) orientation."""
    up_w, up_h = _upright_size(width, height, orientation)
    tw, th = fit_within(up_w, up_h, box_w, box_h)
    return _upright_size(tw, th, orientation)


def _jpeg_shrink(width, height, target_w, target_h) -> int:
    """The largest DCT scale-down (1, 2, 4, 8) whose result still covers the target."""
    for shrink in (8, 4, 2):
        if -(-width // shrink) >= target_w and -(-height // shrink) >= target_h:
            return shrink
    return 1


# ------------------------------------------------------------------ pyvips
def _vips_decode(data, path, fmt, box_w, box_h, result, orientation_override):
    vips = _pyvips()
    source = (data, "") if data is not None else (path,)
    load = vips.Image.new_from_buffer if data is not None else vips.Image.new_from_file
    options = {"fail_on": "truncated", "access": "sequential"}
    size = _jpeg_dimensions(data) if fmt in JPEG_FORMATS and data is not None else None
    if fmt in JPEG_FORMATS:
        if size is None:
            header = load(*source)  # header only: libvips decodes lazily
            size = (header.width, header.height)
        # The DCT scale must cover the largest size whichever way the photo turns out to be turned.
        shrink = min(_jpeg_shrink(size[0], size[1], *_target_stored(size[0], size[1], turn, box_w, box_h))
                     for turn in (1, 6))
        if shrink > 1:
            options["shrink"] = shrink
    image = load(*source, **options)  # one load: pyvips copies the buffer on every call
    width, height = size or (image.width, image.height)
    if image.get_typeof("page-height") and 0 < image.get("page-height") < image.height:
        image = image.crop(0, 0, image.width, image.get("page-height"))  # first frame of a GIF/WebP
        height = image.height
    orientation = _vips_orientation(image)
    if orientation == 1 and orientation_override:
        orientation = orientation_override
    result.width, result.height = _upright_size(width, height, orientation)
    target_w, target_h = _target_stored(width, height, orientation, box_w, box_h)
    return _vips_finish(image, target_w, target_h, orientation, result)


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's frame header, without decoding anything; None if not found."""
    offset, total = 2, len(data)
    while offset + 9 < total:
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker == 0xFF:
            offset += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            offset += 2
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack_from(">HH", data, offset + 5)
            return (width, height) if width and height else None
        if marker in (0xD9, 0xDA):
            return None
        offset += 2 + struct.unpack_from(">H", data, offset + 2)[0]
    return None


def _vips_finish(image, target_w, target_h, orientation, result):
    """Flatten, resize to the target (stored orientation), materialise, sRGB, turn upright, to Pillow."""
    if image.hasalpha() and image.interpretation != "cmyk":
        image = image.flatten(background=[65535 if image.format == "ushort" else 255] * (image.bands - 1))
    if (image.width, image.height) != (target_w, target_h):
        image = image.resize(target_w / image.width, vscale=target_h / image.height)
        if (image.width, image.height) != (target_w, target_h):  # rounding inside libvips
            image = image.embed(0, 0, target_w, target_h, extend="copy")
    # Materialise the (small) largest size: this is where the whole decode happens, a strip at a time.
    image = _vips_to_srgb(image.copy_memory(), result)
    image = _vips_rotate(image, orientation)
    return _pil().frombuffer("RGB", (image.width, image.height), image.write_to_memory(), "raw", "RGB", 0, 1)


def _vips_orientation(image) -> int:
    try:
        if image.get_typeof("orientation"):
            value = int(image.get("orientation"))
            return value if 1 <= value <= 8 else 1
    except Exception:  # pylint: disable=broad-exception-caught
        pass
    return 1


def _vips_to_srgb(image, result):
    """8-bit sRGB with 3 bands; embedded ICC profiles (and CMYK) converted."""
    vips = _pyvips()
    icc = image.get("icc-profile-data") if image.get_typeof("icc-profile-data") else None
    cmyk = image.interpretation == "cmyk"
    if icc and not _icc_is_srgb(icc):
        try:
            image = image.icc_transform("srgb", embedded=True, intent="relative", depth=8)
        except vips.Error as exc:
            result.notes.append(f"embedded ICC profile not usable ({_describe(exc)}); colours assumed sRGB")
            if cmyk:
                image = image.icc_transform("srgb", input_profile="cmyk", intent="relative", depth=8)
    elif cmyk:
        image = image.icc_transform("srgb", input_profile="cmyk", intent="relative", depth=8)
    if image.bands > 3 or image.bands == 2:
        image = image.extract_band(0, n=1 if image.bands == 2 else 3)
    if image.interpretation not in ("srgb", "b-w") or image.format != "uchar":
        try:  # 16-bit, scRGB float, Lab...: libvips knows how to reach 8-bit sRGB
            image = image.colourspace("srgb")
        except vips.Error:
            pass  # an unknown ("multiband") interpretation: scale below
    if image.format == "ushort":
        image = (image >> 8).cast("uchar")
    elif image.format != "uchar":
        image = image.cast("uchar")
    if image.bands == 1:
        image = image.bandjoin([image, image])
    return image


# EXIF orientation -> the operations that make the stored pixels upright (libvips rot is clockwise).
_VIPS_UPRIGHT = {2: ("fliphor",), 3: ("d180",), 4: ("flipver",), 5: ("d270", "flipver"), 6: ("d90",),
                 7: ("d90", "flipver"), 8: ("d270",)}


def _vips_rotate(image, orientation):
    for step in _VIPS_UPRIGHT.get(orientation, ()):
        image = getattr(image, step)() if step.startswith("flip") else image.rot(step)
    return image


# ------------------------------------------------------------------ Pillow
def _pil_decode(data, path, fmt, box_w, box_h, result, orientation_override):
    Image = _pil()
    try:
        image = Image.open(io.BytesIO(data) if data is not None else path)
    except Image.DecompressionBombError as exc:
        raise ThumbnailError(f"the image is too large for Pillow's safety limit ({_describe(exc)}); "
                             "install pyvips (pyvips-binary) to handle it") from exc
    except Image.UnidentifiedImageError as exc:
        raise ThumbnailError(f"not a readable {fmt} image (Pillow does not recognise its content)") from exc
    except Exception as exc:  # pylint: disable=broad-exception-caught
        raise ThumbnailError(f"not a readable {fmt} image: {_describe(exc)}") from exc
    orientation = _pil_orientation(image)
    if orientation == 1 and orientation_override:
        orientation = orientation_override
    width, height = image.size
    result.width, result.height = _upright_size(width, height, orientation)
    target = _target_stored(width, height, orientation, box_w, box_h)
    icc = image.info.get("icc_profile")
    if image.format == "JPEG":
        image.draft("RGB" if image.mode in ("RGB", "YCbCr") else image.mode, target)
    image.load()
    image = _pil_resizable(image)
    if image.size != target:
        image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=_PIL_REDUCING_GAP)
    image = _pil_to_srgb(image, icc, result)
    return _pil_rotate(image, orientation)


def _pil_orientation(image) -> int:
    try:
        value = int(image.getexif().get(_ORIENTATION_TAG) or 1)
    except Exception:  # pylint: disable=broad-exception-caught  # a broken EXIF block never blocks thumbnails
        return 1
    return value if 1 <= value <= 8 else 1


def _pil_rotate(image, orientation):
    Image = _pil()
    method = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
              5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}.get(orientation)
    return image.transpose(method) if method is not None else image


def _pil_resizable(image):
    """RGB, L or CMYK at 8 bits, with any alpha flattened onto white (before resizing)."""
    Image = _pil()
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode.startswith("I;16") or image.mode == "I":
        image = image.convert("I").point(lambda value: value * (1 / 257)).convert("L") \
            if image.mode != "I" or image.getextrema()[1] > 255 else image.convert("L")
    elif image.mode == "F":
        image = image.convert("L")
    elif image.mode == "1":
        image = image.convert("L")
    if image.mode in ("RGBA", "LA", "RGBa", "La", "PA"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, _WHITE)
        background.paste(image, mask=image.getchannel("A"))
        image = background
    if image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    return image


def _pil_to_srgb(image, icc, result):
    """8-bit sRGB RGB: embedded ICC profiles converted, CMYK and greyscale expanded."""
    if icc and not _icc_is_srgb(icc):
        converted = _pil_icc_to_srgb(image, icc, result)
        if converted is not None:
            return converted
    return image if image.mode == "RGB" else image.convert("RGB")


_TRANSFORMS: dict = {}


def _pil_icc_to_srgb(image, icc, result):
    try:
        from PIL import ImageCms  # pylint: disable=import-outside-toplevel
        key = (icc, image.mode)
        transform = _TRANSFORMS.get(key)
        if transform is None:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            transform = ImageCms.buildTransform(source, ImageCms.createProfile("sRGB"), image.mode, "RGB",
                                                renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
            if len(_TRANSFORMS) > 32:
                _TRANSFORMS.clear()
            _TRANSFORMS[key] = transform
        return ImageCms.applyTransform(image, transform)
    except Exception as exc:  # pylint: disable=broad-exception-caught
        result.notes.append(f"embedded ICC profile not usable ({_describe(exc)}); colours assumed sRGB")
        return None


def _icc_is_srgb(icc: bytes) -> bool:
    """True when an ICC profile's description names sRGB (converting would change nothing)."""
    try:
        count = struct.unpack_from(">I", icc, 128)[0]
        for index in range(min(count, 64)):
            sig, offset, size = struct.unpack_from(">4sII", icc, 132 + 12 * index)
            if sig != b"desc":
                continue
            body = icc[offset:offset + size]
            if body[:4] == b"desc":
                text = body[12:12 + struct.unpack_from(">I", body, 8)[0]].decode("latin-1", "replace")
            elif body[:4] == b"mluc":
                records = struct.unpack_from(">I", body, 8)[0]
                length, start = struct.unpack_from(">II", body, 20) if records else (0, 0)
                text = body[start:start + length].decode("utf-16-be", "replace")
            else:
                return False
            return "srgb" in text.lower()
    except (struct.error, IndexError):
        return False
    return False


# ------------------------------------------------------------------ HEIC / HEIF
def _decode_heif(data, box_w, box_h, result, engine):
    _check_isobmff(data, "heif")
    pillow_heif = _pillow_heif()
    Image = _pil()
    try:
        heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True, thumbnails=False, depth_images=False,
                                     aux_images=False)
        # libheif applies the container's irot/imir here: the image comes out upright, and the
        # EXIF Orientation inside a HEIC describes that same turn, so it must not be applied again.
        pixels = heif.data  # the one decode (about 0.35 s of CPU for 12 MP), used without a copy
    except Exception as exc:  # pylint: disable=broad-exception-caught
        raise ThumbnailError(f"not a readable HEIF image: {_describe(exc)}") from exc
    width, height = heif.size
    result.engine = "pillow-heif"
    result.width, result.height = width, height
    target = fit_within(width, height, box_w, box_h)
    icc = heif.info.get("icc_profile") if heif.info.get("icc_profile_type") != "nclx" else None
    vips = _pyvips() if engine in ("auto", "pyvips") else None
    if vips is not None and heif.mode in ("RGB", "RGBA") and heif.stride == width * len(heif.mode):
        # libvips resizes and converts colours several times faster than Pillow.
        result.engine = "pillow-heif+pyvips"
        image = vips.Image.new_from_memory(pixels, width, height, len(heif.mode), "uchar")
        if icc:
            image = image.copy()
            image.set_type(vips.GValue.blob_type, "icc-profile-data", icc)
        return _vips_finish(image, target[0], target[1], 1, result)
    image = Image.frombuffer(heif.mode, (width, height), pixels, "raw", heif.mode, heif.stride, 1)
    image = _pil_resizable(image)
    if image.size != target:
        image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=_PIL_REDUCING_GAP)
    return _pil_to_srgb(image, icc, result)


def _check_isobmff(data: bytes, fmt: str) -> None:
    """Reject a truncated ISO-BMFF file (HEIC/HEIF/AVIF): libheif decodes those without an error."""
    offset, total = 0, len(data)
    while offset < total:
        if total - offset < 8:
            raise ThumbnailError(f"the {fmt} file is truncated (a box header is cut short at byte {offset})")
        size, kind = struct.unpack_from(">I4s", data, offset)
        if size == 1:
            if total - offset < 16:
                raise ThumbnailError(f"the {fmt} file is truncated (a box header is cut short at byte {offset})")
            size = struct.unpack_from(">Q", data, offset + 8)[0]
        elif size == 0:
            size = total - offset
        if size < 8 or not all(32 <= char < 127 or char == 0xA9 for char in kind):
            raise ThumbnailError(f"the {fmt} file is corrupt (no valid box at byte {offset})")
        if offset + size > total:
            name = kind.decode("latin-1")
            raise ThumbnailError(f"the {fmt} file is truncated: its '{name}' box needs {offset + size} bytes, "
                                 f"the file has {total}")
        offset += size


# ------------------------------------------------------------------ RAW
def _raw_preview(data, path, fmt):
    """(JPEG bytes, orientation) of the largest embedded preview of a RAW file."""
    handle = io.BytesIO(data) if data is not None else open(path, "rb")  # pylint: disable=consider-using-with
    try:
        head = handle.read(16)
        if fmt == "raf" or head.startswith(b"FUJIFILMCCD-RAW"):
            handle.seek(84)
            offset, length = struct.unpack(">II", handle.read(8))
            handle.seek(offset)
            jpeg = handle.read(length)
            if _is_baseline_jpeg(jpeg[:65536]):
                return jpeg, 1
            raise _no_preview(fmt)
        candidates, orientation = _tiff_previews(handle, head)
        best = None
        for offset, length in candidates:
            handle.seek(offset)
            if (best is None or length > best[1]) and _is_baseline_jpeg(handle.read(65536)):
                best = (offset, length)
        if best is None:
            raise _no_preview(fmt)
        handle.seek(best[0])
        return handle.read(best[1]), orientation
    except (struct.error, OSError, ValueError) as exc:
        raise ThumbnailSkip(f"no embedded preview found in this {fmt} file ({_describe(exc)})") from exc
    finally:
        handle.close()


def _is_baseline_jpeg(head: bytes) -> bool:
    """A JPEG that libjpeg renders as a picture: baseline or progressive DCT (SOF0-2), not the
    lossless JPEG some RAW formats (CR2, DNG) use for the sensor data itself."""
    if head[:3] != b"\xff\xd8\xff":
        return False
    offset = 2
    while offset + 4 <= len(head):
        if head[offset] != 0xFF:
            return False
        marker = head[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in (0xC0, 0xC1, 0xC2):
            return True
        if 0xC3 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) or marker == 0xDA:
            return False  # lossless, hierarchical or arithmetic-coded, or no frame header before the scan
        offset += 2 + struct.unpack_from(">H", head, offset + 2)[0]
    return False


def _no_preview(fmt):
    return ThumbnailSkip(f"this {fmt} file has no embedded JPEG preview that can be used "
                         "(RAW files are not decoded here)")


def _tiff_previews(handle, head):
    """Walk a TIFF-based RAW's IFDs (IFD0 chain and SubIFDs): [(offset, length)] of JPEG candidates."""
    if head[:2] == b"II":
        endian = "<"
    elif head[:2] == b"MM":
        endian = ">"
    else:
        raise ValueError("not a TIFF-based RAW file")
    first = struct.unpack(endian + "I", head[4:8])[0]
    candidates, orientation, seen, queue = [], 1, set(), [(first, True)]
    types = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8, 13: 4}
    while queue and len(seen) < 64:
        ifd, follow_chain = queue.pop(0)
        if ifd in seen or ifd < 8:
            continue
        seen.add(ifd)
        handle.seek(ifd)
        count = struct.unpack(endian + "H", handle.read(2))[0]
        if count > 1000:
            continue
        entries = handle.read(12 * count)
        tags = {}
        for index in range(count):
            tag, kind, number = struct.unpack_from(endian + "HHI", entries, 12 * index)
            raw = entries[12 * index + 8:12 * index + 12]
            size = types.get(kind, 1) * number
            if kind in (3, 4, 13) and size <= 4:
                fmt_char = "H" if kind == 3 else "I"
                values = list(struct.unpack(endian + fmt_char * number, raw[:size]))
            elif kind in (4, 13) and number <= 64:
                position = handle.tell()
                handle.seek(struct.unpack(endian + "I", raw)[0])
                values = list(struct.unpack(endian + "I" * number, handle.read(4 * number)))
                handle.seek(position)
            elif kind == 3 and number <= 64:
                position = handle.tell()
                handle.seek(struct.unpack(endian + "I", raw)[0])
                values = list(struct.unpack(endian + "H" * number, handle.read(2 * number)))
                handle.seek(position)
            elif kind == 7 and tag == 0x002E:  # Panasonic RW2 JpgFromRaw: an UNDEFINED blob
                values = [struct.unpack(endian + "I", raw)[0], number]
            else:
                continue
            tags[tag] = values
        next_ifd = struct.unpack(endian + "I", handle.read(4) or b"\0\0\0\0")[0] if follow_chain else 0
        if ifd == first and tags.get(0x0112):
            orientation = tags[0x0112][0] if 1 <= tags[0x0112][0] <= 8 else 1
        if 0x0201 in tags and 0x0202 in tags:
            candidates.append((tags[0x0201][0], tags[0x0202][0]))
        if 0x002E in tags:
            candidates.append((tags[0x002E][0], tags[0x002E][1]))
        compression = (tags.get(0x0103) or [0])[0]
        if compression in (6, 7, 99) and len(tags.get(0x0111, [])) == 1 and len(tags.get(0x0117, [])) == 1:
            candidates.append((tags[0x0111][0], tags[0x0117][0]))
        for sub in tags.get(0x014A, []):
            queue.append((sub, False))
        if next_ifd:
            queue.append((next_ifd, True))
    return candidates, orientation


# ------------------------------------------------------------------ video posters
def _video_poster(data, path, box_w, box_h, result):
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        raise ThumbnailSkip("ffmpeg is not installed (install it to get video poster frames)")
    result.engine = "ffmpeg"
    temp = None
    try:
        if not path:
            if not data:
                raise ThumbnailError("the file is empty")
            handle = tempfile.NamedTemporaryFile(prefix=".poster-", suffix=".video", delete=False)  # pylint: disable=consider-using-with
            with handle:
                handle.write(data)
            temp = path = handle.name
        frame = _ffmpeg_frame(ffmpeg, path, box_w, box_h, POSTER_SEEK_SECONDS)
        if frame is None:  # shorter than the seek point: take the first frame
            frame = _ffmpeg_frame(ffmpeg, path, box_w, box_h, None)
        if frame is None:
            raise ThumbnailError("ffmpeg found no video frame in this file")
    finally:
        if temp:
            os.unlink(temp)
    image = _pil().open(io.BytesIO(frame))
    image.load()
    result.width, result.height = image.size  # after ffmpeg's scaling; the caller knows the real size
    result.notes.append("poster frame from ffmpeg")
    return image.convert("RGB")


def _ffmpeg_frame(ffmpeg, path, box_w, box_h, seek):
    # ffmpeg applies the display matrix (rotation) itself; the filter never enlarges.
    scale = (f"scale=w='min({box_w},iw)':h='min({box_h},ih)':force_original_aspect_ratio=decrease:"
             "force_divisible_by=1,format=rgb24")
    argv = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1"]
    if seek:
        argv += ["-ss", str(seek)]
    argv += ["-i", path, "-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-vf", scale,
             "-f", "image2pipe", "-vcodec", "ppm", "pipe:1"]
    try:
        # Runs inside process-pool workers, where no AnsibleModule (run_command) exists: argv, no shell.
        completed = subprocess.run(  # pylint: disable=ansible-bad-function
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=FFMPEG_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ThumbnailError(f"ffmpeg took longer than {FFMPEG_TIMEOUT} s to extract a frame") from exc
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else f"exit status {completed.returncode}"
        raise ThumbnailError(f"ffmpeg cannot read this video: {detail}")
    return completed.stdout or None


# ---------------------------------------------------------------------------------------- encoding, writing
def _encode_all(image, ordered, quality, result):
    """JPEG bytes of every size, each made from the one above it (largest first)."""
    Image = _pil()
    base_w, base_h = image.size
    up_w, up_h = result.width or base_w, result.height or base_h
    image.info = {}  # thumbnails carry no metadata (Pillow would copy a JPEG comment, for one)
    encoded, current = {}, image
    for index, (name, box_w, box_h) in enumerate(ordered):
        target = fit_within(up_w, up_h, box_w, box_h)
        # Never larger than what was decoded (ffmpeg posters, small RAW previews).
        target = fit_within(target[0], target[1], base_w, base_h) if target[0] > base_w or target[1] > base_h \
            else target
        if current.size != target:
            current = current.resize(target, Image.Resampling.LANCZOS, reducing_gap=_PIL_REDUCING_GAP)
        buffer = io.BytesIO()
        # Huffman optimisation costs ~1 ms on the small sizes; on the largest it costs more than it saves.
        current.save(buffer, "JPEG", quality=quality, optimize=index > 0)
        encoded[name] = buffer.getvalue()
        result.sizes[name] = (current.size[0], current.size[1], len(encoded[name]))
    return encoded


_MADE_DIRS: set = set()


def _atomic_write(path: str, payload: bytes) -> None:
    directory = os.path.dirname(path)
    if directory not in _MADE_DIRS:
        os.makedirs(directory, exist_ok=True)
        _MADE_DIRS.add(directory)
    # no fsync: thumbnails can be made again; a reader still never sees half a file
    atomic.replace_bytes(path, payload, mode=None, durable=False)


def _metadata_document(sha256, ordered, result, metadata, fmt):
    document = dict(metadata or {})
    document.setdefault("format", fmt)
    if result.width and result.height and result.engine != "ffmpeg":
        document.setdefault("width", result.width)
        document.setdefault("height", result.height)
    document["sha256"] = sha256
    document["thumbnails"] = {name: {"width": w, "height": h, "bytes": n} for name, (w, h, n) in result.sizes.items()}
    document["thumbnail_status"] = result.status
    if result.reason:
        document["thumbnail_reason"] = result.reason
    document["settings"] = settings_string(ordered)
    return json.dumps(document, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")


def _write_all(thumbs_root, sha256, ordered, encoded, result, metadata, fmt):
    paths = thumbnail_paths(thumbs_root, sha256, ordered)
    try:
        for name, _w, _h in ordered:
            _atomic_write(paths[name], encoded[name])
        _atomic_write(paths[METADATA_DIR], _metadata_document(sha256, ordered, result, metadata, fmt))
    except OSError as exc:
        _MADE_DIRS.clear()
        raise ThumbnailError(f"cannot write thumbnails under {thumbs_root}: {exc.strerror or exc}") from exc


def _write_metadata_only(thumbs_root, sha256, ordered, result, metadata, fmt):
    try:
        path = thumbnail_paths(thumbs_root, sha256, ordered)[METADATA_DIR]
        _atomic_write(path, _metadata_document(sha256, ordered, result, metadata, fmt))
    except OSError as exc:
        _MADE_DIRS.clear()
        result.notes.append(f"metadata not written: {exc.strerror or exc}")
