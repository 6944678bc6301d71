"""Thumbnails: sizes from one decode, upright, sRGB, every input kind, atomic files, clear failures.

Fixtures are generated here (Pillow writes JPEGs with EXIF orientation, pillow-heif writes HEIC with
the container rotation an iPhone writes). Tests over the real sample corpus (../shared/samples)
skip with a reason when it is absent. Image-decoding tests run once per decoder (pyvips, Pillow).
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import thumbnails as vt
from support.paths import REPO, SAMPLES

PIL_Image = pytest.importorskip("PIL.Image")
ImageOps = pytest.importorskip("PIL.ImageOps")


SHA = "ab" + "0123456789abcdef" * 3 + "0123456789abcd"
RED, GREEN, BLUE, YELLOW = (220, 30, 30), (30, 200, 30), (30, 30, 220), (230, 220, 40)

try:
    import pyvips  # noqa: F401  pylint: disable=unused-import
    HAVE_PYVIPS = vt._pyvips() is not None  # pylint: disable=protected-access
except ImportError:
    HAVE_PYVIPS = False


@pytest.fixture(params=["pyvips", "pillow"])
def engine(request):
    if request.param == "pyvips" and not HAVE_PYVIPS:
        pytest.skip("pyvips is not installed")
    return request.param


# ------------------------------------------------------------------------------------ helpers
def quadrants(width: int, height: int, mode: str = "RGB"):
    """An upright picture whose corners tell its orientation: red, green / blue, yellow."""
    image = PIL_Image.new("RGB", (width, height), RED)
    image.paste(GREEN, (width // 2, 0, width, height // 2))
    image.paste(BLUE, (0, height // 2, width // 2, height))
    image.paste(YELLOW, (width // 2, height // 2, width, height))
    return image.convert(mode) if mode != "RGB" else image


# The transform that turns an upright picture into what a camera stores with EXIF orientation N.
_STORE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_90",
          7: "TRANSVERSE", 8: "ROTATE_270"}


def stored_as(upright, orientation: int):
    if orientation == 1:
        return upright
    return upright.transpose(getattr(PIL_Image.Transpose, _STORE[orientation]))


def exif_bytes(orientation: int | None = None, **tags) -> bytes:
    exif = PIL_Image.Exif()
    exif[0x010F] = tags.get("make", "Canon")
    exif[0x0110] = tags.get("model", "EOS 5D")
    if orientation is not None:
        exif[0x0112] = orientation
    return exif.tobytes()


def encode(image, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def assert_colour(actual, expected, tolerance=45, where=""):
    assert all(abs(int(a) - int(e)) <= tolerance for a, e in zip(actual[:3], expected)), \
        f"{where}: expected about {expected}, got {actual}"


def assert_upright(image, name=""):
    """The red corner is top left, green top right, blue bottom left, yellow bottom right."""
    image = image.convert("RGB")
    w, h = image.size
    for (x, y), colour in (((w // 4, h // 4), RED), ((3 * w // 4, h // 4), GREEN),
                           ((w // 4, 3 * h // 4), BLUE), ((3 * w // 4, 3 * h // 4), YELLOW)):
        assert_colour(image.getpixel((x, y)), colour, where=f"{name} at {x},{y}")


def assert_upright_by_hue(image, name=""):
    """As assert_upright, by dominant channel only (CMYK without a profile has no exact RGB meaning)."""
    image = image.convert("RGB")
    w, h = image.size
    r, _g, b = image.getpixel((w // 4, h // 4))
    assert r > b + 40 and r > _g + 40, f"{name}: top left should be red, is {(r, _g, b)}"
    r, g, b = image.getpixel((3 * w // 4, h // 4))
    assert g > r + 40, f"{name}: top right should be green, is {(r, g, b)}"
    r, g, b = image.getpixel((w // 4, 3 * h // 4))
    assert b > r + 40 and b > g, f"{name}: bottom left should be blue, is {(r, g, b)}"
    r, g, b = image.getpixel((3 * w // 4, 3 * h // 4))
    assert r > b + 40 and g > b + 40, f"{name}: bottom right should be yellow, is {(r, g, b)}"


def on_disk(root: Path, sha: str = SHA) -> dict:
    """name -> opened thumbnail (and its file size) for every size present."""
    out = {}
    for name, path in vt.thumbnail_paths(str(root), sha).items():
        if name != "metadata" and os.path.exists(path):
            with PIL_Image.open(path) as image:
                image.load()
                out[name] = image.copy()
                out[name].format_on_disk = image.format
    return out


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


# ------------------------------------------------------------------------------------ sizes
def test_each_size_is_made_from_the_decode_not_from_the_previous_thumbnail_in_place(tmp_path, engine):
    """The seed's sample shrank one image in place three times (all sizes 150 px): never again."""
    data = encode(quadrants(4032, 3024), quality=90, exif=exif_bytes(1))
    result = vt.make_thumbnails(data, None, "jpg", SHA, str(tmp_path), engine=engine)
    assert result.status == "ok", result.reason
    expected = {"medium": (1440, 1080), "small": (500, 375), "tiny": (150, 113)}
    assert {name: size[:2] for name, size in result.sizes.items()} == expected
    thumbs = on_disk(tmp_path)
    assert {name: image.size for name, image in thumbs.items()} == expected
    for name, image in thumbs.items():
        assert image.format_on_disk == "JPEG" and image.mode == "RGB"
        assert result.sizes[name][2] == os.path.getsize(vt.thumbnail_paths(str(tmp_path), SHA)[name])
        assert_upright(image, name)
    assert (result.width, result.height) == (4032, 3024)


