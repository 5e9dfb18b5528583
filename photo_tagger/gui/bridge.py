"""The Qt face of the indexing service: owns an `IndexingService` (composition) and re-emits
its events, and the results of jobs, as signals delivered on the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from photo_tagger.core.embedder import Embedder
from photo_tagger.core.reader import LibraryReader
from photo_tagger.core.service import (
    ErrorReported,
    IndexingService,
    LibraryChanged,
    ModelFailed,
    ModelReady,
    Progress,
    ServiceEvent,
    StateChanged,
    SwitchProgressed,
)
from photo_tagger.paths import library_path

log = logging.getLogger(__name__)

# (result, error) on the GUI thread.
GuiCallback = Callable[[Any, BaseException | None], None]


class ServiceBridge(QObject):
    """Runs the service and turns its thread's callbacks into queued Qt signals."""

    state_changed = Signal(str)
    progress = Signal(object)  # IndexProgress
    library_changed = Signal()
    model_ready = Signal(str)
    model_failed = Signal(str)
    download_progress = Signal(int, int)  # bytes done, bytes total
    error = Signal(str)
    switch_progress = Signal(object)  # SwitchProgress, or None when a switch ended

    # Internal: crosses from the service thread to this object's (the GUI) thread.
    _event = Signal(object)
    _result = Signal(object, object, object)

    def __init__(self, home: Path, model_id: str | None, *, threads: int | None = None,
                 load_embedder: Callable[..., Embedder] | None = None,
                 parent: QObject | None = None, **service_options: Any) -> None:
        super().__init__(parent)
        self._threads = threads
        self._load = load_embedder or Embedder.load
        self._event.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)
        self._result.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self.state = "stopped"
        self.model_id: str | None = None
        self.model_error: str | None = None
        self.service = IndexingService(home, model_id, on_event=self._event.emit,
                                       load_embedder=self._load_model, **service_options)
        self.reader = LibraryReader(library_path(home))

    # -- the service thread's side ------------------------------------------------------
    def _load_model(self, model_id: str) -> Embedder:
        def report(done: int, total: int) -> None:
            self.download_progress.emit(done, total)

        if self._load is Embedder.load:
            return Embedder.load(model_id, threads=self._threads, progress=report)
        return self._load(model_id)

    # -- the GUI thread's side ----------------------------------------------------------
    @Slot(object)
    def _dispatch(self, event: ServiceEvent) -> None:
        match event:
            case StateChanged(state=state):
                self.state = state
                self.state_changed.emit(state)
            case Progress(progress=progress):
                self.progress.emit(progress)
            case LibraryChanged():
                self.library_changed.emit()
            case ModelReady(model_id=model_id):
                self.model_id, self.model_error = model_id, None
                self.model_ready.emit(model_id)
            case ModelFailed(message=message):
                self.model_error = message
                self.model_failed.emit(message)
            case ErrorReported(message=message):
                self.error.emit(message)
            case SwitchProgressed(progress=progress):
                self.switch_progress.emit(progress)

    @Slot(object, object, object)
    def _deliver(self, callback: GuiCallback, result: Any, error: BaseException | None) -> None:
        try:
            callback(result, error)
        except Exception:  # a broken view must not take the window down
            log.exception("A GUI callback failed")

    def _on_gui(self, callback: GuiCallback | None) -> Callable[[Any, BaseException | None], None]:
        def relay(result: Any, error: BaseException | None) -> None:
            if callback is not None:
                self._result.emit(callback, result, error)
            elif error is not None:
                self._event.emit(ErrorReported(f"{type(error).__name__}: {error}"))

        return relay

    # -- API for the views (GUI thread) -------------------------------------------------
    def start(self) -> None:
        self.service.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.reader.close()
        self.service.stop(timeout)

    def read(self, fn: Callable[..., Any], callback: GuiCallback) -> None:
        """Run `fn(library)` on the reading thread (no model, no wait for the indexer);
        `callback` runs on this one."""
        self.reader.submit(fn, self._on_gui(callback))

    def submit(self, fn: Callable[..., Any], callback: GuiCallback | None = None, *,
               priority: bool = True) -> None:
        """Run `fn(library, indexer)` on the service thread; `callback` runs on this one."""
        self.service.submit(fn, self._on_gui(callback), priority=priority)

    def search(self, query: str, limit: int, callback: GuiCallback, *,
               folder: str | None = None, tags: list[str] | None = None) -> None:
        self.service.search(query, limit, self._on_gui(callback), folder=folder, tags=tags)

    def find(self, query: str, limit: int, callback: GuiCallback, *, everything: bool = False,
             folder: str | None = None, tags: list[str] | None = None) -> None:
        """`Searcher.find` on the service thread: a `SearchAnswer` (matches only, unless
        `everything`) on this one."""
        self.service.find(query, self._on_gui(callback), limit=limit, everything=everything,
                          folder=folder, tags=tags)

    def similar(self, target: int | Path, limit: int, callback: GuiCallback) -> None:
        self.service.similar(target, limit, self._on_gui(callback))

    def add_folder(self, path: Path) -> None:
        self.service.add_folder(path)

    def remove_folder(self, folder_id: int) -> None:
        self.service.remove_folder(folder_id)

    def set_folder_polling(self, folder_id: int, polling: bool) -> None:
        self.service.set_folder_polling(folder_id, polling)

    def cancel_switch(self) -> None:
        """Stop a background model switch; the current model stays."""
        self.service.cancel_switch()

    def set_model(self, model_id: str) -> None:
        self.model_error = None
        self.service.set_model(model_id)

    def pause(self) -> None:
        self.service.pause()
        if self.state in ("indexing", "scanning"):
            self.state_changed.emit("pausing")

    def resume(self) -> None:
        self.service.resume()

    @property
    def paused(self) -> bool:
        return self.service.paused
