"""The indexing service with a real tiny model, a real library file and a real watchdog
observer: bursts, slow copies, moves without the model, deletes, search between batches,
pause/resume/cancel, a missing model, reconcile at start and a clean shutdown."""

from __future__ import annotations

import io
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from photo_tagger.core.embedder import Embedder, ModelUnavailable
from photo_tagger.core.indexer import Indexer
from photo_tagger.core.service import (
    ErrorReported,
    IndexingService,
    LibraryChanged,
    ModelFailed,
    ModelReady,
    Progress,
    ServiceEvent,
    ServiceStopped,
    StateChanged,
)
from photo_tagger.core.store import Library
from photo_tagger.core.watcher import Ready, Removed
from photo_tagger.paths import library_path
from photos import noise
from waiting import HANG_SECONDS, wait_until

SETTLE = 0.2
E = TypeVar("E", bound=ServiceEvent)


class CountingEmbedder:
    """The real embedder, counting the images it embeds (a wrapper, not a mock)."""

    def __init__(self, real: Embedder) -> None:
        self._real = real
        self.embedded = 0
        self.lock = threading.Lock()

    def embed_pixels(self, pixels):
        vectors = self._real.embed_pixels(pixels)
        with self.lock:
            self.embedded += len(vectors)
        return vectors

    def __getattr__(self, name):
        return getattr(self._real, name)


