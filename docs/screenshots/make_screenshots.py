"""Screenshots of the main views for the docs, taken under Xvfb over the real core.

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/make_screenshots.py

The library is synthetic (see scenes.py) and the model is the tiny untrained test model,
so the tags shown were set by hand here and scores or counts are only illustrative.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(HERE)]

from PySide6.QtGui import QColor, QPalette  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402
from scenes import write_library  # noqa: E402

from photo_tagger.core import labels as label_api  # noqa: E402
from photo_tagger.gui.app import create_main_window, ensure_application  # noqa: E402
from photo_tagger.gui.duplicates import DuplicatesDialog  # noqa: E402
from photo_tagger.gui.labels_dialog import LabelsEditor  # noqa: E402
from photo_tagger.gui.settings_dialog import SettingsDialog  # noqa: E402
from photo_tagger.gui.style import STYLE_SHEET  # noqa: E402
from tiny_models import build_fixres  # noqa: E402

SIZE = (1280, 800)
SYNONYMS = {"Strand": "beach", "plage": "beach", "Sonnenuntergang": "sunset",
            "coucher de soleil": "sunset", "山": "mountain", "海滩": "beach", "Schnee": "snow"}


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        QApplication.processEvents()
        time.sleep(0.02)


def settle(seconds: float = 0.6) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def save(widget: QWidget, name: str) -> None:
    settle()
    widget.grab().save(str(HERE / f"{name}.png"))
    print("wrote", HERE / f"{name}.png")


def thumbnails_done(window) -> bool:
    return all(window.loader.pixmap(r.path) is not None or window.loader.is_broken(r.path)
               for r in window.photos.results()[:40])


def dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#242428", QPalette.ColorRole.WindowText: "#e8e8ea",
        QPalette.ColorRole.Base: "#1c1c1f", QPalette.ColorRole.AlternateBase: "#2a2a2e",
        QPalette.ColorRole.Text: "#e8e8ea", QPalette.ColorRole.Button: "#313136",
        QPalette.ColorRole.ButtonText: "#e8e8ea", QPalette.ColorRole.Highlight: "#3d7bd9",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.Mid: "#444449",
        QPalette.ColorRole.Midlight: "#3a3a40", QPalette.ColorRole.ToolTipBase: "#313136",
        QPalette.ColorRole.ToolTipText: "#e8e8ea", QPalette.ColorRole.PlaceholderText: "#9a9aa2",
    }
    for role, value in colours.items():
        palette.setColor(role, QColor(value))
    return palette


def main() -> int:
    app = ensure_application()
    work = Path(tempfile.mkdtemp(prefix="pt-shots-"))
    try:
        model = build_fixres(work / "model")
        pictures = work / "Pictures"
        kinds = write_library(pictures)
        # Two exact copies and a re-save, for the duplicates view.
        for kind in ("beach", "snow"):
            original = kinds[kind][0]
            copy = original.with_name(original.stem + " (copy).jpg")
            shutil.copy(original, copy)
            kinds[kind].append(copy)

        # First run.
        welcome = create_main_window(work / "home-new", str(model))
        welcome.resize(*SIZE)
        welcome.show()
        wait_until(lambda: welcome.bridge.state == "idle")
        save(welcome, "welcome")
        welcome.close()

        window = create_main_window(work / "home", str(model))
        window.resize(*SIZE)
        window.show()
        for trip in sorted(pictures.iterdir()):
            window.add_folder(trip)
        total = sum(len(v) for v in kinds.values())
        wait_until(lambda: window.bridge.state == "idle" and window.photos.rowCount() == total,
                   120)

        def tag_by_hand(library, indexer):
            for folder in library.folders():
                label_api.set_folder_auto_tag(library, folder.path, False)
            for name, tag in SYNONYMS.items():
                label_api.add_label(library, name, synonym_of=tag)
            for kind, paths in kinds.items():
                for path in paths:
                    label_api.tag_photo(library, path, kind)
                    if kind in ("beach", "lake") and zlib.crc32(path.name.encode()) % 3 == 0:
                        label_api.tag_photo(library, path, "people")
            label_api.retag(library, lambda: indexer.embedder)
            indexer.invalidate_labels()

        done: list[object] = []
        window.bridge.submit(tag_by_hand, lambda r, e: done.append(e or True))
        wait_until(lambda: bool(done))
        assert done[0] is True, done[0]
        window.refresh_sidebar()
        window.run_query()
        settle(1.0)
        wait_until(lambda: thumbnails_done(window))
        window.grid.setCurrentIndex(window.photos.index(2, 0))
        save(window, "main")

        # A tag chosen in the sidebar, combined with the query box.
        window.tag_view.setCurrentIndex(window.tags.index(window.tags.row_of("sunset"), 0))
        window.browse.click_tag("sunset")
        window.apply_filters()
        wait_until(lambda: window.photos.rowCount() == len(kinds["sunset"]))
        wait_until(lambda: thumbnails_done(window))
        save(window, "tag-filter")

        window.open_viewer(window.photos.index(1, 0))
        viewer = window.viewer
        viewer.resize(1100, 680)
        wait_until(lambda: viewer.image.pixmap() is not None
                   and not viewer.image.pixmap().isNull())
        save(viewer, "viewer")
        viewer.close()

        editor = LabelsEditor(window.context, window)
        editor.resize(900, 560)
        editor.show()
        editor.table.selectRow(editor.model.row_of("Sonnenuntergang"))
        wait_until(lambda: "photos" in editor.count_label.text())
        save(editor, "labels")
        editor.close()

        dupes = DuplicatesDialog(window.context, window)
        dupes.resize(1000, 560)
        dupes.threshold.setValue(0.9999)
        dupes.show()
        dupes.find_groups()
        wait_until(lambda: dupes.groups.rowCount() >= 1 and dupes.members.rowCount() >= 2)
        wait_until(lambda: all(window.loader.pixmap(r.path) is not None
                               for r in dupes.members.results()))
        save(dupes, "duplicates")
        dupes.close()

        settings = SettingsDialog(window.context, window)
        settings.show()
        save(settings, "settings")
        settings.close()

        window.close()

        # The same library under a dark system palette.
        app.setPalette(dark_palette())
        app.setStyleSheet(STYLE_SHEET)
        dark = create_main_window(work / "home", str(model))
        dark.resize(*SIZE)
        dark.show()
        wait_until(lambda: dark.bridge.state == "idle" and dark.photos.rowCount() == total)
        wait_until(lambda: thumbnails_done(dark))
        dark.grid.setCurrentIndex(dark.photos.index(5, 0))
        save(dark, "main-dark")
        dark.close()
        app.setPalette(app.style().standardPalette())
        search_shot(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def search_shot(work: Path) -> None:
    """A text search on the demo model (trained, so its matches mean something): the
    matches with their probability badges, the "weaker matches" link, a saved search."""
    from photo_tagger.demo.shapes import write_dataset

    write_dataset(work / "Shapes", 60, seed=5)
    window = create_main_window(work / "home-demo", "demo:shapes")
    window.resize(*SIZE)
    window.show()
    window.add_folder(work / "Shapes")
    wait_until(lambda: window.bridge.state == "idle" and window.photos.rowCount() == 60, 120)
    saved: list[object] = []
    window.bridge.submit(lambda library, indexer: window.bridge.service.searcher.save_album(
        "Blue stars", "blue star"), lambda r, e: saved.append(e or True))
    wait_until(lambda: bool(saved))
    window.refresh_albums()
    window.search.setText("red")
    window.run_query()
    wait_until(lambda: window.browse.found is not None and window.albums.rowCount() == 1)
    wait_until(lambda: thumbnails_done(window))
    save(window, "search")
    window.close()


if __name__ == "__main__":
    sys.exit(main())
