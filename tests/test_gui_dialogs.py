"""Viewer, context menu, labels editor, duplicates and settings over the real service."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent, QGuiApplication  # noqa: E402

from photo_tagger.gui.app import create_main_window  # noqa: E402
from photo_tagger.gui.duplicates import DuplicatesDialog  # noqa: E402
from photo_tagger.gui.labels_dialog import LabelsEditor  # noqa: E402
from photo_tagger.gui.settings_dialog import SettingsDialog  # noqa: E402
from photo_tagger.gui.viewer import PhotoViewer  # noqa: E402
from photos import jpeg_with_rotation, solid  # noqa: E402

WAIT = 60_000


@pytest.fixture
def indexed(qtbot, isolated_home: Path, fixres_model: Path, tmp_path: Path):
    folder = tmp_path / "photos"
    folder.mkdir()
    solid(folder / "red.png", (220, 30, 30))
    solid(folder / "blue.png", (30, 30, 220))
    jpeg_with_rotation(folder / "camera.jpg")
    win = create_main_window(isolated_home, str(fixres_model))
    qtbot.addWidget(win)
    win.show()
    win.add_folder(folder)
    qtbot.waitUntil(lambda: win.photos.rowCount() == 3, timeout=WAIT)
    win.test_folder = folder
    yield win
    win.close()


def drop(widget, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)


def row_of(win, name: str) -> int:
    row = win.photos.row_of_path(str((win.test_folder / name).resolve()))
    assert row is not None
    return row


def tag_count(win, tag: str) -> int | None:
    row = win.tags.row_of(tag)
    return None if row is None else win.tags.entry(row).count


def test_viewer_shows_details_and_edits_tags(qtbot, indexed) -> None:
    win = indexed
    index = win.photos.index(row_of(win, "camera.jpg"), 0)
    win.open_viewer(index)
    viewer: PhotoViewer = win.viewer
    assert viewer.fields["Camera"].text() == "Acme TestCam 1"
    assert viewer.fields["Taken"].text() == "2024-07-14 10:30"
    assert viewer.fields["Dimensions"].text() == "40 × 60"
    qtbot.waitUntil(lambda: viewer.image.pixmap() is not None
                    and not viewer.image.pixmap().isNull(), timeout=WAIT)

    viewer.new_tag.setText("Urlaub 2024")
    qtbot.keyClick(viewer.new_tag, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Urlaub 2024" in viewer.chips.tags(), timeout=WAIT)
    qtbot.waitUntil(lambda: tag_count(win, "Urlaub 2024") == 1, timeout=WAIT)
    # The tag completers offer it from the sidebar's counts, read off the GUI thread.
    qtbot.waitUntil(lambda: "Urlaub 2024" in win.known_tags, timeout=WAIT)
    win.open_viewer(index)
    offered = win.viewer.new_tag.completer().model()
    assert "Urlaub 2024" in [offered.index(r, 0).data() for r in range(offered.rowCount())]
    viewer.remove_tag("Urlaub 2024")
    qtbot.waitUntil(lambda: "Urlaub 2024" not in viewer.chips.tags(), timeout=WAIT)
    qtbot.waitUntil(lambda: tag_count(win, "Urlaub 2024") is None, timeout=WAIT)
    viewer.close()


def test_context_menu_copies_path_and_finds_similar(qtbot, indexed) -> None:
    win = indexed
    row = row_of(win, "red.png")
    path = win.photos.result(row).path
    menu = win.photo_menu(win.photos.index(row, 0))
    actions = {a.text(): a for a in menu.actions()}
    assert {"Open", "Open in System Viewer", "Show in File Manager", "Copy Path",
            "Find Similar", "Add Tag…", "Remove Tag"} <= set(actions)
    actions["Copy Path"].trigger()
    assert QGuiApplication.clipboard().text() == path
    actions["Find Similar"].trigger()
    qtbot.waitUntil(lambda: win.photos.rowCount() == 2
                    and win.context_label.text().startswith("Similar"), timeout=WAIT)
    assert win.photos.row_of_path(path) is None


def test_an_image_dropped_on_the_search_box_searches_by_image(qtbot, indexed,
                                                             tmp_path: Path) -> None:
    win = indexed
    outside = solid(tmp_path / "query.png", (220, 30, 30))
    win.photos.set_results([])
    drop(win.search, outside)
    qtbot.waitUntil(lambda: win.photos.rowCount() == 3, timeout=WAIT)
    assert win.context_label.text().startswith("Similar")


def test_a_folder_dropped_on_the_window_is_added(qtbot, isolated_home: Path,
                                                 fixres_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "dropped"
    folder.mkdir()
    solid(folder / "one.png", (10, 200, 200))
    win = create_main_window(isolated_home, str(fixres_model))
    qtbot.addWidget(win)
    win.show()
    try:
        assert win.pages.currentWidget() is win.welcome
        drop(win, folder)
        qtbot.waitUntil(lambda: win.photos.rowCount() == 1, timeout=WAIT)
        assert win.pages.currentWidget() is win.browser
    finally:
        win.close()


def test_labels_editor_live_count_and_retag(qtbot, indexed) -> None:
    win = indexed
    editor = LabelsEditor(win.context, win)
    qtbot.addWidget(editor)
    editor.show()
    assert editor.model.rowCount() > 0  # the default labels
    editor.new_label()
    editor.name_edit.setText("Sonnenuntergang")
    editor.default_box.setChecked(False)
    editor.spin.setValue(0.0)
    qtbot.waitUntil(lambda: editor.count_label.text() == "3 of 3 photos", timeout=WAIT)
    editor.spin.setValue(1.0)
    qtbot.waitUntil(lambda: editor.count_label.text() == "0 of 3 photos", timeout=WAIT)
    editor.spin.setValue(0.0)
    editor.save()
    qtbot.waitUntil(lambda: tag_count(win, "Sonnenuntergang") == 3, timeout=WAIT)
    assert editor.model.row_of("Sonnenuntergang") is not None

    # A synonym joins the group; raising the threshold re-tags from stored vectors.
    editor.new_label()
    editor.name_edit.setText("coucher de soleil")
    editor.group_box.setCurrentText("Sonnenuntergang")
    editor.default_box.setChecked(False)
    editor.spin.setValue(1.0)
    editor.save()
    qtbot.waitUntil(lambda: editor.model.row_of("coucher de soleil") is not None, timeout=WAIT)
    label = editor.model.label(editor.model.row_of("coucher de soleil"))
    assert label.tag == "Sonnenuntergang"
    editor.table.selectRow(editor.model.row_of("Sonnenuntergang"))
    editor.spin.setValue(1.0)
    editor.save()
    qtbot.waitUntil(lambda: tag_count(win, "Sonnenuntergang") is None, timeout=WAIT)
    editor.close()


def test_duplicates_are_grouped_and_removal_keeps_the_file(qtbot, indexed) -> None:
    win = indexed
    copy = win.test_folder / "red copy.png"
    shutil.copy(win.test_folder / "red.png", copy)
    qtbot.waitUntil(lambda: win.photos.rowCount() == 4, timeout=WAIT)
    dialog = DuplicatesDialog(win.context, win)
    qtbot.addWidget(dialog)
    dialog.show()
    # The tiny random model finds every photo alike; exact copies stand out at 0.9999.
    dialog.threshold.setValue(0.9999)
    dialog.find_groups()
    qtbot.waitUntil(lambda: dialog.groups.rowCount() == 1, timeout=WAIT)
    qtbot.waitUntil(lambda: dialog.members.rowCount() == 2, timeout=WAIT)
    dialog.remove([str(copy.resolve())], to_trash=False)
    qtbot.waitUntil(lambda: dialog.groups.rowCount() == 0, timeout=WAIT)
    assert copy.exists()
    qtbot.waitUntil(lambda: win.photos.rowCount() == 3, timeout=WAIT)

    # The next scan leaves it out: the removal was recorded, not undone by the disk.
    done = []
    win.bridge.submit(lambda library, indexer: indexer.index_folders([win.test_folder]),
                      lambda summary, error: done.append(summary))
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT)
    assert done[0].indexed == 0 and done[0].reused == 0
    assert win.photos.rowCount() == 3

    # Undo brings it back.
    assert dialog.undo_button.isVisible() and "1 photo" in dialog.undo_button.text()
    dialog.undo_button.click()
    qtbot.waitUntil(lambda: win.photos.rowCount() == 4, timeout=WAIT)
    assert not dialog.undo_button.isVisible()
    dialog.close()


def test_settings_apply_thumbnail_size_and_polling(qtbot, indexed) -> None:
    win = indexed
    dialog = SettingsDialog(win.context, win)
    qtbot.addWidget(dialog)
    assert dialog.model_box.count() >= 15  # every known checkpoint, plus the tiny local one
    dialog.thumb.setValue(220)
    dialog.folder_table.item(0, 2).setCheckState(Qt.CheckState.Checked)
    dialog.accept()
    assert win.thumb_size == 220
    folder = str(win.test_folder.resolve())
    qtbot.waitUntil(lambda: win.bridge.service.watched_folders().get(folder) is True,
                    timeout=WAIT)


def test_the_editors_live_count_is_what_tagging_then_writes(library, fixres_model: Path,
                                                            fixres_embedder,
                                                            tmp_path: Path) -> None:
    from photo_tagger.config import DEFAULT_TEMPLATE
    from photo_tagger.core import labels as label_api
    from photo_tagger.core import tagger
    from photo_tagger.core.indexer import Indexer

    folder = tmp_path / "photos"
    folder.mkdir()
    for name, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220)),
                         ("green", (30, 200, 40))):
        solid(folder / f"{name}.png", colour)
    Indexer(library, str(fixres_model), lambda _: fixres_embedder).index_folders([folder])
    _, vectors = library.all_vectors()
    text = fixres_embedder.embed_texts([DEFAULT_TEMPLATE.replace("{label}", "sunset")])[0]
    scores = sorted(tagger.probability(vectors @ text, fixres_embedder.logit_scale,
                                       fixres_embedder.logit_bias).tolist())
    assert scores[0] < scores[1]
    threshold = (scores[0] + scores[1]) / 2  # between two photos: two reach it

    assert tagger.would_tag(library, fixres_embedder, "sunset", DEFAULT_TEMPLATE,
                            threshold) == (2, 3)
    label_api.add_label(library, "sunset", threshold=threshold)
    label_api.retag(library, lambda _=None: fixres_embedder)
    assert library.tag_counts().get("sunset") == 2


def test_a_label_or_query_in_a_weak_language_is_warned_about(qtbot, indexed) -> None:
    win = indexed
    editor = LabelsEditor(win.context, win)
    qtbot.addWidget(editor)
    editor.show()
    assert editor.language_note.isHidden()
    editor.name_edit.setText("สุนัข")  # Thai
    assert not editor.language_note.isHidden()
    assert "Thai" in editor.language_note.text()
    assert "large-patch16-256" in editor.language_note.text()
    editor.name_edit.setText("Hund")
    assert editor.language_note.isHidden()
    editor.close()

    win.search.setText("कुत्ता")  # Hindi
    assert not win.language_note.isHidden() and "Hindi" in win.language_note.text()
    win.search.setText("dog")
    assert win.language_note.isHidden()


def test_the_model_manager_says_no_internet_plainly_and_offers_the_demo(qtbot,
                                                                         indexed) -> None:
    win = indexed
    dialog = SettingsDialog(win.context, win)
    qtbot.addWidget(dialog)
    dialog.show()
    names = [c.model_id for c in dialog.checkpoint_rows]
    assert "google/siglip2-large-patch16-256" in names
    assert "google/siglip2-base-patch16-224@int8" not in names  # the fast-mode checkbox
    assert dialog.checkpoint_table.item(names.index("demo:shapes"), 1).text() == "yes"
    # Choosing another model tells the disk space the second set of vectors needs.
    dialog.model_box.setCurrentIndex(dialog.model_box.findData(
        "google/siglip2-base-patch16-224"))
    assert "3 photos × 768 dimensions × 4 bytes" in dialog.switch_note.text()
    dialog.fast_box.setChecked(True)
    assert dialog.chosen_model() == "google/siglip2-base-patch16-224@int8"

    dialog.checkpoint_table.selectRow(names.index("google/siglip2-large-patch16-256"))
    dialog.download_selected()  # the tests run offline (HF_HUB_OFFLINE=1)
    qtbot.waitUntil(lambda: "internet" in dialog.manager_message.text(), timeout=WAIT)
    text = dialog.manager_message.text()
    assert "Error" not in text and "Exception" not in text
    assert dialog.demo_button.isVisible()
    dialog.demo_button.click()
    assert dialog.model_box.currentData() == "demo:shapes"
    dialog.reject()


def test_the_model_manager_measures_speed_and_int8_on_the_users_photos(qtbot,
                                                                        indexed) -> None:
    win = indexed
    dialog = SettingsDialog(win.context, win)
    qtbot.addWidget(dialog)
    dialog.show()
    model = str(win.context.bridge.model_id)
    names = [c.model_id for c in dialog.checkpoint_rows]
    assert model in names  # the library's local folder is a row of the manager
    row = names.index(model)
    assert dialog.checkpoint_table.item(row, 3).text() == "not measured"
    assert "not measured" in dialog.fast_box.text()
    dialog.checkpoint_table.selectRow(row)
    dialog.measure_button.click()
    assert not dialog.measure_button.isEnabled() and win.context.bridge.paused
    qtbot.waitUntil(lambda: dialog.measure_button.isEnabled(), timeout=WAIT)
    assert "photos/s on your photos" in dialog.manager_message.text(), \
        dialog.manager_message.text()
    assert not win.context.bridge.paused  # indexing goes on after the measurement
    # Kept in the library by the service, then shown in the table and on the checkbox.
    qtbot.waitUntil(lambda: "int8" in dialog.checkpoint_table.item(row, 3).text(),
                    timeout=WAIT)
    assert "agree with fp32 at cosine" in dialog.fast_box.text()
    reopened = SettingsDialog(win.context, win)
    qtbot.addWidget(reopened)
    assert "int8" in reopened.checkpoint_table.item(row, 3).text()
    dialog.reject()
    reopened.reject()