def test_a_portrait_fits_the_height_of_each_box(tmp_path, engine):
    data = encode(quadrants(3024, 4032), quality=90)
    result = vt.make_thumbnails(data, None, "jpg", SHA, str(tmp_path), engine=engine)
    assert {n: s[:2] for n, s in result.sizes.items()} == {"medium": (810, 1080), "small": (375, 500),
                                                           "tiny": (113, 150)}


@pytest.mark.parametrize("size, expected", [
    ((100, 80), {"medium": (100, 80), "small": (100, 80), "tiny": (100, 80)}),
    ((300, 200), {"medium": (300, 200), "small": (300, 200), "tiny": (150, 100)}),
    ((1, 1), {"medium": (1, 1), "small": (1, 1), "tiny": (1, 1)}),
    ((6000, 100), {"medium": (1920, 32), "small": (500, 8), "tiny": (150, 3)}),
])
def test_small_images_are_never_enlarged(tmp_path, engine, size, expected):
    data = encode(quadrants(*size), "PNG")
    result = vt.make_thumbnails(data, None, "png", SHA, str(tmp_path), engine=engine)
    assert result.status == "ok", result.reason
    assert {n: s[:2] for n, s in result.sizes.items()} == expected
    assert {n: i.size for n, i in on_disk(tmp_path).items()} == expected


def test_jpeg_frame_header_is_read_without_decoding():
    data = encode(quadrants(1234, 567), quality=90, exif=exif_bytes(6))
    assert vt._jpeg_dimensions(data) == (1234, 567)  # pylint: disable=protected-access
    assert vt._jpeg_dimensions(encode(quadrants(64, 48), quality=90, progressive=True)) == (64, 48)  # pylint: disable=protected-access
    assert vt._jpeg_dimensions(data[:30]) is None  # pylint: disable=protected-access
    assert vt._jpeg_dimensions(b"\xff\xd8" + b"\0" * 50) is None  # pylint: disable=protected-access


def test_fit_within_and_the_dct_scale_choice():
    assert vt.fit_within(4032, 3024, 1920, 1080) == (1440, 1080)
    assert vt.fit_within(4032, 3024, 150, 150) == (150, 113)
    assert vt.fit_within(100, 50, 1920, 1080) == (100, 50)
    # Half scale (2016x1512) still covers 1440x1080; a quarter (1008x756) would not.
    assert vt._jpeg_shrink(4032, 3024, 1440, 1080) == 2  # pylint: disable=protected-access
    assert vt._jpeg_shrink(8064, 6048, 1440, 1080) == 4  # pylint: disable=protected-access
    assert vt._jpeg_shrink(1600, 1200, 1440, 1080) == 1  # pylint: disable=protected-access


def test_custom_sizes_are_made_largest_first_whatever_their_order(tmp_path, engine):
    data = encode(quadrants(2000, 1000), quality=90)
    sizes = (("thumb", 100, 100), ("big", 1000, 1000))
    result = vt.make_thumbnails(data, None, "jpg", SHA, str(tmp_path), sizes=sizes, engine=engine)
    assert result.sizes["big"][:2] == (1000, 500) and result.sizes["thumb"][:2] == (100, 50)
    assert (tmp_path / "big" / SHA[:2] / f"{SHA}.jpg").is_file()
    assert vt.settings_string(sizes) != vt.SETTINGS


# ------------------------------------------------------------------------------------ orientation
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_once(tmp_path, engine, orientation):
    upright = quadrants(1200, 800)  # landscape as the photographer saw it
    data = encode(stored_as(upright, orientation), quality=92, exif=exif_bytes(orientation))
    result = vt.make_thumbnails(data, None, "jpg", SHA, str(tmp_path), engine=engine)
    assert result.status == "ok", result.reason
    assert (result.width, result.height) == (1200, 800)
    thumbs = on_disk(tmp_path)
    assert thumbs["medium"].size == (1200, 800) and thumbs["small"].size == (500, 333)
    for name, image in thumbs.items():
        assert_upright(image, f"orientation {orientation} {name}")


def test_a_sideways_stored_portrait_comes_out_portrait(tmp_path, engine):
    upright = quadrants(3024, 4032)
    data = encode(stored_as(upright, 6), quality=90, exif=exif_bytes(6))  # stored 4032x3024, like a phone
    result = vt.make_thumbnails(data, None, "jpg", SHA, str(tmp_path), engine=engine)
    assert {n: s[:2] for n, s in result.sizes.items()} == {"medium": (810, 1080), "small": (375, 500),
                                                           "tiny": (113, 150)}
    for name, image in on_disk(tmp_path).items():
        assert_upright(image, name)


def test_thumbnails_carry_no_metadata(tmp_path, engine):
    icc = _display_p3_profile()
    from PIL import ImageCms  # pylint: disable=import-outside-toplevel
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for index, profile in enumerate((icc, srgb)):
        data = encode(stored_as(quadrants(800, 600), 6), quality=90, exif=exif_bytes(6), icc_profile=profile,
                      comment=b"camera comment")
        root = tmp_path / str(index)
        vt.make_thumbnails(data, None, "jpg", SHA, str(root), engine=engine)
        for name, image in on_disk(root).items():
            assert not image.getexif(), name
            assert not {"icc_profile", "exif", "comment", "xmp"} & set(image.info), (name, image.info.keys())


