"""The window's rough edges, over the real service, a tiny real model and real widgets
offscreen: the viewer's keys, dialogs on a small screen, the status words, tag edits on a
selection, unreachable folders, keyboard reach, skipped files, the sidebar's tag list and
its look."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QItemSelectionModel, QPoint, QRect, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QApplication,
    QDialogButtonBox,
    QInputDialog,
    QToolButton,
)

from photo_tagger.core.browse import BrowseController, Filters, state_text  # noqa: E402
from photo_tagger.gui.app import create_main_window  # noqa: E402
from photo_tagger.gui.duplicates import DuplicatesDialog  # noqa: E402
from photo_tagger.gui.labels_dialog import LabelsEditor  # noqa: E402
from photo_tagger.gui.models import SidebarEntry  # noqa: E402
from photo_tagger.gui.settings_dialog import SettingsDialog  # noqa: E402
from photo_tagger.gui.style import STYLE_SHEET  # noqa: E402
from photo_tagger.gui.thumbnails import PREVIEW_SIZE, ThumbnailLoader  # noqa: E402
from photo_tagger.gui.viewer import PhotoViewer  # noqa: E402
from photos import solid  # noqa: E402

WAIT = 60_000


def make_folder(folder: Path, colours: dict[str, tuple[int, int, int]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, colour in colours.items():
        solid(folder / name, colour)
    return folder.resolve()


THREE = {"red.png": (220, 30, 30), "blue.png": (30, 30, 220), "green.png": (30, 200, 40)}


def open_window(qtbot, home: Path, model: str, **options):
    win = create_main_window(home, model, **options)
    qtbot.addWidget(win)
    win.show()
    return win


@pytest.fixture
def indexed(qtbot, isolated_home: Path, fixres_model: Path, tmp_path: Path):
    """A window over one indexed folder of three photos (not watched: the tests move the
    folder away and back, which a watcher would index as deletes)."""
    folder = make_folder(tmp_path / "photos", THREE)
    win = open_window(qtbot, isolated_home, str(fixres_model), watch=False)
    win.add_folder(folder)
    qtbot.waitUntil(lambda: win.photos.rowCount() == 3 and win.bridge.state == "idle",
                    timeout=WAIT)
    win.test_folder = folder
    yield win
    win.close()


def path_of(win, name: str) -> str:
    return str(win.test_folder / name)


def index_of(win, name: str):
    row = win.photos.row_of_path(path_of(win, name))
    assert row is not None
    return win.photos.index(row, 0)


def tag(qtbot, win, paths: list[str], name: str, present: bool = True) -> None:
    done: list[bool] = []
    win.set_tag(paths, name, present, done=lambda: done.append(True))
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT)


def select(win, names: list[str]) -> None:
    model = win.grid.selectionModel()
    model.clearSelection()
    for name in names:
        model.select(index_of(win, name), QItemSelectionModel.SelectionFlag.Select)
    model.setCurrentIndex(index_of(win, names[0]), QItemSelectionModel.SelectionFlag.NoUpdate)


# -- 1. the viewer ---------------------------------------------------------------------
def test_the_viewers_arrows_step_through_photos_even_from_a_tag_chip(qtbot, indexed) -> None:
    win = indexed
    tag(qtbot, win, [win.photos.result(0).path], "Urlaub")
    win.open_viewer(win.photos.index(0, 0))
    viewer: PhotoViewer = win.viewer
    qtbot.waitExposed(viewer)
    viewer.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is viewer)
    qtbot.waitUntil(lambda: bool(viewer.chips.tags()), timeout=WAIT)
    chip = viewer.chips.findChildren(QToolButton)[0]
    chip.setFocus()
    qtbot.waitUntil(lambda: chip.hasFocus())
    qtbot.keyClick(chip, Qt.Key.Key_Right)
    assert viewer.row == 1
    qtbot.keyClick(viewer.focusWidget(), Qt.Key.Key_Left)
    assert viewer.row == 0
    # In the tag field the arrows move the cursor, not the photo.
    viewer.new_tag.setFocus()
    viewer.new_tag.setText("abc")
    qtbot.waitUntil(lambda: viewer.new_tag.hasFocus())
    qtbot.keyClick(viewer.new_tag, Qt.Key.Key_Left)
    assert viewer.row == 0 and viewer.new_tag.cursorPosition() == 2
    viewer.close()


def test_many_tags_wrap_in_rows_in_the_viewer(qtbot, indexed) -> None:
    win = indexed
    win.open_viewer(win.photos.index(0, 0))
    viewer = win.viewer
    viewer.chips.set_tags([(f"tag number {i}", "auto", 0.5) for i in range(12)])
    qtbot.waitUntil(lambda: viewer.chips.chip_rows() >= 4)
    chips_width = viewer.chips.width()
    assert all(chip.geometry().right() <= chips_width
               for chip in viewer.chips.findChildren(QToolButton))
    viewer.close()


# -- 2. dialogs fit the screen ---------------------------------------------------------
def test_dialogs_fit_a_small_screen_with_their_buttons_on_it(qtbot, indexed) -> None:
    win = indexed
    room = win.screen().availableGeometry()
    assert room.width() < 1100 or room.height() < 720  # the offscreen screen: 800 × 600
    win.open_viewer(win.photos.index(0, 0))
    dialogs = [win.viewer, LabelsEditor(win.context, win), SettingsDialog(win.context, win),
               DuplicatesDialog(win.context, win)]
    for dialog in dialogs:
        dialog.show()
        qtbot.waitExposed(dialog)
        assert room.contains(dialog.frameGeometry()), (type(dialog).__name__,
                                                       dialog.frameGeometry(), room)
        for box in dialog.findChildren(QDialogButtonBox):
            for button in box.buttons():
                corner = button.mapToGlobal(QPoint(button.width(), button.height()))
                assert room.contains(QRect(button.mapToGlobal(QPoint(0, 0)), corner))
        dialog.close()


# -- 3. what the status bar and the empty grid say -------------------------------------
def test_without_a_model_the_window_says_so_instead_of_up_to_date(
        qtbot, isolated_home: Path, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "photos", THREE)
    win = open_window(qtbot, isolated_home, str(isolated_home / "no-such-model"))
    try:
        qtbot.waitUntil(lambda: win.banner.isVisible(), timeout=WAIT)
        win.add_folder(folder)
        qtbot.waitUntil(lambda: win.bridge.state == "idle" and win.pending_count == 3,
                        timeout=WAIT)
        qtbot.waitUntil(lambda: "No model" in win.state_label.text(), timeout=WAIT)
        assert "3 photos" in win.state_label.text()
        assert "Up to date" not in win.state_label.text()
        assert win.empty_label.isVisible()
        assert "being indexed" not in win.empty_label.text()
        assert "needs a model" in win.empty_label.text()
    finally:
        win.close()


def test_state_words_while_the_model_loads_and_when_photos_wait() -> None:
    assert state_text("loading-model", pending=51, model_error=None) \
        == "Waiting for the model: 51 photos to index"
    assert state_text("loading-model", pending=0, model_error=None) == "Loading the model…"
    assert state_text("idle", pending=1, model_error=None) == "1 photo waiting to be indexed"
    assert state_text("idle", pending=0, model_error=None) == "Up to date"
    browse = BrowseController()
    assert "being indexed" not in browse.empty_message(Filters(), pending=4, model_error=None,
                                                       state="loading-model")


# -- 4. tags on a selection ------------------------------------------------------------
def test_remove_tag_offers_every_tag_of_the_selection(qtbot, indexed) -> None:
    win = indexed
    tag(qtbot, win, [path_of(win, "red.png")], "Rot")
    tag(qtbot, win, [path_of(win, "blue.png")], "Blau")
    select(win, ["red.png", "blue.png"])
    menu = win.photo_menu(index_of(win, "red.png"))
    remove = next(a for a in menu.actions() if a.text() == "Remove Tag").menu()
    offered = {a.text() for a in remove.actions()}
    assert {"Rot", "Blau"} <= offered


def test_remove_tag_takes_the_chosen_tag_off_the_selection(qtbot, indexed) -> None:
    win = indexed
    red = path_of(win, "red.png")
    tag(qtbot, win, [red], "Rot")
    tag(qtbot, win, [red], "Kreis")
    select(win, ["red.png"])
    menu = win.photo_menu(index_of(win, "red.png"))
    remove = next(a for a in menu.actions() if a.text() == "Remove Tag").menu()
    next(a for a in remove.actions() if a.text() == "Rot").trigger()
    photo_id = win.photos.result(index_of(win, "red.png").row()).photo_id

    def tags_left() -> set[str]:
        return {t.tag for t in win.reader.tags_of(photo_id) if t.source == "manual"}
    qtbot.waitUntil(lambda: "Rot" not in tags_left(), timeout=WAIT)
    assert "Kreis" in tags_left()


def test_the_selection_survives_adding_a_tag(qtbot, indexed) -> None:
    win = indexed
    select(win, ["red.png", "blue.png"])
    before = win.browse.request
    tag(qtbot, win, win.photo_targets(), "Auswahl")
    qtbot.waitUntil(lambda: win.browse.request > before, timeout=WAIT)  # the grid refreshed
    qtbot.waitUntil(lambda: win.browse.request == win.browse.refresh_request, timeout=WAIT)
    qtbot.wait(300)
    assert sorted(os.path.basename(p) for p in win.grid.selected_paths()) \
        == ["blue.png", "red.png"]


def test_add_tag_starts_empty(qtbot, indexed) -> None:
    win = indexed
    tag(qtbot, win, [path_of(win, "red.png")], "airplane")
    qtbot.waitUntil(lambda: "airplane" in win.known_tags, timeout=WAIT)
    seen: list[str] = []

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, QInputDialog)
        seen.append(dialog.textValue())
        dialog.reject()

    QTimer.singleShot(200, answer)
    win.ask_add_tag([path_of(win, "blue.png")])
    assert seen == [""]


# -- 5. a folder that goes away and comes back -----------------------------------------
def test_cached_thumbnails_show_while_the_folder_is_away(qtbot, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "photos", {"red.png": (220, 30, 30)})
    photo = str(folder / "red.png")
    cache = tmp_path / "thumbs"
    first = ThumbnailLoader(cache)
    try:
        first.pixmap(photo)
        qtbot.waitUntil(lambda: first.pixmap(photo) is not None, timeout=WAIT)
    finally:
        first.shutdown()
    folder.rename(tmp_path / "away")
    again = ThumbnailLoader(cache)
    try:
        again.pixmap(photo)
        qtbot.waitUntil(lambda: again.pixmap(photo) is not None or again.is_broken(photo),
                        timeout=WAIT)
        assert again.pixmap(photo) is not None
    finally:
        again.shutdown()


def test_the_viewer_says_the_folder_is_away_and_shows_the_photo_when_back(
        qtbot, indexed, tmp_path: Path) -> None:
    win = indexed
    paths = [r.path for r in win.photos.results()]
    for path in paths:
        win.loader.pixmap(path)
    qtbot.waitUntil(lambda: all(win.loader.pixmap(p) is not None for p in paths), timeout=WAIT)
    folder = win.test_folder
    away = tmp_path / "unplugged"
    folder.rename(away)
    for path in paths:
        win.loader.forget(path)
    win.open_viewer(win.photos.index(0, 0))
    viewer = win.viewer
    # Waited for, not asserted at once: on a loaded machine the viewer shows a moment later.
    qtbot.waitUntil(lambda: "not reachable" in viewer.notice.text()
                    and viewer.notice.isVisible(), timeout=WAIT)
    assert viewer.image.pixmap() is not None and not viewer.image.pixmap().isNull()
    palette_text = viewer.image.palette().color(viewer.image.foregroundRole())
    assert palette_text.lightness() > 128 or not QApplication.instance().styleSheet()
    away.rename(folder)
    qtbot.waitUntil(lambda: win.loader.pixmap(viewer.path, PREVIEW_SIZE) is not None,
                    timeout=WAIT)
    qtbot.waitUntil(lambda: not viewer.notice.isVisible(), timeout=WAIT)
    viewer.close()


# -- 6. removing the chosen folder -----------------------------------------------------
def test_removing_the_chosen_folder_goes_back_to_all_photos(qtbot, indexed,
                                                            tmp_path: Path) -> None:
    win = indexed
    other = make_folder(tmp_path / "other", {"yellow.png": (230, 220, 20)})
    win.add_folder(other)
    qtbot.waitUntil(lambda: win.folders.row_of(str(other)) is not None
                    and win.folders.entry(win.folders.row_of(str(other))).count == 1,
                    timeout=WAIT)
    win.folder_view.setCurrentIndex(win.folders.index(win.folders.row_of(str(other)), 0))
    qtbot.waitUntil(lambda: win.photos.rowCount() == 1, timeout=WAIT)
    entry = win.folders.entry(win.folders.row_of(str(other)))
    win.bridge.remove_folder(entry.folder_id)
    qtbot.waitUntil(lambda: win.current_folder() is None and win.photos.rowCount() == 3,
                    timeout=WAIT)
    assert not win.empty_label.isVisible()


# -- 7. the keyboard -------------------------------------------------------------------
def test_every_menu_action_has_a_shortcut_listed_in_help(qtbot, indexed) -> None:
    win = indexed
    listed = {keys for keys, _ in win.shortcut_rows()}
    for menu_action in win.menuBar().actions():
        for action in menu_action.menu().actions():
            if action.isSeparator():
                continue
            assert not action.shortcut().isEmpty(), action.text()
            assert action.shortcut().toString(action.shortcut().SequenceFormat.NativeText) \
                in listed
    win.show_shortcuts()
    assert win.shortcuts_dialog.table.rowCount() == len(win.shortcut_rows())


def test_ctrl_comma_opens_the_settings(qtbot, indexed) -> None:
    win = indexed
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    qtbot.keyClick(win.grid, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: getattr(win, "settings_dialog", None) is not None
                    and win.settings_dialog.isVisible())
    win.settings_dialog.close()


def test_one_tab_or_down_from_the_search_box_reaches_the_photos(qtbot, indexed) -> None:
    win = indexed
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    win.search.setFocus()
    qtbot.waitUntil(lambda: win.search.hasFocus())
    qtbot.keyClick(win.search, Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: win.grid.hasFocus())
    win.search.setFocus()
    qtbot.waitUntil(lambda: win.search.hasFocus())
    qtbot.keyClick(win.search, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: win.grid.hasFocus())
    assert win.grid.currentIndex().isValid()


def test_the_grids_focused_photo_is_drawn_with_a_ring(qtbot, indexed) -> None:
    win = indexed
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    win.grid.selectionModel().clearSelection()
    win.grid.selectionModel().setCurrentIndex(win.photos.index(0, 0),
                                              QItemSelectionModel.SelectionFlag.NoUpdate)
    win.grid.setFocus()
    qtbot.waitUntil(lambda: win.grid.hasFocus())
    tile = win.grid.visualRect(win.photos.index(0, 0))
    focused = win.grid.viewport().grab(tile).toImage()
    win.search.setFocus()
    qtbot.waitUntil(lambda: not win.grid.hasFocus())
    unfocused = win.grid.viewport().grab(tile).toImage()
    assert focused != unfocused


# -- 8. skipped files and the tag list -------------------------------------------------
def test_skipped_opens_the_list_of_skipped_files_with_reasons(qtbot, indexed) -> None:
    win = indexed
    (win.test_folder / "notes.jpg").write_text("not a photo")
    win.bridge.service.rescan()
    qtbot.waitUntil(lambda: "skipped" in win.count_label.text(), timeout=WAIT)
    assert 'href="skipped"' in win.count_label.text()
    win.count_label.linkActivated.emit("skipped")
    dialog = win.skipped_dialog
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=WAIT)
    assert dialog.table.item(0, 0).text().endswith("notes.jpg")
    assert dialog.table.item(0, 1).text()  # the reason
    dialog.close()


def test_tag_counts_follow_the_chosen_folder(qtbot, indexed, tmp_path: Path) -> None:
    win = indexed
    other = make_folder(tmp_path / "other", {"yellow.png": (230, 220, 20)})
    win.add_folder(other)
    qtbot.waitUntil(lambda: win.photos.rowCount() == 4, timeout=WAIT)
    tag(qtbot, win, [path_of(win, "red.png"), path_of(win, "blue.png")], "Zuhause")
    tag(qtbot, win, [str(other / "yellow.png")], "Zuhause")

    def count() -> int | None:
        row = win.tags.row_of("Zuhause")
        return None if row is None else win.tags.entry(row).count

    qtbot.waitUntil(lambda: count() == 3, timeout=WAIT)
    win.folder_view.setCurrentIndex(win.folders.index(win.folders.row_of(str(other)), 0))
    qtbot.waitUntil(lambda: count() == 1, timeout=WAIT)
    assert "Zuhause" in win.known_tags


def test_the_tag_list_keeps_its_order_while_the_user_edits(qtbot, indexed) -> None:
    win = indexed
    red, blue, green = (path_of(win, n) for n in ("red.png", "blue.png", "green.png"))
    tag(qtbot, win, [red, blue], "aaa-first")
    tag(qtbot, win, [green], "zzz-second")

    def order() -> list[str]:
        keys = [win.tags.entry(r).key for r in range(win.tags.rowCount())]
        return [k for k in keys if k in ("aaa-first", "zzz-second")]

    qtbot.waitUntil(lambda: order() == ["aaa-first", "zzz-second"], timeout=WAIT)
    tag(qtbot, win, [red, blue], "zzz-second")  # now used more than the first
    qtbot.waitUntil(lambda: win.tags.entry(win.tags.row_of("zzz-second")).count == 3,
                    timeout=WAIT)
    qtbot.wait(1500)  # the refresh after the library's change, too
    assert order() == ["aaa-first", "zzz-second"]
    win.show_all()
    # Choosing a folder is not the user's edit of a tag: sorted by use again.
    assert win.folders.rowCount() > 1
    win.folder_view.setCurrentIndex(win.folders.index(1, 0))
    qtbot.waitUntil(lambda: order() == ["zzz-second", "aaa-first"], timeout=WAIT)


# -- 9. the look and the words ---------------------------------------------------------
def test_sidebar_scroll_bars_are_not_black_blocks(qtbot, indexed) -> None:
    app = QApplication.instance()
    old = app.styleSheet()
    app.setStyleSheet(STYLE_SHEET)
    try:
        win = indexed
        win.resize(900, 420)
        win.tags.set_entries([SidebarEntry(f"t{i}", f"t{i}", i) for i in range(60)])
        bar = win.tag_view.verticalScrollBar()
        qtbot.waitUntil(lambda: bar.isVisible())
        image = bar.grab().toImage()
        dark = sum(1 for x in range(image.width()) for y in range(image.height())
                   if image.pixelColor(x, y).lightness() < 40)
        assert dark < image.width() * image.height() * 0.2
    finally:
        app.setStyleSheet(old)


def test_one_photo_is_one_photo(qtbot, isolated_home: Path, fixres_model: Path,
                                tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "one", {"red.png": (220, 30, 30)})
    win = open_window(qtbot, isolated_home, str(fixres_model), watch=False)
    try:
        win.add_folder(folder)
        qtbot.waitUntil(lambda: win.photos.rowCount() == 1, timeout=WAIT)
        qtbot.waitUntil(lambda: win.count_label.text().startswith("1 photo"), timeout=WAIT)
        assert "1 photos" not in win.count_label.text()
    finally:
        win.close()


def test_no_photo_s_in_the_window() -> None:
    gui = Path(__file__).parent.parent / "photo_tagger" / "gui"
    for source in gui.glob("*.py"):
        assert "(s)" not in source.read_text(encoding="utf-8"), source.name


def test_copy_path_copies_every_selected_photo(qtbot, indexed) -> None:
    win = indexed
    select(win, ["red.png", "green.png"])
    win.photo_actions["Copy Path"].trigger()
    assert sorted(QGuiApplication.clipboard().text().splitlines()) \
        == sorted([path_of(win, "green.png"), path_of(win, "red.png")])


def test_return_and_space_open_the_viewer(qtbot, indexed) -> None:
    win = indexed
    for key in (Qt.Key.Key_Return, Qt.Key.Key_Space):
        win.grid.setFocus()
        win.grid.setCurrentIndex(win.photos.index(0, 0))
        qtbot.keyClick(win.grid, key)
        qtbot.waitUntil(lambda: getattr(win, "viewer", None) is not None
                        and win.viewer.isVisible(), timeout=WAIT)
        win.viewer.close()
        win.viewer = None