class Harness:
    def __init__(self, home: Path, embedder: Embedder, model_id: str, **options) -> None:
        self.events: queue.Queue[ServiceEvent] = queue.Queue()
        self.seen: list[ServiceEvent] = []
        self.counting = CountingEmbedder(embedder)
        self.model_id = model_id
        self.listeners: list[Callable[[ServiceEvent], None]] = []

        def on_event(event: ServiceEvent) -> None:
            self.seen.append(event)
            self.events.put(event)
            for listener in self.listeners:
                listener(event)

        def load(model: str) -> Embedder:
            if model != model_id:
                return Embedder.load(model)  # raises ModelUnavailable for a bad path
            return self.counting  # type: ignore[return-value]

        options.setdefault("settle", SETTLE)
        options.setdefault("poll_interval", 0.1)
        self.service = IndexingService(home, model_id, on_event=on_event, load_embedder=load,
                                       **options)
        self.home = home
        self.reader: Library | None = None

    def start(self) -> IndexingService:
        self.service.start()
        self.reader = Library(library_path(self.home))
        return self.service

    def event(self, wanted: type[E] | E, timeout: float = 30) -> E:
        """The next event of type `wanted`, or equal to `wanted`."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if (isinstance(event, wanted) if isinstance(wanted, type) else event == wanted):
                return event  # type: ignore[return-value]

    def counts(self) -> dict[str, int]:
        assert self.reader is not None
        return self.reader.status_counts()

    def photo(self, path: Path):
        assert self.reader is not None
        return self.reader.photo_by_path(str(path))

    def stop(self) -> float:
        started = time.monotonic()
        self.service.stop()
        took = time.monotonic() - started
        if self.reader is not None:
            self.reader.close()
            self.reader = None
        assert not [t.name for t in self.service.threads() if t.is_alive()]
        return took


@pytest.fixture
def harness(isolated_home, fixres_embedder, fixres_model):
    made: list[Harness] = []

    def make(**options) -> Harness:
        h = Harness(isolated_home, fixres_embedder, str(fixres_model), **options)
        made.append(h)
        return h

    yield make
    for h in made:
        h.stop()


def indexed(photo) -> bool:
    return photo is not None and photo.status == "indexed"


def test_burst_move_rename_delete_with_a_real_observer(tmp_path, harness):
    folder = tmp_path / "photos"
    (folder / "trip").mkdir(parents=True)
    h = harness()
    service = h.start()
    service.add_folder(folder)
    h.event(ModelReady)
    wait_until(lambda: h.reader.folders(), what="folder added")
    h.event(StateChanged("idle"))
    files = [noise(folder / ("trip" if i < 20 else "") / f"IMG_{i:04d}.png", seed=i)
             for i in range(200)]
    wait_until(lambda: h.counts()["indexed"] == 200, what="200 indexed")
    assert h.counting.embedded == 200  # each exactly once
    assert h.reader.vector_count() == 200
    assert h.reader.conn.execute("SELECT count(*) FROM photos").fetchone()[0] == 200

    # Rename: same row, same vector, no model call.
    before = h.photo(files[30])
    vector = h.reader.vector(before.id)
    renamed = folder / "renamed.png"
    files[30].rename(renamed)
    wait_until(lambda: indexed(h.photo(renamed)), what="rename seen")
    assert h.photo(renamed).id == before.id
    assert h.reader.vector(before.id).tobytes() == vector.tobytes()
    assert h.photo(files[30]) is None

    # Move into a new sub-folder.
    (folder / "new").mkdir()
    moved = folder / "new" / "renamed.png"
    renamed.rename(moved)
    # The new folder's scan may list the file as pending before the move is matched.
    wait_until(lambda: indexed(h.photo(moved)), what="move seen")
    assert h.photo(moved).id == before.id

    # Renamed over another photo: the survivor keeps its id, the other's vector goes.
    over, survivor = h.photo(files[40]), h.photo(files[41])
    files[41].replace(files[40])
    wait_until(lambda: h.photo(files[41]) is None, what="rename over seen")
    assert h.photo(files[40]).id == survivor.id
    assert h.reader.vector(over.id) is None
    assert h.reader.vector_count() == h.counts()["indexed"] == 199

    # A whole folder renamed: every photo keeps its id.
    ids = {f.name: h.photo(f).id for f in files[:20]}
    (folder / "trip").rename(folder / "holiday")
    wait_until(lambda: all(h.photo(folder / "holiday" / n) for n in ids), what="dir move")
    assert {n: h.photo(folder / "holiday" / n).id for n in ids} == ids
    assert h.counting.embedded == 200

    # Delete: gone from rows, vectors and search.
    gone = h.photo(files[50])
    files[50].unlink()
    wait_until(lambda: h.photo(files[50]) is None, what="delete seen")
    assert h.reader.vector(gone.id) is None
    assert h.reader.vector_count() == 198
    results: queue.Queue = queue.Queue()
    service.search("a red circle", 500, lambda r, e: results.put((r, e)))
    found, error = results.get(timeout=30)
    assert error is None and len(found) == 198
    assert gone.id not in {r.photo_id for r in found}
    assert h.counting.embedded == 200
    assert h.stop() < HANG_SECONDS  # Harness.stop checks that no thread is left


def test_slowly_copied_photo_is_indexed_once_and_complete(tmp_path, harness):
    folder = tmp_path / "photos"
    folder.mkdir()
    h = harness()
    service = h.start()
    service.add_folder(folder)
    wait_until(lambda: h.reader.folders(), what="folder added")
    h.event(StateChanged("idle"))
    source = noise(tmp_path / "source.png", seed=7, size=(256, 256))
    data = source.read_bytes()
    target = folder / "copy.png"
    with target.open("wb") as handle:
        step = len(data) // 6 + 1
        for start in range(0, len(data), step):
            handle.write(data[start:start + step])
            handle.flush()
            time.sleep(SETTLE * 0.6)  # the copy's pace, slower than the settle delay
    wait_until(lambda: h.photo(target) is not None and h.photo(target).status != "pending",
               what="copy indexed")
    row = h.photo(target)
    assert row.status == "indexed" and row.size == len(data)
    assert h.counting.embedded == 1


def test_search_jumps_the_queue_pause_resume_and_cancel(tmp_path, harness):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(60):
        noise(folder / f"{i:03d}.png", seed=100 + i)
    h = harness(watch=False, reconcile_on_start=False, batch_size=2)
    service = h.start()
    h.event(ModelReady)

    def pause_on_first_batch(event: ServiceEvent) -> None:
        if isinstance(event, Progress) and event.progress.phase == "index" \
                and event.progress.done:
            service.pause()
            h.listeners.clear()

    h.listeners.append(pause_on_first_batch)
    service.add_folder(folder)
    h.event(StateChanged("paused"))
    assert service.paused
    results: queue.Queue = queue.Queue()
    service.search("kids in the snow", 10, lambda r, e: results.put((r, e)))
    found, error = results.get(timeout=30)
    assert error is None and 0 < len(found) <= 10
    counts = h.counts()
    assert counts["indexed"] < 60 and counts["pending"] > 0  # answered mid-run

    service.cancel()
    h.event(StateChanged("paused"))  # the cancelled run ended; the service stays paused
    wait_until(lambda: h.counts()["pending"] > 0, what="cancelled run")
    service.resume()
    service.rescan()
    wait_until(lambda: h.counts()["indexed"] == 60, what="all indexed after resume")
    assert h.counting.embedded == 60
    progress = [e for e in h.seen if isinstance(e, Progress)]
    assert progress and len(progress) <= 60


def test_missing_model_keeps_watching_and_a_later_model_finishes(tmp_path, harness,
                                                                 fixres_model):
    folder = tmp_path / "photos"
    folder.mkdir()
    h = harness()
    h.service.requested_model = str(tmp_path / "no-such-model")
    service = h.start()
    failed = h.event(ModelFailed)
    assert "does not exist" in failed.message
    service.add_folder(folder)
    wait_until(lambda: h.reader.folders(), what="folder added")
    noise(folder / "a.png", seed=1)
    noise(folder / "b.png", seed=2)
    wait_until(lambda: h.counts()["pending"] == 2, what="pending recorded")

    results: queue.Queue = queue.Queue()
    service.search("tag:beach", 10, lambda r, e: results.put((r, e)))
    assert results.get(timeout=30) == ([], None)
    service.search("a beach", 10, lambda r, e: results.put((r, e)))
    found, error = results.get(timeout=30)
    assert found is None and isinstance(error, ModelUnavailable)

    service.set_model(str(fixres_model))
    h.event(ModelReady)
    wait_until(lambda: h.counts()["indexed"] == 2, what="indexed after the model came")


def test_reconcile_at_start_finds_what_changed_while_closed(tmp_path, harness):
    folder = tmp_path / "photos"
    folder.mkdir()
    files = [noise(folder / f"{i}.png", seed=200 + i) for i in range(6)]
    first = harness(watch=False)
    service = first.start()
    service.add_folder(folder)
    wait_until(lambda: first.counts()["indexed"] == 6, what="first index")
    kept = first.photo(files[0])
    first.reader.set_manual_tag(kept.id, "grandma", True)
    first.stop()

    files[0].rename(folder / "renamed.png")
    files[1].unlink()
    added = noise(folder / "added.png", seed=300)

    second = harness()
    second.start()
    wait_until(lambda: second.photo(added) is not None
               and second.photo(added).status == "indexed", what="reconciled")
    wait_until(lambda: second.photo(files[1]) is None, what="deleted removed")
    renamed = second.photo(folder / "renamed.png")
    assert renamed.id == kept.id
    assert [t.tag for t in second.reader.tags_of(kept.id) if t.source == "manual"] == ["grandma"]
    assert second.counting.embedded == 1
    assert second.counts() == {"indexed": 6, "pending": 0, "skipped": 0}
    # The new photo in a watched folder is picked up after start as well.
    late = noise(folder / "late.png", seed=301)
    wait_until(lambda: second.photo(late) is not None
               and second.photo(late).status == "indexed", what="watched after reconcile")


def test_submit_runs_jobs_and_reports_errors(harness, tmp_path):
    h = harness(watch=False, reconcile_on_start=False)
    service = h.start()
    answers: queue.Queue = queue.Queue()
    service.submit(lambda library, indexer: library.add_label("sailboat").tag,
                   lambda r, e: answers.put((r, e)))
    assert answers.get(timeout=30) == ("sailboat", None)
    h.event(LibraryChanged)

    def broken(library, indexer):
        raise ValueError("bad label")

    service.submit(broken, lambda r, e: answers.put((r, e)), priority=True)
    result, error = answers.get(timeout=30)
    assert result is None and isinstance(error, ValueError)
    service.submit(broken)  # no callback: reported as an event, the service goes on
    assert "bad label" in h.event(ErrorReported).message
    service.similar(tmp_path / "missing.png", 5, lambda r, e: answers.put((r, e)))
    result, error = answers.get(timeout=30)
    assert result is None and error is not None
    assert service.running
    service.pause()  # held while paused, then answered when the service stops
    service.submit(lambda library, indexer: 1, lambda r, e: answers.put((r, e)))
    took = h.stop()
    assert took < HANG_SECONDS  # held while paused, yet no wait for ever
    assert h.seen[-1] == StateChanged("stopped")
    result, error = answers.get(timeout=5)
    assert result is None and isinstance(error, ServiceStopped)
    service.submit(lambda library, indexer: 1, lambda r, e: answers.put((r, e)))
    assert isinstance(answers.get(timeout=5)[1], ServiceStopped)


def test_unreadable_photo_does_not_stop_the_service(tmp_path, harness):
    folder = tmp_path / "photos"
    folder.mkdir()
    h = harness()
    service = h.start()
    service.add_folder(folder)
    wait_until(lambda: h.reader.folders(), what="folder added")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff" + os.urandom(100))
    buffer = io.BytesIO(b"not an image")
    (folder / "text.jpg").write_bytes(buffer.getvalue())
    good = noise(folder / "good.png", seed=5)
    wait_until(lambda: h.counts()["skipped"] == 2 and h.counts()["indexed"] == 1,
               what="bad files skipped, good one indexed")
    assert h.photo(good).status == "indexed"


def test_polling_setting_switches_the_observer(tmp_path, harness):
    folder = tmp_path / "photos"
    folder.mkdir()
    h = harness(reconcile_on_start=False)
    service = h.start()
    service.add_folder(folder)
    wait_until(lambda: service.watched_folders() == {str(folder.resolve()): False},
               what="watched natively")
    service.set_folder_polling(h.reader.folders()[0].id, True)
    wait_until(lambda: service.watched_folders() == {str(folder.resolve()): True},
               what="watched by polling")
    assert h.reader.folders()[0].polling
    photo = noise(folder / "polled.png", seed=9)
    wait_until(lambda: h.photo(photo) is not None and h.photo(photo).status == "indexed",
               what="polled file indexed")


def test_move_seen_as_create_then_delete_keeps_the_photo(tmp_path, harness):
    """What the watcher hands on when a photo moves into a folder made a moment before
    (not watched yet): the new file first, the delete after it."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = noise(folder / "a.png", seed=11)
    h = harness(watch=False)
    service = h.start()
    service.add_folder(folder)
    wait_until(lambda: h.counts()["indexed"] == 1, what="indexed")
    before = h.photo(photo)
    h.reader.set_manual_tag(before.id, "grandma", True)
    (folder / "new").mkdir()
    moved = folder / "new" / "a.png"
    photo.rename(moved)
    service.post_change(Ready((str(moved),)))
    service.post_change(Removed(str(photo), False))
    done: queue.Queue = queue.Queue()
    service.submit(lambda library, indexer: None, lambda r, e: done.put(e))
    assert done.get(timeout=30) is None
    assert h.photo(moved).id == before.id and h.photo(photo) is None
    assert "grandma" in [t.tag for t in h.reader.tags_of(before.id) if t.source == "manual"]
    assert h.counting.embedded == 1


