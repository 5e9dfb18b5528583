"""What a dialog may use of the main window: the library to read, the service bridge, the
thumbnails, the settings and a few requests back to the window. Dialogs get this, never the
window, so the window can change without them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox, QWidget

from photo_tagger.core import labels as label_api
from photo_tagger.core.store import Library
from photo_tagger.gui.bridge import ServiceBridge
from photo_tagger.gui.thumbnails import ThumbnailLoader


def int_setting(settings: QSettings, key: str, default: int) -> int:
    """A whole-number setting: an ini file gives it back as text, and unset as `default`."""
    value = settings.value(key, default)
    return int(value) if isinstance(value, (int, str)) and value != "" else default


@dataclass(frozen=True)
class WindowContext:
    """The window's narrow interface for its dialogs and the viewer."""

    reader: Library  # the window's connection: single-row reads on the window's thread
    bridge: ServiceBridge  # every write and every model job goes through it
    thumbnails: ThumbnailLoader
    settings: QSettings  # window-only values (threads)
    known_tags: Callable[[], list[str]]  # every tag in use, for completers
    thumb_size: Callable[[], int]
    set_thumb_size: Callable[[int], None]
    use_model: Callable[[str], None]  # switch the model (re-indexes the library)
    find_similar: Callable[[int], None]  # show photos like this one in the grid
    library_edited: Callable[[], None]  # labels or tags changed: recount the sidebar

    def set_tag(self, paths: list[str], tag: str, present: bool, *,
                parent: QWidget | None = None, done: Callable[[], None] | None = None
                ) -> None:
        """Put a tag on photos (or take it off) by hand; the service writes it, and a failure
        is shown over `parent`. `done` runs on the window's thread afterwards."""
        def job(library: Library, indexer: Any) -> None:
            # A tag that learns is retrained here, on the service thread, with its model.
            label_api.set_photos_tag(library, paths, tag, present, lambda: indexer.embedder)

        def finished(result: object, error: BaseException | None) -> None:
            if error is not None:
                QMessageBox.warning(parent, "Tag not changed", str(error))
            self.library_edited()
            if done is not None:
                done()

        self.bridge.submit(job, finished)

    def find_more(self, paths: list[str], tag: str, *, parent: QWidget | None = None,
                  done: Callable[[], None] | None = None) -> None:
        """"Find more like these": the photos are examples of `tag`, which learns from them
        (and from every later tag and untag) and is applied across the library."""
        def job(library: Library, indexer: Any) -> object:
            loader = lambda: indexer.embedder  # noqa: E731
            label_api.set_photos_tag(library, paths, tag, True, loader)
            if library.learned_tag(label_api.resolve_tag(library, tag)) is None:
                label_api.learn_tag(library, tag, load_embedder=loader)
            return None

        def finished(result: object, error: BaseException | None) -> None:
            if error is not None:
                QMessageBox.warning(parent, "Could not learn the tag", str(error))
            self.library_edited()
            if done is not None:
                done()

        self.bridge.submit(job, finished)
