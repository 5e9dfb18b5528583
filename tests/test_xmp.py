"""XMP sidecars read back with exiftool: keywords merged with those already there, other
XMP content kept, the photos themselves never touched."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from photo_tagger.cli import main
from photo_tagger.core import labels as api
from photo_tagger.core.indexer import Indexer
from photo_tagger.core.store import Library
from photo_tagger.core.xmp import (
    SidecarError,
    export_xmp,
    merge_keywords,
    read_keywords,
    sidecar_path,
)
from photos import solid

EXIFTOOL = shutil.which("exiftool")
# The Makefile's test target installs exiftool; failing loudly beats skipping silently.
assert EXIFTOOL, "exiftool is missing: apt-get install libimage-exiftool-perl"


def exiftool(*args: str | Path) -> dict:
    out = subprocess.run([EXIFTOOL, "-j", "-q", *map(str, args)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)[0]


def subjects(sidecar: Path) -> list[str]:
    value = exiftool("-XMP-dc:Subject", sidecar).get("Subject", [])
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_sidecar_beside_the_photo(library: Library, fixres_model: Path,
                                      tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    photo = solid(photos / "IMG_1234.jpg", (200, 30, 30), fmt="JPEG")
    untagged = solid(photos / "IMG_1235.png", (30, 30, 200))
    before = digest(photo)
    Indexer(library, str(fixres_model)).index_folders([photos])
    api.tag_photo(library, photo, "plage")
    api.tag_photo(library, photo, "海滩 🐶")
    api.tag_photo(library, photo, "חוף")
    summary = export_xmp(library, photos)
    assert (summary.written, summary.failed) == (1, [])
    sidecar = photos / "IMG_1234.jpg.xmp"
    assert sidecar_path(photo) == sidecar
    assert sorted(subjects(sidecar)) == sorted(["plage", "海滩 🐶", "חוף"])
    assert not (photos / "IMG_1235.png.xmp").exists()  # no empty sidecars
    assert digest(photo) == before and untagged.exists()
    # A second export finds nothing to change and leaves the file alone.
    assert export_xmp(library, photos).unchanged == 1


def test_merges_with_existing_keywords_and_keeps_other_content(
        library: Library, fixres_model: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    photo = solid(photos / "IMG_1.png", (30, 180, 30))
    sidecar = photos / "IMG_1.png.xmp"
    subprocess.run([EXIFTOOL, "-q", "-XMP-dc:Subject=from digiKam", "-XMP-dc:Subject=beach",
                    "-XMP-dc:Subject=wrong", "-XMP-xmp:Rating=4", "-XMP-dc:Title=Holiday",
                    str(sidecar)], check=True)
    Indexer(library, str(fixres_model)).index_folders([photos])
    api.tag_photo(library, photo, "beach")
    api.tag_photo(library, photo, "sea")
    api.untag_photo(library, photo, "wrong")  # the user said no, and asks for it out too
    assert export_xmp(library, remove_rejected=True).written == 1
    assert subjects(sidecar) == ["from digiKam", "beach", "sea"]
    data = exiftool("-XMP:All", sidecar)
    assert data["Rating"] == 4 and data["Title"] == "Holiday"
    assert read_keywords(sidecar) == ["from digiKam", "beach", "sea"]


def test_lightroom_style_sidecar_is_used_when_present(
        library: Library, fixres_model: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    photo = solid(photos / "IMG_7.png", (30, 30, 200))
    lightroom = photos / "IMG_7.xmp"
    subprocess.run([EXIFTOOL, "-q", "-XMP-dc:Subject=lr", str(lightroom)], check=True)
    Indexer(library, str(fixres_model)).index_folders([photos])
    api.tag_photo(library, photo, "blue")
    export_xmp(library, photos)
    assert sidecar_path(photo) == lightroom
    assert subjects(lightroom) == ["lr", "blue"]
    assert not (photos / "IMG_7.png.xmp").exists()


def test_automatic_tags_are_exported_above_threshold_only(
        library: Library, fixres_model: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    photo = solid(photos / "a.png", (240, 240, 240))
    api.add_label(library, "snow", threshold=0.0)
    api.add_label(library, "dog", threshold=1.0)
    Indexer(library, str(fixres_model)).index_folders([photos])
    export_xmp(library, photos)
    assert subjects(photos / "a.png.xmp") == ["snow"]
    assert photo.exists()


def test_a_broken_sidecar_is_reported_and_left_alone(
        library: Library, fixres_model: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    bad = solid(photos / "bad.png", (200, 30, 30))
    good = solid(photos / "good.png", (30, 200, 30))
    (photos / "bad.png.xmp").write_text("<x:xmpmeta this is not xml")
    Indexer(library, str(fixres_model)).index_folders([photos])
    api.tag_photo(library, bad, "x")
    api.tag_photo(library, good, "y")
    summary = export_xmp(library, photos)
    assert summary.written == 1
    assert [(Path(p).name, "not valid XML" in r) for p, r in summary.failed] == [
        ("bad.png", True)]
    assert (photos / "bad.png.xmp").read_text() == "<x:xmpmeta this is not xml"
    assert subjects(photos / "good.png.xmp") == ["y"]


def test_merge_keeps_foreign_prefixes_and_writes_atomically(tmp_path: Path) -> None:
    sidecar = tmp_path / "a.jpg.xmp"
    # As darktable writes it: properties as attributes, its own namespace, no packet.
    sidecar.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:darktable="http://darktable.sf.net/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        '\n    xmp:Rating="2" darktable:xmp_version="5">\n'
        '   <dc:subject><rdf:Bag><rdf:li>k1</rdf:li></rdf:Bag></dc:subject>\n'
        '   <darktable:history><rdf:Seq><rdf:li darktable:operation="exposure"/></rdf:Seq>'
        '</darktable:history>\n'
        '  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n', encoding="utf-8")
    assert merge_keywords(sidecar, ["k2"], set()).written
    text = sidecar.read_text()
    assert "darktable:" in text and "ns0:" not in text
    assert 'darktable:operation="exposure"' in text and 'darktable:xmp_version="5"' in text
    assert subjects(sidecar) == ["k1", "k2"]
    assert exiftool("-XMP:Rating", sidecar)["Rating"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["a.jpg.xmp"]  # no temp file left
    assert not merge_keywords(sidecar, ["k1", "k2"], set()).written


# -- keywords other apps wrote ------------------------------------------------------------
DARKTABLE_SIDECAR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    '  <rdf:Description rdf:about="" xmlns:darktable="http://darktable.sf.net/"\n'
    '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
    '    xmlns:digiKam="http://www.digikam.org/ns/1.0/" darktable:xmp_version="5">\n'
    '   <dc:subject><rdf:Seq><rdf:li>beach</rdf:li><rdf:li>holiday</rdf:li></rdf:Seq>'
    '</dc:subject>\n'
    '   <digiKam:TagsList><rdf:Seq><rdf:li>Places/beach</rdf:li></rdf:Seq>'
    '</digiKam:TagsList>\n'
    '  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n')


def test_untag_keeps_keywords_other_apps_wrote(library: Library, fixres_model: Path,
                                               tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    photo = solid(photos / "IMG_2.png", (30, 180, 30))
    sidecar = photos / "IMG_2.png.xmp"
    sidecar.write_text(DARKTABLE_SIDECAR, encoding="utf-8")
    Indexer(library, str(fixres_model)).index_folders([photos])
    api.tag_photo(library, photo, "sea")
    api.untag_photo(library, photo, "beach")  # darktable's keyword: a rejection here only
    summary = export_xmp(library, photos)
    assert subjects(sidecar) == ["beach", "holiday", "sea"]
    assert (summary.written, summary.kept_foreign) == (1, 1)
    assert exiftool("-XMP-digiKam:TagsList", sidecar)["TagsList"] == "Places/beach"
    # digiKam then adds a keyword; exiftool rewrites the whole file its own way. What
    # photo-tagger wrote is still known as its own, so an untag takes it out.
    subprocess.run([EXIFTOOL, "-q", "-overwrite_original", "-XMP-dc:Subject+=dk",
                    str(sidecar)], check=True)
    api.untag_photo(library, photo, "sea")
    api.untag_photo(library, photo, "dk")
    assert export_xmp(library, photos).written == 1
    assert subjects(sidecar) == ["beach", "holiday", "dk"]
    # Asked explicitly, the untagged keywords go whoever wrote them.
    summary = export_xmp(library, photos, remove_rejected=True)
    assert (summary.written, summary.kept_foreign) == (1, 0)
    assert subjects(sidecar) == ["holiday"]
    assert exiftool("-XMP-digiKam:TagsList", sidecar)["TagsList"] == "Places/beach"


def test_remove_rejected_option_on_the_command_line(
        capsys: pytest.CaptureFixture[str], library: Library, fixres_model: Path,
        tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    photo = solid(photos / "IMG_3.png", (30, 180, 30))
    sidecar = photos / "IMG_3.png.xmp"
    sidecar.write_text(DARKTABLE_SIDECAR, encoding="utf-8")
    Indexer(library, str(fixres_model)).index_folders([photos])
    api.untag_photo(library, photo, "holiday")
    assert main(["export-xmp", str(photos)]) == 0
    out = capsys.readouterr().out
    assert "Kept 1 untagged keyword(s)" in out and "--remove-rejected" in out
    assert subjects(sidecar) == ["beach", "holiday"]
    assert main(["export-xmp", str(photos), "--remove-rejected", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kept_foreign"] == 0
    assert subjects(sidecar) == ["beach"]
    with pytest.raises(SystemExit):
        main(["export-xmp", "--help"])
    assert "--remove-rejected" in capsys.readouterr().out


def test_raw_and_jpeg_never_share_a_lightroom_sidecar(
        library: Library, fixres_model: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "IMG_1.CR2").write_bytes(b"raw sensor data photo-tagger does not read")
    jpeg = solid(photos / "IMG_1.JPG", (200, 30, 30), fmt="JPEG")
    first = solid(photos / "IMG_2.jpg", (200, 30, 30), fmt="JPEG")
    second = solid(photos / "IMG_2.png", (30, 30, 200))
    for shared in ("IMG_1.xmp", "IMG_2.xmp"):  # as Lightroom writes them for the raw
        subprocess.run([EXIFTOOL, "-q", "-XMP-dc:Subject=lr", str(photos / shared)],
                       check=True)
    before = {name: digest(photos / name) for name in ("IMG_1.xmp", "IMG_2.xmp")}
    Indexer(library, str(fixres_model)).index_folders([photos])
    api.tag_photo(library, jpeg, "red")
    api.tag_photo(library, first, "first")
    api.tag_photo(library, second, "second")
    assert export_xmp(library, photos).written == 3
    assert sidecar_path(jpeg) == photos / "IMG_1.JPG.xmp"
    assert subjects(photos / "IMG_1.JPG.xmp") == ["red"]
    assert subjects(photos / "IMG_2.jpg.xmp") == ["first"]
    assert subjects(photos / "IMG_2.png.xmp") == ["second"]
    assert {name: digest(photos / name) for name in before} == before


def test_comments_and_namespace_declarations_survive(tmp_path: Path) -> None:
    sidecar = tmp_path / "a.jpg.xmp"
    sidecar.write_text(
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<!-- edited by hand: keep the rating -->\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"\n'
        '   xmlns:lr="http://ns.adobe.com/lightroom/1.0/">\n'
        '  <!-- digiKam 8 -->\n'
        '  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Label="two&#10;lines">\n'
        '   <dc:subject><rdf:Bag><rdf:li>k1</rdf:li></rdf:Bag></dc:subject>\n'
        '  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>\n',
        encoding="utf-8")
    result = merge_keywords(sidecar, ["k2"])
    text = sidecar.read_text(encoding="utf-8")
    assert "<!-- edited by hand: keep the rating -->" in text and "<!-- digiKam 8 -->" in text
    assert 'xmlns:lr="http://ns.adobe.com/lightroom/1.0/"' in text
    assert subjects(sidecar) == ["k1", "k2"]
    assert exiftool("-XMP-xmp:Label", sidecar)["Label"] == "two\nlines"
    assert text.startswith('<?xpacket begin="\ufeff"') and '<?xpacket end="w"?>' in text
    assert result.written


def test_a_symlinked_sidecar_is_written_through(library: Library, fixres_model: Path,
                                                tmp_path: Path) -> None:
    photos, store = tmp_path / "photos", tmp_path / "sidecars"
    photos.mkdir()
    store.mkdir()
    photo = solid(photos / "a.png", (30, 180, 30))
    target = store / "a.xmp"
    subprocess.run([EXIFTOOL, "-q", "-XMP-dc:Subject=old", str(target)], check=True)
    link = photos / "a.png.xmp"
    link.symlink_to(Path("..") / "sidecars" / "a.xmp")
    Indexer(library, str(fixres_model)).index_folders([photos])
    api.tag_photo(library, photo, "new")
    assert export_xmp(library, photos).written == 1
    assert link.is_symlink() and os.readlink(link) == str(Path("..") / "sidecars" / "a.xmp")
    assert subjects(target) == ["old", "new"]
    assert sorted(p.name for p in store.iterdir()) == ["a.xmp"]  # no temp file left
    assert sorted(p.name for p in photos.iterdir()) == ["a.png", "a.png.xmp"]


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE x:xmpmeta [\n <!ENTITY a "haha">\n'
    + "".join(f' <!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">\n'
              for i in range(9))
    + ']>\n<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    'rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>'
    '<rdf:li>&j;</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>\n')
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?>\n<!DOCTYPE x:xmpmeta [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
    '\n<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    'rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>'
    '<rdf:li>&secret;</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>\n')


@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, EXTERNAL_ENTITY],
                         ids=["billion-laughs", "external-entity"])
def test_a_hostile_sidecar_is_refused_and_left_alone(
        hostile: str, library: Library, fixres_model: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    photo = solid(photos / "a.png", (30, 180, 30))
    sidecar = photos / "a.png.xmp"
    sidecar.write_text(hostile, encoding="utf-8")
    Indexer(library, str(fixres_model)).index_folders([photos])
    api.tag_photo(library, photo, "x")
    summary = export_xmp(library, photos)
    assert summary.written == 0
    [(path, reason)] = summary.failed
    assert path == str(photo)
    assert "a.png.xmp declares a DTD or entities" in reason and "left untouched" in reason
    assert sidecar.read_text(encoding="utf-8") == hostile
    with pytest.raises(SidecarError, match="refused"):
        read_keywords(sidecar)