def test_a_model_switch_by_another_program_is_followed_not_mixed(tmp_path, harness,
                                                                 naflex_model):
    folder = tmp_path / "photos"
    folder.mkdir()
    noise(folder / "a.png", seed=1)
    h = harness()
    service = h.start()
    service.add_folder(folder)
    wait_until(lambda: h.counts()["indexed"] == 1, what="first photo indexed")
    with Library(library_path(h.home)) as other:  # `index --model B` in another process
        Indexer(other, str(naflex_model)).index_folders([folder])
        new_model, dimension = other.model_id, other.dimension
    late = noise(folder / "late.png", seed=2)
    wait_until(lambda: indexed(h.photo(late)), what="late photo indexed with model B")
    errors = [e.message for e in h.seen if isinstance(e, ErrorReported)]
    assert any("switched by another program" in e for e in errors), errors
    assert h.reader.model_id == new_model
    assert service.model_id == new_model
    assert h.reader.vector_count() == 2
    assert h.reader.vector(h.photo(late).id).shape == (dimension,)


def test_a_folder_unmounted_and_mounted_again_keeps_its_photos_and_is_watched_again(
        tmp_path, harness):
    folder = tmp_path / "drive"
    folder.mkdir()
    first = noise(folder / "a.png", seed=1)
    h = harness()
    service = h.start()
    service.add_folder(folder)
    wait_until(lambda: indexed(h.photo(first)), what="first photo indexed")
    h.reader.set_manual_tag(h.photo(first).id, "keep", True)

    away = tmp_path / "elsewhere"
    folder.rename(away)  # unmounted: the folder is gone
    noise(away / "b.png", seed=2)  # a photo added on another computer meanwhile
    wait_until(lambda: str(folder.resolve()) not in service.watched_folders(),
               what="the watcher seeing the folder gone")
    time.sleep(3 * SETTLE + 0.5)  # long enough for a held delete to have been applied
    assert indexed(h.photo(first))
    shutil.copytree(away, folder)  # mounted again: another file system, new inodes
    wait_until(lambda: indexed(h.photo(folder / "b.png")), what="the new photo indexed")
    late = noise(folder / "c.png", seed=3)  # watched again, not only rescanned
    wait_until(lambda: indexed(h.photo(late)), what="a photo added after the return")
    assert "keep" in {t.tag for t in h.reader.tags_of(h.photo(first).id)}


