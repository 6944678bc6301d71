# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The vault's XMP sidecars (``<sha256>.xmp`` beside each original), and reading XMP in general.

Immich, digiKam and PhotoPrism read these sidecars, and Immich gives them priority over the
file's own EXIF, so a sidecar must never contradict the file: its values come from the same
parse as the catalog, orientation is never written, and a date is written either from the file
itself or, when the file has no date of its own, from the fallback that the catalog recorded
(with ``sovereign:DateSource`` saying which).

The reader (:func:`read_sidecar`) returns everything the writer takes, so a sidecar can be
updated (a new original name, a live-photo pair) by read, change, write; and the catalog can be
rebuilt from the vault alone.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

NAMESPACES = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "sovereign": "http://ns.sovereign.cloud/vault/1.0/",
}
_PREFIX_OF = {uri: prefix for prefix, uri in NAMESPACES.items()}
_RDF = "{%s}" % NAMESPACES["rdf"]
TOOLKIT = "sovereign.cloud vault 1"
MAX_XMP_BYTES = 2 * 1024 * 1024
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


class XmpError(Exception):
    """Not usable XMP (malformed, too large, or using XML features we refuse to expand)."""


def _safe_root(data: bytes) -> ET.Element:
    if len(data) > MAX_XMP_BYTES:
        raise XmpError(f"XMP larger than {MAX_XMP_BYTES} bytes")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise XmpError("XMP with a DOCTYPE or entity declarations is refused")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise XmpError(f"malformed XMP: {exc}") from exc


def _qualified(tag: str) -> str | None:
    """``{uri}Local`` -> ``prefix:Local`` for the namespaces we know (None for others)."""
    if not tag.startswith("{"):
        return None
    uri, _sep, local = tag[1:].partition("}")
    prefix = _PREFIX_OF.get(uri)
    return f"{prefix}:{local}" if prefix else None


def parse_xmp_properties(data: bytes) -> tuple[str | None, dict[str, list[str]]]:
    """Every simple property and array in every ``rdf:Description`` of an XMP document:
    (toolkit, {'exif:DateTimeOriginal': ['...'], 'dc:subject': ['a', 'b'], ...}).

    Accepts properties written as elements or as attributes, ``x:xmpmeta`` packets and
    icloudpd's ``x:xml_doc`` root."""
    root = _safe_root(data)
    toolkit = root.attrib.get("{adobe:ns:meta/}xmptk")
    props: dict[str, list[str]] = {}
    descriptions = [root] if root.tag == _RDF + "Description" else list(root.iter(_RDF + "Description"))
    if not descriptions and root.tag != _RDF + "RDF" and not list(root.iter(_RDF + "RDF")):
        raise XmpError("no rdf:RDF in this XMP")
    for description in descriptions[:64]:
        for attr, value in description.attrib.items():
            name = _qualified(attr)
            if name and not name.startswith("rdf:"):
                props.setdefault(name, []).append(value)
        for child in list(description)[:512]:
            name = _qualified(child.tag)
            if not name:
                continue
            items = list(child.iter(_RDF + "li"))
            if items:
                props.setdefault(name, []).extend((li.text or "").strip() for li in items[:1000])
            else:
                props.setdefault(name, []).append((child.text or "").strip())
    return toolkit, props


