"""The review queue of a learning tag: a grid of the photos its classifier is least sure
about, most informative first; Y or → accepts the current photo, N or ← rejects it, and
each answer retrains the tag (core/learning.py) and brings the next candidates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from photo_tagger.core import labels as label_api
from photo_tagger.core.learning import Candidate
from photo_tagger.core.search import SearchResult
from photo_tagger.core.store import Library
from photo_tagger.gui.context import WindowContext
from photo_tagger.gui.models import PhotoListModel
from photo_tagger.gui.widgets import PhotoGrid, fit_to_screen

if TYPE_CHECKING:
    from photo_tagger.core.indexer import Indexer

REVIEW_LIMIT = 40
ACCEPT_KEYS = (Qt.Key.Key_Y, Qt.Key.Key_Right)
REJECT_KEYS = (Qt.Key.Key_N, Qt.Key.Key_Left)


class ReviewDialog(QDialog):
    """Asks about one photo at a time, the first of the grid; the service does the rest."""

    def __init__(self, context: WindowContext, tag: str, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.context = context
        self.tag = tag
        self.setWindowTitle(f"Review “{tag}”")
        layout = QVBoxLayout(self)
        self.prompt = QLabel(self)
        self.prompt.setWordWrap(True)
        layout.addWidget(self.prompt)
        self.model = PhotoListModel(context.thumbnails, self)
        self.grid = PhotoGrid(self, context.thumb_size())
        self.grid.setModel(self.model)
        self.grid.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys are the dialog's
        layout.addWidget(self.grid, 1)
        self.candidates: list[Candidate] = []
        self.busy = False
        fit_to_screen(self, 760, 560)
        self.reload()

    def reload(self) -> None:
        """Ask the service for the candidates (after each answer: it retrained)."""
        tag = self.tag

        def job(library: Library, indexer: Indexer) -> list[Candidate]:
            return label_api.review_candidates(library, tag, REVIEW_LIMIT)

        self.busy = True
        self.context.bridge.submit(job, self._show)

    def _show(self, candidates: list[Candidate] | None, error: BaseException | None) -> None:
        self.busy = False
        if error is not None or candidates is None:
            self.prompt.setText(str(error))
            self.candidates = []
            self.model.set_results([])
            return
        self.candidates = candidates
        self.model.set_results([SearchResult(c.photo_id, c.path, c.probability)
                                for c in candidates])
        if candidates:
            self.grid.setCurrentIndex(self.model.index(0, 0))
            first = candidates[0]
            self.prompt.setText(
                f"Is this “{self.tag}”? (probability {first.probability:.2f}) "
                "Y or → yes, N or ← no. The first photo is asked about; the rest follow.")
        else:
            self.prompt.setText("Nothing left to review: every photo is decided.")

    def answer(self, present: bool) -> None:
        """Tag or untag the photo asked about; the tag retrains, then the next ones."""
        if self.busy or not self.candidates:
            return
        self.busy = True
        self.context.set_tag([self.candidates[0].path], self.tag, present, parent=self,
                             done=self.reload)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in ACCEPT_KEYS:
            self.answer(True)
        elif event.key() in REJECT_KEYS:
            self.answer(False)
        else:
            super().keyPressEvent(event)
