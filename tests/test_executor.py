"""The serial executor on its own: order, priority items first, pause, checkpoints inside a
long item, merging queued items, and a stop that hands back what never ran."""

from __future__ import annotations

import queue
import threading

from photo_tagger.core.executor import SerialExecutor


class Recorder:
    """An executor whose items are strings, recording what ran and what it was told."""

    def __init__(self, run=None) -> None:
        self.ran: list[str] = []
        self.events: queue.Queue[tuple[str, object]] = queue.Queue()
        self.exit: tuple[BaseException | None, list[str]] | None = None
        self.executor: SerialExecutor[str] = SerialExecutor(
            "test-executor", run=run or self.record, run_priority=self.record,
            on_wait=lambda paused: self.events.put(("wait", paused)),
            on_exit=self.exited)

    def record(self, item: str) -> None:
        self.ran.append(item)
        self.events.put(("ran", item))

    def exited(self, error: BaseException | None, left: list[str]) -> None:
        self.exit = (error, left)

    def until(self, wanted: tuple[str, object]) -> None:
        while self.events.get(timeout=10) != wanted:
            pass

    def stop(self) -> None:
        self.executor.request_stop()
        assert self.executor.join(10)


def test_priority_items_run_first_and_a_pause_holds_only_ordered_ones() -> None:
    r = Recorder()
    r.executor.pause()
    for item in ("a", "b"):
        r.executor.put(item)
    r.executor.put("search", priority=True)
    r.executor.start()
    r.until(("ran", "search"))
    r.until(("wait", True))
    assert r.ran == ["search"]
    r.executor.resume()
    r.until(("ran", "b"))
    assert r.ran == ["search", "a", "b"]
    r.stop()
    assert r.exit == (None, [])


def test_a_checkpoint_lets_priority_items_through_and_holds_while_paused() -> None:
    started, cancelled = threading.Event(), threading.Event()

    def long_item(item: str) -> None:
        r.record(item + ":start")
        started.wait(10)
        r.executor.checkpoint(cancelled.is_set)  # runs "search", then holds: paused
        r.record(item + ":end")

    r = Recorder(run=long_item)
    r.executor.start()
    r.executor.put("scan")
    r.until(("ran", "scan:start"))
    r.executor.pause()
    r.executor.put("search", priority=True)
    started.set()
    r.until(("ran", "search"))
    r.until(("wait", True))
    assert r.ran == ["scan:start", "search"]
    cancelled.set()  # a cancelled run is not held
    r.executor.wake()
    r.until(("ran", "scan:end"))
    r.stop()


def test_take_leading_merges_items_queued_back_to_back() -> None:
    merged: list[list[str]] = []

    def run(item: str) -> None:
        def is_new(i: str) -> bool:
            return i.startswith("new")

        merged.append([item, *(r.executor.take_leading(is_new) if is_new(item) else [])])

    r = Recorder(run=run)
    for item in ("new1", "new2", "new3", "delete", "new4", "new5"):
        r.executor.put(item)
    r.executor.start()
    r.until(("wait", False))
    assert merged == [["new1", "new2", "new3"], ["delete"], ["new4", "new5"]]
    r.stop()


def test_stop_hands_back_what_never_ran_and_refuses_more() -> None:
    r = Recorder()
    r.executor.pause()
    r.executor.start()
    r.until(("wait", True))
    r.executor.put("held")
    r.stop()
    assert r.exit == (None, ["held"])
    assert not r.executor.put("late")
    assert not r.executor.running


def test_an_error_ends_the_thread_and_reaches_on_exit() -> None:
    def run(item: str) -> None:
        raise ValueError(item)

    r = Recorder(run=run)
    r.executor.pause()
    r.executor.put("boom")
    r.executor.put("after")
    r.executor.start()
    r.until(("wait", True))
    r.executor.resume()
    assert r.executor.join(10)
    assert r.exit is not None
    error, left = r.exit
    assert isinstance(error, ValueError) and str(error) == "boom" and left == ["after"]