class VaultSidecar:  # pylint: disable=too-many-instance-attributes
    """The content of one vault sidecar."""

    FIELDS = ("sha256", "original_names", "date", "date_source", "gps_lat", "gps_lon", "gps_alt", "make",
              "model", "content_identifier", "live_pair_sha256", "icloud_asset_id", "icloud_master_id",
              "title", "description", "keywords", "rating")

    def __init__(self, **values) -> None:
        unknown = set(values) - set(self.FIELDS)
        if unknown:
            raise TypeError(f"unknown sidecar fields: {sorted(unknown)}")
        self.sha256: str = values.get("sha256") or ""
        self.original_names: list[str] = list(values.get("original_names") or [])
        self.date: str | None = values.get("date")
        self.date_source: str | None = values.get("date_source")
        self.gps_lat: float | None = values.get("gps_lat")
        self.gps_lon: float | None = values.get("gps_lon")
        self.gps_alt: float | None = values.get("gps_alt")
        self.make: str | None = values.get("make")
        self.model: str | None = values.get("model")
        self.content_identifier: str | None = values.get("content_identifier")
        self.live_pair_sha256: str | None = values.get("live_pair_sha256")
        self.icloud_asset_id: str | None = values.get("icloud_asset_id")
        self.icloud_master_id: str | None = values.get("icloud_master_id")
        self.title: str | None = values.get("title")
        self.description: str | None = values.get("description")
        self.keywords: list[str] = list(values.get("keywords") or [])
        self.rating: int | None = values.get("rating")

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.FIELDS}

    def __eq__(self, other) -> bool:
        return isinstance(other, VaultSidecar) and self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    def add_names(self, names) -> bool:
        """Add original file names not yet recorded; True when something was added."""
        added = False
        for name in names:
            if name and name not in self.original_names:
                self.original_names.append(name)
                added = True
        return added


def xmp_coordinate(value: float, positive: str, negative: str) -> str:
    """Decimal degrees -> XMP GPSCoordinate ``DDD,MM.mmmmmmK`` (micro-minute precision)."""
    micro = round(abs(value) * 60 * 1_000_000)
    degrees, rest = divmod(micro, 60 * 1_000_000)
    return f"{degrees},{rest // 1_000_000:02d}.{rest % 1_000_000:06d}{negative if value < 0 else positive}"


def parse_xmp_coordinate(text: str | None) -> float | None:
    """``DDD,MM.mmmK`` / ``DDD,MM,SSK`` -> decimal degrees."""
    if not text:
        return None
    text = text.strip()
    ref = text[-1:].upper()
    if ref not in "NSEW" or not ref:
        return None
    try:
        parts = [float(p) for p in text[:-1].split(",")]
    except ValueError:
        return None
    value = parts[0] + (parts[1] / 60 if len(parts) > 1 else 0) + (parts[2] / 3600 if len(parts) > 2 else 0)
    return round(-value if ref in "SW" else value, 7)


