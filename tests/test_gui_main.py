"""The main window over the real service: a tiny real model, a real library and watcher,
real widgets offscreen."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from photo_tagger.core.search import SearchResult  # noqa: E402
from photo_tagger.gui.app import create_main_window  # noqa: E402
from photo_tagger.gui.models import (  # noqa: E402
    DuplicateGroupModel,
    LabelTableModel,
    PhotoListModel,
    SidebarEntry,
    SidebarListModel,
)
from photos import solid  # noqa: E402

WAIT = 60_000


def make_photos(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    solid(folder / "red.png", (220, 30, 30))
    solid(folder / "blue.png", (30, 30, 220))
    solid(folder / "green.jpg", (30, 200, 40))
    return folder


@pytest.fixture
def window(qtbot, isolated_home: Path, fixres_model: Path):
    win = create_main_window(isolated_home, str(fixres_model))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def test_item_models_pass_the_model_tester(qtmodeltester) -> None:
    from photo_tagger.core.labels import LabelInfo

    photos = PhotoListModel()
    photos.set_results([SearchResult(1, "/a/1.jpg", 0.5), SearchResult(2, "/a/2.jpg", 0.4)])
    qtmodeltester.check(photos)
    sidebar = SidebarListModel()
    sidebar.set_entries([SidebarEntry(None, "All photos", 3), SidebarEntry("dog", "dog", 2)])
    qtmodeltester.check(sidebar)
    labels = LabelTableModel()
    labels.set_labels([LabelInfo("dog", "dog", "a photo of {label}.", 0.1, False),
                       LabelInfo("Hund", "dog", "a photo of {label}.", 0.2, True)])
    qtmodeltester.check(labels)
    groups = DuplicateGroupModel()
    groups.set_groups([[SearchResult(1, "/a/1.jpg", 0.99), SearchResult(2, "/a/2.jpg", 0.99)]])
    qtmodeltester.check(groups)


def test_first_run_shows_the_welcome_page_then_adding_a_folder_fills_the_grid(
        qtbot, window, tmp_path: Path) -> None:
    assert window.pages.currentWidget() is window.welcome
    folder = make_photos(tmp_path / "photos")
    window.add_folder(folder)
    qtbot.waitUntil(lambda: window.photos.rowCount() == 3, timeout=WAIT)
    assert window.pages.currentWidget() is window.browser
    qtbot.waitUntil(lambda: window.folders.rowCount() == 2
                    and window.folders.entry(1).count == 3, timeout=WAIT)
    assert window.folders.entry(1).key == str(folder.resolve())
    assert "3 photos" in window.count_label.text()

    # A typed query (debounced) fills the grid with ranked results from the model.
    window.photos.set_results([])
    qtbot.keyClicks(window.search, "a red circle")
    # Only the matches first (a random tiny model matches few), then the whole ranking.
    qtbot.waitUntil(lambda: window.browse.found is not None, timeout=WAIT)
    if window.weaker_button.isVisible():
        window.weaker_button.click()
    qtbot.waitUntil(lambda: window.photos.rowCount() == 3, timeout=WAIT)
    assert window.context_label.text().startswith("All 3 results")
    scores = [window.photos.result(r).score for r in range(3)]
    assert scores == sorted(scores, reverse=True) and scores[0] < 1.0

    # Thumbnails are decoded off the GUI thread and cached on disk.
    qtbot.waitUntil(lambda: all(window.loader.pixmap(r.path) is not None
                                for r in window.photos.results()), timeout=WAIT)
    assert list((window.home / "thumbnails").rglob("*.jpg"))


def test_new_photo_in_a_watched_folder_appears(qtbot, window, tmp_path: Path) -> None:
    folder = make_photos(tmp_path / "photos")
    window.add_folder(folder)
    qtbot.waitUntil(lambda: window.photos.rowCount() == 3, timeout=WAIT)
    solid(folder / "yellow.png", (230, 220, 20))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 4, timeout=WAIT)
    assert window.photos.row_of_path(str((folder / "yellow.png").resolve())) is not None


def test_status_bar_pause_and_resume(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.bridge.state == "idle", timeout=WAIT)
    window.pause_button.click()
    qtbot.waitUntil(lambda: window.bridge.state == "paused", timeout=WAIT)
    assert window.pause_button.text() == "Resume"
    assert window.state_label.text() == "Paused"
    window.pause_button.click()
    qtbot.waitUntil(lambda: window.bridge.state == "idle", timeout=WAIT)
    assert window.pause_button.text() == "Pause"


def test_missing_model_is_explained_with_ways_out(qtbot, isolated_home: Path) -> None:
    win = create_main_window(isolated_home, str(isolated_home / "no-such-model"))
    qtbot.addWidget(win)
    win.show()
    try:
        qtbot.waitUntil(lambda: win.banner.isVisible(), timeout=WAIT)
        assert "not available" in win.banner.message.text()
        assert win.banner.choose_button.isVisible() and win.banner.demo_button.isVisible()
        assert win.pages.currentWidget() is win.welcome
    finally:
        win.close()


def test_close_stops_every_thread(qtbot, isolated_home: Path, fixres_model: Path,
                                  tmp_path: Path) -> None:
    before = set(threading.enumerate())
    win = create_main_window(isolated_home, str(fixres_model))
    qtbot.addWidget(win)
    win.show()
    win.add_folder(make_photos(tmp_path / "photos"))
    qtbot.waitUntil(lambda: win.photos.rowCount() == 3, timeout=WAIT)
    service = win.bridge.service
    threads = service.threads()
    assert threads
    win.close()
    assert not service.running
    assert all(not t.is_alive() for t in threads)
    assert win.loader.pool.activeThreadCount() == 0
    left = [t for t in threading.enumerate() if t not in before and not t.daemon]
    assert left == []
    win.shutdown()  # twice is harmless


def test_geometry_and_thumbnail_size_are_remembered(qtbot, isolated_home: Path,
                                                     fixres_model: Path) -> None:
    win = create_main_window(isolated_home, str(fixres_model))
    qtbot.addWidget(win)
    win.resize(700, 520)
    win.show()
    win.set_thumb_size(260)
    win.close()
    again = create_main_window(isolated_home, str(fixres_model))
    qtbot.addWidget(again)
    try:
        assert again.thumb_size == 260
        assert (again.width(), again.height()) == (700, 520)
    finally:
        again.close()


def test_importing_the_gui_does_not_import_torch() -> None:
    code = ("import sys, photo_tagger.gui.app; "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).parent.parent, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_ctrl_f_focuses_the_search_box(qtbot, window) -> None:
    window.activateWindow()
    window.grid.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.search.hasFocus() or window.focusWidget() is window.search)


def test_status_bar_shows_rate_and_time_left(window) -> None:
    from photo_tagger.core.indexer import IndexProgress

    window.show_progress(IndexProgress("index", 5, 20, "/photos/a.jpg", 2.5))
    assert window.progress_bar.isVisible()
    assert window.progress_bar.format() == "5 / 20"
    text = window.state_label.text()
    assert "2.5 photos/s" in text and "about 6 s left" in text and "a.jpg" in text
    window.show_progress(IndexProgress("done", 20, 20, None, 2.5))
    assert not window.progress_bar.isVisible()


def test_a_tag_in_the_sidebar_combines_with_the_query(qtbot, window, tmp_path: Path) -> None:
    folder = make_photos(tmp_path / "photos")
    window.add_folder(folder)
    qtbot.waitUntil(lambda: window.photos.rowCount() == 3, timeout=WAIT)
    red = str((folder / "red.png").resolve())
    done = []
    window.set_tag([red], "Lieblingsfoto", True, done=lambda: done.append(True))
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT)
    qtbot.waitUntil(lambda: window.tags.row_of("Lieblingsfoto") is not None, timeout=WAIT)
    row = window.tags.row_of("Lieblingsfoto")
    window.tag_view.setCurrentIndex(window.tags.index(row, 0))
    window.apply_filters()
    qtbot.waitUntil(lambda: window.photos.rowCount() == 1, timeout=WAIT)
    window.search.setText("blue")
    window.run_query()
    qtbot.waitUntil(lambda: window.browse.found is not None, timeout=WAIT)
    window.show_weaker()  # the whole ranking within the tag: one photo
    qtbot.waitUntil(lambda: window.context_label.text().startswith("All 1 result"),
                    timeout=WAIT)
    assert window.photos.result(0).path == red


def test_model_download_progress_is_shown(window) -> None:
    window.banner.show_download(50_000_000, 200_000_000)
    assert window.banner.isVisible() and window.banner.progress.isVisible()
    assert "50 of 200 MB" in window.banner.message.text()
    assert not window.banner.choose_button.isVisible()


def test_a_refresh_while_indexing_keeps_the_users_place(qtbot, window, tmp_path: Path
                                                        ) -> None:
    window.add_folder(make_photos(tmp_path / "photos"))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 3, timeout=WAIT)
    window.refresh_timer.timeout.disconnect()  # the real listing must not replace ours
    # What follows stands in for listings of a big library.
    listing = window.browse.query(window.filters())
    grid = window.grid

    def in_top_line(path: str) -> bool:
        row = window.photos.row_of_path(path)
        top = grid.visualRect(window.photos.index(row, 0)).top() if row is not None else -1
        return 0 <= top < grid.gridSize().height()

    rows = [SearchResult(i + 1, f"/nowhere/{i:06d}.jpg", 1.0) for i in range(20_000)]
    window.show_results(listing.request, rows, None)
    grid.bring_into_view(12_000, grid.ScrollHint.PositionAtTop)
    qtbot.waitUntil(lambda: grid.first_visible_path() == "/nowhere/012000.jpg")
    # New photos arrive above: the refreshed listing has them first.
    refreshed = [SearchResult(-i, f"/nowhere/new{i}.jpg", 1.0) for i in range(50)] + rows
    refresh = window.browse.query(window.filters(), refresh=True)
    window.show_results(refresh.request, refreshed, None)
    qtbot.waitUntil(lambda: in_top_line("/nowhere/012000.jpg"))
    # A new search, by contrast, starts at the top.
    search = window.browse.query(window.filters())
    window.show_results(search.request, rows, None)
    qtbot.waitUntil(lambda: grid.first_visible_path() == "/nowhere/000000.jpg")


def test_changes_streaming_in_while_indexing_still_refresh_the_grid(qtbot, window) -> None:
    before = window.browse.refresh_request
    refreshed_while_streaming = []
    for _ in range(20):  # a change every 100 ms for 2 s, like a long indexing run
        window.bridge.library_changed.emit()
        qtbot.wait(100)
        refreshed_while_streaming.append(window.browse.refresh_request != before)
    assert any(refreshed_while_streaming)


def test_the_windows_own_connection_cannot_write(qtbot, window) -> None:
    """Writes go through the service's connection; the window's is read-only in SQLite."""
    assert window.reader.folders() == []
    with pytest.raises(Exception, match="readonly|read-only|attempt to write"):
        window.reader.add_folder(Path("/tmp"))
