"""The long-lived indexing service: one thread (a `SerialExecutor`) that owns the model
(through a `ModelHolder`), the `Indexer` and the library's write connection. The watcher and
the UI hand it typed work items; it reports typed events.

No Qt here; the GUI wraps `IndexingService` in a small adapter that re-emits its events.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, assert_never

from photo_tagger.config import DEFAULT_MODEL, POLL_INTERVAL_SECONDS, SETTLE_SECONDS
from photo_tagger.core.db import DatabaseError, is_damaged
from photo_tagger.core.embedder import Embedder, ModelUnavailable
from photo_tagger.core.executor import SerialExecutor
from photo_tagger.core.indexer import Indexer, IndexProgress, IndexSummary
from photo_tagger.core.model_holder import ModelHolder
from photo_tagger.core.responsiveness import collector_paused, lower_thread_priority
from photo_tagger.core.search import (
    QueryError,
    SearchAnswer,
    Searcher,
    SearchQuery,
    SearchResult,
    parse_query,
)
from photo_tagger.core.search_socket import SearchServer, answer_to_json
from photo_tagger.core.store import Library, LibraryModelChanged, SwitchChanged
from photo_tagger.core.switch import (
    ModelSwitch,
    SwitchProgress,
    canonical_model_id,
    needs_background_switch,
)
from photo_tagger.core.textcache import ModelNeeded
from photo_tagger.core.watcher import Change, FolderWatcher, Ready
from photo_tagger.paths import library_path

log = logging.getLogger(__name__)

T = TypeVar("T")
ResultCallback = Callable[[Any, BaseException | None], None]

# Small batches keep a search's wait and a shutdown short (batch 1–8 run equally fast).
SERVICE_BATCH_SIZE = 4
PROGRESS_INTERVAL = 0.1  # at most ~10 progress events per second
CHANGED_INTERVAL = 0.5  # LibraryChanged at most twice a second while a run goes on
# Photos a model switch embeds before it queues itself again: the watcher's changes and
# other work interleave with a switch that may take days on a large library.
SWITCH_STEP_PHOTOS = 32

ServiceState = Literal["loading-model", "scanning", "indexing", "idle", "paused", "stopped"]


# -- events: what the service reports, on its thread, through `on_event` -------------------
@dataclass(frozen=True)
class StateChanged:
    """The service entered `state`."""

    state: ServiceState


@dataclass(frozen=True)
class Progress:
    """How far the current indexing run is (about ten a second at most)."""

    progress: IndexProgress


@dataclass(frozen=True)
class LibraryChanged:
    """Rows of the library changed: listings may be out of date."""


@dataclass(frozen=True)
class ModelReady:
    """The model is loaded; searches by text work."""

    model_id: str


@dataclass(frozen=True)
class ModelFailed:
    """The model cannot be loaded; new files stay pending until another one is set."""

    message: str


@dataclass(frozen=True)
class ErrorReported:
    """Something the user should read (an unreachable folder, a failed job, ...)."""

    message: str


@dataclass(frozen=True)
class SwitchProgressed:
    """A background model switch started or moved on; `progress` is None when it ended
    (swapped in, then `ModelReady` follows; or cancelled)."""

    progress: SwitchProgress | None


ServiceEvent = (StateChanged | Progress | LibraryChanged | ModelReady | ModelFailed
                | ErrorReported | SwitchProgressed)


# -- work items: what the service's thread is asked to do ---------------------------------
@dataclass(frozen=True)
class AddFolder:
    path: Path


@dataclass(frozen=True)
class RemoveFolder:
    folder_id: int


@dataclass(frozen=True)
class SetPolling:
    folder_id: int
    polling: bool


@dataclass(frozen=True)
class SetModel:
    model_id: str


@dataclass(frozen=True)
class SwitchStep:
    """Embed the next few photos with the model being switched to (queues itself again)."""


@dataclass(frozen=True)
class CancelSwitch:
    """Drop the switch under way and its partial vectors; the current model stays."""


@dataclass(frozen=True)
class Rescan:
    """Bring the library in line with the disk (the start-up reconcile)."""


@dataclass(frozen=True)
class ApplyChange:
    """A file-system change from the watcher."""

    change: Change


class ServiceStopped(Exception):
    """The service stopped before it could run a submitted job."""


@dataclass(frozen=True)
class Job:
    """A submitted function and its callback, run on the service thread."""

    fn: Callable[[Library, Indexer], Any]
    callback: ResultCallback | None = None

    def abandon(self) -> None:
        """Answer a caller waiting on a job that will never run."""
        if self.callback is not None:
            _call(self.callback, None, ServiceStopped("The indexing service has stopped."))


WorkItem = (AddFolder | RemoveFolder | SetPolling | SetModel | SwitchStep | CancelSwitch
            | Rescan | ApplyChange | Job)


class _Stopping(Exception):
    """Raised inside a run to leave it when the service shuts down."""


class IndexingService:
    """Indexes, watches and answers searches for one library, on one thread.

    Events (`ServiceEvent`, delivered on the service thread through `on_event`):
    `StateChanged`, `Progress`, `LibraryChanged`, `ModelReady`, `ModelFailed`,
    `ErrorReported`.
    """

    def __init__(self, home: Path, model_id: str | None = None, *,
                 on_event: Callable[[ServiceEvent], None] | None = None,
                 load_embedder: Callable[[str], Embedder] = Embedder.load,
                 watch: bool = True, reconcile_on_start: bool = True,
                 settle: float = SETTLE_SECONDS, poll_interval: float = POLL_INTERVAL_SECONDS,
                 batch_size: int = SERVICE_BATCH_SIZE, answer_cli: bool = True) -> None:
        self.home = Path(home)
        self.requested_model = model_id
        self._on_event = on_event or (lambda event: None)
        self._models = ModelHolder(load_embedder)
        self._watch_enabled = watch
        self._reconcile_on_start = reconcile_on_start
        self._batch_size = batch_size
        self._executor: SerialExecutor[WorkItem] = SerialExecutor(
            "indexing-service", run=self._run, run_priority=self._run_priority,
            on_start=self._open, on_wait=self._waiting, on_exit=self._close)
        self._run_stop = threading.Event()
        self._watcher: FolderWatcher | None = None
        self._settle, self._poll_interval = settle, poll_interval
        self.library: Library | None = None
        self.indexer: Indexer | None = None
        self.searcher: Searcher | None = None
        self._state: ServiceState | None = None
        self._last_progress = 0.0
        self._last_changed = 0.0
        self._changes_seen = 0
        self._switch: ModelSwitch | None = None  # a background model switch under way
        self._switch_cancelled = threading.Event()
        self._switch_running = False
        # `photo-tagger search` asks here over a local socket (core/search_socket.py).
        self._server = SearchServer(self.home, self._socket_search) if answer_cli else None

    # -- public API (any thread) --------------------------------------------------------
    def start(self) -> None:
        """Start the service thread; it opens the library, loads the model, reconciles
        the folders with the disk and starts watching."""
        self._executor.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop indexing and watching and join every thread, within about `timeout`."""
        self._executor.request_stop()
        self._run_stop.set()
        self._executor.wake()
        if not self._executor.join(timeout):
            log.warning("The indexing service is still finishing a batch.")

    @property
    def running(self) -> bool:
        return self._executor.running

    @property
    def model_id(self) -> str | None:
        """The model in use, or being loaded."""
        return self._models.model_id

    @property
    def model_error(self) -> str | None:
        """Why the model cannot be loaded; None while it can."""
        return self._models.error

    def threads(self) -> list[threading.Thread]:
        """Every thread this service started (for shutdown checks in tests)."""
        thread = self._executor.thread
        found = [thread] if thread is not None else []
        if self._server is not None and self._server.thread is not None:
            found.append(self._server.thread)
        if self._watcher is not None:
            found.extend(self._watcher.threads())
        return found

    def add_folder(self, path: Path) -> None:
        self._executor.put(AddFolder(Path(path)))

    def remove_folder(self, folder_id: int) -> None:
        self._executor.put(RemoveFolder(folder_id))

    def set_folder_polling(self, folder_id: int, polling: bool) -> None:
        """Save the folder's polling setting and watch it that way from now on."""
        self._executor.put(SetPolling(folder_id, polling))

    def watched_folders(self) -> dict[str, bool]:
        """Watched folder → whether it is polled (a snapshot)."""
        return dict(self._watcher.watched()) if self._watcher is not None else {}

    def rescan(self) -> None:
        self._executor.put(Rescan())

    def set_model(self, model_id: str) -> None:
        """Switch to another model (or retry a failed one). A library that has vectors
        switches in the background: searches keep the current model until the new one
        covers every photo (`SwitchProgressed` events, then `ModelReady`)."""
        self._executor.put(SetModel(model_id))

    def cancel_switch(self) -> None:
        """Stop a background switch and drop its vectors; the current model stays."""
        self._switch_cancelled.set()
        if self._switch_running:  # stop the switch's batches, not another run
            self._run_stop.set()
        self._executor.wake()
        self._executor.put(CancelSwitch())

    def pause(self) -> None:
        self._executor.pause()

    def resume(self) -> None:
        self._executor.resume()

    def cancel(self) -> None:
        """Cancel the current indexing run; its files stay pending for a later rescan."""
        self._run_stop.set()
        self._executor.wake()

    @property
    def paused(self) -> bool:
        return self._executor.paused

    def search(self, query: str, limit: int,
               callback: Callable[[list[SearchResult] | None, BaseException | None], None],
               *, folder: str | None = None, tags: list[str] | None = None) -> None:
        """Run a search ahead of queued indexing work; `callback` runs on the service
        thread with (results, None) or (None, error)."""
        def job(library: Library, indexer: Indexer) -> list[SearchResult]:
            if parse_query(query).has_text and self._searcher().embedder is None:
                raise ModelUnavailable(self.model_error or "The model is not loaded yet.")
            return self._searcher().search(query, limit=limit, folder=folder, tags=tags)

        self.submit(job, callback, priority=True)

    def find(self, query: str | SearchQuery,
             callback: Callable[[SearchAnswer | None, BaseException | None], None], *,
             limit: int | None = None, everything: bool = False, explain: bool = False,
             folder: str | None = None, tags: list[str] | None = None) -> None:
        """`Searcher.find` ahead of queued indexing work: only the matches, with their
        probability, unless `everything`. A new phrase before the model is loaded gives
        `ModelUnavailable`; a cached one is answered without the model."""
        def job(library: Library, indexer: Indexer) -> SearchAnswer:
            try:
                return self._searcher().find(query, limit=limit, everything=everything,
                                             explain=explain, folder=folder, tags=tags)
            except ModelNeeded as exc:
                raise ModelUnavailable(self.model_error or "The model is not loaded yet.") \
                    from exc

        self.submit(job, callback, priority=True)

    def similar(self, target: int | Path, limit: int,
                callback: Callable[[list[SearchResult] | None, BaseException | None], None]
                ) -> None:
        """Photos like a library photo (by id) or like an image file."""
        def job(library: Library, indexer: Indexer) -> list[SearchResult]:
            searcher = self._searcher()
            if isinstance(target, int):
                return searcher.similar_to_photo(target, limit)
            return searcher.similar_to_file(Path(target), limit)

        self.submit(job, callback, priority=True)

    def submit(self, fn: Callable[[Library, Indexer], T],
               callback: Callable[[T | None, BaseException | None], None] | None = None,
               *, priority: bool = False) -> None:
        """Run `fn(library, indexer)` on the service thread; with `priority` it jumps the
        queue (between batches of a run). Errors go to `callback`, never lost."""
        job = Job(fn, callback)
        if not self._executor.put(job, priority=priority):
            job.abandon()

    def post_change(self, change: Change) -> None:
        """The watcher's sink: a file-system change, handled in order with other work."""
        self._executor.put(ApplyChange(change))

    def _socket_search(self, request: dict[str, Any],
                       reply: Callable[[dict[str, Any]], None]) -> None:
        """A command-line search from the socket's thread, answered through the priority
        path like the window's."""
        def done(answer: SearchAnswer | None, error: BaseException | None) -> None:
            if answer is not None and error is None:
                reply({"ok": True, "answer": answer_to_json(answer)})
            else:
                kind = "query" if isinstance(error, QueryError) else \
                    "unavailable" if isinstance(error, ModelUnavailable | ServiceStopped) \
                    else "error"
                reply({"ok": False, "kind": kind, "error": str(error)})

        wanted = request.get("model")
        if wanted is not None and wanted != self.model_id:
            reply({"ok": False, "kind": "unavailable",
                   "error": f"this service uses {self.model_id}, not {wanted}"})
            return
        self.find(str(request["query"]), done, limit=request.get("limit"),
                  everything=bool(request.get("all")), explain=bool(request.get("explain")),
                  folder=request.get("folder"), tags=list(request.get("tags") or []))

    # -- the service thread: start, work, stop ------------------------------------------
    def _open(self) -> None:
        lower_thread_priority()  # the model's compute threads, started from here, inherit it
        self.library = Library(library_path(self.home))
        requested, current = self.requested_model, self.library.model_id
        switch_to = self.library.next_model_id  # a switch left under way is resumed
        if requested is not None and needs_background_switch(self.library, requested):
            # Another model asked for: searches keep the library's until it is embedded.
            model_now, switch_to = current, canonical_model_id(requested)
        else:
            model_now = requested or current or DEFAULT_MODEL
            if current is None or canonical_model_id(model_now) != current:
                switch_to = None
        assert model_now is not None
        self._make_indexer(model_now)
        self._changes_seen = self.library.conn.total_changes
        self._load_model()
        if self._watch_enabled:
            self._watcher = FolderWatcher(self.post_change, settle=self._settle,
                                          poll_interval=self._poll_interval)
            self._watcher.start()
            for folder in self.library.folders():
                self._watch(folder.path, folder.polling)
        if self._server is not None:
            self._server.start()
        if self._reconcile_on_start:
            # Watching starts first, so nothing that changes during the scan is missed.
            self.rescan()
        if switch_to is not None:
            self.set_model(switch_to)

    def _close(self, error: BaseException | None, left: list[WorkItem]) -> None:
        if error is not None:  # a bug or a broken library: report, never die silently
            log.error("The indexing service stopped on an error", exc_info=error)
            self._emit(ErrorReported(f"{type(error).__name__}: {error}"))
        if self._watcher is not None:
            self._watcher.stop()
        if self.searcher is not None:
            try:  # a patched index not written yet: the next start maps it instead
                self.searcher.index.save()
            except Exception as exc:  # the library itself is intact: it is rebuilt then
                log.warning("The search index was not saved: %s", exc)
        if self.library is not None:
            self.library.close()
        for item in left:  # callers waiting on an answer get one
            if isinstance(item, Job):
                item.abandon()
        if self._server is not None:  # after the abandons: it may wait on one of them
            self._server.stop()
        self._set_state("stopped")

    def _waiting(self, paused: bool) -> None:
        self._keep_index_current()
        self._set_state("paused" if paused else "idle")

    def _keep_index_current(self) -> None:
        """Once the queue is empty, bring a held FAISS index up to what was indexed (it
        writes itself back at most every 30 s): the next search, and the next start, then
        find it current instead of patching it first (5-7 s at 1M photos)."""
        if self.searcher is None or self.library is None \
                or self.searcher.index.kind == "exact":
            return
        try:
            self.searcher.index.refresh(self.library)
        except Exception as exc:  # only a head start: the next search refreshes it anyway
            log.warning("The search index was not brought up to date: %s", exc)

    def _run_priority(self, item: WorkItem) -> None:
        assert isinstance(item, Job), "only jobs jump the queue"
        self._run_job(item)

    def _run(self, item: WorkItem) -> None:
        # A fresh stop event per run: cancel() ends this run only.
        self._run_stop = threading.Event()
        if self.indexer is not None:
            self.indexer.stop = self._run_stop
        if self._executor.stopping:
            if isinstance(item, Job):  # its caller waits on an answer
                item.abandon()
            return
        try:
            self._do(item)
        except _Stopping:
            return
        except ModelUnavailable as exc:
            # Files stay pending; the error was reported when the model failed.
            log.info("Not indexed now: %s", exc)
        except LibraryModelChanged as exc:
            # Another program switched the library's model: follow it rather than mix
            # two models' vectors. Files this run did not write stay pending.
            log.warning("%s", exc)
            self._emit(ErrorReported(f"{exc} Continuing with {exc.library_model}."))
            if exc.library_model is not None:
                self.set_model(exc.library_model)
        except Exception as exc:
            if is_damaged(exc) and self.library is not None:
                # Nothing more can be done on this file: stop and say so, never idle.
                raise DatabaseError(
                    f"The library {self.library.path} is damaged ({exc}). Restore it "
                    "from a backup, or move it aside and index the folders again."
                ) from exc
            log.exception("Indexing work failed: %s", type(item).__name__)
            self._emit(ErrorReported(f"{type(exc).__name__}: {exc}"))
        finally:
            if self.library is not None and self.library.conn.in_transaction:
                self.library.conn.execute("ROLLBACK")
        self._changed(force=True)

    def _do(self, item: WorkItem) -> None:
        library = self.library
        assert library is not None
        match item:
            case Job():
                self._run_job(item)
            case ApplyChange(change=change):
                self._apply_change(change)
            case Rescan():
                self._reconcile()
            case AddFolder(path=path):
                if not path.is_dir():
                    self._emit(ErrorReported(f"{path} is not a folder."))
                    return
                folder = library.add_folder(path)
                self._changed(force=True)
                self._watch(folder.path, folder.polling)
                log.info("Added folder %s", folder.path)
                self._index_folders([folder.path])
            case RemoveFolder(folder_id=folder_id):
                found = [f for f in library.folders() if f.id == folder_id]
                if found:
                    if self._watcher is not None:
                        self._watcher.unwatch(found[0].path)
                    library.remove_folder(folder_id)
                    log.info("Removed folder %s from the library", found[0].path)
            case SetPolling(folder_id=folder_id, polling=polling):
                library.set_folder_options(folder_id, polling=polling)
                found = [f for f in library.folders() if f.id == folder_id]
                if found and self._watcher is not None:
                    self._watcher.unwatch(found[0].path)
                    self._watch(found[0].path, polling)
            case SetModel(model_id=model_id):
                self._set_model(model_id)
            case SwitchStep():
                self._switch_step()
            case CancelSwitch():
                self._switch_cancelled.clear()
                if library.next_model_id is not None:
                    library.cancel_switch()
                    log.info("Model switch cancelled; the library keeps %s", library.model_id)
                if self._switch is not None:
                    self._switch = None
                    self._emit(SwitchProgressed(None))
            case _:
                assert_never(item)

    def _run_job(self, job: Job) -> None:
        library, indexer = self.library, self.indexer
        assert library is not None and indexer is not None
        before = library.conn.total_changes
        try:
            result = job.fn(library, indexer)
        except Exception as exc:
            if job.callback is None:
                log.exception("A submitted job failed")
                self._emit(ErrorReported(f"{type(exc).__name__}: {exc}"))
            else:
                _call(job.callback, None, exc)
            return
        finally:
            if library.conn.in_transaction:  # a job must not leave one open
                library.conn.execute("ROLLBACK")
        if library.conn.total_changes != before:
            self._changed(force=True)
        if job.callback is not None:
            _call(job.callback, result, None)

    # -- model --------------------------------------------------------------------------
    def _make_indexer(self, model_id: str) -> None:
        assert self.library is not None
        self.indexer = Indexer(self.library, model_id, self._models.load_embedder,
                               batch_size=self._batch_size, on_event=self._progress,
                               stop=self._run_stop, between_batches=self._between_batches)
        self.searcher = Searcher(self.library, None)

    def _load_model(self) -> None:
        assert self.indexer is not None and self.searcher is not None
        self._set_state("loading-model")
        embedder = self._models.load(self.indexer)
        if embedder is None:
            self._emit(ModelFailed(self._models.error or "The model cannot be loaded."))
            return
        self.searcher.embedder = embedder
        self._emit(ModelReady(embedder.model_id))

    def _set_model(self, model_id: str) -> None:
        """Take another model: at once for a library without vectors (or to follow one
        already switched, or retry a failed load); in the background otherwise."""
        library = self.library
        assert library is not None
        target = canonical_model_id(model_id)
        if not needs_background_switch(library, model_id):
            if library.next_model_id is not None:  # the current model chosen again
                library.cancel_switch()
            if self._switch is not None:
                self._switch = None
                self._emit(SwitchProgressed(None))
            if self.model_error is None and self.indexer is not None \
                    and self._models.embedder is not None \
                    and self._models.embedder.model_id == target:
                return  # already the model in use
            self._make_indexer(model_id)
            self._load_model()
            if self.model_error is None:
                self._reconcile()
            return
        if self._switch is not None and self._switch.model_id == target:
            return  # already under way
        try:
            with collector_paused():
                embedder = self._models.load_embedder(model_id)
        except ModelUnavailable as exc:
            self._emit(ErrorReported(f"{exc} The library keeps {library.model_id}."))
            return
        self._switch = ModelSwitch(library, embedder, batch_size=self._batch_size,
                                   between_batches=self._between_batches,
                                   on_progress=self._switch_progress)
        if self._switch.begin():
            log.info("Switching to %s in the background; searches use %s until then",
                     embedder.model_id, library.model_id)
        self._emit(SwitchProgressed(self._switch.progress()))
        self._executor.put(SwitchStep())

    def _switch_step(self) -> None:
        switch, library = self._switch, self.library
        assert library is not None
        if switch is None or self._switch_cancelled.is_set():
            return
        switch.stop = self._run_stop
        self._set_state("indexing")
        self._switch_running = True
        try:
            finished = switch.step(SWITCH_STEP_PHOTOS) and not self._switch_cancelled.is_set()
            if finished:
                switch.marked_pending = switch.finish()
        except SwitchChanged:
            # Cancelled, replaced or finished by another program: follow the library.
            self._switch = None
            self._emit(SwitchProgressed(None))
            if library.model_id != (self.indexer.model_id if self.indexer else None) \
                    and library.model_id is not None:
                self.set_model(library.model_id)
            return
        finally:
            self._switch_running = False
        if not finished:
            if not self._executor.stopping and not self._switch_cancelled.is_set():
                self._executor.put(SwitchStep())
            return
        self._switch = None
        log.info("Switched to %s", switch.model_id)
        self._make_indexer(switch.model_id)
        assert self.indexer is not None and self.searcher is not None
        self._models.adopt(self.indexer, switch.embedder)
        self.searcher.embedder = switch.embedder
        self._emit(SwitchProgressed(None))
        self._emit(ModelReady(switch.model_id))
        if switch.marked_pending:  # photos it could not read: indexed when they can be
            self.rescan()

    def _switch_progress(self, progress: SwitchProgress) -> None:
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress = now
            self._emit(SwitchProgressed(progress))

    @property
    def switching_to(self) -> str | None:
        """The model a background switch is embedding the library with, if any."""
        switch = self._switch
        return switch.model_id if switch is not None else None

    def _searcher(self) -> Searcher:
        assert self.searcher is not None
        return self.searcher

    # -- indexing -----------------------------------------------------------------------
    def _watch(self, path: str, polling: bool) -> None:
        if self._watcher is None:
            return
        try:
            self._watcher.watch(path, polling)
        except Exception as exc:  # an unwatchable folder is reported, the rest go on
            log.warning("Cannot watch %s: %s", path, exc)
            self._emit(ErrorReported(f"Cannot watch {path}: {exc}"))

    def _reconcile(self) -> None:
        """Bring the library in line with the disk after time away (the start-up scan)."""
        assert self.library is not None
        present = []
        for folder in self.library.folders():
            if os.path.isdir(folder.path):
                present.append(folder.path)
            else:
                # Unmounted drive or missing share: keep its photos rather than drop them.
                log.warning("Folder %s is not reachable; its photos are kept.", folder.path)
                self._emit(ErrorReported(f"Folder {folder.path} is not reachable."))
        if present:
            self._index_folders(present)

    def _index_folders(self, paths: list[str]) -> None:
        assert self.indexer is not None
        self._set_state("scanning")
        summary = self.indexer.index_folders([Path(p) for p in paths])
        self._log_summary(summary)

    def _apply_change(self, change: Change) -> None:
        assert self.indexer is not None
        if isinstance(change, Ready):
            change = self._merge_ready(change)
        watcher = self._watcher
        summary = self.indexer.apply_change(
            change, settling=watcher.is_pending if watcher is not None else lambda p: False,
            on_indexing=self._indexing)
        self._log_summary(summary)

    def _merge_ready(self, first: Ready) -> Ready:
        """Ready batches queued back to back become one run."""
        paths = dict.fromkeys(first.paths)
        for item in self._executor.take_leading(
                lambda item: isinstance(item, ApplyChange) and isinstance(item.change, Ready)):
            assert isinstance(item, ApplyChange) and isinstance(item.change, Ready)
            paths.update(dict.fromkeys(item.change.paths))
        return Ready(tuple(paths))

    def _indexing(self, paths: list[str]) -> None:
        self._set_state("indexing")
        log.info("Indexing %d new or changed file(s)%s", len(paths),
                 ": " + ", ".join(paths) if len(paths) <= 5 else "")

    def _log_summary(self, summary: IndexSummary) -> None:
        if self._executor.stopping:
            raise _Stopping
        parts = [f"{name} {value}" for name, value in (
            ("indexed", summary.indexed), ("moved", summary.moved),
            ("copies reused", summary.reused), ("removed", summary.removed),
            ("skipped", len(summary.skipped))) if value]
        if parts or summary.cancelled:
            log.info("Indexing run: %s%s", ", ".join(parts) or "nothing changed",
                     " (cancelled)" if summary.cancelled else "")
        for path, reason in summary.skipped:
            log.info("Skipped %s: %s", path, reason)
        for place in summary.unreachable:
            log.warning("Cannot read %s (%s); its photos are kept.", place.path, place.reason)
            self._emit(ErrorReported(f"Cannot read {place.path} ({place.reason}); "
                                     "its photos are kept until it can be read again."))
            if self._watcher is not None:  # scanned again once it can be read
                self._watcher.retry_when_readable(place.path)

    # -- hooks called by the indexer on this thread -------------------------------------
    def _between_batches(self) -> None:
        """Searches jump the queue here; a pause holds the run here."""
        self._executor.checkpoint(cancelled=lambda: self._run_stop.is_set())
        if self._state == "paused" and not self._executor.stopping:
            self._set_state("indexing")
        self._changed()

    def _progress(self, event: IndexProgress) -> None:
        now = time.monotonic()
        if event.phase == "index" and self._state == "scanning":
            self._set_state("indexing")
        if event.phase != "done" and now - self._last_progress < PROGRESS_INTERVAL:
            return
        self._last_progress = now
        self._emit(Progress(event))

    # -- events -------------------------------------------------------------------------
    def _changed(self, force: bool = False) -> None:
        if self.library is None:
            return
        total = self.library.conn.total_changes
        now = time.monotonic()
        if total == self._changes_seen or (not force and now - self._last_changed
                                           < CHANGED_INTERVAL):
            return
        self._changes_seen, self._last_changed = total, now
        self._emit(LibraryChanged())

    def _set_state(self, state: ServiceState) -> None:
        if state != self._state:
            self._state = state
            self._emit(StateChanged(state))

    @property
    def state(self) -> ServiceState | None:
        return self._state

    def _emit(self, event: ServiceEvent) -> None:
        try:
            self._on_event(event)
        except Exception:  # a broken listener must not stop indexing
            log.exception("An event listener failed on %s", type(event).__name__)


def _call(callback: ResultCallback, result: Any, error: BaseException | None) -> None:
    try:
        callback(result, error)
    except Exception:
        log.exception("A result callback failed")