def escape(text: str) -> str:
    """XML character data (xml.sax.saxutils would pull in urllib and http at import time)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quoteattr(text: str) -> str:
    return '"' + escape(text).replace('"', "&quot;") + '"'


def _text(value) -> str:
    return escape(_XML_ILLEGAL.sub("", str(value)))


def render_sidecar(sidecar: VaultSidecar) -> bytes:
    """A complete XMP packet (UTF-8) for ``sidecar``."""
    lines: list[str] = []

    def simple(name: str, value) -> None:
        if value is not None and value != "":
            lines.append(f"   <{name}>{_text(value)}</{name}>")

    def array(name: str, kind: str, values) -> None:
        values = [v for v in values if v]
        if values:
            items = "".join(f"\n     <rdf:li>{_text(v)}</rdf:li>" for v in values)
            lines.append(f"   <{name}>\n    <rdf:{kind}>{items}\n    </rdf:{kind}>\n   </{name}>")

    names = sidecar.original_names
    simple("xmpMM:PreservedFileName", names[0] if names else None)
    array("sovereign:OriginalFileNames", "Bag", names)
    if sidecar.date:
        simple("exif:DateTimeOriginal", sidecar.date)
        simple("photoshop:DateCreated", sidecar.date)
    if sidecar.gps_lat is not None and sidecar.gps_lon is not None:
        simple("exif:GPSLatitude", xmp_coordinate(sidecar.gps_lat, "N", "S"))
        simple("exif:GPSLongitude", xmp_coordinate(sidecar.gps_lon, "E", "W"))
        if sidecar.gps_alt is not None:
            simple("exif:GPSAltitude", f"{round(abs(sidecar.gps_alt) * 1000)}/1000")
            simple("exif:GPSAltitudeRef", 1 if sidecar.gps_alt < 0 else 0)
    simple("tiff:Make", sidecar.make)
    simple("tiff:Model", sidecar.model)
    if sidecar.title:
        lines.append(f"   <dc:title>\n    <rdf:Alt>\n     <rdf:li xml:lang=\"x-default\">{_text(sidecar.title)}"
                     "</rdf:li>\n    </rdf:Alt>\n   </dc:title>")
    if sidecar.description:
        lines.append(f"   <dc:description>\n    <rdf:Alt>\n     <rdf:li xml:lang=\"x-default\">"
                     f"{_text(sidecar.description)}</rdf:li>\n    </rdf:Alt>\n   </dc:description>")
    array("dc:subject", "Bag", sidecar.keywords)
    simple("xmp:Rating", sidecar.rating)
    simple("sovereign:SHA256", sidecar.sha256)
    simple("sovereign:DateSource", sidecar.date_source)
    simple("sovereign:ContentIdentifier", sidecar.content_identifier)
    simple("sovereign:LivePairSHA256", sidecar.live_pair_sha256)
    simple("sovereign:ICloudAssetId", sidecar.icloud_asset_id)
    simple("sovereign:ICloudMasterId", sidecar.icloud_master_id)
    declarations = "".join(f"\n    xmlns:{p}={quoteattr(uri)}" for p, uri in NAMESPACES.items() if p not in ("x", "rdf"))
    body = "\n".join(lines)
    text = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk={quoteattr(TOOLKIT)}>\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        f'  <rdf:Description rdf:about=""{declarations}>\n'
        f"{body}\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>\n')
    return text.encode("utf-8")


def read_sidecar(data: bytes) -> VaultSidecar:
    """Parse a vault sidecar written by :func:`render_sidecar` (or edited by another XMP tool)."""
    _toolkit, props = parse_xmp_properties(data)

    def one(name: str) -> str | None:
        values = props.get(name)
        return values[0] if values and values[0] != "" else None

    def number(name: str) -> float | None:
        value = one(name)
        if value is None:
            return None
        try:
            if "/" in value:
                num, den = value.split("/", 1)
                return float(num) / float(den) if float(den) else None
            return float(value)
        except ValueError:
            return None

    names = props.get("sovereign:OriginalFileNames") or ([one("xmpMM:PreservedFileName")]
                                                         if one("xmpMM:PreservedFileName") else [])
    alt = number("exif:GPSAltitude")
    if alt is not None and one("exif:GPSAltitudeRef") == "1":
        alt = -alt
    rating = number("xmp:Rating")
    return VaultSidecar(
        sha256=one("sovereign:SHA256") or "",
        original_names=[n for n in names if n],
        date=one("exif:DateTimeOriginal") or one("photoshop:DateCreated"),
        date_source=one("sovereign:DateSource"),
        gps_lat=parse_xmp_coordinate(one("exif:GPSLatitude")),
        gps_lon=parse_xmp_coordinate(one("exif:GPSLongitude")),
        gps_alt=round(alt, 3) if alt is not None else None,
        make=one("tiff:Make"), model=one("tiff:Model"),
        content_identifier=one("sovereign:ContentIdentifier"),
        live_pair_sha256=one("sovereign:LivePairSHA256"),
        icloud_asset_id=one("sovereign:ICloudAssetId"),
        icloud_master_id=one("sovereign:ICloudMasterId"),
        title=one("dc:title"), description=one("dc:description"),
        keywords=[k for k in props.get("dc:subject", []) if k],
        rating=int(rating) if rating is not None else None,
    )


def _qname(name: str) -> str:
    prefix, _sep, local = name.partition(":")
    return "{%s}%s" % (NAMESPACES[prefix], local)


def _register_prefixes(data: bytes) -> None:
    """Keep the document's own namespace prefixes when it is written back."""
    import io  # pylint: disable=import-outside-toplevel
    for prefix, uri in NAMESPACES.items():
        ET.register_namespace(prefix, uri)
    try:
        for _event, (prefix, uri) in ET.iterparse(io.BytesIO(data), events=("start-ns",)):
            if prefix and not re.match(r"^ns\d+$", prefix) and uri not in _PREFIX_OF:
                ET.register_namespace(prefix, uri)
    except (ET.ParseError, ValueError):
        pass


