"""Item models over plain core data: the photo grid, the sidebar's folders and tags, the
labels table and the duplicate groups. Thin adapters; no queries of their own."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QIdentityProxyModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QStringListModel,
    Qt,
    QTimer,
)
from PySide6.QtGui import QPixmap

from photo_tagger.core.browse import PhotoRows, plural, probability_text
from photo_tagger.core.labels import LabelInfo
from photo_tagger.core.search import SearchResult
from photo_tagger.core.store import Folder
from photo_tagger.gui.thumbnails import ThumbnailLoader
from photo_tagger.paths import shown

# What Qt hands an item model's overrides: either kind of index.
AnyIndex = QModelIndex | QPersistentModelIndex

PhotoIdRole = Qt.ItemDataRole.UserRole + 1
PathRole = Qt.ItemDataRole.UserRole + 2
ScoreRole = Qt.ItemDataRole.UserRole + 3
CountRole = Qt.ItemDataRole.UserRole + 4
KeyRole = Qt.ItemDataRole.UserRole + 5
ProbabilityRole = Qt.ItemDataRole.UserRole + 6  # the badge's text: "97%", or ""

_INVALID = QModelIndex()


class PhotoListModel(QIdentityProxyModel):
    """Rows of photos (search results or a folder listing); thumbnails come from the loader
    as they are painted, so only visible rows cost anything.

    The row count and indexes are answered in C++: the view's layout asks for them once or
    twice per row, and each Python answer needs the GIL, which a busy background thread
    holds for up to the switch interval (with a Python `rowCount`, laying out 100k rows took
    over a minute while the model loaded). So this is an identity proxy over a
    QStringListModel holding one empty string per row; the rows themselves stay in `_rows`.
    A new row list is built beside the shown one, a slice per event-loop turn, and swapped
    in as one reset: handing Qt a million strings at once held the window for 60–90 ms.
    """

    BUILD_SLICE = 50_000  # empty strings added per turn: a few ms

    def __init__(self, loader: ThumbnailLoader | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: Sequence[SearchResult] = []
        self.setSourceModel(QStringListModel(self))
        self._building: _RowBuild | None = None
        # Rows whose thumbnail was asked for, to find them when it arrives. Only painted rows
        # land here, so replacing 500k rows costs no index of all of them on the GUI thread.
        self._asked: dict[str, int] = {}
        self.loader = loader
        if loader is not None:
            loader.ready.connect(self._thumbnail_ready)
            loader.failed.connect(self._thumbnail_ready)

    def set_results(self, rows: Sequence[SearchResult],
                    shown: Callable[[], None] | None = None) -> None:
        """Show `rows`, which the model keeps (callers hand over a fresh sequence: a
        listing's `PhotoRows` stay two columns, never a million objects), then call
        `shown`. Up to `BUILD_SLICE` rows that is at once; a longer list keeps the rows
        shown now for the few turns its row count takes, unless newer rows replace it."""
        if self.loader is not None:
            self.loader.drop_queued()
        if self._building is not None:
            self._building.counter.deleteLater()
        self._building = _RowBuild(QStringListModel(self), rows, shown)
        self._build_slice(self._building)

    def is_building(self) -> bool:
        """True while a long row list is still being counted in (tests wait on it)."""
        return self._building is not None

    def _build_slice(self, build: _RowBuild) -> None:
        if self._building is not build:
            return  # replaced by newer rows meanwhile
        counter = build.counter
        missing = len(build.rows) - counter.rowCount()
        # At the front: QList prepends in place, where inserting at the end of a growing
        # list moves everything after each insert.
        counter.insertRows(0, min(missing, self.BUILD_SLICE))
        if counter.rowCount() < len(build.rows):
            QTimer.singleShot(0, lambda: self._build_slice(build))
            return
        self._building = None
        old = self.sourceModel()
        self._rows = build.rows
        self._asked = {}
        self.setSourceModel(counter)  # one reset
        old.deleteLater()
        if build.shown is not None:
            build.shown()

    def insertRows(self, row: int, count: int, parent: AnyIndex = _INVALID) -> bool:  # noqa: N802
        return False  # rows come only from set_results, so `_rows` and the list agree

    def removeRows(self, row: int, count: int, parent: AnyIndex = _INVALID) -> bool:  # noqa: N802
        return False

    def setData(self, index: AnyIndex, value: object,  # noqa: N802
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        return False

    def result(self, row: int) -> SearchResult:
        return self._rows[row]

    def results(self) -> list[SearchResult]:
        return list(self._rows)

    def row_of_path(self, path: str) -> int | None:
        return self.rows_of_paths([path]).get(path)

    def rows_of_paths(self, paths: Iterable[str | None]) -> dict[str, int]:
        """The rows showing `paths`, found in one scan: needed once per listing at most, so
        no index of every row is kept."""
        wanted = {path for path in paths if path is not None}
        found: dict[str, int] = {}
        column = (self._rows.paths if isinstance(self._rows, PhotoRows)
                  else [result.path for result in self._rows])
        if len(wanted) <= 8:  # the usual case: the current photo and the top-left one
            for path in wanted:
                with contextlib.suppress(ValueError):  # not shown any more
                    found[path] = column.index(path)  # a scan in C: 5 ms for 1M rows
            return found
        for row, path in enumerate(column):
            if len(found) == len(wanted):
                break
            if path in wanted:
                found.setdefault(path, row)
        return found

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return shown(os.path.basename(row.path))
        if role == Qt.ItemDataRole.ToolTipRole:
            if row.probability is None:
                return shown(row.path)
            return (f"{shown(row.path)}\nMatches the query with probability "
                    f"{probability_text(row.probability)} (right-click: Why this photo?)")
        if role == ProbabilityRole:
            return probability_text(row.probability)
        if role == Qt.ItemDataRole.DecorationRole:
            if self.loader is None:
                return None
            self._asked[row.path] = index.row()
            return self.loader.pixmap(row.path)
        if role == PhotoIdRole:
            return row.photo_id
        if role == PathRole:
            return row.path
        if role == ScoreRole:
            return row.score
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled | Qt.ItemFlag.ItemNeverHasChildren)

    def _thumbnail_ready(self, path: str) -> None:
        row = self._asked.get(path)
        if row is not None and row < len(self._rows) and self._rows[row].path == path:
            index = self.index(row, 0)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


@dataclass
class _RowBuild:
    """A row list being counted in for `PhotoListModel.set_results`."""

    counter: QStringListModel
    rows: Sequence[SearchResult]
    shown: Callable[[], None] | None


@dataclass(frozen=True)
class SidebarEntry:
    key: str | None  # folder path or tag; None for "All photos"
    title: str
    count: int | None
    detail: str = ""
    folder_id: int | None = None


class SidebarListModel(QAbstractListModel):
    """The sidebar's folders or tags, each with its photo count."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._entries: list[SidebarEntry] = []
        self.icon: QPixmap | None = None

    def set_entries(self, entries: Sequence[SidebarEntry]) -> None:
        if list(entries) == self._entries:
            return  # keep the selection and scroll position when nothing changed
        self.beginResetModel()
        self._entries = list(entries)
        self.endResetModel()

    def entry(self, row: int) -> SidebarEntry:
        return self._entries[row]

    def row_of(self, key: str | None) -> int | None:
        for row, entry in enumerate(self._entries):
            if entry.key == key:
                return row
        return None

    def rowCount(self, parent: AnyIndex = _INVALID) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return entry.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return entry.detail or entry.title
        if role == CountRole:
            return entry.count
        if role == KeyRole:
            return entry.key
        if role == Qt.ItemDataRole.DecorationRole:
            return self.icon
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemNeverHasChildren)


