"""The main window's two panels besides the grid: the first-run welcome page and the banner
that explains a missing model. They show; the window connects their buttons."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from photo_tagger.gui.icons import app_icon


class WelcomePage(QWidget):
    """First run: what the app does, and the one thing to do — add a folder."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        logo = QLabel(self)
        logo.setPixmap(app_icon().pixmap(QSize(96, 96)))
        logo.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(logo)
        title = QLabel("Welcome to Photo Tagger", self)
        title.setObjectName("welcomeTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(title)
        text = QLabel(
            "Search your photos by what is in them — in any language — and let them tag "
            "themselves.<br>Everything runs on this computer; nothing is uploaded.<br><br>"
            "Add the folders that hold your photos, or drop them onto this window. "
            "New photos are picked up as they arrive.", self)
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        text.setMaximumWidth(560)
        text.setMinimumWidth(520)
        text.setObjectName("welcomeText")
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(text)
        row.addStretch(1)
        layout.addLayout(row)
        self.add_button = QPushButton("Add a photo folder…", self)
        self.add_button.setObjectName("primaryButton")
        self.add_button.setDefault(True)
        self.add_button.setMinimumHeight(40)
        # Offline and without photos at hand: shapes the demo model knows, indexed at once.
        self.sample_button = QPushButton("Try it with sample photos", self)
        self.sample_button.setMinimumHeight(40)
        self.sample_button.setToolTip(
            "Draws 65 pictures of coloured shapes (a few with resized copies) in the app's "
            "data folder and indexes them with the small offline demo model.")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.sample_button)
        buttons.addStretch(1)
        layout.addSpacing(12)
        layout.addLayout(buttons)
        hint = QLabel("Photos stay where they are: the app only reads them.", self)
        hint.setObjectName("mutedText")
        hint.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(hint)
        layout.addStretch(3)


class ModelBanner(QFrame):
    """Explains a missing model (or shows its download) with the ways out: its buttons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelBanner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message, 1)
        self.progress = QProgressBar(self)
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        layout.addWidget(self.progress)
        self.choose_button = QPushButton("Choose model folder…", self)
        layout.addWidget(self.choose_button)
        self.demo_button = QPushButton("Use demo model", self)
        self.demo_button.setToolTip("A small model trained on coloured shapes; works offline. "
                                    "Good for trying the app, not for real photos.")
        layout.addWidget(self.demo_button)
        self.hide()

    def show_failure(self, message: str) -> None:
        self.progress.hide()
        self.choose_button.show()
        self.demo_button.show()
        self.message.setText(
            "<b>The search model is not available.</b> Folders are still watched and photos "
            f"are listed; search and tags start once a model is chosen.<br>{message}")
        self.show()

    def show_download(self, done: int, total: int) -> None:
        self.choose_button.hide()
        self.demo_button.hide()
        self.progress.show()
        self.progress.setRange(0, max(1, total // 1024))
        self.progress.setValue(done // 1024)
        self.message.setText(f"<b>Downloading the model</b> — {done / 1e6:,.0f} of "
                             f"{total / 1e6:,.0f} MB. You can add folders meanwhile.")
        self.show()
