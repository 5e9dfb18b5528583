"""Settings: the model (with size and speed hints) and its manager (checkpoints on disk,
download with progress and cancel, delete), threads, thumbnail size, and per-folder polling
and auto-tagging. Window-only values live in QSettings; the rest go to the service."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photo_tagger.config import (
    DEFAULT_MODEL,
    DEMO_MODEL_NAME,
    KNOWN_MODELS,
    THUMBNAIL_SIZE_MAX,
    THUMBNAIL_SIZE_MIN,
)
from photo_tagger.core import checkpoints
from photo_tagger.core import labels as label_api
from photo_tagger.core.embedder import FAST_SUFFIX, ModelUnavailable, split_fast_suffix
from photo_tagger.core.store import Library
from photo_tagger.core.switch import human_bytes, needs_background_switch, switch_notice
from photo_tagger.gui.context import WindowContext, int_setting
from photo_tagger.gui.widgets import fit_to_screen

if TYPE_CHECKING:
    from photo_tagger.core.indexer import Indexer


class _DownloadSignals(QObject):
    """The download thread's reports, delivered on the window's thread (queued)."""

    progress = Signal(int, int)
    finished = Signal(str, str)  # model id, error text ("" when it worked)
    measured = Signal(object, str)  # Calibration (None on failure), error text


def _speed_text(entry: checkpoints.Checkpoint) -> str:
    if not entry.speed:
        return "not measured"
    if entry.int8_speed:
        return f"{entry.speed:.1f} photos/s (int8 {entry.int8_speed:.1f})"
    return f"{entry.speed:.1f} photos/s"


class SettingsDialog(QDialog):
    """Applies on OK: a new model re-embeds the library (tags set by hand are kept)."""

    def __init__(self, context: WindowContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.bridge = context.bridge
        self.setWindowTitle("Settings")
        self.checkpoint_rows: list[checkpoints.Checkpoint] = []  # the manager's table
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
            if split_fast_suffix(model_id)[1]:
                continue  # the fast mode is the checkbox below
            short = model_id.removeprefix("google/")
            self.model_box.addItem(f"{short}  —  {hint}", model_id)
        if self.model_box.findData(current) < 0:
            self.model_box.addItem(f"{os.path.basename(current) or current}  —  local folder",
                                   current)
        self.model_box.setCurrentIndex(max(0, self.model_box.findData(current)))
        if self.model_box.findData(current) < 0:  # the int8 mode of a listed checkpoint
            self.model_box.setCurrentIndex(
                max(0, self.model_box.findData(split_fast_suffix(current)[0])))
        row = QHBoxLayout()
        row.addWidget(self.model_box, 1)
        browse = QPushButton("Folder…", model_group)
        browse.setToolTip("A SigLIP 2 checkpoint on disk (config.json + model.safetensors)")
        browse.clicked.connect(self._choose_folder)
        row.addWidget(browse)
        model_form.addRow("Checkpoint:", row)
        self.fast_box = QCheckBox("Fast mode (int8 on the CPU)", model_group)
        self.fast_box.setToolTip("About 1.5× faster; vectors within cosine 0.999 of fp32. "
                                 "A switch of its own: the library is embedded again.")
        self.fast_box.setChecked(split_fast_suffix(current)[1])
        model_form.addRow("", self.fast_box)
        self.switch_note = QLabel(model_group)  # what a switch costs, before it starts
        self.switch_note.setWordWrap(True)
        self.switch_note.setObjectName("mutedText")
        model_form.addRow(self.switch_note)
        self.model_box.currentIndexChanged.connect(lambda _: self._update_switch_note())
        self.model_box.currentIndexChanged.connect(lambda _: self._update_fast_box())
        self.fast_box.toggled.connect(lambda _: self._update_switch_note())
        self._build_manager(model_form, model_group)
        self.threads = QSpinBox(model_group)
        self.threads.setRange(0, max(1, os.cpu_count() or 1))
        self.threads.setSpecialValueText("automatic")
        self.threads.setValue(int_setting(context.settings, "threads", 0))
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
        polling_hint = QLabel("Polling notices changes on network shares and removable "
                              "drives, where change notifications do not arrive.",
                              folder_group)
        polling_hint.setWordWrap(True)
        polling_hint.setObjectName("mutedText")
        folder_layout.addWidget(self.folder_table)
        folder_layout.addWidget(polling_hint)
        layout.addWidget(folder_group, 1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._initial_model = current
        self._update_switch_note()
        fit_to_screen(self, 760, 780)

    # -- the model manager --------------------------------------------------------------
    def _build_manager(self, form: QFormLayout, parent: QWidget) -> None:
        self.checkpoint_table = QTableWidget(0, 4, parent)
        self.checkpoint_table.setHorizontalHeaderLabels(
            ["Checkpoint", "On this computer", "Size", "Speed here"])
        header = self.checkpoint_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        # About five rows: the manager is for browsing checkpoints, not a one-line peek.
        self.checkpoint_table.setMinimumHeight(170)
        self.checkpoint_table.verticalHeader().hide()
        self.checkpoint_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.checkpoint_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.checkpoint_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        form.addRow(self.checkpoint_table)
        buttons = QHBoxLayout()
        self.download_button = QPushButton("Download", parent)
        self.cancel_download_button = QPushButton("Cancel download", parent)
        self.delete_button = QPushButton("Delete", parent)
        self.measure_button = QPushButton("Measure speed", parent)
        self.measure_button.setToolTip(
            f"Embed {checkpoints.CALIBRATION_PHOTOS} of your photos with the selected "
            "checkpoint, in fp32 and in the int8 fast mode; indexing pauses meanwhile.")
        self.use_button = QPushButton("Use this model", parent)
        self.demo_button = QPushButton("Use the demo model", parent)
        for button in (self.download_button, self.cancel_download_button, self.delete_button,
                       self.measure_button, self.use_button, self.demo_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        form.addRow(buttons)
        self.download_bar = QProgressBar(parent)
        self.download_bar.hide()
        form.addRow(self.download_bar)
        self.manager_message = QLabel(parent)
        self.manager_message.setWordWrap(True)
        form.addRow(self.manager_message)
        self.cancel_download_button.hide()
        self.demo_button.hide()
        self._cancel = threading.Event()
        self._download_thread: threading.Thread | None = None
        self._signals = _DownloadSignals(self)
        self._signals.progress.connect(self._download_progress)
        self._signals.finished.connect(self._download_finished)
        self._signals.measured.connect(self._measured)
        self._measuring = False
        self._resume_after_measure = False
        self.measure_button.clicked.connect(self.measure_selected)
        self.download_button.clicked.connect(self.download_selected)
        self.cancel_download_button.clicked.connect(self._cancel.set)
        self.delete_button.clicked.connect(self.delete_selected)
        self.use_button.clicked.connect(self._use_selected)
        self.demo_button.clicked.connect(lambda: self._choose(DEMO_MODEL_NAME))
        self.refresh_checkpoints()

    def refresh_checkpoints(self) -> None:
        """The table from the hub cache and the library's measured speeds."""
        folders = [data for i in range(self.model_box.count())
                   if isinstance(data := self.model_box.itemData(i), str)
                   and data != DEMO_MODEL_NAME and Path(data).is_dir()]
        self.checkpoint_rows = checkpoints.list_checkpoints(self.context.reader,
                                                         extra_folders=folders)
        table = self.checkpoint_table
        table.setRowCount(0)
        for row, entry in enumerate(self.checkpoint_rows):
            table.insertRow(row)
            cells = (entry.model_id.removeprefix("google/"),
                     "yes" if entry.on_disk else "no",
                     human_bytes(entry.size_bytes) if entry.size_bytes else "—",
                     _speed_text(entry))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(entry.hint)
                table.setItem(row, column, item)
        self._update_fast_box()

    def _update_fast_box(self) -> None:
        """The int8 checkbox with what was measured of it here, for the chosen checkpoint."""
        chosen = self.model_box.currentData()
        entry = next((c for c in self.checkpoint_rows
                      if c.model_id == chosen), None)
        text = "Fast mode (int8 on the CPU)"
        if entry is not None and entry.int8_speed and entry.speed \
                and entry.agreement is not None:
            text += (f": {entry.int8_speed:.1f} photos/s here, "
                     f"{entry.int8_speed / entry.speed:.1f}× fp32; vectors agree with fp32 "
                     f"at cosine {entry.agreement:.3f}")
        else:
            text += ": not measured here yet (Measure speed)"
        self.fast_box.setText(text)

    def measure_selected(self) -> None:
        """Measure the selected checkpoint on the user's photos, off the window's thread,
        with indexing paused so the figure is the model's, not its share of a busy CPU."""
        entry = self.selected_checkpoint()
        if entry is None or not entry.on_disk:
            self.manager_message.setText("Choose a checkpoint that is on this computer "
                                         "(download it first).")
            return
        if self._measuring:
            return
        self._measuring = True
        self.measure_button.setEnabled(False)
        self.manager_message.setText(
            f"Measuring {entry.model_id} on {checkpoints.CALIBRATION_PHOTOS} of your "
            "photos; indexing pauses meanwhile…")
        self._resume_after_measure = not self.bridge.paused
        if self._resume_after_measure:
            self.bridge.pause()
        signals = self._signals

        def run(paths: list[str], model_id: str = entry.model_id) -> None:
            try:
                signals.measured.emit(checkpoints.measure(model_id, paths), "")
            except (checkpoints.CalibrationError, ModelUnavailable) as exc:
                signals.measured.emit(None, str(exc))

        def start(paths: list[str] | None, error: BaseException | None) -> None:
            if error is not None or paths is None:
                self._measured(None, f"The library could not be read: {error}")
                return
            threading.Thread(target=run, args=(paths,), name="model-measure",
                             daemon=True).start()

        self.bridge.read(lambda library: checkpoints.sample_photos(library), start)

    def _measured(self, result: checkpoints.Calibration | None, error: str) -> None:
        self._measuring = False
        self.measure_button.setEnabled(True)
        if self._resume_after_measure:
            self._resume_after_measure = False
            self.bridge.resume()
        if result is None:
            self.manager_message.setText(error)
            return
        text = f"{result.model_id}: {result.speed:.1f} photos/s on your photos"
        if result.int8_speed and result.agreement is not None:
            text += (f"; int8 {result.int8_speed:.1f} photos/s, vectors agree with fp32 at "
                     f"cosine {result.agreement:.4f}")
        self.manager_message.setText(text + ".")
        self.bridge.submit(lambda library, _indexer: checkpoints.record_calibration(
            library, result), lambda _result, _error: self.refresh_checkpoints())

    def selected_checkpoint(self) -> checkpoints.Checkpoint | None:
        rows = self.checkpoint_table.selectionModel().selectedRows()
        return self.checkpoint_rows[rows[0].row()] if rows else None

    def download_selected(self) -> None:
        entry = self.selected_checkpoint()
        if entry is None or entry.model_id == DEMO_MODEL_NAME or Path(entry.model_id).is_dir():
            self.manager_message.setText("Choose a checkpoint from the hub to download.")
            return
        self._cancel.clear()
        self.download_bar.setRange(0, 0)
        self.download_bar.show()
        self.cancel_download_button.show()
        self.download_button.setEnabled(False)
        self.demo_button.hide()
        self.manager_message.setText(f"Downloading {entry.model_id}…")
        signals, cancel = self._signals, self._cancel

        def run(model_id: str = entry.model_id) -> None:  # off the window's thread
            try:
                checkpoints.download(model_id, progress=signals.progress.emit, cancel=cancel)
                signals.finished.emit(model_id, "")
            except (checkpoints.DownloadFailed, checkpoints.DownloadCancelled) as exc:
                signals.finished.emit(model_id, str(exc))

        self._download_thread = threading.Thread(target=run, name="model-download",
                                                 daemon=True)
        self._download_thread.start()

    def _download_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.download_bar.setRange(0, 1000)
            self.download_bar.setValue(int(1000 * min(done, total) / total))
            self.download_bar.setFormat(f"{human_bytes(done)} of {human_bytes(total)}")

    def _download_finished(self, model_id: str, error: str) -> None:
        self.download_bar.hide()
        self.cancel_download_button.hide()
        self.download_button.setEnabled(True)
        self._download_thread = None
        if error:
            self.manager_message.setText(error)
            # No connection: the demo model works without one.
            self.demo_button.setVisible("internet" in error)
        else:
            self.manager_message.setText(f"{model_id} is on this computer now.")
        self.refresh_checkpoints()

    def delete_selected(self) -> None:
        entry = self.selected_checkpoint()
        if entry is None or not entry.on_disk or entry.model_id == DEMO_MODEL_NAME \
                or Path(entry.model_id).is_dir():
            return
        if split_fast_suffix(self.context.bridge.model_id or "")[0] == entry.model_id:
            self.manager_message.setText("This checkpoint is in use; choose another first.")
            return
        freed = checkpoints.delete(entry.model_id)
        self.manager_message.setText(f"Deleted {entry.model_id} ({human_bytes(freed)} freed).")
        self.refresh_checkpoints()

    def _use_selected(self) -> None:
        entry = self.selected_checkpoint()
        if entry is not None:
            self._choose(entry.model_id)

    def _choose(self, model_id: str) -> None:
        index = self.model_box.findData(model_id)
        if index < 0:
            self.model_box.addItem(f"{os.path.basename(model_id)}  —  local folder", model_id)
            index = self.model_box.count() - 1
        self.model_box.setCurrentIndex(index)

    def chosen_model(self) -> str | None:
        model_id = self.model_box.currentData()
        if model_id and self.fast_box.isChecked() and model_id != DEMO_MODEL_NAME:
            return model_id + FAST_SUFFIX
        return model_id

    def _update_switch_note(self) -> None:
        model_id = self.chosen_model()
        reader = self.context.reader
        if model_id and model_id != self._initial_model_or_none() \
                and needs_background_switch(reader, model_id):
            self.switch_note.setText(switch_notice(reader, model_id)
                                     + " Tags you set by hand are kept.")
        else:
            self.switch_note.setText("Changing the model embeds every photo again in the "
                                     "background; search keeps working meanwhile, and tags "
                                     "you set by hand are kept.")

    def _initial_model_or_none(self) -> str | None:
        return getattr(self, "_initial_model", None)

    def done(self, result: int) -> None:
        self._cancel.set()  # a download in flight stops with the dialog
        if self._resume_after_measure:  # a measurement in flight: indexing goes on
            self._resume_after_measure = False
            self.bridge.resume()
        super().done(result)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a SigLIP 2 model folder")
        if path:
            self.model_box.addItem(f"{os.path.basename(path)}  —  local folder", path)
            self.model_box.setCurrentIndex(self.model_box.count() - 1)
            self.refresh_checkpoints()  # the manager lists the folder too

    def accept(self) -> None:
        self.apply()
        super().accept()

    def _checked(self, row: int, column: int) -> bool:
        item = self.folder_table.item(row, column)  # every row has its check boxes
        return item is not None and item.checkState() == Qt.CheckState.Checked

    def apply(self) -> None:
        self.context.settings.setValue("threads", self.threads.value())
        self.context.set_thumb_size(self.thumb.value())
        for row, folder in enumerate(self._folders):
            auto = self._checked(row, 1)
            poll = self._checked(row, 2)
            if poll != folder.polling:
                self.bridge.set_folder_polling(folder.id, poll)
            if auto != folder.auto_tag:
                path = folder.path

                def job(library: Library, indexer: Indexer, path: str = path,
                        auto: bool = auto) -> None:
                    label_api.set_folder_auto_tag(library, path, auto)
                    label_api.retag(library, lambda: indexer.embedder)

                self.bridge.submit(job, None)
        model_id = self.chosen_model()
        if model_id and model_id != self._initial_model:
            self.context.use_model(model_id)
