"""Search you can trust, in the window: only the matches with their probability, the rest
of the ranking in one click, why a photo matched, sorting by date, saved searches in the
sidebar with live counts, the syntax cheat sheet, Escape and `tag:` completion. The real
window over the demo model, a real library and watcher, offscreen."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from photo_tagger.config import DEMO_MODEL_NAME  # noqa: E402
from photo_tagger.demo.shapes import render_shape, write_dataset  # noqa: E402
from photo_tagger.gui.app import create_main_window  # noqa: E402
from photo_tagger.gui.models import ProbabilityRole  # noqa: E402

WAIT = 60_000


@pytest.fixture
def shapes(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """30 demo shapes, each file a day older than the one before (mtime = its date)."""
    items = write_dataset(tmp_path / "photos", 30, seed=77)
    for day, item in enumerate(items):
        stamp = 1_700_000_000 - day * 86_400
        os.utime(item.path, (stamp, stamp))
    return {str(item.path.resolve()): (item.shape, item.colour) for item in items}


@pytest.fixture
def window(qtbot, isolated_home: Path, tmp_path: Path, shapes):
    win = create_main_window(isolated_home, DEMO_MODEL_NAME)
    qtbot.addWidget(win)
    win.show()
    win.add_folder(tmp_path / "photos")
    qtbot.waitUntil(lambda: win.photos.rowCount() == 30, timeout=WAIT)
    yield win
    win.close()


def search(qtbot, window, text: str) -> None:
    window.browse.found = None  # wait for this query's answer, not the last one's
    window.search.setText(text)
    window.run_query()
    qtbot.waitUntil(lambda: window.browse.found is not None, timeout=WAIT)


def test_only_matches_with_probability_then_the_weaker_in_one_click(qtbot, window,
                                                                    shapes) -> None:
    search(qtbot, window, "red")
    found = window.browse.found
    reds = {p for p, (_, colour) in shapes.items() if colour == "red"}
    assert 0 < found.matches < 30 and found.weaker > 0
    assert window.photos.rowCount() == found.matches
    assert window.context_label.text() == f"{found.matches} match" + \
        ("es" if found.matches != 1 else "")
    shown = window.photos.results()
    assert {r.path for r in shown} <= reds | {r.path for r in shown if r.probability}
    assert len({r.path for r in shown} & reds) >= 0.8 * len(reds)
    assert all(r.probability is not None and r.probability >= found.cutoff for r in shown)
    index = window.photos.index(0, 0)
    assert index.data(ProbabilityRole).endswith("%")
    assert "probability" in index.data(Qt.ItemDataRole.ToolTipRole)
    assert window.weaker_button.isVisible()
    assert window.weaker_button.text() == f"Show {found.weaker:,} weaker match" + \
        ("es" if found.weaker != 1 else "")

    window.weaker_button.click()
    qtbot.waitUntil(lambda: window.photos.rowCount() == 30, timeout=WAIT)
    assert window.context_label.text().startswith("All 30 results")
    assert not window.weaker_button.isVisible()
    probabilities = [r.probability for r in window.photos.results()]
    assert probabilities == sorted(probabilities, reverse=True)

    # A new query shows only its matches again.
    search(qtbot, window, "blue")
    assert window.photos.rowCount() == window.browse.found.matches < 30


def test_why_this_photo_gives_the_breakdown(qtbot, window) -> None:
    search(qtbot, window, "red circle -square")
    window.grid.setCurrentIndex(window.photos.index(0, 0))
    menu = window.photo_menu(window.photos.index(0, 0))
    assert "Why This Photo?" in [a.text() for a in menu.actions()]
    window.explain_current()
    qtbot.waitUntil(lambda: getattr(window, "why_box", None) is not None
                    and window.why_box.isVisible(), timeout=WAIT)
    text = window.why_box.text()
    assert "“red circle”" in text and "NOT “square”" in text
    assert "Tags:" in text and "Date: 2023" in text
    window.why_box.close()

    # A plain listing has nothing to explain.
    window.show_all()
    qtbot.waitUntil(lambda: window.browse.found is None and window.photos.rowCount() == 30,
                    timeout=WAIT)
    assert "Why This Photo?" not in [a.text() for a in
                                     window.photo_menu(window.photos.index(0, 0)).actions()]


def test_sort_by_date_is_a_control(qtbot, window) -> None:
    search(qtbot, window, "circle")
    by_relevance = [r.path for r in window.photos.results()]
    window.browse.found = None
    window.sort_box.setCurrentIndex(window.sort_box.findData("date"))
    qtbot.waitUntil(lambda: window.browse.found is not None, timeout=WAIT)
    assert window.browse.found.query.sort == "date"
    by_date = [r.path for r in window.photos.results()]
    assert sorted(by_date) == sorted(by_relevance)
    mtimes = [os.path.getmtime(p) for p in by_date]
    assert mtimes == sorted(mtimes, reverse=True)


def test_saved_search_in_the_sidebar_counts_live(qtbot, window, tmp_path: Path) -> None:
    search(qtbot, window, "green")
    greens = window.browse.found.matches
    window.save_search("Greens", "green")
    qtbot.waitUntil(lambda: window.albums.rowCount() == 1
                    and window.albums.entry(0).count == greens, timeout=WAIT)
    assert window.albums.entry(0).title == "Greens"

    # A new green photo is indexed: the count follows, without re-embedding the query.
    for n in range(2):
        render_shape("heart", "green", np.random.default_rng(500 + n)).save(
            tmp_path / "photos" / f"new_green_{n}.png")
    qtbot.waitUntil(lambda: window.albums.entry(0).count == greens + 2, timeout=WAIT)

    # A click opens it; its context menu removes it.
    window.album_view.clicked.emit(window.albums.index(0, 0))
    qtbot.waitUntil(lambda: window.search.text() == "album:Greens"
                    and window.browse.found is not None
                    and window.photos.rowCount() == greens + 2, timeout=WAIT)
    window.remove_album("Greens")
    qtbot.waitUntil(lambda: window.albums.rowCount() == 0, timeout=WAIT)


def test_cheat_sheet_escape_and_tag_completion(qtbot, window) -> None:
    window.help_button.click()
    qtbot.waitUntil(lambda: window.search_help.isVisible(), timeout=WAIT)
    assert "tag:beach" in window.search_help.text() and "sort:date" in window.search_help.text()
    window.search_help.close()

    window.search.setFocus()
    qtbot.keyClicks(window.search, "red star")
    qtbot.keyClick(window.search, Qt.Key.Key_Escape)
    assert window.search.text() == ""

    done = []
    window.set_tag([window.photos.result(0).path], "Lieblingsfoto", True,
                   done=lambda: done.append(True))
    qtbot.waitUntil(lambda: "Lieblingsfoto" in window.known_tags, timeout=WAIT)
    qtbot.keyClicks(window.search, "red tag:lieb")
    completer = window.search.term_completer
    qtbot.waitUntil(lambda: completer.popup().isVisible(), timeout=WAIT)
    assert completer.currentCompletion() == "Lieblingsfoto"
    completer.popup().setCurrentIndex(completer.completionModel().index(0, 0))
    qtbot.keyClick(completer.popup(), Qt.Key.Key_Return)
    assert window.search.text() == "red tag:Lieblingsfoto "
    folder = window.folders.entry(1).key
    qtbot.keyClicks(window.search, "folder:")
    qtbot.waitUntil(lambda: completer.popup().isVisible(), timeout=WAIT)
    assert completer.currentCompletion() == folder
