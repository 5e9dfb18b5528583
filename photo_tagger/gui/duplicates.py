"""Near-duplicate photos: groups above an adjustable cosine threshold, shown side by side.
Removing a photo forgets it in the library; the file is only touched when the user
explicitly chooses to move it to the trash."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QFile, QModelIndex, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from photo_tagger.config import duplicate_threshold
from photo_tagger.core.browse import plural
from photo_tagger.core.search import Searcher, SearchResult
from photo_tagger.core.store import Library
from photo_tagger.gui.context import WindowContext
from photo_tagger.gui.models import DuplicateGroupModel, PhotoListModel
from photo_tagger.gui.widgets import PhotoGrid, fit_to_screen

if TYPE_CHECKING:
    from photo_tagger.core.indexer import Indexer

def photo_count(count: int) -> str:
    return f"{count:,} photo" if count == 1 else f"{count:,} photos"


def move_to_trash(path: str) -> str | None:
    """Move a file to the system trash; returns an error message, or None when done."""
    try:
        from send2trash import send2trash  # type: ignore[import-not-found]
    except ImportError:
        send2trash = None
    if send2trash is not None:
        try:
            send2trash(path)
            return None
        except OSError as exc:
            return str(exc)
    if QFile.moveToTrash(path):
        return None
    return "this system has no trash the app can use; the file was left in place"


class DuplicatesDialog(QDialog):
    """Finds groups on the service thread and shows the chosen group's photos side by side."""

    def __init__(self, context: WindowContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.bridge = context.bridge
        self.setWindowTitle("Duplicates")
        self._request = 0
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(QLabel("Similarity at least:", self))
        self.threshold = QDoubleSpinBox(self)
        self.threshold.setRange(0.5, 1.0)
        self.threshold.setDecimals(4)
        self.threshold.setSingleStep(0.0025)
        self.threshold.setValue(duplicate_threshold(context.reader.model_id))
        self.threshold.setToolTip("Cosine similarity of the photos' vectors; 1.0 is identical.")
        top.addWidget(self.threshold)
        self.find_button = QPushButton("Find Duplicates", self)
        self.find_button.setDefault(True)
        top.addWidget(self.find_button)
        self.summary = QLabel(self)
        self.summary.setObjectName("mutedText")
        top.addWidget(self.summary, 1)
        layout.addLayout(top)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.groups = DuplicateGroupModel(self)
        self.group_view = QListView(splitter)
        self.group_view.setModel(self.groups)
        self.group_view.setUniformItemSizes(True)
        self.members = PhotoListModel(context.thumbnails, self)
        self.member_view = PhotoGrid(splitter, 220)
        self.member_view.setModel(self.members)
        splitter.addWidget(self.group_view)
        splitter.addWidget(self.member_view)
        splitter.setSizes([300, 700])
        layout.addWidget(splitter, 1)

        bottom = QHBoxLayout()
        self.open_button = QPushButton("Open", self)
        self.remove_button = QPushButton("Remove from Library…", self)
        self.remove_button.setToolTip("Forget the selected photos; asks whether to keep the "
                                      "files or move them to the trash.")
        self.undo_button = QPushButton(self)
        self.undo_button.hide()
        self.removed: list[str] = []  # what the last "Remove" took out, for its undo
        bottom.addWidget(self.open_button)
        bottom.addStretch(1)
        bottom.addWidget(self.undo_button)
        bottom.addWidget(self.remove_button)
        layout.addLayout(bottom)

        self.find_button.clicked.connect(self.find_groups)
        self.group_view.selectionModel().currentRowChanged.connect(self._group_chosen)
        self.member_view.activated.connect(self._open)
        self.open_button.clicked.connect(lambda: self._open(self.member_view.currentIndex()))
        self.remove_button.clicked.connect(self.remove_selected)
        self.undo_button.clicked.connect(self.undo_remove)
        fit_to_screen(self, 1000, 620)
        self.find_groups()

    def find_groups(self) -> None:
        self._request += 1
        request = self._request
        threshold = self.threshold.value()

        def job(library: Library, indexer: Indexer) -> list[list[SearchResult]]:
            return Searcher(library).duplicate_groups(threshold)

        def show(groups: list[list[SearchResult]] | None, error: BaseException | None) -> None:
            if request != self._request:
                return
            if error is not None:
                self.summary.setText(f"Could not look for duplicates: {error}")
                return
            current = self.group_view.currentIndex().row()
            self.groups.set_groups(groups or [])
            photos = sum(len(g) for g in groups or [])
            self.summary.setText(f"{plural(len(groups or []), 'group')}, {plural(photos, 'photo')}"
                                 if groups else "No near-duplicates at this similarity.")
            if self.groups.rowCount():
                row = min(max(current, 0), self.groups.rowCount() - 1)
                self.group_view.setCurrentIndex(self.groups.index(row, 0))
            else:
                self.members.set_results([])

        self.summary.setText("Searching…")
        self.bridge.submit(job, show)

    def _group_chosen(self, current: QModelIndex, _: QModelIndex) -> None:
        if current.isValid():
            self.members.set_results(self.groups.group(current.row()))

    def _open(self, index: QModelIndex) -> None:
        if index.isValid():
            from photo_tagger.gui.viewer import PhotoViewer

            viewer = PhotoViewer(self.context, self.members, index.row(), self)
            viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            viewer.show()

    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.member_view.selectionModel().selectedIndexes()})
        paths = [self.members.result(r).path for r in rows]
        if not paths:
            return
        names = "\n".join(os.path.basename(p) for p in paths[:8])
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Remove from library")
        box.setText(f"Remove {plural(len(paths), 'photo')} from the library?\n\n{names}")
        box.setInformativeText("“Remove” keeps the files on disk. “Move to Trash” also "
                               "moves the files to the system trash.")
        keep = box.addButton("Remove", QMessageBox.ButtonRole.AcceptRole)
        trash = box.addButton("Move to Trash", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        if clicked not in (keep, trash):
            return
        self.remove(paths, to_trash=clicked is trash)

    def remove(self, paths: list[str], *, to_trash: bool) -> None:
        """Forget `paths` in the library; with `to_trash`, move the files to the trash."""
        problems = []
        if to_trash:
            for path in paths:
                error = move_to_trash(path)
                if error:
                    problems.append(f"{os.path.basename(path)}: {error}")
        if problems:
            QMessageBox.warning(self, "Not moved to the trash", "\n".join(problems))

        def job(library: Library, indexer: Indexer) -> int:
            # Kept files are remembered as excluded, or the next scan would bring them back.
            return indexer.remove_files(paths) if to_trash else indexer.exclude_files(paths)

        def done(_result: object, _error: BaseException | None) -> None:
            self.find_groups()
            if not to_trash:
                self.removed = paths
                self.undo_button.setText(f"Undo: bring back {photo_count(len(paths))}")
                self.undo_button.show()

        self.bridge.submit(job, done)

    def undo_remove(self) -> None:
        """Take back the last "Remove" that kept the files: they are indexed again."""
        paths, self.removed = self.removed, []
        self.undo_button.hide()

        def job(library: Library, indexer: Indexer) -> object:
            return indexer.include_files(paths)

        self.bridge.submit(job, lambda _result, _error: self.find_groups())
