"""Build small photo vaults for tests without the ingest engine.

Writes originals where ingest puts them (``originals/YYYY/MM/DD/<sha256>.<ext>`` plus an XMP
sidecar) and the matching catalog rows with ``Catalog.add_asset``, so verification, thumbnails
and reports can be tested on real files with real hashes.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.formats import FORMATS as MEDIA_FORMATS

XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:sovereign="https://sovereign.cloud/ns/1.0/"
    sovereign:SHA256="{sha}"/>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""

# The ingest engine's own names: extension -> (format id, media type).
BY_EXT = {ext: (fmt, media_type) for fmt, (ext, media_type, _mime) in MEDIA_FORMATS.items()}


def add_original(vault: Path, catalog, data: bytes, ext: str = "jpg", taken_at: str = "2023-05-01T10:00:00",
                 sidecar: bool = True, **extra) -> dict:
    """Write ``data`` as an original of ``vault`` and add its asset row; returns the record."""
    sha = hashlib.sha256(data).hexdigest()
    day = taken_at[:10].replace("-", "/")
    rel = f"originals/{day}/{sha}.{ext}"
    path = vault / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if sidecar:
        path.with_suffix(".xmp").write_text(XMP.format(sha=sha), encoding="utf-8")
    record = {"sha256": sha, "sha1": hashlib.sha1(data).hexdigest(), "size": len(data),  # nosec: Immich look-up key
              "format": BY_EXT.get(ext, (ext, "image"))[0], "ext": ext, "media_type": BY_EXT.get(ext, (ext, "image"))[1],
              "taken_at": taken_at, "date_source": "exif", "rel_path": rel,
              "sidecar_rel_path": rel.rsplit(".", 1)[0] + ".xmp", "ingested_at": "2026-01-01T00:00:00Z"}
    record.update(extra)
    catalog.add_asset(record)
    return record


def jpeg_bytes(width: int = 640, height: int = 480, color: tuple = (200, 120, 40), orientation: int | None = None,
               seed: int = 0) -> bytes:
    """A real JPEG (Pillow), optionally with an EXIF orientation tag; ``seed`` makes the bytes unique."""
    from PIL import Image  # pylint: disable=import-outside-toplevel

    image = Image.new("RGB", (width, height), color)
    image.putpixel((seed % width, (seed // width) % height), (seed % 256, 0, 255 - seed % 256))
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    image.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