def folder_entries(folders: Sequence[Folder], counts: dict[int, int],
                   total: int) -> list[SidebarEntry]:
    entries = [SidebarEntry(None, "All photos", total)]
    for folder in folders:
        name = os.path.basename(folder.path.rstrip("/\\")) or folder.path
        entries.append(SidebarEntry(folder.path, name, counts.get(folder.id, 0), folder.path,
                                    folder.id))
    return entries


class LabelTableModel(QAbstractTableModel):
    """The labels with their tag (synonym group) and threshold."""

    HEADERS = ("Label", "Tag group", "Threshold")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._labels: list[LabelInfo] = []

    def set_labels(self, labels: Sequence[LabelInfo]) -> None:
        self.beginResetModel()
        self._labels = list(labels)
        self.endResetModel()

    def label(self, row: int) -> LabelInfo:
        return self._labels[row]

    def row_of(self, name: str) -> int | None:
        for row, label in enumerate(self._labels):
            if label.name == name:
                return row
        return None

    def rowCount(self, parent: AnyIndex = _INVALID) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._labels)

    def columnCount(self, parent: AnyIndex = _INVALID) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if (role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal
                and 0 <= section < len(self.HEADERS)):
            return self.HEADERS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._labels):
            return None
        label = self._labels[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() == 0:
                return label.name
            if index.column() == 1:
                return "" if label.tag == label.name else label.tag
            threshold = f"{label.threshold:.3f}"
            return threshold if label.custom_threshold else f"{threshold} (default)"
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"Prompt: {label.template.replace('{label}', label.name)}"
        if role == KeyRole:
            return label.name
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemNeverHasChildren)


class DuplicateGroupModel(QAbstractListModel):
    """Groups of near-duplicates, one row per group."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._groups: list[list[SearchResult]] = []

    def set_groups(self, groups: Sequence[Sequence[SearchResult]]) -> None:
        self.beginResetModel()
        self._groups = [list(g) for g in groups]
        self.endResetModel()

    def group(self, row: int) -> list[SearchResult]:
        return self._groups[row]

    def rowCount(self, parent: AnyIndex = _INVALID) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._groups)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._groups):
            return None
        group = self._groups[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            names = ", ".join(os.path.basename(r.path) for r in group[:3])
            more = f" +{len(group) - 3}" if len(group) > 3 else ""
            return f"{plural(len(group), 'photo')} · {names}{more}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join(r.path for r in group)
        if role == CountRole:
            return len(group)
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemNeverHasChildren)
