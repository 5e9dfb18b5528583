"""XMP sidecars: the library's tags as `dc:subject` keywords beside each photo, merged
with what other tools wrote, so digiKam, darktable and Lightroom see them. The photos
themselves are never opened for writing."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias
from xml.dom import Node
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException
from defusedxml.minidom import parseString

from photo_tagger.core.store import Library

# minidom's stubs type a node's children and parents as the bare `Node`, which lacks the
# attributes every element and text node has here: nodes are typed loosely on purpose.
DomNode: TypeAlias = Any

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC = "http://purl.org/dc/elements/1.1/"
XMLNS = "http://www.w3.org/2000/xmlns/"
# Our own schema, holding the keywords photo-tagger put into dc:subject. The .invalid host
# is reserved, so the URI can never clash with anyone's; XMP only needs it to be unique.
PHOTO_TAGGER = "http://ns.photo-tagger.invalid/xmp/1.0/"
_PREFERRED_PREFIX = {RDF: "rdf", DC: "dc", PHOTO_TAGGER: "phototagger"}
_NEW_PACKET = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="photo-tagger">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    '  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
    '  </rdf:Description>\n'
    ' </rdf:RDF>\n'
    '</x:xmpmeta>\n'
    '<?xpacket end="w"?>\n')


class SidecarError(Exception):
    """A sidecar that cannot be read or written; the photo is skipped with this reason."""


@dataclass
class ExportSummary:
    written: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    # Keywords the user untagged but another app wrote: kept unless asked otherwise.
    kept_foreign: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"written": self.written, "unchanged": self.unchanged,
                "kept_foreign": self.kept_foreign,
                "failed": [{"path": p, "reason": r} for p, r in self.failed]}


@dataclass
class MergeResult:
    written: bool
    kept_foreign: list[str] = field(default_factory=list)


def sidecar_path(photo: Path, folder_names: Collection[str] | None = None) -> Path:
    """`IMG_1.jpg.xmp` (digiKam, darktable), or Lightroom's `IMG_1.xmp` when only that one
    exists and no other file of the folder is named `IMG_1.<ext>`: in a RAW+JPEG pair
    Lightroom's name belongs to the raw, and two photos must never share one sidecar.

    Args:
        photo: the photo's path.
        folder_names: the names in the photo's folder, when the caller listed it already.
    """
    full = photo.with_name(photo.name + ".xmp")
    if full.exists():
        return full
    for suffix in (".xmp", ".XMP"):
        short = photo.with_suffix(suffix)
        if short != photo and short.exists():
            names = os.listdir(photo.parent) if folder_names is None else folder_names
            return full if _shares_stem(photo, names) else short
    return full


def _shares_stem(photo: Path, names: Collection[str]) -> bool:
    for name in names:
        other = Path(name)
        if (name != photo.name and other.stem == photo.stem
                and other.suffix.lower() != ".xmp"):
            return True
    return False


# -- reading ------------------------------------------------------------------------------
def _parse(data: bytes, path: Path) -> DomNode:
    # XMP never needs a DTD: refusing one rules out entity bombs and external entities.
    try:
        return parseString(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise SidecarError(f"{path.name} declares a DTD or entities, which XMP never does "
                           "(a possible XML bomb); refused and left untouched") from exc
    except ExpatError as exc:
        raise SidecarError(f"{path.name} is not valid XML ({exc}); left untouched") from exc


def _read(path: Path) -> tuple[DomNode, bytes]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SidecarError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    return _parse(data, path), data


def _children(parent: DomNode, uri: str, name: str) -> Iterator[DomNode]:
    for node in parent.childNodes:
        if (node.nodeType == Node.ELEMENT_NODE and node.namespaceURI == uri
                and node.localName == name):
            yield node


def _descriptions(doc: DomNode, path: Path) -> list[DomNode]:
    rdf = doc.getElementsByTagNameNS(RDF, "RDF")
    if not rdf:
        raise SidecarError(f"{path.name} has no rdf:RDF element; left untouched")
    return list(_children(rdf[0], RDF, "Description"))


def _text(element: DomNode) -> str:
    return "".join(n.data for n in element.childNodes
                   if n.nodeType in (Node.TEXT_NODE, Node.CDATA_SECTION_NODE))


def _array(description: DomNode, uri: str, name: str) -> DomNode | None:
    """The rdf:Bag (or rdf:Seq) of property `name`, or None when the property is absent."""
    for prop in _children(description, uri, name):
        for kind in ("Bag", "Seq"):
            for container in _children(prop, RDF, kind):
                return container
    return None


def _items(container: DomNode | None) -> list[DomNode]:
    return [] if container is None else list(_children(container, RDF, "li"))


def read_keywords(path: Path) -> list[str]:
    """The dc:subject keywords of a sidecar, in order (empty when it has none)."""
    doc, _ = _read(path)
    return [_text(item) for description in _descriptions(doc, path)
            for item in _items(_array(description, DC, "subject")) if _text(item)]


# -- editing the tree in place, so comments, declarations and layout stay --------------------
def _prefix(element: DomNode, uri: str) -> str:
    """The prefix bound to `uri` where `element` is, declared on it when none is."""
    bound: set[str] = set()
    node: DomNode = element
    while node is not None and node.nodeType == Node.ELEMENT_NODE:
        for name, value in node.attributes.items():
            if name.startswith("xmlns:"):
                if value == uri and name[6:] not in bound:
                    return str(name[6:])
                bound.add(name[6:])
        node = node.parentNode
    prefix, n = _PREFERRED_PREFIX[uri], 1
    while prefix in bound:
        prefix, n = f"{_PREFERRED_PREFIX[uri]}{n}", n + 1
    element.setAttributeNS(XMLNS, f"xmlns:{prefix}", uri)
    return prefix


def _new(parent: DomNode, uri: str, name: str) -> DomNode:
    return parent.ownerDocument.createElementNS(uri, f"{_prefix(parent, uri)}:{name}")


def _leading_space(node: DomNode) -> str:
    before = node.previousSibling
    if before is not None and before.nodeType == Node.TEXT_NODE and not before.data.strip():
        return str(before.data)
    return ""


def _append(parent: DomNode, child: DomNode) -> DomNode:
    """Add `child` after the last element of `parent`, indented like its siblings."""
    doc = parent.ownerDocument
    first = next((n for n in parent.childNodes if n.nodeType == Node.ELEMENT_NODE), None)
    outer = _leading_space(parent)
    outer = outer[outer.rfind("\n"):] if "\n" in outer else ""
    indent = _leading_space(first) if first is not None else (outer + " " if outer else "")
    last = parent.lastChild
    if last is not None and last.nodeType == Node.TEXT_NODE and not last.data.strip():
        parent.insertBefore(doc.createTextNode(indent), last)
        parent.insertBefore(child, last)
    else:
        if indent:
            parent.appendChild(doc.createTextNode(indent))
        parent.appendChild(child)
        if first is None and outer:
            parent.appendChild(doc.createTextNode(outer))
    return child


def _remove(child: DomNode) -> None:
    parent = child.parentNode
    if _leading_space(child):
        parent.removeChild(child.previousSibling)
    parent.removeChild(child)


def _array_for(description: DomNode, uri: str, name: str) -> DomNode:
    container = _array(description, uri, name)
    if container is None:
        prop = next(_children(description, uri, name), None)
        if prop is None:
            prop = _append(description, _new(description, uri, name))
        container = _append(prop, _new(prop, RDF, "Bag"))
    return container


def _add_item(container: DomNode, text: str) -> None:
    item = _append(container, _new(container, RDF, "li"))
    item.appendChild(container.ownerDocument.createTextNode(text))


def _subject_bag(descriptions: list[DomNode], rdf_parent: DomNode) -> DomNode:
    """The dc:subject array, created in the first rdf:Description when missing."""
    for description in descriptions:
        if next(_children(description, DC, "subject"), None) is not None:
            return _array_for(description, DC, "subject")
    if descriptions:
        return _array_for(descriptions[0], DC, "subject")
    description = _append(rdf_parent, _new(rdf_parent, RDF, "Description"))
    description.setAttributeNS(RDF, f"{_prefix(description, RDF)}:about", "")
    return _array_for(description, DC, "subject")


def merge_keywords(path: Path, add: list[str], remove: set[str] | None = None,
                   remove_foreign: bool = False) -> MergeResult:
    """Add `add` to the sidecar's dc:subject and take out those of `remove` (tags the user
    rejected) that photo-tagger itself wrote there; `remove_foreign` takes them out whoever
    wrote them. The keywords photo-tagger added are recorded in the sidecar under its own
    schema, which is how a later export tells them from darktable's or digiKam's.

    Everything else in the file stays as it was (comments, namespace declarations, layout).
    Written atomically, through a symbolic link to its target; an unchanged sidecar is not
    rewritten.
    """
    remove = remove or set()
    existed = path.exists()
    doc, original = _read(path) if existed else (_parse(_NEW_PACKET.encode(), path), b"")
    descriptions = _descriptions(doc, path)
    bag = _subject_bag(descriptions, doc.getElementsByTagNameNS(RDF, "RDF")[0])
    ours = {_text(item) for item in _record_items(descriptions)}
    kept: list[str] = []
    keywords: list[str] = []
    changed = not existed
    for item in _items(bag):
        keyword = _text(item)
        if keyword in remove and (keyword in ours or remove_foreign):
            _remove(item)
            changed = True
        else:
            if keyword in remove:
                kept.append(keyword)
            keywords.append(keyword)
    for keyword in add:
        if keyword not in keywords and keyword not in remove:
            _add_item(bag, keyword)
            keywords.append(keyword)
            ours.add(keyword)
            changed = True
    if _update_record(descriptions, bag, [k for k in keywords if k in ours]):
        changed = True
    if not changed:
        return MergeResult(False, kept)
    _write_atomically(path, _serialise(doc, original))
    return MergeResult(True, kept)


def _record_items(descriptions: list[DomNode]) -> list[DomNode]:
    # Any rdf:Description may hold it: exiftool, for one, gives each schema its own.
    return [item for description in descriptions
            for item in _items(_array(description, PHOTO_TAGGER, "WrittenKeywords"))]


def _update_record(descriptions: list[DomNode], bag: DomNode, written: list[str]) -> bool:
    """Make the record list exactly `written`: our keywords still in dc:subject. Returns
    True when it changed."""
    if [_text(item) for item in _record_items(descriptions)] == written:
        return False
    home = bag.parentNode.parentNode  # the rdf:Description of dc:subject, unless one has it
    for description in descriptions:
        for prop in list(_children(description, PHOTO_TAGGER, "WrittenKeywords")):
            home = description
            _remove(prop)
    if written:
        array = _array_for(home, PHOTO_TAGGER, "WrittenKeywords")
        for keyword in written:
            _add_item(array, keyword)
    return True


# -- writing ------------------------------------------------------------------------------
def _escape_text(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def _escape_attribute(text: str) -> str:
    # Newlines and tabs as references: written raw, a parser would read them back as spaces.
    return (_escape_text(text).replace('"', "&quot;").replace("\n", "&#10;")
            .replace("\t", "&#9;"))


def _write_node(node: DomNode, out: list[str]) -> None:
    kind = node.nodeType
    if kind == Node.ELEMENT_NODE:
        out.append("<" + node.tagName)
        for name, value in node.attributes.items():
            out.append(f' {name}="{_escape_attribute(value)}"')
        if not node.childNodes:
            out.append("/>")
            return
        out.append(">")
        for child in node.childNodes:
            _write_node(child, out)
        out.append(f"</{node.tagName}>")
    elif kind == Node.TEXT_NODE:
        out.append(_escape_text(node.data))
    elif kind == Node.CDATA_SECTION_NODE:
        out.append(f"<![CDATA[{node.data}]]>")
    elif kind == Node.COMMENT_NODE:
        out.append(f"<!--{node.data}-->")
    elif kind == Node.PROCESSING_INSTRUCTION_NODE:
        out.append(f"<?{node.target} {node.data}?>" if node.data else f"<?{node.target}?>")


def _serialise(doc: DomNode, original: bytes) -> bytes:
    """The document as UTF-8, with an XML declaration when the original had one."""
    parts: list[str] = []
    if original.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<?xml "):
        parts.append('<?xml version="1.0" encoding="UTF-8"?>\n')
    for node in doc.childNodes:
        _write_node(node, parts)
        parts.append("\n")  # the parser keeps no white space outside the root element
    return "".join(parts).encode("utf-8")


def _write_atomically(path: Path, data: bytes) -> None:
    # A crash leaves the old sidecar or the new one, never half of one. A symbolic link
    # stays one: the file it points to is the one replaced.
    target = Path(os.path.realpath(path))
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                        dir=target.parent)
    except OSError as exc:
        raise SidecarError(f"cannot write in {target.parent}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if target.exists():
            os.chmod(temp, target.stat().st_mode & 0o7777)
        else:
            os.chmod(temp, 0o644)
        os.replace(temp, target)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise SidecarError(f"cannot write {path.name}: {exc.strerror or exc}") from exc


def export_xmp(library: Library, folder: Path | None = None,
               remove_rejected: bool = False) -> ExportSummary:
    """Write every indexed photo's tags (under `folder`, or all) into its sidecar.

    Tags present (automatic at or above threshold, and manual) are added. Tags the user
    removed by hand are taken out where photo-tagger wrote them; keywords another app
    wrote stay unless `remove_rejected` is set. Nothing else in the sidecar changes.
    """
    summary = ExportSummary()
    if folder is not None:
        photos = list(library.photos_under(str(Path(folder).resolve())).values())
    else:
        photos = [p for p in library.photos_by_ids(
            [r[0] for r in library.conn.execute("SELECT id FROM photos")]).values()]
    listings: dict[Path, list[str]] = {}  # each folder listed once, not once per photo
    for photo in sorted(photos, key=lambda p: p.path):
        if photo.status != "indexed":
            continue
        rows = library.conn.execute(
            "SELECT tag, rejected FROM tags WHERE photo_id = ? "
            "ORDER BY score IS NULL, score DESC, tag", (photo.id,)).fetchall()
        present = [tag for tag, rejected in rows if not rejected]
        rejected = {tag for tag, rejected in rows if rejected}
        image = Path(photo.path)
        if not present and not rejected:
            continue
        if not image.exists():
            if present:
                summary.failed.append((photo.path, "the photo is no longer on disk"))
            continue
        try:
            if image.parent not in listings:
                listings[image.parent] = os.listdir(image.parent)
        except OSError as exc:
            summary.failed.append((photo.path, f"cannot list its folder: {exc.strerror}"))
            continue
        sidecar = sidecar_path(image, listings[image.parent])
        if not present and not sidecar.exists():
            continue  # nothing to say: no empty sidecars beside untagged photos
        try:
            result = merge_keywords(sidecar, present, rejected, remove_rejected)
        except SidecarError as exc:
            summary.failed.append((photo.path, str(exc)))
            continue
        summary.kept_foreign += len(result.kept_foreign)
        if result.written:
            summary.written += 1
        else:
            summary.unchanged += 1
    return summary
