"""Tags that learn, in the window: the labels editor's switch, "Find more like these…" on a
selection, and the review queue's keys, over the real service and the tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QInputDialog  # noqa: E402

from photo_tagger.core.store import Library  # noqa: E402
from photo_tagger.gui.app import create_main_window  # noqa: E402
from photo_tagger.gui.labels_dialog import LabelsEditor  # noqa: E402
from photo_tagger.gui.review_dialog import ReviewDialog  # noqa: E402
from photo_tagger.paths import library_path  # noqa: E402
from photos import noise, solid  # noqa: E402

WAIT = 60_000


@pytest.fixture
def indexed(qtbot, isolated_home: Path, fixres_model: Path, tmp_path: Path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        solid(folder / f"red{i}.png", (200 + 20 * i, 30, 30))
        solid(folder / f"blue{i}.png", (30, 30, 200 + 20 * i))
        noise(folder / f"noise{i}.png", seed=i)
    win = create_main_window(isolated_home, str(fixres_model))
    qtbot.addWidget(win)
    win.show()
    win.add_folder(folder)
    qtbot.waitUntil(lambda: win.photos.rowCount() == 9, timeout=WAIT)
    win.test_folder = folder
    yield win
    win.close()


def path_of(win, name: str) -> str:
    return str((win.test_folder / name).resolve())


def learned(home: Path, tag: str):
    with Library(library_path(home)) as library:
        return library.learned_tag(tag)


def sources(home: Path, tag: str) -> dict[str, str]:
    with Library(library_path(home)) as library:
        return {Path(p).name: s for p, s in library.conn.execute(
            "SELECT p.path, t.source FROM tags t JOIN photos p ON p.id = t.photo_id "
            "WHERE t.tag = ? AND t.rejected = 0", (tag,))}


def test_the_labels_editor_switch_turns_learning_on_and_off(qtbot, indexed,
                                                          isolated_home: Path) -> None:
    win = indexed
    editor = LabelsEditor(win.context, win)
    qtbot.addWidget(editor)
    editor.show()
    assert not editor.learn_box.isEnabled()  # a new label is saved first
    editor.table.selectRow(editor.model.row_of("dog"))
    assert editor.learn_box.isEnabled() and not editor.learn_box.isChecked()
    qtbot.mouseClick(editor.learn_box, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: learned(isolated_home, "dog") is not None, timeout=WAIT)
    qtbot.waitUntil(lambda: editor.save_button.isEnabled(), timeout=WAIT)
    assert editor.learn_box.isChecked()
    assert learned(isolated_home, "dog").prior  # type: ignore[union-attr]
    qtbot.mouseClick(editor.learn_box, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: learned(isolated_home, "dog") is None, timeout=WAIT)
    editor.close()


def test_find_more_like_these_learns_a_tag_from_the_selection(qtbot, indexed,
                                                              isolated_home: Path) -> None:
    win = indexed
    assert "Find More Like These…" in win.photo_actions
    paths = [path_of(win, "red0.png"), path_of(win, "red1.png")]

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, QInputDialog)
        dialog.setTextValue("Rex")
        dialog.accept()

    QTimer.singleShot(200, answer)
    win.ask_find_more(paths)
    qtbot.waitUntil(lambda: learned(isolated_home, "Rex") is not None
                    and learned(isolated_home, "Rex").weights is not None, timeout=WAIT)
    found = sources(isolated_home, "Rex")
    assert found["red0.png"] == found["red1.png"] == "manual"
    rex = learned(isolated_home, "Rex")
    assert rex.examples == 2 and not rex.prior  # a name the model cannot read

    # The review queue: the first candidate is asked about; Y tags it and retrains.
    dialog = ReviewDialog(win.context, "Rex", win)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: len(dialog.candidates) == 7, timeout=WAIT)
    first = Path(dialog.candidates[0].path).name
    qtbot.keyClick(dialog, Qt.Key.Key_Y)
    qtbot.waitUntil(lambda: len(dialog.candidates) == 6 and not dialog.busy, timeout=WAIT)
    assert sources(isolated_home, "Rex")[first] == "manual"
    second = Path(dialog.candidates[0].path).name
    qtbot.keyClick(dialog, Qt.Key.Key_Left)  # ← rejects
    qtbot.waitUntil(lambda: len(dialog.candidates) == 5 and not dialog.busy, timeout=WAIT)
    assert second not in sources(isolated_home, "Rex")
    assert learned(isolated_home, "Rex").examples == 4  # type: ignore[union-attr]
    dialog.close()
