"""The welcome page's "Try it with sample photos", offline, in a real window: the samples
are written to the data folder, indexed with the demo model, and the example query shows
matching photos; the labels and duplicates dialogs then have real content."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from photo_tagger.config import DEMO_DUPLICATE_THRESHOLD  # noqa: E402
from photo_tagger.demo.samples import SAMPLE_QUERY, sample_folder  # noqa: E402
from photo_tagger.gui.app import create_main_window  # noqa: E402

WAIT = 120_000


def test_sample_photos_fill_search_tags_labels_and_duplicates(qtbot,
                                                              isolated_home: Path) -> None:
    # Offline with no model at hand: the default checkpoint cannot load.
    win = create_main_window(isolated_home, str(isolated_home / "no-such-model"))
    qtbot.addWidget(win)
    win.show()
    try:
        qtbot.waitUntil(lambda: win.banner.isVisible(), timeout=WAIT)
        assert win.pages.currentWidget() is win.welcome
        assert win.welcome.sample_button.isVisible()
        win.welcome.sample_button.click()
        qtbot.waitUntil(lambda: win.search.text() == SAMPLE_QUERY, timeout=WAIT)
        qtbot.waitUntil(lambda: win.photos.rowCount() > 0
                        and Path(win.photos.result(0).path).stem.startswith("red "), timeout=WAIT)
        assert win.pages.currentWidget() is win.browser
        assert win.reader.model_id == "demo:shapes"
        assert len(list(sample_folder(isolated_home).iterdir())) == 65
        qtbot.waitUntil(lambda: "red" in win.known_tags, timeout=WAIT)

        from photo_tagger.gui.duplicates import DuplicatesDialog
        from photo_tagger.gui.labels_dialog import LabelsEditor

        labels = LabelsEditor(win.context, win)
        qtbot.addWidget(labels)
        qtbot.waitUntil(lambda: labels.model.rowCount() > 0, timeout=WAIT)
        names = {labels.model.label(row).name for row in range(labels.model.rowCount())}
        assert {"rot", "rouge", "红色", "Kreis"} <= names and "dog" not in names
        dialog = DuplicatesDialog(win.context, win)
        qtbot.addWidget(dialog)
        assert dialog.threshold.value() == pytest.approx(DEMO_DUPLICATE_THRESHOLD)
        qtbot.waitUntil(lambda: dialog.groups.rowCount() >= 5, timeout=WAIT)
    finally:
        win.close()