# ------------------------------------------------------------------------------------ colour
def _display_p3_profile() -> bytes:
    if HAVE_PYVIPS:
        return bytes(vt._pyvips().Image.profile_load("p3"))  # pylint: disable=protected-access
    sample = SAMPLES / "heic" / "mobile" / "iphone_13_pro_max.HEIC"
    if sample.exists():
        heif = pytest.importorskip("pillow_heif")
        return heif.open_heif(str(sample)).info["icc_profile"]
    pytest.skip("no Display P3 profile at hand (needs pyvips or ../shared/samples)")
    return b""


def _srgb_reference(colour, icc: bytes):
    from PIL import ImageCms  # pylint: disable=import-outside-toplevel
    swatch = PIL_Image.new("RGB", (8, 8), colour)
    return ImageCms.profileToProfile(swatch, ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                     ImageCms.createProfile("sRGB"), outputMode="RGB").getpixel((4, 4))


def _to_srgb(image, icc):
    if not icc:
        return image
    from PIL import ImageCms  # pylint: disable=import-outside-toplevel
    return ImageCms.profileToProfile(image, ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                     ImageCms.createProfile("sRGB"), outputMode="RGB")


def test_display_p3_is_converted_to_srgb(tmp_path, engine):
    icc = _display_p3_profile()
    colour = (40, 200, 60)  # a P3 green, well outside what the same numbers mean in sRGB
    expected = _srgb_reference(colour, icc)
    assert max(abs(a - b) for a, b in zip(expected, colour)) > 20, "the test colour must differ in sRGB"
    data = encode(PIL_Image.new("RGB", (640, 480), colour), quality=95, icc_profile=icc)
    result = vt.make_thumbnails(data, None, "jpg", SHA, str(tmp_path), engine=engine)
    assert result.status == "ok", result.reason
    for name, image in on_disk(tmp_path).items():
        assert_colour(image.getpixel((20, 20)), expected, tolerance=8, where=name)


def test_an_srgb_profile_leaves_colours_alone(tmp_path, engine):
    from PIL import ImageCms  # pylint: disable=import-outside-toplevel
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert vt._icc_is_srgb(srgb)  # pylint: disable=protected-access
    data = encode(PIL_Image.new("RGB", (64, 64), (40, 200, 60)), quality=95, icc_profile=srgb)
    vt.make_thumbnails(data, None, "jpg", SHA, str(tmp_path), engine=engine)
    assert_colour(on_disk(tmp_path)["tiny"].getpixel((5, 5)), (40, 200, 60), tolerance=6)


def test_png_with_alpha_is_flattened_onto_white(tmp_path, engine):
    image = PIL_Image.new("RGBA", (600, 400), (0, 0, 0, 0))  # fully transparent black
    image.paste((200, 20, 20, 255), (0, 0, 300, 400))
    result = vt.make_thumbnails(encode(image, "PNG"), None, "png", SHA, str(tmp_path), engine=engine)
    assert result.status == "ok", result.reason
    small = on_disk(tmp_path)["small"]
    assert small.mode == "RGB"
    assert_colour(small.getpixel((400, 150)), (255, 255, 255), tolerance=3, where="transparent half")
    assert_colour(small.getpixel((100, 150)), (200, 20, 20), tolerance=10, where="opaque half")


@pytest.mark.parametrize("kind", ["palette-png", "palette-transparent-png", "grey-jpeg", "cmyk-jpeg",
                                  "grey16-png", "rgb-tiff", "palette-gif", "la-png", "webp", "bilevel-png"])
def test_every_pixel_format_comes_out_8_bit_rgb_and_upright(tmp_path, engine, kind):
    upright = quadrants(800, 600)
    fmt = {"palette-png": "png", "palette-transparent-png": "png", "grey-jpeg": "jpg", "cmyk-jpeg": "jpg",
           "grey16-png": "png", "rgb-tiff": "tif", "palette-gif": "gif", "la-png": "png", "webp": "webp",
           "bilevel-png": "png"}[kind]
    if kind == "palette-png":
        data = encode(upright.convert("P", palette=PIL_Image.Palette.ADAPTIVE, colors=8), "PNG")
    elif kind == "palette-transparent-png":
        image = upright.convert("P", palette=PIL_Image.Palette.ADAPTIVE, colors=8)
        data = encode(image, "PNG", transparency=255)
    elif kind == "grey-jpeg":
        data = encode(upright.convert("L"), quality=90)
    elif kind == "cmyk-jpeg":
        data = encode(upright.convert("CMYK"), quality=95)
    elif kind == "grey16-png":
        grey = upright.convert("L").point(lambda v: v * 257, "I").convert("I;16")
        data = encode(grey, "PNG")
    elif kind == "rgb-tiff":
        data = encode(upright, "TIFF", compression="tiff_lzw")
    elif kind == "palette-gif":
        data = encode(upright.convert("P", palette=PIL_Image.Palette.ADAPTIVE, colors=8), "GIF")
    elif kind == "la-png":
        data = encode(upright.convert("LA"), "PNG")
    elif kind == "bilevel-png":
        data = encode(upright.convert("1"), "PNG")
    else:
        data = encode(upright, "WEBP", quality=90)
    result = vt.make_thumbnails(data, None, fmt, SHA, str(tmp_path), engine=engine)
    assert result.status == "ok", result.reason
    thumbs = on_disk(tmp_path)
    assert {n: i.size for n, i in thumbs.items()} == {"medium": (800, 600), "small": (500, 375), "tiny": (150, 113)}
    for name, image in thumbs.items():
        assert image.mode == "RGB", name
        if kind == "cmyk-jpeg":
            assert_upright_by_hue(image, f"{kind} {name}")
        elif kind in ("palette-png", "palette-transparent-png", "rgb-tiff", "palette-gif", "webp"):
            assert_upright(image, f"{kind} {name}")
        elif kind != "bilevel-png":  # greyscale: the quadrants differ in brightness, in the same places
            grey = upright.convert("L").resize(image.size)
            assert abs(image.convert("L").getpixel((5, 5)) - grey.getpixel((5, 5))) < 20, name