# -- command-line searches answered over the service's socket ------------------------------
_CLI_SEARCH = (
    "import sys, json\n"
    "from photo_tagger.cli import main\n"
    "code = main(['search', sys.argv[1], '--json', '--all', '--home', sys.argv[2]])\n"
    "print(json.dumps(['torch' in sys.modules, 'transformers' in sys.modules, code]))\n")


def _cli_search(query: str, home: Path) -> tuple[list[dict], list]:
    import json
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", _CLI_SEARCH, query, str(home)],
                          capture_output=True, text=True, env=env, timeout=300, check=True)
    lines = done.stdout.splitlines()
    return json.loads(lines[0]), json.loads(lines[-1])


def test_a_running_service_answers_a_cli_search_without_torch(tmp_path, harness):
    from photo_tagger.core.search_socket import socket_path

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(5):
        noise(folder / f"{i}.png", seed=300 + i)
    h = harness(watch=False)
    service = h.start()
    service.add_folder(folder)
    wait_until(lambda: h.counts()["indexed"] == 5, what="indexed")
    path = socket_path(h.home)
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    if path.parent != h.home.resolve():  # too long for AF_UNIX: a private folder instead
        assert (path.parent.stat().st_mode & 0o777) == 0o700

    # A phrase the library has never seen: only the service's model can embed it.
    found, (torch, transformers, code) = _cli_search("a never seen phrase", h.home)
    assert (torch, transformers, code) == (False, False, 0)
    answers: queue.Queue = queue.Queue()
    service.find("a never seen phrase", lambda a, e: answers.put((a, e)), everything=True)
    answer, error = answers.get(timeout=30)
    assert error is None
    assert [r["path"] for r in found] == [r.path for r in answer.results]
    assert len(found) == 5 and all(r["probability"] is not None for r in found)
    h.stop()
    assert not path.exists()  # the service removes its socket when it stops


