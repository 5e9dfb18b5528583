"""The long-lived indexing service: one plain thread that owns the model and the library's
write connection. The watcher and the UI only hand it work through its queues.

No Qt here; the GUI wraps `IndexingService` in a small adapter that re-emits its events.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from photo_tagger.config import DEFAULT_MODEL, POLL_INTERVAL_SECONDS, SETTLE_SECONDS
from photo_tagger.core.db import DatabaseError, is_damaged
from photo_tagger.core.embedder import Embedder, ModelUnavailable
from photo_tagger.core.indexer import Indexer, IndexProgress, IndexSummary
from photo_tagger.core.reader import VectorPrefetch
from photo_tagger.core.responsiveness import collector_paused, lower_thread_priority
from photo_tagger.core.scanner import walk_images
from photo_tagger.core.search import Searcher, SearchResult, parse_query
from photo_tagger.core.store import Library, LibraryModelChanged
from photo_tagger.core.watcher import (
    Change,
    FolderWatcher,
    Moved,
    Ready,
    Removed,
    RootReturned,
)
from photo_tagger.paths import library_path

log = logging.getLogger(__name__)

T = TypeVar("T")
ResultCallback = Callable[[Any, BaseException | None], None]

# Small batches keep a search's wait and a shutdown short (batch 1–8 run equally fast).
SERVICE_BATCH_SIZE = 4
PROGRESS_INTERVAL = 0.1  # at most ~10 progress events per second
CHANGED_INTERVAL = 0.5  # "changed" at most twice a second while a run goes on


@dataclass(frozen=True)
class ServiceEvent:
    """What the service reports; `kind` is one of "state", "progress", "changed",
    "model-ready", "model-failed" or "error" (see `IndexingService`)."""

    kind: str
    data: object = None


class ServiceStopped(Exception):
    """The service stopped before it could run a submitted job."""


class _Stopping(Exception):
    """Raised inside a run to leave it when the service shuts down."""


class IndexingService:
    """Indexes, watches and answers searches for one library, on one thread.

    Events (delivered on the service thread through `on_event`):
    "state" (data: "loading-model", "scanning", "indexing", "idle", "paused", "stopped"),
    "progress" (`IndexProgress`), "changed" (library rows changed), "model-ready"
    (model id), "model-failed" (message), "error" (message).
    """

    def __init__(self, home: Path, model_id: str | None = None, *,
                 on_event: Callable[[ServiceEvent], None] | None = None,
                 load_embedder: Callable[[str], Embedder] = Embedder.load,
                 watch: bool = True, reconcile_on_start: bool = True,
                 settle: float = SETTLE_SECONDS, poll_interval: float = POLL_INTERVAL_SECONDS,
                 batch_size: int = SERVICE_BATCH_SIZE) -> None:
        self.home = Path(home)
        self.requested_model = model_id
        self._on_event = on_event or (lambda event: None)
        self._load_embedder = load_embedder
        self._watch_enabled = watch
        self._reconcile_on_start = reconcile_on_start
        self._batch_size = batch_size
        self._cond = threading.Condition()
        self._priority: deque[_Job] = deque()
        self._work: deque[tuple[str, Any]] = deque()
        self._stopping = threading.Event()
        self._run_stop = threading.Event()
        self._paused = False
        self._closed = False  # set once the thread drained its queues for the last time
        self._thread: threading.Thread | None = None
        self._watcher: FolderWatcher | None = None
        self._watcher_settings = {"settle": settle, "poll_interval": poll_interval}
        self.library: Library | None = None
        self.indexer: Indexer | None = None
        self.searcher: Searcher | None = None
        self.model_id: str | None = None
        self.model_error: str | None = None
        self._state: str | None = None
        self._last_progress = 0.0
        self._last_changed = 0.0
        self._changes_seen = 0

    # -- public API (any thread) --------------------------------------------------------
    def start(self) -> None:
        """Start the service thread; it opens the library, loads the model, reconciles
        the folders with the disk and starts watching."""
        if self._thread is not None:
            raise RuntimeError("the indexing service is already started")
        self._thread = threading.Thread(target=self._main, name="indexing-service")
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop indexing and watching and join every thread, within about `timeout`."""
        self._stopping.set()
        self._run_stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("The indexing service is still finishing a batch.")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def threads(self) -> list[threading.Thread]:
        """Every thread this service started (for shutdown checks in tests)."""
        found = [self._thread] if self._thread else []
        if self._watcher is not None:
            found.extend(self._watcher.threads())
        return found

    def add_folder(self, path: Path) -> None:
        self._put("add-folder", Path(path))

    def remove_folder(self, folder_id: int) -> None:
        self._put("remove-folder", folder_id)

    def set_folder_polling(self, folder_id: int, polling: bool) -> None:
        """Save the folder's polling setting and watch it that way from now on."""
        self._put("set-polling", (folder_id, polling))

    def watched_folders(self) -> dict[str, bool]:
        """Watched folder → whether it is polled (a snapshot)."""
        return dict(self._watcher.watched()) if self._watcher is not None else {}

    def rescan(self) -> None:
        self._put("rescan", None)

    def set_model(self, model_id: str) -> None:
        """Switch to another model (or retry a failed one); the library is re-embedded."""
        self._put("set-model", model_id)

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def cancel(self) -> None:
        """Cancel the current indexing run; its files stay pending for a later rescan."""
        self._run_stop.set()
        with self._cond:
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

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
        job = _Job(self, fn, callback)
        with self._cond:
            if self._closed:
                job.abandon()
                return
            if priority:
                self._priority.append(job)
            else:
                self._work.append(("job", job))
            self._cond.notify_all()

    def post_change(self, change: Change) -> None:
        """The watcher's sink: a file-system change, handled in order with other work."""
        self._put("change", change)

    # -- the service thread -------------------------------------------------------------
    def _put(self, kind: str, data: Any) -> None:
        with self._cond:
            self._work.append((kind, data))
            self._cond.notify_all()

    def _main(self) -> None:
        lower_thread_priority()  # the model's compute threads, started from here, inherit it
        try:
            self.library = Library(library_path(self.home))
            self.model_id = self.requested_model or self.library.model_id or DEFAULT_MODEL
            self._make_indexer(self.model_id)
            self._changes_seen = self.library.conn.total_changes
            self._load_model()
            if self._watch_enabled:
                self._watcher = FolderWatcher(self.post_change, **self._watcher_settings)
                self._watcher.start()
                for folder in self.library.folders():
                    self._watch(folder.path, folder.polling)
            if self._reconcile_on_start:
                # Watching starts first, so nothing that changes during the scan is missed.
                self._put("rescan", None)
            self._loop()
        except Exception as exc:  # a bug or a broken library: report, never die silently
            log.exception("The indexing service stopped on an error")
            self._emit("error", f"{type(exc).__name__}: {exc}")
        finally:
            if self._watcher is not None:
                self._watcher.stop()
            if self.library is not None:
                self.library.close()
            with self._cond:
                self._closed = True
                left = list(self._priority) + [d for k, d in self._work if k == "job"]
                self._priority.clear()
                self._work.clear()
            for job in left:  # callers waiting on an answer get one
                job.abandon()
            self._set_state("stopped")

    def _loop(self) -> None:
        while not self._stopping.is_set():
            with self._cond:
                priority = self._priority.popleft() if self._priority else None
                work = None
                if priority is None and not self._paused and self._work:
                    work = self._work.popleft()
                    if work[0] == "change" and isinstance(work[1], Ready):
                        work = ("change", self._merge_ready(work[1]))
                idle_state = "paused" if self._paused else "idle"
            if priority is None and work is None:
                # Listeners hear the state outside the lock; then wait unless work came.
                self._set_state(idle_state)
                with self._cond:
                    if not self._has_work() and not self._stopping.is_set():
                        self._cond.wait()
                continue
            if priority is not None:
                priority()
                continue
            assert work is not None
            # A fresh stop event per run: cancel() ends this run only.
            self._run_stop = threading.Event()
            if self.indexer is not None:
                self.indexer.stop = self._run_stop
            if self._stopping.is_set():
                return
            try:
                self._do(*work)
            except _Stopping:
                return
            except ModelUnavailable as exc:
                # Files stay pending; the error was reported when the model failed.
                log.info("Not indexed now: %s", exc)
            except LibraryModelChanged as exc:
                # Another program switched the library's model: follow it rather than mix
                # two models' vectors. Files this run did not write stay pending.
                log.warning("%s", exc)
                self._emit("error", f"{exc} Continuing with {exc.library_model}.")
                if exc.library_model is not None:
                    self.set_model(exc.library_model)
            except Exception as exc:
                if is_damaged(exc) and self.library is not None:
                    # Nothing more can be done on this file: stop and say so, never idle.
                    raise DatabaseError(
                        f"The library {self.library.path} is damaged ({exc}). Restore it "
                        "from a backup, or move it aside and index the folders again."
                    ) from exc
                log.exception("Indexing work failed: %s", work[0])
                self._emit("error", f"{type(exc).__name__}: {exc}")
            finally:
                if self.library is not None and self.library.conn.in_transaction:
                    self.library.conn.execute("ROLLBACK")
            self._changed(force=True)

    def _has_work(self) -> bool:
        """Called locked."""
        return bool(self._priority) or (bool(self._work) and not self._paused)

    def _merge_ready(self, first: Ready) -> Ready:
        """Ready batches queued back to back become one run (called locked)."""
        paths = dict.fromkeys(first.paths)
        while self._work and self._work[0][0] == "change" and isinstance(self._work[0][1], Ready):
            paths.update(dict.fromkeys(self._work.popleft()[1].paths))
        return Ready(tuple(paths))

    def _do(self, kind: str, data: Any) -> None:
        assert self.library is not None
        if kind == "job":
            data()
        elif kind == "change":
            self._apply_change(data)
        elif kind == "rescan":
            self._reconcile()
        elif kind == "add-folder":
            path: Path = data
            if not path.is_dir():
                self._emit("error", f"{path} is not a folder.")
                return
            folder = self.library.add_folder(path)
            self._changed(force=True)
            self._watch(folder.path, folder.polling)
            log.info("Added folder %s", folder.path)
            self._index_folders([folder.path])
        elif kind == "remove-folder":
            match = [f for f in self.library.folders() if f.id == data]
            if match:
                if self._watcher is not None:
                    self._watcher.unwatch(match[0].path)
                self.library.remove_folder(data)
                log.info("Removed folder %s from the library", match[0].path)
        elif kind == "set-polling":
            folder_id, polling = data
            self.library.set_folder_options(folder_id, polling=polling)
            match = [f for f in self.library.folders() if f.id == folder_id]
            if match and self._watcher is not None:
                self._watcher.unwatch(match[0].path)
                self._watch(match[0].path, polling)
        elif kind == "set-model":
            self.model_id = data
            self._make_indexer(data)
            self._load_model()
            if self.model_error is None:
                self._reconcile()

    # -- model --------------------------------------------------------------------------
    def _make_indexer(self, model_id: str) -> None:
        assert self.library is not None
        self.indexer = Indexer(self.library, model_id, self._load_embedder,
                               batch_size=self._batch_size, on_event=self._progress,
                               stop=self._run_stop, between_batches=self._between_batches)
        self.searcher = Searcher(self.library, None)

    def _load_model(self) -> None:
        assert self.indexer is not None and self.searcher is not None
        self._set_state("loading-model")
        assert self.library is not None
        # The vectors are read beside the load, unless the load is about to drop them.
        same_model = self.library.model_id == self.indexer.model_id
        prefetch = VectorPrefetch(self.library.path) if same_model else None
        try:
            with collector_paused():
                embedder = self.indexer.embedder
        except ModelUnavailable as exc:
            self.model_error = str(exc)
            log.error("The model cannot be loaded: %s", exc)
            self._emit("model-failed", str(exc))
            # Later runs mark files pending instead of retrying the load every time.
            message = str(exc)

            def unavailable(model_id: str) -> Embedder:
                raise ModelUnavailable(message)

            self.indexer._load_embedder = unavailable
            return
        finally:
            if prefetch is not None:  # also after a failed load: similar photos need no model
                prefetch.hand_to(self.library)
        self.model_error = None
        self.searcher.embedder = embedder
        log.info("Model ready: %s", embedder.model_id)
        self._emit("model-ready", embedder.model_id)

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
            self._emit("error", f"Cannot watch {path}: {exc}")

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
                self._emit("error", f"Folder {folder.path} is not reachable.")
        if present:
            self._index_folders(present)

    def _index_folders(self, paths: list[str]) -> None:
        assert self.indexer is not None
        self._set_state("scanning")
        summary = self.indexer.index_folders([Path(p) for p in paths])
        self._log_summary(summary)

    def _index_files(self, paths: list[str]) -> None:
        assert self.indexer is not None
        if not paths:
            return
        self._set_state("indexing")
        log.info("Indexing %d new or changed file(s)%s", len(paths),
                 ": " + ", ".join(paths) if len(paths) <= 5 else "")
        self._log_summary(self.indexer.index_files(paths))

    def _log_summary(self, summary: IndexSummary) -> None:
        if self._stopping.is_set():
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
            self._emit("error", f"Cannot read {place.path} ({place.reason}); "
                                "its photos are kept until it can be read again.")

    def _apply_change(self, change: Change) -> None:
        assert self.library is not None and self.indexer is not None
        if isinstance(change, Ready):
            self._index_files([p for p in change.paths if os.path.isfile(p)])
        elif isinstance(change, Removed):
            self._removed(change)
        elif isinstance(change, Moved):
            self._moved(change)
        elif isinstance(change, RootReturned):
            # Back after being deleted and made again, or unmounted: what changed while
            # it was away is found by a scan (its photos were kept meanwhile).
            log.info("Folder %s is back; scanning it.", change.path)
            self._index_folders([change.path])

    def _removed(self, change: Removed) -> None:
        assert self.library is not None and self.indexer is not None
        if change.is_directory:
            paths = list(self.library.photos_under(change.path))
        else:
            paths = [change.path]
        # Editors often save by delete-and-recreate: keep what is on disk again.
        back = [p for p in paths if os.path.isfile(p)]
        gone = [p for p in paths if p not in set(back)]
        removed = self.indexer.remove_files(gone) if gone else 0
        if removed:
            log.info("Removed %s (%d photo(s))", change.path, removed)
        self._index_files(back)

    def _moved(self, change: Moved) -> None:
        """A move keeps each photo's id, vector and tags; the model does not run."""
        assert self.library is not None and self.indexer is not None
        if not change.is_directory:
            row = self.library.photo_by_path(change.src)
            if row is not None and self.indexer.move_file(change.src, change.dest):
                log.info("Moved %s -> %s", change.src, change.dest)
                if row.status == "indexed":
                    return
            # Unknown before (or never indexed): index it now, a hash match still reuses;
            # unless the watcher still waits for it to settle and will hand it on itself.
            settling = self._watcher is not None and self._watcher.is_pending(change.dest)
            if os.path.isfile(change.dest) and not settling:
                self._index_files([change.dest])
            return
        rows = self.library.photos_under(change.src)
        moved = 0
        with self.library.transaction():
            for old_path, row in rows.items():
                new_path = change.dest + old_path[len(change.src):]
                try:
                    stat = os.stat(new_path)
                except OSError:
                    continue
                folder = self.library.folder_for(new_path)
                self.library.move_photo(row.id, new_path, folder.id if folder else None,
                                        size=stat.st_size, mtime=stat.st_mtime,
                                        ctime=stat.st_ctime, inode=stat.st_ino)
                moved += 1
        if moved:
            log.info("Moved %d photo(s) %s -> %s", moved, change.src, change.dest)
        known = {change.dest + p[len(change.src):] for p, r in rows.items()
                 if r.status == "indexed"}
        self._index_files([f.path for f in walk_images(Path(change.dest))
                           if f.path not in known])

    # -- hooks called by the indexer on this thread -------------------------------------
    def _between_batches(self) -> None:
        """Searches jump the queue here; a pause holds the run here."""
        while True:
            with self._cond:
                job = self._priority.popleft() if self._priority else None
                hold = self._paused and not self._run_stop.is_set() \
                    and not self._stopping.is_set()
            if job is not None:
                job()
                continue
            if not hold:
                break
            self._set_state("paused")
            with self._cond:
                if not self._priority and self._paused and not self._run_stop.is_set() \
                        and not self._stopping.is_set():
                    self._cond.wait()
        if self._state == "paused" and not self._stopping.is_set():
            self._set_state("indexing")
        self._changed()

    def _progress(self, event: IndexProgress) -> None:
        now = time.monotonic()
        if event.phase == "index" and self._state == "scanning":
            self._set_state("indexing")
        if event.phase != "done" and now - self._last_progress < PROGRESS_INTERVAL:
            return
        self._last_progress = now
        self._emit("progress", event)

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
        self._emit("changed")

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self._emit("state", state)

    @property
    def state(self) -> str | None:
        return self._state

    def _emit(self, kind: str, data: object = None) -> None:
        try:
            self._on_event(ServiceEvent(kind, data))
        except Exception:  # a broken listener must not stop indexing
            log.exception("An event listener failed on %s", kind)

    def _call(self, callback: ResultCallback, result: Any, error: BaseException | None) -> None:
        try:
            callback(result, error)
        except Exception:
            log.exception("A result callback failed")


class _Job:
    """A submitted function and its callback, run on the service thread."""

    def __init__(self, service: IndexingService, fn: Callable[[Library, Indexer], Any],
                 callback: ResultCallback | None) -> None:
        self.service, self.fn, self.callback = service, fn, callback

    def __call__(self) -> None:
        service = self.service
        library, indexer = service.library, service.indexer
        assert library is not None and indexer is not None
        before = library.conn.total_changes
        try:
            result = self.fn(library, indexer)
        except Exception as exc:
            if self.callback is None:
                log.exception("A submitted job failed")
                service._emit("error", f"{type(exc).__name__}: {exc}")
            else:
                service._call(self.callback, None, exc)
            return
        finally:
            if library.conn.in_transaction:  # a job must not leave one open
                library.conn.execute("ROLLBACK")
        if library.conn.total_changes != before:
            service._changed(force=True)
        if self.callback is not None:
            service._call(self.callback, result, None)

    def abandon(self) -> None:
        if self.callback is not None:
            self.service._call(self.callback, None,
                               ServiceStopped("The indexing service has stopped."))
