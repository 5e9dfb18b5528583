"""XMP sidecars: the library's tags as `dc:subject` keywords beside each photo, merged
with what other tools wrote, so digiKam, darktable and Lightroom see them. The photos
themselves are never opened for writing."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from photo_tagger.core.store import Library

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC = "http://purl.org/dc/elements/1.1/"
X = "adobe:ns:meta/"
_BASE_PREFIXES = {"x": X, "rdf": RDF, "dc": DC}
_PACKET_BEGIN = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_PACKET_END = '\n<?xpacket end="w"?>\n'


class SidecarError(Exception):
    """A sidecar that cannot be read or written; the photo is skipped with this reason."""


@dataclass
class ExportSummary:
    written: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"written": self.written, "unchanged": self.unchanged,
                "failed": [{"path": p, "reason": r} for p, r in self.failed]}


def sidecar_path(photo: Path) -> Path:
    """`IMG_1234.jpg.xmp` (digiKam, darktable) unless only `IMG_1234.xmp` (Lightroom)
    exists already, in which case that one is kept up to date."""
    full = photo.with_name(photo.name + ".xmp")
    if full.exists():
        return full
    for suffix in (".xmp", ".XMP"):
        short = photo.with_suffix(suffix)
        if short != photo and short.exists():
            return short
    return full


def _register_prefixes(data: bytes) -> None:
    # ElementTree writes ns0: for namespaces it does not know; keep the file's own prefixes.
    for _, (prefix, uri) in ET.iterparse(io.BytesIO(data), events=("start-ns",)):
        if prefix and uri not in (X, RDF, DC):
            # A reserved ns<digits> prefix raises: ElementTree then picks one itself.
            with contextlib.suppress(ValueError):
                ET.register_namespace(prefix, uri)
    for prefix, uri in _BASE_PREFIXES.items():
        ET.register_namespace(prefix, uri)


def _parse(path: Path) -> ET.Element:
    try:
        data = path.read_bytes()
        _register_prefixes(data)
        root = ET.fromstring(data)
    except OSError as exc:
        raise SidecarError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    except ET.ParseError as exc:
        raise SidecarError(f"{path.name} is not valid XML ({exc}); left untouched") from exc
    return root


def _rdf_of(root: ET.Element, path: Path) -> ET.Element:
    rdf = root if root.tag == f"{{{RDF}}}RDF" else root.find(f".//{{{RDF}}}RDF")
    if rdf is None:
        raise SidecarError(f"{path.name} has no rdf:RDF element; left untouched")
    return rdf


def _new_packet() -> ET.Element:
    for prefix, uri in _BASE_PREFIXES.items():
        ET.register_namespace(prefix, uri)
    root = ET.Element(f"{{{X}}}xmpmeta", {f"{{{X}}}xmptk": "photo-tagger"})
    rdf = ET.SubElement(root, f"{{{RDF}}}RDF")
    ET.SubElement(rdf, f"{{{RDF}}}Description", {f"{{{RDF}}}about": ""})
    return root


def _subject_bag(rdf: ET.Element) -> ET.Element:
    """The rdf:Bag of dc:subject, created in the first rdf:Description when missing."""
    descriptions = rdf.findall(f"{{{RDF}}}Description")
    for description in descriptions:
        subject = description.find(f"{{{DC}}}subject")
        if subject is not None:
            container = subject.find(f"{{{RDF}}}Bag")
            if container is None:
                container = subject.find(f"{{{RDF}}}Seq")
            if container is None:
                container = ET.SubElement(subject, f"{{{RDF}}}Bag")
            return container
    if descriptions:
        description = descriptions[0]
    else:
        description = ET.SubElement(rdf, f"{{{RDF}}}Description", {f"{{{RDF}}}about": ""})
    subject = ET.SubElement(description, f"{{{DC}}}subject")
    return ET.SubElement(subject, f"{{{RDF}}}Bag")


def read_keywords(path: Path) -> list[str]:
    """The dc:subject keywords of a sidecar, in order (empty when it has none)."""
    rdf = _rdf_of(_parse(path), path)
    keywords: list[str] = []
    for description in rdf.findall(f"{{{RDF}}}Description"):
        for item in description.iterfind(f"{{{DC}}}subject/*/{{{RDF}}}li"):
            if item.text:
                keywords.append(item.text)
    return keywords


def merge_keywords(path: Path, add: list[str], remove: set[str] | None = None) -> bool:
    """Add `add` to the sidecar's dc:subject and take out `remove` (tags the user rejected),
    keeping every other keyword and all other XMP content. Written atomically; an
    unchanged sidecar is not rewritten. Returns True when the file was written."""
    remove = remove or set()
    root = _parse(path) if path.exists() else _new_packet()
    bag = _subject_bag(_rdf_of(root, path))
    items = bag.findall(f"{{{RDF}}}li")
    present = {item.text for item in items}
    changed = False
    for item in items:
        if item.text in remove:
            bag.remove(item)
            changed = True
    for keyword in add:
        if keyword not in present and keyword not in remove:
            ET.SubElement(bag, f"{{{RDF}}}li").text = keyword
            present.add(keyword)
            changed = True
    if not changed and path.exists():
        return False
    ET.indent(root, space=" ")
    text = _PACKET_BEGIN + ET.tostring(root, encoding="unicode") + _PACKET_END
    _write_atomically(path, text.encode("utf-8"))
    return True


def _write_atomically(path: Path, data: bytes) -> None:
    # A crash leaves the old sidecar or the new one, never half of one.
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise SidecarError(f"cannot write in {path.parent}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o7777)
        else:
            os.chmod(temp, 0o644)
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise SidecarError(f"cannot write {path.name}: {exc.strerror or exc}") from exc


def export_xmp(library: Library, folder: Path | None = None) -> ExportSummary:
    """Write every indexed photo's tags (under `folder`, or all) into its sidecar: tags
    present (automatic at or above threshold, and manual) are added, tags the user removed
    by hand are taken out; nothing else in the sidecar changes."""
    summary = ExportSummary()
    if folder is not None:
        photos = list(library.photos_under(str(Path(folder).resolve())).values())
    else:
        photos = [p for p in library.photos_by_ids(
            [r[0] for r in library.conn.execute("SELECT id FROM photos")]).values()]
    for photo in sorted(photos, key=lambda p: p.path):
        if photo.status != "indexed":
            continue
        rows = library.conn.execute(
            "SELECT tag, rejected FROM tags WHERE photo_id = ? "
            "ORDER BY score IS NULL, score DESC, tag", (photo.id,)).fetchall()
        present = [tag for tag, rejected in rows if not rejected]
        rejected = {tag for tag, rejected in rows if rejected}
        image = Path(photo.path)
        sidecar = sidecar_path(image)
        if not present and not (rejected and sidecar.exists()):
            continue  # nothing to say: no empty sidecars beside untagged photos
        if not image.exists():
            summary.failed.append((photo.path, "the photo is no longer on disk"))
            continue
        try:
            if merge_keywords(sidecar, present, rejected):
                summary.written += 1
            else:
                summary.unchanged += 1
        except SidecarError as exc:
            summary.failed.append((photo.path, str(exc)))
    return summary
