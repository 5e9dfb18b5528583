"""A plain serial executor: one thread runs queued items one at a time, priority items
first; a long item lets priority items through (and holds while paused) at its checkpoints.
It knows nothing of what the items are. No Qt here."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SerialExecutor(Generic[T]):
    """Runs items on one thread, in the order they were put, priority items before the rest.

    The thread calls, in this order: `on_start()`; then `run(item)` for each ordered item
    and `run_priority(item)` for each priority item; `on_wait(paused)` before it waits for
    work; and last `on_exit(error, left)`, with the exception that ended it (from `on_start`
    or a `run`) or None, and the items it never ran. Pausing holds ordered items only.
    """

    def __init__(self, name: str, *, run: Callable[[T], None],
                 run_priority: Callable[[T], None],
                 on_start: Callable[[], None] = lambda: None,
                 on_wait: Callable[[bool], None] = lambda paused: None,
                 on_exit: Callable[[BaseException | None, list[T]], None]
                 = lambda error, left: None) -> None:
        self.name = name
        self._run, self._run_priority = run, run_priority
        self._on_start, self._on_wait, self._on_exit = on_start, on_wait, on_exit
        self._cond = threading.Condition()
        self._priority: deque[T] = deque()
        self._ordered: deque[T] = deque()
        self._paused = False
        self._stopping = threading.Event()
        self._closed = False  # set once the thread took the queues for the last time
        self._thread: threading.Thread | None = None

    # -- any thread ---------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already started")
        self._thread = threading.Thread(target=self._main, name=self.name)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to finish after its current item (or checkpoint)."""
        self._stopping.set()
        self.wake()

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` for the thread to end; False when it is still running."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def put(self, item: T, *, priority: bool = False) -> bool:
        """Queue `item`; False (and not queued) once the executor has stopped."""
        with self._cond:
            if self._closed:
                return False
            (self._priority if priority else self._ordered).append(item)
            self._cond.notify_all()
        return True

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def wake(self) -> None:
        """Let a waiting thread look again (after a condition of `checkpoint` changed)."""
        with self._cond:
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    # -- the executor's thread ----------------------------------------------------------
    def checkpoint(self, cancelled: Callable[[], bool] = lambda: False) -> None:
        """Called by a long item between its steps: runs the priority items that came
        meanwhile, and holds here while paused, unless stopping or `cancelled()`."""
        while True:
            with self._cond:
                item = self._priority.popleft() if self._priority else None
                hold = self._holding(cancelled)
            if item is not None:
                self._run_priority(item)
                continue
            if not hold:
                return
            self._on_wait(True)
            with self._cond:
                if not self._priority and self._holding(cancelled):
                    self._cond.wait()

    def take_leading(self, accept: Callable[[T], bool]) -> list[T]:
        """Remove and return the ordered items at the head of the queue that `accept`
        (so a caller can merge work queued back to back)."""
        taken = []
        with self._cond:
            while self._ordered and accept(self._ordered[0]):
                taken.append(self._ordered.popleft())
        return taken

    def _holding(self, cancelled: Callable[[], bool]) -> bool:
        """Called locked."""
        return self._paused and not self._stopping.is_set() and not cancelled()

    def _main(self) -> None:
        error: BaseException | None = None
        try:
            self._on_start()
            self._serve()
        except Exception as exc:  # ends the thread; `on_exit` reports it
            error = exc
        finally:
            with self._cond:
                self._closed = True
                left = list(self._priority) + list(self._ordered)
                self._priority.clear()
                self._ordered.clear()
            self._on_exit(error, left)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            with self._cond:
                item = self._priority.popleft() if self._priority else None
                priority = item is not None
                if item is None and not self._paused and self._ordered:
                    item = self._ordered.popleft()
                paused = self._paused
            if item is None:
                # Listeners hear about the wait outside the lock; then wait unless work came.
                self._on_wait(paused)
                with self._cond:
                    if not self._has_work() and not self._stopping.is_set():
                        self._cond.wait()
                continue
            if priority:
                self._run_priority(item)
            elif not self._stopping.is_set():
                self._run(item)
            else:
                # Taken just as the stop came: left for `on_exit`, like the rest.
                with self._cond:
                    self._ordered.appendleft(item)

    def _has_work(self) -> bool:
        """Called locked."""
        return bool(self._priority) or (bool(self._ordered) and not self._paused)
