"""The vault's XMP sidecars: valid XMP, faithful round trips, updates that keep other tools' data."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.xmp import (
    NAMESPACES, VaultSidecar, XmpError, parse_xmp_coordinate, parse_xmp_properties, read_sidecar, render_sidecar,
    update_sidecar, xmp_coordinate)
from support import media_factory as mf

FULL = VaultSidecar(
    sha256="ab" * 32, original_names=["IMG_0001.HEIC", "IMG_0001 (1).HEIC"], date="2023-05-01T12:34:56.123-05:00",
    date_source="exif", gps_lat=39.0513, gps_lon=-94.4799, gps_alt=-12.5, make="Apple", model="iPhone 13 Pro",
    content_identifier="CID-1", live_pair_sha256="cd" * 32, icloud_asset_id=None, icloud_master_id="id7:QVkzaFV",
    title="Lake & <mountains>", description="Summer", keywords=["holiday", "lake"], rating=5)


def test_rendered_sidecar_is_valid_xmp_with_one_description():
    root = ET.fromstring(render_sidecar(FULL))
    assert root.tag == "{adobe:ns:meta/}xmpmeta"
    descriptions = root.findall(f"./{{{NAMESPACES['rdf']}}}RDF/{{{NAMESPACES['rdf']}}}Description")
    assert len(descriptions) == 1
    assert descriptions[0].find(f"{{{NAMESPACES['exif']}}}DateTimeOriginal").text == "2023-05-01T12:34:56.123-05:00"


def test_round_trip_keeps_every_field():
    assert read_sidecar(render_sidecar(FULL)) == FULL


def test_minimal_sidecar_round_trip():
    minimal = VaultSidecar(sha256="ef" * 32, original_names=["scan.jpg"], date="2017-11-12T13:14:15+01:00",
                           date_source="mtime")
    assert read_sidecar(render_sidecar(minimal)) == minimal


def test_orientation_is_never_written():
    assert b"Orientation" not in render_sidecar(FULL)


def test_control_characters_in_values_cannot_break_the_xml():
    odd = VaultSidecar(sha256="00" * 32, original_names=["a\x01b.jpg"], make="Cam\x00era\x1f", model="M&M <1>")
    back = read_sidecar(render_sidecar(odd))
    assert back.make == "Camera" and back.model == "M&M <1>" and back.original_names == ["ab.jpg"]


@pytest.mark.parametrize("value, positive, negative, text", [
    (48.8584, "N", "S", "48,51.504000N"), (-33.8568, "N", "S", "33,51.408000S"),
    (-0.000001, "E", "W", "0,00.000060W"), (10.99999999999, "N", "S", "11,00.000000N"),
])
def test_gps_in_xmp_coordinate_form(value, positive, negative, text):
    assert xmp_coordinate(value, positive, negative) == text
    assert abs(parse_xmp_coordinate(text) - value) < 1e-7


def test_reading_refuses_entities_and_garbage():
    with pytest.raises(XmpError):
        parse_xmp_properties(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')
    with pytest.raises(XmpError):
        parse_xmp_properties(b"<x:xmpmeta")
    with pytest.raises(XmpError):
        parse_xmp_properties(b"<" + b"a" * (3 * 1024 * 1024) + b"/>")


def test_properties_as_attributes_and_icloudpd_documents():
    attrs = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
             b'<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
             b'exif:DateTimeOriginal="2020-01-02T03:04:05"/></rdf:RDF></x:xmpmeta>')
    assert parse_xmp_properties(attrs)[1]["exif:DateTimeOriginal"] == ["2020-01-02T03:04:05"]
    tool, props = parse_xmp_properties(mf.icloudpd_sidecar("2022-08-09T10:11:12+0200", 46.5, 6.6, "Lake"))
    assert tool.startswith("icloudpd")
    assert props["xmp:CreateDate"] == ["2022-08-09T10:11:12+0200"] and props["dc:title"] == ["Lake"]


def test_update_adds_names_and_pair_and_keeps_foreign_tags():
    ours = render_sidecar(FULL).decode()
    # digiKam adds its tags into the same Description
    edited = ours.replace("</rdf:Description>",
                          ' <digiKam:TagsList xmlns:digiKam="http://www.digikam.org/ns/1.0/"><rdf:Seq>'
                          "<rdf:li>Family/Grandma</rdf:li></rdf:Seq></digiKam:TagsList>\n  </rdf:Description>")
    updated = update_sidecar(edited.encode(), add_names=["IMG_0001 (1).HEIC", "copy.heic"],
                             live_pair_sha256="ee" * 32)
    assert updated is not None
    assert b"Family/Grandma" in updated and b"digiKam:TagsList" in updated
    back = read_sidecar(updated)
    assert back.original_names == ["IMG_0001.HEIC", "IMG_0001 (1).HEIC", "copy.heic"]
    assert back.live_pair_sha256 == "ee" * 32
    assert back.date == FULL.date and back.gps_lat == FULL.gps_lat
    assert update_sidecar(updated, add_names=["copy.heic"], live_pair_sha256="ee" * 32) is None


def test_update_of_a_sidecar_without_names_sets_the_preserved_name():
    bare = render_sidecar(VaultSidecar(sha256="11" * 32))
    back = read_sidecar(update_sidecar(bare, add_names=["a.jpg"]))
    assert back.original_names == ["a.jpg"]


@pytest.mark.skipif(not shutil.which("exiftool"), reason="exiftool is not installed (scripts/test-deps.sh installs it)")
def test_exiftool_reads_our_sidecar(tmp_path):
    path = tmp_path / "x.xmp"
    path.write_bytes(render_sidecar(FULL))
    out = json.loads(subprocess.run(["exiftool", "-j", "-n", "-XMP:all", str(path)], capture_output=True,
                                    text=True, check=True).stdout)[0]
    assert out["DateTimeOriginal"] == "2023:05:01 12:34:56.123-05:00"
    assert abs(out["GPSLatitude"] - 39.0513) < 1e-6 and abs(out["GPSLongitude"] + 94.4799) < 1e-6
    assert out["GPSAltitude"] == 12.5 and out["GPSAltitudeRef"] == 1
    assert (out["Make"], out["Model"], out["PreservedFileName"]) == ("Apple", "iPhone 13 Pro", "IMG_0001.HEIC")
