"""Settings: the model (with size and speed hints), threads, thumbnail size, and per-folder
polling and auto-tagging. Window-only values live in QSettings; the rest go to the service."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photo_tagger.config import DEFAULT_MODEL, KNOWN_MODELS, THUMBNAIL_SIZE_MAX, THUMBNAIL_SIZE_MIN
from photo_tagger.core import labels as label_api
from photo_tagger.core.store import Library
from photo_tagger.gui.context import WindowContext
from photo_tagger.gui.widgets import fit_to_screen

if TYPE_CHECKING:
    from photo_tagger.core.indexer import Indexer


class SettingsDialog(QDialog):
    """Applies on OK: a new model re-embeds the library (tags set by hand are kept)."""

    def __init__(self, context: WindowContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.bridge = context.bridge
        self.setWindowTitle("Settings")
        layout = QVBoxLayout(self)

        model_group = QGroupBox("Model", self)
        model_form = QFormLayout(model_group)
        self.model_box = QComboBox(model_group)
        # The hints are long: the box must not widen the dialog past a small screen.
        self.model_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_box.setMinimumContentsLength(24)
        current = self.bridge.model_id or context.reader.model_id or DEFAULT_MODEL
        for model_id, hint in KNOWN_MODELS.items():
            short = model_id.removeprefix("google/")
            self.model_box.addItem(f"{short}  —  {hint}", model_id)
        if self.model_box.findData(current) < 0:
            self.model_box.addItem(f"{os.path.basename(current) or current}  —  local folder",
                                   current)
        self.model_box.setCurrentIndex(self.model_box.findData(current))
        row = QHBoxLayout()
        row.addWidget(self.model_box, 1)
        browse = QPushButton("Folder…", model_group)
        browse.setToolTip("A SigLIP 2 checkpoint on disk (config.json + model.safetensors)")
        browse.clicked.connect(self._choose_folder)
        row.addWidget(browse)
        model_form.addRow("Checkpoint:", row)
        note = QLabel("Changing the model re-indexes every photo (the images are read again). "
                      "Tags you set by hand are kept.", model_group)
        note.setWordWrap(True)
        note.setObjectName("mutedText")
        model_form.addRow(note)
        self.threads = QSpinBox(model_group)
        self.threads.setRange(0, max(1, os.cpu_count() or 1))
        self.threads.setSpecialValueText("automatic")
        self.threads.setValue(int(context.settings.value("threads", 0) or 0))
        self.threads.setToolTip("CPU threads for the model; applies when the model is loaded.")
        model_form.addRow("Threads:", self.threads)
        layout.addWidget(model_group)

        view_group = QGroupBox("Display", self)
        view_form = QFormLayout(view_group)
        self.thumb = QSlider(Qt.Orientation.Horizontal, view_group)
        self.thumb.setRange(THUMBNAIL_SIZE_MIN, THUMBNAIL_SIZE_MAX)
        self.thumb.setSingleStep(20)
        self.thumb.setValue(context.thumb_size())
        self.thumb_value = QLabel(f"{context.thumb_size()} px", view_group)
        self.thumb.valueChanged.connect(lambda v: self.thumb_value.setText(f"{v} px"))
        thumb_row = QHBoxLayout()
        thumb_row.addWidget(self.thumb, 1)
        thumb_row.addWidget(self.thumb_value)
        view_form.addRow("Thumbnail size:", thumb_row)
        layout.addWidget(view_group)

        folder_group = QGroupBox("Folders", self)
        folder_layout = QVBoxLayout(folder_group)
        self.folder_table = QTableWidget(0, 3, folder_group)
        self.folder_table.setHorizontalHeaderLabels(["Folder", "Auto-tag", "Poll (network)"])
        self.folder_table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)
        self.folder_table.verticalHeader().hide()
        self.folder_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.folder_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._folders = context.reader.folders()
        for folder in self._folders:
            r = self.folder_table.rowCount()
            self.folder_table.insertRow(r)
            self.folder_table.setItem(r, 0, QTableWidgetItem(folder.path))
            for column, value in ((1, folder.auto_tag), (2, folder.polling)):
                item = QTableWidgetItem()
                item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
                item.setCheckState(Qt.CheckState.Checked if value else Qt.CheckState.Unchecked)
                self.folder_table.setItem(r, column, item)
        hint = QLabel("Polling notices changes on network shares and removable drives, where "
                      "change notifications do not arrive.", folder_group)
        hint.setWordWrap(True)
        hint.setObjectName("mutedText")
        folder_layout.addWidget(self.folder_table)
        folder_layout.addWidget(hint)
        layout.addWidget(folder_group, 1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._initial_model = current
        fit_to_screen(self, 720, 560)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a SigLIP 2 model folder")
        if path:
            self.model_box.addItem(f"{os.path.basename(path)}  —  local folder", path)
            self.model_box.setCurrentIndex(self.model_box.count() - 1)

    def accept(self) -> None:
        self.apply()
        super().accept()

    def apply(self) -> None:
        self.context.settings.setValue("threads", self.threads.value())
        self.context.set_thumb_size(self.thumb.value())
        for row, folder in enumerate(self._folders):
            auto = self.folder_table.item(row, 1).checkState() == Qt.CheckState.Checked
            poll = self.folder_table.item(row, 2).checkState() == Qt.CheckState.Checked
            if poll != folder.polling:
                self.bridge.set_folder_polling(folder.id, poll)
            if auto != folder.auto_tag:
                path = folder.path

                def job(library: Library, indexer: Indexer, path: str = path,
                        auto: bool = auto) -> None:
                    label_api.set_folder_auto_tag(library, path, auto)
                    label_api.retag(library, lambda: indexer.embedder)

                self.bridge.submit(job, None)
        model_id = self.model_box.currentData()
        if model_id and model_id != self._initial_model:
            self.context.use_model(model_id)