def update_sidecar(data: bytes, add_names=(), live_pair_sha256: str | None = None) -> bytes | None:
    """Add original names and/or the live-photo pair to an existing sidecar, keeping everything
    else in it (tags, ratings or faces that digiKam or another tool wrote there). Returns the new
    document, or None when nothing had to change. Raises :class:`XmpError` when it does not parse."""
    root = _safe_root(data)
    _register_prefixes(data)
    descriptions = [root] if root.tag == _RDF + "Description" else list(root.iter(_RDF + "Description"))
    if not descriptions:
        rdf = root if root.tag == _RDF + "RDF" else next(iter(root.iter(_RDF + "RDF")), None)
        if rdf is None:
            raise XmpError("no rdf:RDF in this XMP")
        descriptions = [ET.SubElement(rdf, _RDF + "Description", {_RDF + "about": ""})]
    description = descriptions[0]
    changed = False
    current = read_sidecar(data)
    new_names = [n for n in dict.fromkeys(add_names) if n and n not in current.original_names]
    if new_names:
        changed = True
        if not current.original_names:
            _set_property(descriptions, "xmpMM:PreservedFileName", new_names[0])
        bag_parent = next((d.find(_qname("sovereign:OriginalFileNames")) for d in descriptions
                           if d.find(_qname("sovereign:OriginalFileNames")) is not None), None)
        if bag_parent is None:
            bag_parent = ET.SubElement(description, _qname("sovereign:OriginalFileNames"))
        bag = bag_parent.find(_RDF + "Bag")
        if bag is None:
            bag = ET.SubElement(bag_parent, _RDF + "Bag")
            for name in current.original_names:
                ET.SubElement(bag, _RDF + "li").text = name
        for name in new_names:
            ET.SubElement(bag, _RDF + "li").text = _XML_ILLEGAL.sub("", name)
    if live_pair_sha256 and current.live_pair_sha256 != live_pair_sha256:
        changed = True
        _set_property(descriptions, "sovereign:LivePairSHA256", live_pair_sha256)
    if not changed:
        return None
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n' + body
            + '\n<?xpacket end="w"?>\n').encode("utf-8")


def _set_property(descriptions, name: str, value: str) -> None:
    qualified = _qname(name)
    for description in descriptions:
        if qualified in description.attrib:
            description.set(qualified, value)
            return
        element = description.find(qualified)
        if element is not None:
            element.text = value
            return
    ET.SubElement(descriptions[0], qualified).text = value


def merge_sidecar(existing: bytes, ours: bytes) -> bytes | None:
    """Another tool's sidecar (digiKam, darktable) with our fields merged in: every property of
    ``ours`` (a :func:`render_sidecar` document) that ``existing`` does not hold is added to it;
    everything already there, ours or theirs, is kept as it is. Returns the new document, or None
    when nothing was missing. Raises :class:`XmpError` when ``existing`` does not parse."""
    root = _safe_root(existing)
    _register_prefixes(existing)
    descriptions = [root] if root.tag == _RDF + "Description" else list(root.iter(_RDF + "Description"))
    if not descriptions:
        rdf = root if root.tag == _RDF + "RDF" else next(iter(root.iter(_RDF + "RDF")), None)
        if rdf is None:
            raise XmpError("no rdf:RDF in this XMP")
        descriptions = [ET.SubElement(rdf, _RDF + "Description", {_RDF + "about": ""})]
    present = set()
    for description in descriptions:
        present.update(description.attrib)
        present.update(child.tag for child in description)
    ours_root = _safe_root(ours)
    added = False
    for description in ours_root.iter(_RDF + "Description"):
        for child in list(description):
            if child.tag not in present:
                descriptions[0].append(child)
                present.add(child.tag)
                added = True
    if not added:
        return None
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n' + body
            + '\n<?xpacket end="w"?>\n').encode("utf-8")
