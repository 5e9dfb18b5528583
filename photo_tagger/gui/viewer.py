"""The photo viewer: a large preview with the photo's facts and its tags as editable chips.
Left/Right step through the grid's rows (except while typing a tag); Escape or Space
closes."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeyEvent, QKeySequence, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QCompleter,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from photo_tagger.gui.context import WindowContext
from photo_tagger.gui.models import PhotoListModel
from photo_tagger.gui.thumbnails import PREVIEW_SIZE, STORED_SIZE
from photo_tagger.gui.widgets import TagChips, fit_to_screen


def human_size(size: int | None) -> str:
    if size is None:
        return "—"
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return ""


def format_taken(taken: str | None) -> str:
    if not taken:
        return "—"
    # EXIF writes "2024:07:14 10:30:00".
    date, _, clock = taken.partition(" ")
    return f"{date.replace(':', '-')} {clock[:5]}".strip()


class PhotoViewer(QDialog):
    """One photo, large, with its details; edits go through the service."""

    def __init__(self, context: WindowContext, model: PhotoListModel, row: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.model = model
        self.row = row
        # Held, not looked up: the grid's rows may be replaced while this is open.
        self._result = self.model.result(row)
        self.setWindowTitle("Photo")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.image = QLabel(self)
        self.image.setObjectName("viewerImage")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.image.setMinimumSize(240, 180)
        # Focus starts on the photo, so the arrows step through photos at once.
        self.image.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        layout.addWidget(self.image, 1)
        self.notice = QLabel(self.image)  # why the photo is not shown large
        self.notice.setObjectName("viewerNotice")
        self.notice.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.notice.hide()

        panel = QWidget(self)
        panel.setFixedWidth(300)
        side = QVBoxLayout(panel)
        side.setContentsMargins(16, 16, 16, 16)
        self.title = QLabel(panel)
        self.title.setObjectName("infoTitle")
        self.title.setWordWrap(True)
        side.addWidget(self.title)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.fields: dict[str, QLabel] = {}
        for name in ("Folder", "Taken", "Size", "Dimensions", "Camera"):
            value = QLabel(panel)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[name] = value
            form.addRow(f"{name}:", value)
        side.addLayout(form)
        side.addSpacing(10)
        tags_title = QLabel("Tags", panel)
        tags_title.setObjectName("sectionLabel")
        side.addWidget(tags_title)
        self.chips = TagChips(panel)
        scroll = QScrollArea(panel)
        scroll.setWidget(self.chips)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMaximumHeight(150)  # about five rows of chips, then it scrolls down
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        side.addWidget(scroll)
        self.chips.remove_requested.connect(self.remove_tag)
        self.new_tag = QLineEdit(panel)
        self.new_tag.setPlaceholderText("Add a tag and press Enter")
        completer = QCompleter(context.known_tags(), self.new_tag)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.new_tag.setCompleter(completer)
        self.new_tag.returnPressed.connect(self.add_tag)
        side.addWidget(self.new_tag)
        side.addStretch(1)
        self.similar_button = QPushButton("Find Similar", panel)
        self.similar_button.clicked.connect(self.find_similar)
        side.addWidget(self.similar_button)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open", panel)
        self.open_button.setToolTip("Open in the system's image viewer")
        self.open_button.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(self.path)))
        self.reveal_button = QPushButton("Show in Folder", panel)
        self.reveal_button.clicked.connect(lambda: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(Path(self.path).parent))))
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.reveal_button)
        side.addLayout(buttons)
        layout.addWidget(panel)
        # Enter in the tag field adds a tag; it must not press a button of the dialog.
        for button in panel.findChildren(QPushButton):
            button.setAutoDefault(False)
        # Shortcuts, not key presses: a focused chip or button would take the arrows, and
        # the tag field still gets them (a line edit overrides shortcuts it uses).
        for keys, step in (("Left", -1), ("Right", 1)):
            action = QAction(self)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(lambda _=False, step=step: self.step(step))
            self.addAction(action)
        context.thumbnails.ready.connect(self._image_ready)
        context.thumbnails.failed.connect(self._image_ready)
        self.show_row(row)
        self.image.setFocus()
        fit_to_screen(self, 1100, 720)

    @property
    def path(self) -> str:
        return self._result.path

    @property
    def photo_id(self) -> int:
        return self._result.photo_id

    def show_row(self, row: int) -> None:
        if not 0 <= row < self.model.rowCount():
            return
        self.row = row
        # Held, not looked up: the grid's rows may be replaced while this is open.
        self._result = self.model.result(row)
        self.setWindowTitle(os.path.basename(self.path))
        self.title.setText(os.path.basename(self.path))
        photo = self.context.reader.photo(self.photo_id)
        self.fields["Folder"].setText(str(Path(self.path).parent))
        self.fields["Taken"].setText(format_taken(photo.taken_at if photo else None))
        self.fields["Size"].setText(human_size(photo.size if photo else None))
        dims = f"{photo.width} × {photo.height}" if photo and photo.width else "—"
        self.fields["Dimensions"].setText(dims)
        self.fields["Camera"].setText((photo.camera if photo else None) or "—")
        self.refresh_tags()
        self._show_image()

    def refresh_tags(self) -> None:
        tags = self.context.reader.tags_of(self.photo_id)
        self.chips.set_tags([(t.tag, t.source, t.score) for t in tags])

    def _show_image(self) -> None:
        """The preview, else the grid's thumbnail meanwhile; and why, when the preview
        cannot come (the folder is not reachable: tried again until it is back)."""
        loader = self.context.thumbnails
        pixmap = loader.pixmap(self.path, PREVIEW_SIZE) or loader.pixmap(self.path, STORED_SIZE)
        why = loader.failure(self.path, PREVIEW_SIZE)
        self.notice.setText(f"{why}." if why else "")
        self.notice.setVisible(bool(why) and pixmap is not None)
        if pixmap is None:
            self._pixmap = None
            self.image.setText(f"{why}." if why else "Loading…")
            return
        self._pixmap = pixmap
        self._fit()

    def _fit(self) -> None:
        self.notice.setGeometry(0, self.image.height() - 40, self.image.width(), 40)
        pixmap: QPixmap | None = getattr(self, "_pixmap", None)
        if pixmap is None:
            return
        self.image.setPixmap(pixmap.scaled(self.image.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))

    def _image_ready(self, path: str) -> None:
        if path == self.path:
            self._show_image()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._fit()

    def step(self, by: int) -> None:
        """The next (1) or previous (-1) photo of the grid."""
        if 0 <= self.row + by < self.model.rowCount():
            self._pixmap = None
            self.show_row(self.row + by)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space:
            self.close()
        else:
            super().keyPressEvent(event)

    def add_tag(self) -> None:
        tag = self.new_tag.text().strip()
        if tag:
            self.new_tag.clear()
            self.context.set_tag([self.path], tag, True, parent=self, done=self.refresh_tags)

    def remove_tag(self, tag: str) -> None:
        self.context.set_tag([self.path], tag, False, parent=self, done=self.refresh_tags)

    def find_similar(self) -> None:
        self.context.find_similar(self.photo_id)
        self.close()