@pytest.mark.skipif(not HAVE_PYVIPS, reason="pyvips is needed to write 16-bit RGB and CMYK TIFF fixtures")
@pytest.mark.parametrize("kind", ["rgb16-png", "rgb16-tiff", "cmyk-tiff", "rgba16-png", "scrgb-float-tiff"])
def test_16_bit_and_cmyk_files_written_by_libvips(tmp_path, engine, kind):
    vips = vt._pyvips()  # pylint: disable=protected-access
    upright = quadrants(640, 480)
    image = vips.Image.new_from_memory(upright.tobytes(), 640, 480, 3, "uchar")
    if kind.startswith("rgb16") or kind == "rgba16-png":
        image = (image.cast("ushort") * 257).cast("ushort").copy(interpretation="rgb16")
        if kind == "rgba16-png":
            image = image.bandjoin(65535).cast("ushort").copy(interpretation="rgb16")
        data = image.pngsave_buffer() if kind.endswith("png") else image.tiffsave_buffer()
        fmt = kind.rsplit("-", 1)[1]
    elif kind == "scrgb-float-tiff":  # linear-light float, as HDR tools write
        data = image.colourspace("scrgb").tiffsave_buffer()
        fmt = "tif"
    else:
        image = image.icc_transform("cmyk", embedded=False, input_profile="srgb")
        data = image.tiffsave_buffer()
        fmt = "tif"
    result = vt.make_thumbnails(data, None, fmt, SHA, str(tmp_path), engine=engine)
    if engine == "pillow" and kind == "scrgb-float-tiff" and result.status == "failed":
        pytest.xfail(f"Pillow cannot read this variant: {result.reason}")
    assert result.status == "ok", result.reason
    for name, thumb in on_disk(tmp_path).items():
        assert thumb.mode == "RGB"
        (assert_upright_by_hue if kind == "cmyk-tiff" else assert_upright)(thumb, f"{kind} {name}")


# ------------------------------------------------------------------------------------ HEIC
def heic_bytes(image, orientation: int | None = None, **options) -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    extra = {"exif": exif_bytes(orientation, make="Apple", model="iPhone 13")} if orientation else {}
    return encode(image, "HEIF", quality=70, **extra, **options)


def test_heic_rotated_by_its_container_is_not_rotated_again(tmp_path, engine):
    """pillow-heif writes irot from EXIF Orientation 6, as an iPhone does: the two must count once."""
    data = heic_bytes(stored_as(quadrants(1600, 1200), 6), orientation=6)
    result = vt.make_thumbnails(data, None, "heic", SHA, str(tmp_path), engine=engine)
    assert result.status == "ok", result.reason
    assert result.engine == ("pillow-heif+pyvips" if engine == "pyvips" else "pillow-heif")
    assert (result.width, result.height) == (1600, 1200)
    thumbs = on_disk(tmp_path)
    assert {n: i.size for n, i in thumbs.items()} == {"medium": (1440, 1080), "small": (500, 375),
                                                      "tiny": (150, 113)}
    for name, image in thumbs.items():
        assert_upright(image, name)


def test_heic_portrait_and_display_p3(tmp_path, engine):
    icc = _display_p3_profile()
    colour = (40, 200, 60)
    image = PIL_Image.new("RGB", (600, 800), colour)
    result = vt.make_thumbnails(heic_bytes(image, icc_profile=icc), None, "heic", SHA, str(tmp_path), engine=engine)
    assert {n: s[:2] for n, s in result.sizes.items()} == {"medium": (600, 800), "small": (375, 500),
                                                           "tiny": (113, 150)}
    assert_colour(on_disk(tmp_path)["small"].getpixel((50, 50)), _srgb_reference(colour, icc), tolerance=10)


