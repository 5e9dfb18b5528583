"""Dialogs that only list things: the files indexing skipped, with the reason for each, and
the keyboard shortcuts."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photo_tagger.core.browse import plural
from photo_tagger.gui.widgets import fit_to_screen


class TableDialog(QDialog):
    """A read-only two-column table under a line of text, with Close."""

    def __init__(self, title: str, headers: tuple[str, str], parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.intro.setObjectName("mutedText")
        layout.addWidget(self.intro)
        self.table = QTableWidget(0, 2, self)
        self.table.setHorizontalHeaderLabels(list(headers))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        fit_to_screen(self, 820, 480)

    def set_rows(self, rows: list[tuple[str, str]], tooltips: list[str] | None = None) -> None:
        self.table.setRowCount(len(rows))
        for row, (first, second) in enumerate(rows):
            for column, text in enumerate((first, second)):
                item = QTableWidgetItem(text)
                if tooltips is not None:
                    item.setToolTip(tooltips[row])
                self.table.setItem(row, column, item)
        self.table.resizeColumnToContents(0)
        self.table.setColumnWidth(0, min(self.table.columnWidth(0), self.width() // 2))


class SkippedDialog(TableDialog):
    """The files indexing skipped (unreadable, not an image, too large), with why."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Skipped files", ("File", "Why it was skipped"), parent)
        self.intro.setText("Loading…")

    def show_skipped(self, skipped: list[tuple[str, str]]) -> None:
        self.intro.setText(
            f"{plural(len(skipped), 'file was', 'files were')} not indexed; each is tried "
            "again when it changes." if skipped else "No files were skipped.")
        self.set_rows(list(skipped), [path for path, _ in skipped])
        self.table.sortItems(0, Qt.SortOrder.AscendingOrder)


class ShortcutsDialog(TableDialog):
    """Every shortcut of the window, listed from its actions."""

    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__("Keyboard shortcuts", ("Keys", "Action"), parent)
        self.intro.setText("Every action of the window has a key. Menus also open with "
                           "Alt and the underlined letter.")
        self.set_rows(rows)
