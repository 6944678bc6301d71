"""A realistic benchmark corpus, generated here and cached under .cache/bench-corpus/.

- 12 MP JPEGs (4032x3024) as a camera or phone writes them: smooth light, shapes with edges and
  sensor-like noise, so that they compress like photos (phones: 4:2:0 at quality 92, 3.5 MB;
  cameras: 4:2:2 at quality 95, 5 MB), EXIF with make,
  model, DateTimeOriginal + offset, GPS, and a quarter of them stored sideways with Orientation 6
  (a portrait held upright).
- iPhone-like 12 MP HEICs: 512x512 grid tiles, Display P3 ICC profile, half of them portraits
  rotated by the container (irot, with the matching EXIF Orientation 6), ~2 MB each. Decoding one
  costs about what a real iPhone 13 HEIC costs here (libheif, one thread).
- A library of many small unique JPEGs for the no-op rescan (each with its own EXIF date).

Everything is deterministic (seeded) and cached by its parameters (kind, size, count), so repeated
runs reuse it. ``CACHE`` (``BENCH_CORPUS_DIR``, run.py ``--corpus-dir``) says where; other sizes than
12 MP (run.py ``--quick``) go to folders of their own.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import random
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("BENCH_CORPUS_DIR", REPO / ".cache" / "bench-corpus"))
CORPUS_VERSION = 2
WIDTH, HEIGHT = 4032, 3024

_NOISE: dict = {}


def _noise(size: tuple[int, int]):
    """A full-size RGB noise field (sensor grain), made once per process and shifted per photo."""
    if size not in _NOISE:
        from PIL import Image  # pylint: disable=import-outside-toplevel
        _NOISE[size] = Image.merge("RGB", [Image.effect_noise(size, 20) for _band in range(3)])
    return _NOISE[size]


def _scene(rnd: random.Random, size: tuple[int, int]):
    """Light, colour and shapes: the low and middle frequencies of a photo."""
    from PIL import Image, ImageDraw  # pylint: disable=import-outside-toplevel
    width, height = size
    detail_size = (max(1, width // 8), max(1, height // 8))
    base = Image.frombytes("RGB", (32, 24), rnd.randbytes(32 * 24 * 3)).resize(size, Image.Resampling.BICUBIC)
    detail = Image.frombytes("RGB", detail_size, rnd.randbytes(detail_size[0] * detail_size[1] * 3)).resize(
        size, Image.Resampling.BILINEAR)
    image = Image.blend(base, detail, 0.25)
    draw = ImageDraw.Draw(image)
    for _shape in range(40):
        x, y, r = rnd.randrange(width), rnd.randrange(height), rnd.randrange(40, 600)
        colour = tuple(rnd.randrange(256) for _channel in range(3))
        if rnd.random() < 0.5:
            draw.ellipse((x, y, x + r, y + int(r * (0.3 + rnd.random()))), fill=colour)
        else:
            draw.line((x, y, x + rnd.randrange(-900, 900), y + rnd.randrange(-900, 900)), fill=colour,
                      width=rnd.randrange(2, 30))
    return image


def _exif(index: int, make: str, model: str, orientation: int, rnd: random.Random,
          size: tuple[int, int] = (WIDTH, HEIGHT)) -> bytes:
    from PIL import Image  # pylint: disable=import-outside-toplevel
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = make, model, orientation
    exif[0x0131] = "16.5" if make == "Apple" else "Firmware 1.0.2"
    taken = time.gmtime(1262304000 + index * 86400 * 37 + rnd.randrange(86400))  # spread over 2010-2026
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = time.strftime("%Y:%m:%d %H:%M:%S", taken)
    sub[0x9011] = "+02:00"
    sub[0xA002], sub[0xA003] = size
    gps = exif.get_ifd(0x8825)
    gps[0], gps[1], gps[3] = b"\x02\x02\x00\x00", "N", "E"
    gps[2] = (float(rnd.randrange(35, 60)), float(rnd.randrange(60)), round(rnd.random() * 60, 2))
    gps[4] = (float(rnd.randrange(0, 25)), float(rnd.randrange(60)), round(rnd.random() * 60, 2))
    return exif.tobytes()


def _make_jpeg(job) -> str:
    index, path, size = job
    from PIL import Image, ImageChops  # pylint: disable=import-outside-toplevel
    rnd = random.Random(1000 + index)
    scene = _scene(rnd, size)
    grain = ImageChops.offset(_noise(size), rnd.randrange(size[0]), rnd.randrange(size[1]))
    image = Image.blend(scene, grain, 0.28)
    orientation = 6 if index % 4 == 3 else 1
    make, model = [("Apple", "iPhone 12"), ("Canon", "Canon EOS 80D"), ("SONY", "ILCE-7M3"),
                   ("Google", "Pixel 7")][index % 4]
    # Phones write 4:2:0 at about quality 92; cameras 4:2:2 at about 95 (bigger, slower to decode).
    camera = make in ("Canon", "SONY")
    options = {"quality": 95, "subsampling": "4:2:2"} if camera else {"quality": 92, "subsampling": "4:2:0"}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=_exif(index, make, model, orientation, rnd, size), **options)
    _write(path, buffer.getvalue())
    return path


def _display_p3() -> bytes | None:
    try:
        import pyvips  # pylint: disable=import-outside-toplevel
        return bytes(pyvips.Image.profile_load("p3"))
    except Exception:  # pylint: disable=broad-exception-caught
        return None


def _make_heic(job) -> str:
    index, path, size = job
    from PIL import Image, ImageChops  # pylint: disable=import-outside-toplevel
    import pillow_heif  # pylint: disable=import-outside-toplevel
    pillow_heif.options.GRID_TILE_SIZE = 512  # tiled like an iPhone's HEIC
    pillow_heif.register_heif_opener()
    rnd = random.Random(5000 + index)
    scene = _scene(rnd, size)
    grain = ImageChops.offset(_noise(size), rnd.randrange(size[0]), rnd.randrange(size[1]))
    image = Image.blend(scene, grain, 0.12)
    orientation = 6 if index % 2 else 1  # pillow-heif turns Orientation 6 into the container's irot, as iOS does
    options = {"quality": 60, "enc_params": {"preset": "ultrafast"},
               "exif": _exif(index, "Apple", "iPhone 13 Pro", orientation, rnd, size)}
    icc = _display_p3()
    if icc:
        options["icc_profile"] = icc
    buffer = io.BytesIO()
    image.save(buffer, "HEIF", **options)
    _write(path, buffer.getvalue())
    return path


def _make_small(job) -> int:
    start, stop, root = job
    from PIL import Image  # pylint: disable=import-outside-toplevel
    old = time.time() - 7 * 86400  # older than any min_age
    for index in range(start, stop):
        rnd = random.Random(index)
        folder = Path(root) / f"{100 + index // 1000:03d}APPLE"
        folder.mkdir(parents=True, exist_ok=True)
        exif = Image.Exif()
        exif[0x010F], exif[0x0110] = "Apple", "iPhone 8"
        taken = time.gmtime(1262304000 + index * 7919)
        exif.get_ifd(0x8769)[0x9003] = time.strftime("%Y:%m:%d %H:%M:%S", taken)
        buffer = io.BytesIO()
        Image.new("RGB", (32, 24), tuple(rnd.randrange(256) for _channel in range(3))).save(
            buffer, "JPEG", quality=80, exif=exif.tobytes(), comment=f"bench {index}".encode())
        path = folder / f"IMG_{index:05d}.JPG"
        path.write_bytes(buffer.getvalue())
        os.utime(path, (old, old))
    return stop - start


def _write(path: str, payload: bytes) -> None:
    temp = path + ".tmp"
    with open(temp, "wb") as handle:
        handle.write(payload)
    os.replace(temp, path)


def _build(kind: str, count: int, maker, suffix: str, workers: int, log, size: tuple[int, int]) -> list[str]:
    """``count`` files in a folder of their own (named by kind and size), made where missing."""
    name = f"{kind}12mp" if size == (WIDTH, HEIGHT) else f"{kind}-{size[0]}x{size[1]}"
    folder = CACHE / f"v{CORPUS_VERSION}-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [str(folder / f"IMG_{index:04d}.{suffix}") for index in range(count)]
    todo = [(index, path, size) for index, path in enumerate(paths) if not os.path.exists(path)]
    if todo:
        log(f"generating {len(todo)} {kind} file(s) in {folder} (cached for the next runs)...")
        started = time.time()
        with multiprocessing.get_context("forkserver").Pool(workers) as pool:
            for _made in pool.imap_unordered(maker, todo):
                pass
        log(f"  done in {time.time() - started:.0f} s")
    return paths


def jpeg_corpus(count: int, workers: int, log=print, size: tuple[int, int] = (WIDTH, HEIGHT)) -> list[str]:
    """The first ``count`` JPEGs of the corpus (12 MP unless ``size`` says otherwise), in one folder."""
    return _build("jpeg", count, _make_jpeg, "JPG", workers, log, size)


def heic_corpus(count: int, workers: int, log=print, size: tuple[int, int] = (WIDTH, HEIGHT)) -> list[str]:
    """The first ``count`` HEICs of the corpus (12 MP unless ``size`` says otherwise), in one folder."""
    return _build("heic", count, _make_heic, "HEIC", workers, log, size)


def small_library(count: int, workers: int, log=print) -> Path:
    """``count`` small unique JPEGs in DCIM-like folders of 1,000 (for the no-op rescan)."""
    root = CACHE / f"v{CORPUS_VERSION}-library-{count}"
    marker = root / ".complete"
    if marker.exists():
        return root / "inbox"
    log(f"generating a {count}-file library in {root} (cached for the next runs)...")
    started = time.time()
    step = 1000
    jobs = [(start, min(start + step, count), str(root / "inbox")) for start in range(0, count, step)]
    with multiprocessing.get_context("forkserver").Pool(workers) as pool:
        made = sum(pool.imap_unordered(_make_small, jobs))
    marker.write_text(json.dumps({"files": made}), encoding="utf-8")
    log(f"  done in {time.time() - started:.0f} s")
    return root / "inbox"