def test_a_stale_socket_falls_back_to_the_model(tmp_path, harness, capsys):
    import json
    import socket

    from photo_tagger.cli import main
    from photo_tagger.core import search_socket

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        noise(folder / f"{i}.png", seed=400 + i)
    h = harness(watch=False)
    service = h.start()
    service.add_folder(folder)
    wait_until(lambda: h.counts()["indexed"] == 3, what="indexed")
    h.stop()
    # A service that died without removing its socket: the file is there, nobody listens.
    path = search_socket.socket_path(h.home)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(os.fspath(path))
    stale.close()
    assert path.exists()
    assert search_socket.ask(h.home, "a red circle", limit=5) is None
    assert main(["search", "a red circle", "--all", "--json", "--home", str(h.home)]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3

    # The next service replaces the stale file and answers again.
    again = harness(watch=False, reconcile_on_start=False)
    again.start()
    again.event(ModelReady)
    wait_until(lambda: search_socket.ask(h.home, "a red circle", limit=5) is not None,
               what="the new service answers")


def test_a_held_search_index_is_kept_current_and_written_at_shutdown(tmp_path, harness):
    """A large library's FAISS index follows what was indexed once the queue is empty and
    is written when the app closes: the next start maps it instead of patching it first
    (5-7 s at 1M photos)."""
    from photo_tagger.core.vector_index import FaissBackend, index_path

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(40):
        noise(folder / f"IMG_{i:04d}.png", seed=i)
    h = harness()
    service = h.start()
    service.add_folder(folder)
    h.event(ModelReady)
    wait_until(lambda: h.counts()["indexed"] == 40, what="40 indexed")
    service.searcher.index.min_faiss = 20  # this small library searched as a large one
    results: queue.Queue = queue.Queue()
    service.search("a red circle", 10, lambda r, e: results.put((r, e)))
    assert results.get(timeout=30)[1] is None
    assert service.searcher.index.kind != "exact"
    for i in range(40, 46):
        noise(folder / f"IMG_{i:04d}.png", seed=i)
    wait_until(lambda: h.counts()["indexed"] == 46, what="6 more indexed")
    h.stop()
    with Library(library_path(h.home)) as library:
        saved = FaissBackend.load(index_path(library), library.model_id or "")
        assert saved is not None and saved.index.ntotal == 46
        assert saved.is_current(library, library.vectors_generation())
