"""The reading thread: listings and counts on a connection of its own, beside the writer."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

from photo_tagger.core.reader import LibraryReader
from photo_tagger.core.store import Library


def test_reads_run_on_their_own_thread_and_see_committed_writes(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    writer = Library(path)
    writer.add_folder(tmp_path)
    reader = LibraryReader(path)
    answers: queue.Queue = queue.Queue()
    try:
        reader.submit(lambda library: ([f.path for f in library.folders()],
                                       threading.current_thread().name),
                      lambda result, error: answers.put((result, error)))
        (folders, thread_name), error = answers.get(timeout=10)
        assert error is None
        assert folders == [str(tmp_path.resolve())]
        assert thread_name.startswith("library-reader")
        assert thread_name != threading.current_thread().name
    finally:
        reader.close()
        writer.close()


def test_a_failing_read_reports_its_error_and_the_next_read_still_runs(tmp_path: Path) -> None:
    reader = LibraryReader(tmp_path / "library.db")
    answers: queue.Queue = queue.Queue()
    try:
        reader.submit(lambda library: library.conn.execute("SELECT * FROM no_such_table"),
                      lambda result, error: answers.put(error))
        assert "no_such_table" in str(answers.get(timeout=10))
        reader.submit(lambda library: library.folders(), lambda result, error: answers.put(
            (result, error)))
        assert answers.get(timeout=10) == ([], None)
    finally:
        reader.close()


def test_after_close_reads_are_dropped_and_the_thread_is_gone(tmp_path: Path) -> None:
    reader = LibraryReader(tmp_path / "library.db")
    answers: queue.Queue = queue.Queue()
    reader.submit(lambda library: 1, lambda result, error: answers.put(result))
    assert answers.get(timeout=10) == 1
    reader.close()
    reader.submit(lambda library: 2, lambda result, error: answers.put(result))
    assert answers.empty()
    assert not any(t.name.startswith("library-reader") for t in threading.enumerate())


def add_photo(library: Library, name: str, vector: list[float]) -> None:
    import numpy as np

    with library.transaction():
        library.save_indexed(f"/photos/{name}", None, size=1, mtime=1.0, content_hash=name,
                             width=1, height=1, taken_at=None, camera=None,
                             vector=np.asarray(vector, dtype=np.float32))


def test_prefetched_vectors_are_adopted_when_still_current(library: Library) -> None:
    from photo_tagger.core.reader import VectorPrefetch

    library.set_model("test-model", 2)
    add_photo(library, "a.jpg", [1.0, 0.0])
    add_photo(library, "b.jpg", [0.0, 1.0])
    prefetch = VectorPrefetch(library.path)
    assert prefetch.hand_to(library)
    ids, matrix = library.all_vectors()
    assert sorted(ids.tolist()) == [1, 2]
    assert sorted(map(tuple, matrix.tolist())) == [(0.0, 1.0), (1.0, 0.0)]
    assert library._vectors_cache is not None and library._vectors_cache[2] is matrix


def test_prefetched_vectors_are_refused_after_a_vector_changed(library: Library) -> None:
    from photo_tagger.core.reader import VectorPrefetch

    library.set_model("test-model", 2)
    add_photo(library, "a.jpg", [1.0, 0.0])
    prefetch = VectorPrefetch(library.path)
    prefetch._thread.join()
    add_photo(library, "b.jpg", [0.0, 1.0])
    assert not prefetch.hand_to(library)
    ids, _ = library.all_vectors()
    assert len(ids) == 2  # read afresh, not the stale copy
