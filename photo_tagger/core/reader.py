"""Reads that need no model, such as listings and counts, on a thread of their own with its
own connection. They neither wait for an indexing batch on the service thread, nor hold the
window's thread while SQLite reads 100k rows. WAL lets them run beside the writer. No Qt."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from photo_tagger.core.db import known_error
from photo_tagger.core.responsiveness import lower_thread_priority
from photo_tagger.core.store import Library
from photo_tagger.core.vector_index import FAISS_MIN_PHOTOS

log = logging.getLogger(__name__)

T = TypeVar("T")
ReadCallback = Callable[[Any, BaseException | None], None]  # (result, error)


class LibraryReader:
    """One reading thread over the library at `path`, opened on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._library: Library | None = None  # touched only on the reading thread
        self._closing = threading.Event()
        # Below the window's thread, like all background work: a 100k-row listing built
        # here at equal priority took the window's turn for 40 ms.
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="library-reader",
                                        initializer=lower_thread_priority)

    def submit(self, fn: Callable[[Library], T], done: ReadCallback) -> None:
        """Run `fn(library)` on the reading thread, then `done(result, error)` there too."""
        if self._closing.is_set():
            return
        with contextlib.suppress(RuntimeError):  # closed meanwhile from another thread
            self._pool.submit(self._run, fn, done)

    def _run(self, fn: Callable[[Library], Any], done: ReadCallback) -> None:
        if self._closing.is_set():
            return  # the window closed while this waited: nobody is left to show it
        try:
            if self._library is None:
                self._library = Library(self.path)
            result = fn(self._library)
        except Exception as exc:  # delivered to the caller, like the service's jobs
            log.debug("A library read failed: %s", exc)
            done(None, known_error(exc, self.path) or exc)  # a damaged file, said plainly
            return
        done(result, None)

    def close(self) -> None:
        """Skip reads still queued, close the connection on its own thread, stop."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._pool.submit(self._close_connection)
        self._pool.shutdown(wait=True)

    def _close_connection(self) -> None:
        if self._library is not None:
            self._library.close()
            self._library = None


class VectorPrefetch:
    """Reads every vector on a side thread while the model loads, so that the first search
    finds them in memory: for 100k photos the read takes 0.6 s, the model 5 s."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._read: tuple[int, Any, Any] | None = None
        self._thread = threading.Thread(target=self._run, name="vector-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with Library(self.path) as library:
                # A large library is searched through its FAISS file, not a float copy
                # (3 GB and 14 s at 1M photos): nothing to read ahead here.
                if library.vector_count() < FAISS_MIN_PHOTOS:
                    self._read = library.shareable_vectors()
        except Exception as exc:  # only a head start: the first search reads them instead
            log.debug("Vectors not prefetched: %s", exc)

    def hand_to(self, library: Library) -> bool:
        """Wait for the read and give it to `library`; False when it is stale or failed."""
        self._thread.join()
        return self._read is not None and library.adopt_vectors(*self._read)
