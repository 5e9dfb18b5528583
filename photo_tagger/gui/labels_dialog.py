"""The labels editor: add, rename and remove labels in any language, group synonyms under
one tag, and set a threshold while a live count says how many photos would get the tag."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelection, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSlider,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from photo_tagger.config import DEFAULT_TEMPLATE, DEFAULT_THRESHOLD
from photo_tagger.core import labels as label_api
from photo_tagger.core import tagger
from photo_tagger.core.browse import plural
from photo_tagger.core.languages import weak_language_warning
from photo_tagger.core.store import Library
from photo_tagger.gui.context import WindowContext
from photo_tagger.gui.models import LabelTableModel
from photo_tagger.gui.widgets import fit_to_screen

if TYPE_CHECKING:
    from photo_tagger.core.indexer import Indexer

SLIDER_STEPS = 1000
COUNT_DEBOUNCE_MS = 150


class LabelsEditor(QDialog):
    """Edits labels through the service; every saved change re-tags the library."""

    def __init__(self, context: WindowContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.bridge = context.bridge
        self.setWindowTitle("Labels")
        self._count_request = 0
        outer = QVBoxLayout(self)
        layout = QHBoxLayout()
        outer.addLayout(layout, 1)

        left = QVBoxLayout()
        intro = QLabel("Photos get a tag when the model's score for one of its labels reaches "
                       "the threshold. Labels in any language; synonyms share a tag.", self)
        intro.setWordWrap(True)
        intro.setObjectName("mutedText")
        left.addWidget(intro)
        self.model = LabelTableModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(
            2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        left.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.new_button = QPushButton("New Label", self)
        self.remove_button = QPushButton("Remove", self)
        row.addWidget(self.new_button)
        row.addWidget(self.remove_button)
        row.addStretch(1)
        left.addLayout(row)
        layout.addLayout(left, 3)

        editor = QWidget(self)
        form = QFormLayout(editor)
        self.name_edit = QLineEdit(editor)
        self.name_edit.setPlaceholderText("e.g. dog, Hund, chien, 狗")
        form.addRow("Label:", self.name_edit)
        self.language_note = QLabel(editor)  # a language the model is weak at
        self.language_note.setObjectName("languageNote")
        self.language_note.setWordWrap(True)
        self.language_note.hide()
        form.addRow(self.language_note)
        self.group_box = QComboBox(editor)
        self.group_box.setEditable(True)
        self.group_box.setToolTip("Leave empty for a tag of its own; choose a tag to make "
                                  "this label a synonym that adds to it.")
        form.addRow("Synonym of:", self.group_box)
        self.template_edit = QLineEdit(editor)
        self.template_edit.setPlaceholderText(DEFAULT_TEMPLATE)
        form.addRow("Prompt:", self.template_edit)
        self.default_box = QCheckBox(f"Default threshold ({DEFAULT_THRESHOLD:g})", editor)
        form.addRow("", self.default_box)
        threshold_row = QHBoxLayout()
        self.slider = QSlider(Qt.Orientation.Horizontal, editor)
        self.slider.setRange(0, SLIDER_STEPS)
        self.spin = QDoubleSpinBox(editor)
        self.spin.setRange(0.0, 1.0)
        self.spin.setDecimals(3)
        self.spin.setSingleStep(0.005)
        threshold_row.addWidget(self.slider, 1)
        threshold_row.addWidget(self.spin)
        form.addRow("Threshold:", threshold_row)
        self.count_label = QLabel("—", editor)
        self.count_label.setObjectName("countLabel")
        self.count_label.setWordWrap(True)
        form.addRow("Would tag:", self.count_label)
        count_hint = QLabel("Counted live from the stored photo vectors as you move the "
                            "threshold.", editor)
        count_hint.setWordWrap(True)
        count_hint.setObjectName("mutedText")
        form.addRow("", count_hint)
        self.learn_box = QCheckBox("Learn from my corrections", editor)
        self.learn_box.setToolTip(
            "Every photo you tag or untag with this label's tag teaches it; the library is "
            "re-tagged at once.")
        self.learn_box.setEnabled(False)
        form.addRow("", self.learn_box)
        self.save_button = QPushButton("Save", editor)
        self.save_button.setDefault(True)
        form.addRow("", self.save_button)
        self.message = QLabel(editor)
        self.message.setWordWrap(True)
        self.message.setObjectName("mutedText")
        form.addRow(self.message)
        layout.addWidget(editor, 2)

        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.close)
        outer.addWidget(close)

        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(COUNT_DEBOUNCE_MS)
        self._count_timer.timeout.connect(self.update_count)
        self.table.selectionModel().selectionChanged.connect(self._selected)
        self.slider.valueChanged.connect(lambda v: self._threshold_edited(v / SLIDER_STEPS))
        self.spin.valueChanged.connect(self._threshold_edited)
        self.default_box.toggled.connect(self._default_toggled)
        self.name_edit.textEdited.connect(lambda _: self._count_timer.start())
        self.name_edit.textChanged.connect(self._language_check)
        self.template_edit.textEdited.connect(lambda _: self._count_timer.start())
        self.new_button.clicked.connect(self.new_label)
        self.remove_button.clicked.connect(self.remove_label)
        self.save_button.clicked.connect(self.save)
        self.learn_box.clicked.connect(self.set_learning)
        self.editing: str | None = None
        self.reload()
        self.new_label()
        fit_to_screen(self, 820, 540)

    # -- data ---------------------------------------------------------------------------
    def reload(self, select: str | None = None) -> None:
        labels = label_api.list_labels(self.context.reader)
        self.model.set_labels(labels)
        current = self.group_box.currentText()
        self.group_box.clear()
        self.group_box.addItem("")
        self.group_box.addItems(sorted({label.tag for label in labels}))
        self.group_box.setCurrentText(current)
        if select is not None:
            row = self.model.row_of(select)
            if row is not None:
                self.table.selectRow(row)

    def _selected(self, selected: QItemSelection, _: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        label = self.model.label(rows[0].row())
        self.editing = label.name
        self.name_edit.setText(label.name)
        self.group_box.setCurrentText("" if label.tag == label.name else label.tag)
        self.template_edit.setText("" if label.template == DEFAULT_TEMPLATE else label.template)
        self.default_box.setChecked(not label.custom_threshold)
        self._set_threshold(label.threshold)
        self.learn_box.setEnabled(True)
        self.learn_box.setChecked(self.context.reader.learned_tag(label.tag) is not None)
        self.message.clear()
        self.update_count()

    def new_label(self) -> None:
        self.table.clearSelection()
        self.editing = None
        self.name_edit.clear()
        self.group_box.setCurrentText("")
        self.template_edit.clear()
        self.default_box.setChecked(True)
        self._set_threshold(DEFAULT_THRESHOLD)
        self.learn_box.setChecked(False)
        self.learn_box.setEnabled(False)  # a label is saved before it can learn
        self.count_label.setText("—")
        self.name_edit.setFocus()

    def _language_check(self, text: str) -> None:
        model_id = self.bridge.model_id or self.context.reader.model_id
        warning = weak_language_warning(text, model_id)
        self.language_note.setText(warning or "")
        self.language_note.setVisible(warning is not None)

    # -- threshold and live count -------------------------------------------------------
    def threshold(self) -> float:
        return DEFAULT_THRESHOLD if self.default_box.isChecked() else self.spin.value()

    def _set_threshold(self, value: float) -> None:
        for widget in (self.slider, self.spin):
            widget.blockSignals(True)
        self.slider.setValue(round(value * SLIDER_STEPS))
        self.spin.setValue(value)
        for widget in (self.slider, self.spin):
            widget.blockSignals(False)
        enabled = not self.default_box.isChecked()
        self.slider.setEnabled(enabled)
        self.spin.setEnabled(enabled)

    def _threshold_edited(self, value: float) -> None:
        self._set_threshold(value)
        self._count_timer.start()

    def _default_toggled(self, on: bool) -> None:
        self._set_threshold(DEFAULT_THRESHOLD if on else self.spin.value())
        self._count_timer.start()

    def update_count(self) -> None:
        name = self.name_edit.text().strip()
        if not name:
            self.count_label.setText("—")
            return
        self._count_request += 1
        request = self._count_request
        template = self.template_edit.text().strip() or DEFAULT_TEMPLATE
        threshold = self.threshold()

        def job(library: Library, indexer: Indexer) -> tuple[int, int]:
            return tagger.would_tag(library, indexer.embedder, name, template, threshold)

        def show(result: tuple[int, int] | None, error: BaseException | None) -> None:
            if request != self._count_request:
                return  # the threshold moved on since
            if error is not None or result is None:
                self.count_label.setText(f"Needs the model ({error})")
                return
            count, total = result
            self.count_label.setText(f"{count:,} of {plural(total, 'photo')}")

        self.count_label.setText("counting…")
        self.bridge.submit(job, show)

    # -- edits --------------------------------------------------------------------------
    def save(self) -> None:
        name = self.name_edit.text().strip()
        group = self.group_box.currentText().strip() or None
        template = self.template_edit.text().strip() or None
        threshold = None if self.default_box.isChecked() else self.spin.value()
        editing = self.editing

        def job(library: Library, indexer: Indexer) -> label_api.RetagResult:
            if editing is not None and editing != name:
                label_api.edit_label(library, editing, new_name=name)
            if editing is not None and group is None:
                label_api.edit_label(library, name, tag=name)
            label_api.add_label(library, name, synonym_of=group,
                                template=template or DEFAULT_TEMPLATE)
            label_api.set_threshold(library, name, threshold)
            return self._retag(library, indexer)

        self._run(job, select=name, done_text=f"Saved “{name}”.")

    def set_learning(self, on: bool) -> None:
        """The switch: the label's tag learns from the user's tags and untags (or stops)."""
        if self.editing is None:
            return
        name = self.editing

        def job(library: Library, indexer: Indexer) -> label_api.RetagResult:
            label_api.learn_tag(library, name, on, load_embedder=lambda: indexer.embedder)
            indexer.invalidate_labels()
            return label_api.RetagResult(True)

        state = "learns from your corrections" if on else "no longer learns"
        self._run(job, select=name, done_text=f"“{name}” {state}.")

    def remove_label(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        name = self.model.label(rows[0].row()).name
        answer = QMessageBox.question(
            self, "Remove label", f"Remove the label “{name}”? Its automatic tags go; "
            "tags you set by hand stay.")
        if answer != QMessageBox.StandardButton.Yes:
            return

        def job(library: Library, indexer: Indexer) -> label_api.RetagResult:
            label_api.remove_label(library, name)
            return self._retag(library, indexer)

        self._run(job, select=None, done_text=f"Removed “{name}”.")
        self.new_label()

    @staticmethod
    def _retag(library: Library, indexer: Indexer) -> label_api.RetagResult:
        result = label_api.retag(library, lambda: indexer.embedder)
        indexer.invalidate_labels()
        return result

    def _run(self, job: Any, select: str | None, done_text: str) -> None:
        self.save_button.setEnabled(False)
        self.message.setText("Re-tagging…")

        def finished(result: label_api.RetagResult | None, error: BaseException | None) -> None:
            self.save_button.setEnabled(True)
            if error is not None:
                self.message.setText(str(error))
                if not isinstance(error, label_api.LabelError):
                    QMessageBox.warning(self, "Label not saved", str(error))
                return
            text = done_text
            if result is not None and result.message:
                text += " " + result.message
            self.message.setText(text)
            self.reload(select)
            self.context.library_edited()

        self.bridge.submit(job, finished)