def test_truncated_heic_fails_although_libheif_would_decode_it(tmp_path):
    data = heic_bytes(quadrants(1024, 768))
    result = vt.make_thumbnails(data[: len(data) * 2 // 3], None, "heic", SHA, str(tmp_path))
    assert result.status == "failed"
    assert "truncated" in result.reason
    assert files_under(tmp_path) == []
    ok, reason = vt.validate_image(data[:-100], "heic")
    assert not ok and "truncated" in reason
    assert vt.validate_image(data, "heic") == (True, None)


# ------------------------------------------------------------------------------------ bad input
def _bad_inputs() -> dict:
    noise = random.Random(4).randbytes
    good = encode(quadrants(1024, 768), quality=90, exif=exif_bytes(1))
    return {
        "empty": (b"", "jpg"),
        "truncated-jpeg": (good[: len(good) // 2], "jpg"),
        "random-bytes-as-jpg": (noise(50_000), "jpg"),
        "text-as-png": (b"hello, this is not a picture\n" * 50, "png"),
        "truncated-png": (encode(quadrants(800, 600), "PNG")[:900], "png"),
        "header-only-jpeg": (good[:700], "jpg"),
        "random-bytes-as-heic": (b"\0\0\0\x18ftypheic" + noise(20_000), "heic"),
        # A box whose type holds a newline: the reason must stay one line whatever the bytes.
        "garbage-box-heic": (b"\0\0\0\x10ftypheic\0\0\0\0" + b"\xff\x00\x00\x00\n\xd7\xb21" + b"\0" * 100,
                             "heic"),
    }


@pytest.mark.parametrize("case", list(_bad_inputs()))
def test_bad_input_fails_with_a_reason_and_writes_nothing(tmp_path, engine, case):
    data, fmt = _bad_inputs()[case]
    result = vt.make_thumbnails(data, None, fmt, SHA, str(tmp_path), engine=engine)
    assert result.status == "failed", f"{case}: {result}"
    assert result.reason and "\n" not in result.reason and len(result.reason) < 400
    assert result.sizes == {}
    assert files_under(tmp_path) == []
    ok, reason = vt.validate_image(data, fmt)
    assert not ok and reason, case


@pytest.mark.parametrize("fmt", ["jpg", "png", "heic"])
def test_damaged_files_never_raise_and_never_leave_partial_files(tmp_path, engine, fmt):
    """Cut, overwritten and shuffled bytes: every outcome is ok or a one-line failure, and a
    failure writes nothing."""
    upright = quadrants(320, 240)
    good = {"jpg": lambda: encode(upright, quality=90, exif=exif_bytes(6)), "png": lambda: encode(upright, "PNG"),
            "heic": lambda: heic_bytes(upright, orientation=6)}[fmt]()
    rnd = random.Random(fmt)
    for index in range(60):
        data = bytearray(good)
        action = index % 3
        if action == 0:
            data = data[:rnd.randrange(1, len(data))]
        elif action == 1:
            for _hit in range(rnd.randrange(1, 20)):
                data[rnd.randrange(len(data))] = rnd.randrange(256)
        else:
            start = rnd.randrange(len(data))
            data[start:start + 64] = rnd.randbytes(64)
        root = tmp_path / str(index)
        result = vt.make_thumbnails(bytes(data), None, fmt, SHA, str(root), engine=engine)
        assert result.status in ("ok", "failed"), result
        if result.status == "failed":
            assert result.reason and "\n" not in result.reason, result.reason
            assert files_under(root) == [], (index, result.reason)
        else:
            assert set(vt.missing_thumbnails(str(root), SHA)) == set(), index


def test_a_key_that_is_not_a_sha256_never_becomes_a_path(tmp_path):
    result = vt.make_thumbnails(encode(quadrants(300, 200), quality=90), None, "jpg", "../../etc/x", str(tmp_path))
    assert result.status == "failed" and "sha256" in result.reason
    assert files_under(tmp_path) == []
    with pytest.raises(ValueError):
        vt.thumbnail_paths(str(tmp_path), "AB" * 32)


def test_a_missing_file_fails_with_its_path(tmp_path):
    result = vt.make_thumbnails(None, str(tmp_path / "gone.jpg"), "jpg", SHA, str(tmp_path / "thumbs"))
    assert result.status == "failed" and "gone.jpg" in result.reason


def test_validate_image_accepts_good_files(engine):
    del engine  # validate_image picks pyvips when installed; the parametrisation keeps coverage symmetric
    assert vt.validate_image(encode(quadrants(400, 300), quality=90), "jpg") == (True, None)
    assert vt.validate_image(encode(quadrants(400, 300), "PNG"), "png") == (True, None)


def test_unknown_formats_are_skipped_with_a_reason(tmp_path):
    result = vt.make_thumbnails(b"%PDF-1.7 whatever", None, "pdf", SHA, str(tmp_path))
    assert result.status == "skipped" and "pdf" in result.reason


# ------------------------------------------------------------------------------------ files
def test_files_are_sharded_replaced_atomically_and_leave_no_temp_files(tmp_path, engine):
    data = encode(quadrants(2000, 1500), quality=90)
    metadata = {"taken_at": "2023-05-01T10:00:00+02:00", "make": "Canon", "width": 2000, "height": 1500}
    first = vt.make_thumbnails(data, None, "jpg", SHA, str(tmp_path), metadata=metadata, engine=engine)
    again = vt.make_thumbnails(data, None, "jpg", SHA, str(tmp_path), metadata=metadata, engine=engine)
    assert first.sizes == again.sizes
    assert files_under(tmp_path) == [f"{kind}/{SHA[:2]}/{SHA}.{'json' if kind == 'metadata' else 'jpg'}"
                                     for kind in ("medium", "metadata", "small", "tiny")]
    document = json.loads((tmp_path / "metadata" / SHA[:2] / f"{SHA}.json").read_text())
    assert document["taken_at"] == "2023-05-01T10:00:00+02:00" and document["make"] == "Canon"
    assert document["sha256"] == SHA and document["settings"] == vt.SETTINGS
    assert document["thumbnails"]["small"] == {"width": 500, "height": 375, "bytes": first.sizes["small"][2]}
    assert vt.missing_thumbnails(str(tmp_path), SHA) == []
    os.unlink(vt.thumbnail_paths(str(tmp_path), SHA)["tiny"])
    assert vt.missing_thumbnails(str(tmp_path), SHA) == ["tiny"]


def test_write_false_writes_nothing(tmp_path, engine):
    result = vt.make_thumbnails(encode(quadrants(900, 600), quality=90), None, "jpg", SHA, str(tmp_path / "t"),
                                write=False, engine=engine)
    assert result.status == "ok" and result.sizes["medium"][:2] == (900, 600)
    assert not (tmp_path / "t").exists()


def test_a_failed_write_reports_an_error_not_a_bad_file_and_leaves_no_partial_file(tmp_path, monkeypatch):
    data = encode(quadrants(900, 600), quality=90)
    real_replace, calls = os.replace, []

    def flaky_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(vt.os, "replace", flaky_replace)
    result = vt.make_thumbnails(data, None, "jpg", SHA, str(tmp_path))
    # "error", not "failed": the image decoded, the disk is full; nothing about the file is wrong
    assert result.status == "error" and "No space left on device" in result.reason
    leftovers = [name for name in files_under(tmp_path) if ".tmp-" in name]
    assert leftovers == []
    # What is there is whole: the medium size renamed into place before the failure.
    for image in on_disk(tmp_path).values():
        assert image.size == (900, 600)


def test_an_unwritable_thumbs_root_is_a_clear_error_not_a_bad_file(tmp_path):
    blocker = tmp_path / "thumbs"
    blocker.write_text("a file where the directory should be")
    result = vt.make_thumbnails(encode(quadrants(300, 200), quality=90), None, "jpg", SHA, str(blocker))
    assert result.status == "error" and str(blocker) in result.reason


@pytest.mark.parametrize("stage", ["_encode_all", "_write_all"])
@pytest.mark.parametrize("exc", [MemoryError, RuntimeError("encoder broke")])
def test_memory_and_encoder_errors_after_the_decode_are_errors_not_bad_files(tmp_path, monkeypatch, stage, exc):
    def broken(*_args):
        raise exc

    monkeypatch.setattr(vt, stage, broken)
    result = vt.make_thumbnails(encode(quadrants(300, 200), quality=90), None, "jpg", SHA, str(tmp_path))
    assert result.status == "error" and result.reason


def test_a_real_decode_failure_is_failed(tmp_path):
    result = vt.make_thumbnails(b"\xff\xd8\xff\xe0" + bytes(200), None, "jpg", SHA, str(tmp_path))
    assert result.status == "failed"


def test_path_input_is_read_when_no_bytes_are_given(tmp_path, engine):
    source = tmp_path / "IMG_0001.JPG"
    source.write_bytes(encode(stored_as(quadrants(1600, 1200), 8), quality=90, exif=exif_bytes(8)))
    before = source.stat()
    result = vt.make_thumbnails(None, str(source), "jpg", SHA, str(tmp_path / "thumbs"), engine=engine)
    assert result.status == "ok" and (result.width, result.height) == (1600, 1200)
    assert_upright(on_disk(tmp_path / "thumbs")["small"])
    after = source.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_the_module_imports_and_degrades_without_any_image_library(tmp_path):
    code = (
        "import sys\n"
        "for name in ('PIL', 'PIL.Image', 'pyvips', 'pillow_heif'): sys.modules[name] = None\n"
        "from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import thumbnails as vt\n"
        "r = vt.make_thumbnails(b'\\xff\\xd8\\xff' + b'x' * 100, None, 'jpg', 'ab' * 32, sys.argv[1])\n"
        "print(r.status + '|' + r.reason)\n"
        "print(vt.SETTINGS, vt.thumbnail_paths('/t', 'ab' * 32)['tiny'])\n"
        "print(vt.validate_image(b'\\xff\\xd8\\xff' + b'x' * 100, 'jpg'))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                               check=True, env={**os.environ, "PYTHONPATH": str(REPO / ".collections")})
    status_line, settings_line, validate_line = completed.stdout.splitlines()
    assert status_line.startswith("skipped|") and "not installed" in status_line
    assert settings_line.endswith(f"/t/tiny/ab/{'ab' * 32}.jpg")
    # Unable to check is not "corrupt": an ingest without Pillow must not reject every photo.
    assert validate_line.startswith("(True, 'not checked")


# ------------------------------------------------------------------------------------ video
def make_video(path: Path, seconds: float, size="320x240", rotate: int | None = None) -> Path:
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        pytest.skip("ffmpeg is not installed (scripts/test-deps.sh installs it)")
    argv = [ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
            "-i", f"testsrc=size={size}:rate=10:duration={seconds}", "-pix_fmt", "yuv420p"]
    if rotate is None:
        subprocess.run(argv + [str(path)], check=True, timeout=60)
        return path
    plain = path.with_name("plain-" + path.name)
    subprocess.run(argv + [str(plain)], check=True, timeout=60)
    # ffmpeg 5 writes the rotation (display matrix) only when copying the stream.
    subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-i", str(plain), "-c", "copy",
                    "-metadata:s:v:0", f"rotate={rotate}", str(path)], check=True, timeout=60)
    return path


@pytest.mark.parametrize("seconds", [3, 0.3])
def test_video_gets_a_poster_frame(tmp_path, seconds):
    video = make_video(tmp_path / "clip.mp4", seconds)
    result = vt.make_thumbnails(None, str(video), "mp4", SHA, str(tmp_path / "thumbs"),
                                metadata={"duration": seconds})
    assert result.status == "ok", result.reason
    assert result.engine == "ffmpeg"
    assert {n: s[:2] for n, s in result.sizes.items()} == {"medium": (320, 240), "small": (320, 240),
                                                           "tiny": (150, 113)}
    document = json.loads(Path(vt.thumbnail_paths(str(tmp_path / "thumbs"), SHA)["metadata"]).read_text())
    assert document["duration"] == seconds


def test_video_rotation_is_applied_to_the_poster(tmp_path):
    video = make_video(tmp_path / "portrait.mov", 2, size="640x360", rotate=90)
    result = vt.make_thumbnails(None, str(video), "mov", SHA, str(tmp_path / "thumbs"))
    assert result.status == "ok", result.reason
    assert result.sizes["medium"][:2] == (360, 640)


def test_video_from_bytes_and_corrupt_video(tmp_path):
    video = make_video(tmp_path / "clip.mp4", 2)
    result = vt.make_thumbnails(video.read_bytes(), None, "mp4", SHA, str(tmp_path / "thumbs"))
    assert result.status == "ok", result.reason
    broken = vt.make_thumbnails(video.read_bytes()[:2000], None, "mp4", SHA, str(tmp_path / "broken"))
    assert broken.status == "failed" and "ffmpeg" in broken.reason
    assert files_under(tmp_path / "broken") == []


def test_video_without_ffmpeg_is_skipped_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(vt.shutil, "which", lambda name: None)
    result = vt.make_thumbnails(None, str(tmp_path / "whatever.mov"), "mov", SHA, str(tmp_path),
                                metadata={"taken_at": "2024-01-01T00:00:00"})
    assert result.status == "skipped" and result.reason.startswith("ffmpeg is not installed")
    # No thumbnails, but the metadata for browsers is there and says why.
    assert files_under(tmp_path) == [f"metadata/{SHA[:2]}/{SHA}.json"]
    document = json.loads((tmp_path / "metadata" / SHA[:2] / f"{SHA}.json").read_text())
    assert document["thumbnail_status"] == "skipped" and document["taken_at"] == "2024-01-01T00:00:00"


# ------------------------------------------------------------------------------------ RAW
def tiff_raw_with_preview(preview: bytes, orientation: int = 1, big_endian: bool = False,
                          sensor_data: bytes | None = None) -> bytes:
    """A minimal TIFF-based RAW: IFD0 (orientation, SubIFD pointer; with ``sensor_data``, also a
    compression-6 strip holding it, as CR2 keeps its lossless-JPEG sensor data) -> a SubIFD whose
    JPEGInterchangeFormat is the preview (as DNG and NEF keep theirs)."""
    e = ">" if big_endian else "<"
    ifd0 = [(0x0103, 3, 1, "compression"), (0x0111, 4, 1, "sensor"), (0x0112, 3, 1, "orientation"),
            (0x0117, 4, 1, "sensor_length"), (0x014A, 4, 1, "subifd")]
    if sensor_data is None:
        ifd0 = [entry for entry in ifd0 if entry[0] in (0x0112, 0x014A)]
    sub = [(0x00FE, 4, 1, "one"), (0x0201, 4, 1, "preview"), (0x0202, 4, 1, "preview_length")]
    sub_offset = 8 + 2 + 12 * len(ifd0) + 4
    preview_offset = sub_offset + 2 + 12 * len(sub) + 4
    sensor_offset = preview_offset + len(preview)
    values = {"compression": 6, "orientation": orientation, "subifd": sub_offset, "one": 1,
              "preview": preview_offset, "preview_length": len(preview), "sensor": sensor_offset,
              "sensor_length": len(sensor_data or b"")}

    def ifd(entries):
        out = struct.pack(e + "H", len(entries))
        for tag, kind, count, key in entries:
            packed = struct.pack(e + "HH", values[key], 0) if kind == 3 else struct.pack(e + "I", values[key])
            out += struct.pack(e + "HHI", tag, kind, count) + packed
        return out + struct.pack(e + "I", 0)

    header = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8)
    return header + ifd(ifd0) + ifd(sub) + preview + (sensor_data or b"")


@pytest.mark.parametrize("big_endian", [False, True])
def test_raw_uses_its_embedded_preview_turned_upright(tmp_path, engine, big_endian):
    preview = encode(stored_as(quadrants(1600, 1200), 6), quality=90)  # the preview has no EXIF of its own
    data = tiff_raw_with_preview(preview, orientation=6, big_endian=big_endian)
    result = vt.make_thumbnails(data, None, "dng", SHA, str(tmp_path), engine=engine)
    assert result.status == "ok", result.reason
    assert result.sizes["medium"][:2] == (1440, 1080)
    for name, image in on_disk(tmp_path).items():
        assert_upright(image, name)


def test_raw_sensor_data_in_lossless_jpeg_is_not_taken_for_the_preview(tmp_path, engine):
    preview = encode(quadrants(1600, 1200), quality=90)
    lossless = b"\xff\xd8\xff\xc3\x00\x11\x0e" + random.Random(3).randbytes(len(preview) * 3)  # SOF3, bigger than the preview
    data = tiff_raw_with_preview(preview, sensor_data=lossless)
    result = vt.make_thumbnails(data, None, "cr2", SHA, str(tmp_path), engine=engine)
    assert result.status == "ok", result.reason
    assert result.sizes["medium"][:2] == (1440, 1080)
    assert_upright(on_disk(tmp_path)["small"])


def test_raw_without_a_preview_is_skipped_with_the_reason(tmp_path):
    data = tiff_raw_with_preview(b"not a jpeg at all" * 10)
    result = vt.make_thumbnails(data, None, "nef", SHA, str(tmp_path), metadata={"make": "Nikon"})
    assert result.status == "skipped" and "preview" in result.reason
    result = vt.make_thumbnails(b"\0" * 200, None, "cr3", SHA, str(tmp_path))
    assert result.status == "skipped" and "preview" in result.reason


# ------------------------------------------------------------------------------------ real samples
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"sample corpus not found at {SAMPLES}")


def _exif_upright_size(path: Path) -> tuple[int, int]:
    with PIL_Image.open(path) as image:
        return ImageOps.exif_transpose(image).size


@needs_samples
@pytest.mark.parametrize("name", sorted(p.name for p in (SAMPLES / "jpg" / "orientation").glob("*.jpg"))
                         if (SAMPLES / "jpg" / "orientation").is_dir() else ["absent"])
def test_real_orientation_samples_come_out_upright(tmp_path, engine, name):
    path = SAMPLES / "jpg" / "orientation" / name
    result = vt.make_thumbnails(None, str(path), "jpg", SHA, str(tmp_path), engine=engine)
    assert result.status == "ok", result.reason
    # The files are named for the way they should look: landscape_N / portrait_N.
    width, height = result.sizes["medium"][:2]
    assert (width > height) == name.startswith("landscape"), f"{name}: {width}x{height}"
    assert (width, height) == _exif_upright_size(path)
    # Same picture as Pillow's exif_transpose of the full image (catches mirrored or 180-degree errors).
    with PIL_Image.open(path) as original:
        reference = _to_srgb(ImageOps.exif_transpose(original).convert("RGB"), original.info.get("icc_profile"))
        reference = reference.resize((50, 50))
    ours = on_disk(tmp_path)["medium"].resize((50, 50))
    difference = sum(abs(a - b) for p, q in zip(reference.get_flattened_data(), ours.get_flattened_data()) for a, b in zip(p, q))
    assert difference / (50 * 50 * 3) < 12, f"{name}: mean difference {difference / 7500:.1f}"


@needs_samples
def test_every_real_jpeg_makes_thumbnails_except_the_corrupt_one(tmp_path, engine):
    failures = {}
    for path in sorted((SAMPLES / "jpg").rglob("*.jpg")):
        result = vt.make_thumbnails(None, str(path), "jpg", SHA, str(tmp_path), write=False, engine=engine)
        if result.status != "ok":
            failures[path.name] = result.reason
            continue
        assert result.sizes["tiny"][:2] == vt.fit_within(*_exif_upright_size(path), 150, 150), path.name
    if engine == "pyvips":
        # libvips reports the damaged entropy data that libjpeg only warns about (Pillow decodes it grey).
        assert list(failures) == ["corrupted.jpg"], failures
        assert "Corrupt JPEG data" in failures["corrupted.jpg"]
    else:
        assert set(failures) <= {"corrupted.jpg"}, failures


@needs_samples
def test_real_iphone_heic_is_upright_once(tmp_path, engine):
    pillow_heif = pytest.importorskip("pillow_heif")
    path = SAMPLES / "heic" / "mobile" / "iphone_13_pro_max.HEIC"
    result = vt.make_thumbnails(None, str(path), "heic", SHA, str(tmp_path), engine=engine)
    assert result.status == "ok", result.reason
    # Stored 4032x3024 with irot (and EXIF Orientation 6, the same turn): a portrait, turned once.
    assert (result.width, result.height) == (3024, 4032)
    assert {n: s[:2] for n, s in result.sizes.items()} == {"medium": (810, 1080), "small": (375, 500),
                                                           "tiny": (113, 150)}
    # The camera's own 320x240 preview (libheif turns it the same way) shows the same picture.
    pillow_heif.register_heif_opener()
    with PIL_Image.open(path) as image:
        image.draft(None, (150, 150))
        preview = image.convert("RGB")
    assert preview.size == (240, 320)
    ours = on_disk(tmp_path)["tiny"].resize((30, 40))
    theirs = preview.resize((30, 40))
    difference = sum(abs(a - b) for p, q in zip(theirs.get_flattened_data(), ours.get_flattened_data()) for a, b in zip(p, q))
    assert difference / (30 * 40 * 3) < 15


@needs_samples
@pytest.mark.parametrize("relative, upright_size", [
    ("heic/IMG_5195.HEIC", (2566, 3313)),
    ("heic/samplefilehub.heif", (640, 426)),
    # This file's container says "rotate 270" while its EXIF says "normal" (and its pixels are stored
    # upright). HEIF makes the container transform normative and EXIF informative; libheif, libvips
    # (Immich) and Apple follow the container, so our thumbnails match what the family sees there.
    ("heic/mobile/HMD_Nokia_8.3_5G.heif", (3456, 4608)),
    ("heic/mobile/HMD_Nokia_8.3_5G_hdr.heif", (4608, 3456)),
])
def test_real_heif_samples(tmp_path, relative, upright_size):
    result = vt.make_thumbnails(None, str(SAMPLES / relative), "heic", SHA, str(tmp_path), write=False)
    assert result.status == "ok", result.reason
    assert (result.width, result.height) == upright_size
    assert result.sizes["small"][:2] == vt.fit_within(*upright_size, 500, 500)
