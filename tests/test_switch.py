"""A model switch in the background with two real tiny models (FixRes → NaFlex): search
answers every photo with the old model until the new one covers the library, then swaps
at once; cancel keeps the old model; thresholds are carried over; a kill -9 mid-way
leaves search on the old model and the next run finishes the switch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_service import Harness

from photo_tagger.core import tagger
from photo_tagger.core.embedder import Embedder
from photo_tagger.core.indexer import Indexer
from photo_tagger.core.search import Searcher
from photo_tagger.core.service import ModelReady, SwitchProgressed
from photo_tagger.core.store import Library, SwitchChanged
from photo_tagger.core.switch import (
    ModelSwitch,
    carried_thresholds,
    expected_dimension,
    second_set_bytes,
    switch_notice,
)
from photo_tagger.paths import library_path
from photos import noise
from waiting import wait_until

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def naflex_embedder(naflex_model: Path) -> Embedder:
    return Embedder.load(str(naflex_model))


def _indexed(library: Library, folder: Path, fixres_model: Path, embedder: Embedder,
             count: int = 12) -> list[Path]:
    files = [noise(folder / f"{i:02d}.png", seed=50 + i) for i in range(count)]
    Indexer(library, str(fixres_model), lambda _: embedder).index_folders([folder])
    return files


def _answers_every_photo(library: Library, embedder: Embedder, count: int) -> None:
    found = Searcher(library, embedder).search("a red circle", limit=100)
    assert len(found) == count


def test_search_answers_every_photo_during_a_switch_then_swaps_at_once(
        library: Library, tmp_path: Path, fixres_model: Path, fixres_embedder,
        naflex_embedder) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    _indexed(library, folder, fixres_model, fixres_embedder)
    library.add_label("circle")
    Indexer(library, str(fixres_model), lambda _: fixres_embedder).labels()
    old_model = library.model_id
    generation = library.vectors_generation()

    switch = ModelSwitch(library, naflex_embedder, batch_size=4)
    assert switch.begin() is True
    assert library.next_model_id == naflex_embedder.model_id
    assert switch.step(4) is False  # a third of the library embedded
    assert switch.progress().done == 4 and switch.progress().total == 12
    # Mid-way: the old model answers for every photo, nothing of the new one is searched.
    assert library.model_id == old_model and library.vector_count() == 12
    assert library.vectors_generation() == generation
    _answers_every_photo(library, fixres_embedder, 12)

    assert switch.run() is True
    assert library.model_id == naflex_embedder.model_id
    assert library.next_model_id is None
    assert library.dimension == naflex_embedder.dim
    assert library.vector_count() == 12
    assert library.vectors_generation() > generation
    assert library.all_vectors()[1].shape == (12, naflex_embedder.dim)
    _answers_every_photo(library, naflex_embedder, 12)
    # Tags come from the new model's label vectors.
    row = library.conn.execute("SELECT vector_model FROM labels WHERE name = 'circle'").fetchone()
    assert row[0].startswith(naflex_embedder.model_id)


def test_cancel_keeps_the_old_model_and_drops_the_partial_set(
        library: Library, tmp_path: Path, fixres_model: Path, fixres_embedder,
        naflex_embedder) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    _indexed(library, folder, fixres_model, fixres_embedder, count=6)
    old_model = library.model_id
    switch = ModelSwitch(library, naflex_embedder, batch_size=2)
    switch.begin()
    switch.step(2)
    library.cancel_switch()
    assert library.model_id == old_model and library.next_model_id is None
    assert library.next_vector_count() == 0
    assert not library.conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'photo_vectors_next'").fetchone()
    with pytest.raises(SwitchChanged):
        switch.step(2)
    _answers_every_photo(library, fixres_embedder, 6)


def test_an_old_model_writer_never_writes_into_the_new_set(
        library: Library, tmp_path: Path, fixres_model: Path, fixres_embedder,
        naflex_embedder) -> None:
    """A photo (re)embedded with the old model meanwhile loses its next-set vector, so the
    switch embeds it again; after the swap the old writer is refused."""
    folder = tmp_path / "photos"
    folder.mkdir()
    _indexed(library, folder, fixres_model, fixres_embedder, count=4)
    switch = ModelSwitch(library, naflex_embedder, batch_size=4)
    switch.begin()
    assert switch.step(4) is True
    old = Indexer(library, str(fixres_model), lambda _: fixres_embedder)
    late = noise(folder / "late.png", seed=99)
    old.index_files([str(late)])
    changed = noise(folder / "00.png", seed=77)  # new content, same path
    old.index_files([str(changed)])
    assert library.next_vector_count() == 3  # the late and the changed photos are missing
    assert {p for _, p in switch.missing(10)} == {str(late), str(changed)}
    assert switch.run() is True
    assert library.vector_count() == 5
    from photo_tagger.core.store import LibraryModelChanged

    with pytest.raises(LibraryModelChanged):
        old.index_files([str(noise(folder / "later.png", seed=98))])


def test_thresholds_keep_about_the_same_number_of_photos(
        library: Library, tmp_path: Path, fixres_model: Path, fixres_embedder,
        naflex_embedder) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    _indexed(library, folder, fixres_model, fixres_embedder, count=12)
    indexer = Indexer(library, str(fixres_model), lambda _: fixres_embedder)
    library.add_label("circle")
    library.add_label("square")  # left on the default
    _, vectors = library.all_vectors()
    text = fixres_embedder.embed_texts(["this is a photo of circle."])[0]
    scores = np.sort(tagger.probability(vectors @ text, fixres_embedder.logit_scale,
                                        fixres_embedder.logit_bias))
    library.set_label_threshold("circle", float((scores[4] + scores[5]) / 2))  # tags 7
    tagger.retag_library(library, indexer.labels())
    before = library.tag_counts().get("circle", 0)
    assert before == 7

    switch = ModelSwitch(library, naflex_embedder)
    switch.begin()
    assert switch.run() is True
    assert library.tag_counts().get("circle", 0) == before
    assert library.label("square").threshold is None
    assert library.label("circle").threshold != pytest.approx(scores[5])


def test_carried_thresholds_pure() -> None:
    from photo_tagger.core.store import Label

    labels = [Label(1, "a", "a", "{label}", 0.5), Label(2, "b", "b", "{label}", None)]
    old = tagger.LabelMatrix(labels, np.array([[1.0, 0.0], [0.0, 1.0]], np.float32),
                             np.array([0.5, 0.1], np.float32), 1.0, 0.0)
    old_vectors = np.array([[1, 0], [0.9, 0.1], [-1, 0], [0.5, 0.5]], np.float32)
    new_vectors = np.array([[0, 1], [0, 0.5], [0, -1], [0, 0.2]], np.float32)
    new_labels = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    carried = carried_thresholds(labels, old, old_vectors, new_labels, new_vectors, 1.0, 0.0)
    assert set(carried) == {"a"}
    new_scores = tagger.probability(new_vectors @ new_labels[0], 1.0, 0.0)
    old_count = int((tagger.probability(old_vectors @ old.vectors[0], 1.0, 0.0) >= 0.5).sum())
    assert int((new_scores >= carried["a"]).sum()) == old_count == 3


def test_disk_space_is_told_before_a_switch(library: Library, tmp_path: Path,
                                            fixres_model: Path, fixres_embedder,
                                            naflex_model: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    _indexed(library, folder, fixres_model, fixres_embedder, count=3)
    assert expected_dimension("google/siglip2-large-patch16-256") == 1024
    assert expected_dimension(str(naflex_model)) == 32
    assert second_set_bytes(1000, 768) >= 1000 * 768 * 4
    notice = switch_notice(library, "google/siglip2-base-patch16-224")
    assert "3 photos × 768 dimensions × 4 bytes" in notice
    assert "search keeps using" in notice


def _cli(home: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PHOTO_TAGGER_HOME=str(home), HF_HUB_OFFLINE="1",
               PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "photo_tagger", *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _status(home: Path) -> dict:
    run = _cli(home, "status", "--json")
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    return json.loads(out)


def test_kill_mid_switch_leaves_search_on_the_old_model_and_resumes(
        tmp_path: Path, isolated_home: Path, fixres_model: Path, fixres_embedder,
        naflex_model: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    count = 80
    with Library(library_path(isolated_home)) as library:
        for i in range(count):
            noise(folder / f"{i:03d}.png", seed=400 + i, size=(128, 96))
        Indexer(library, str(fixres_model), lambda _: fixres_embedder).index_folders([folder])
        old_model = library.model_id
    status = _status(isolated_home)
    assert status["model"] == old_model
    assert status["next_model"] is None and status["next_model_done"] == 0

    reader = Library(library_path(isolated_home))
    try:
        run = _cli(isolated_home, "index", str(folder), "--model", str(naflex_model))
        try:
            wait_until(lambda: reader.next_vector_count() >= 8 or run.poll() is not None,
                       timeout=120, what="the switch under way")
            run.send_signal(signal.SIGKILL)
        finally:
            run.communicate(timeout=30)
        assert run.returncode == -signal.SIGKILL
        status = _status(isolated_home)
        assert status["model"] == old_model
        assert status["next_model"] == str(naflex_model.resolve())
        assert 8 <= status["next_model_done"] < count
        # Search still answers every photo with the old model.
        _answers_every_photo(reader, fixres_embedder, count)

        again = _cli(isolated_home, "index", str(folder))
        out, err = again.communicate(timeout=300)
        assert again.returncode == 0, err
        assert "switch" in (out + err).lower()
        status = _status(isolated_home)
        assert status["model"] == str(naflex_model.resolve())
        assert status["next_model"] is None
        assert reader.vector_count() == count
    finally:
        reader.close()


# -- the indexing service: the window's and `watch`'s switch --------------------------------
@pytest.fixture
def harness(isolated_home, fixres_embedder, fixres_model):
    """test_service's harness: the service with the real tiny FixRes model as model A."""
    made: list[Harness] = []

    def make(**options) -> Harness:
        made.append(Harness(isolated_home, fixres_embedder, str(fixres_model), **options))
        return made[-1]

    yield make
    for h in made:
        h.stop()



def _pause_on_first_progress(h) -> None:
    def listener(event) -> None:
        if isinstance(event, SwitchProgressed) and event.progress is not None \
                and event.progress.done > 0:
            h.service.pause()  # from the service thread: held at the next batch
    h.listeners.append(listener)


def _search(service, query: str = "a red circle"):
    import queue

    answers: queue.Queue = queue.Queue()
    service.search(query, 100, lambda r, e: answers.put((r, e)))
    found, error = answers.get(timeout=60)
    assert error is None
    return found


def test_the_service_searches_with_the_old_model_until_the_switch_completes(
        tmp_path, harness, naflex_model) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(16):
        noise(folder / f"{i:02d}.png", seed=600 + i)
    h = harness(batch_size=2)
    service = h.start()
    service.add_folder(folder)
    wait_until(lambda: h.counts()["indexed"] == 16, what="indexed with the first model")
    old_model = h.reader.model_id
    _pause_on_first_progress(h)
    service.set_model(str(naflex_model))
    wait_until(lambda: service.paused and h.reader.next_vector_count() > 0,
               what="the switch under way, paused")
    assert h.reader.next_model_id == str(naflex_model.resolve())
    assert h.reader.next_vector_count() < 16
    assert len(_search(service)) == 16  # every photo, with the old model
    assert h.reader.model_id == old_model and service.model_id == old_model
    h.listeners.clear()
    service.resume()
    h.event(ModelReady(str(naflex_model.resolve())), timeout=120)
    assert h.reader.model_id == str(naflex_model.resolve())
    assert h.reader.next_model_id is None
    assert len(_search(service)) == 16
    noise(folder / "late.png", seed=700)  # indexed with the new model from now on
    wait_until(lambda: h.counts()["indexed"] == 17, what="a new photo after the switch")
    assert h.reader.vector_count() == 17


def test_the_service_cancels_a_switch_and_keeps_the_old_model(
        tmp_path, harness, naflex_model) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(12):
        noise(folder / f"{i:02d}.png", seed=800 + i)
    h = harness(batch_size=2)
    service = h.start()
    service.add_folder(folder)
    wait_until(lambda: h.counts()["indexed"] == 12, what="indexed with the first model")
    old_model = h.reader.model_id
    _pause_on_first_progress(h)
    service.set_model(str(naflex_model))
    wait_until(lambda: service.paused and h.reader.next_vector_count() > 0,
               what="the switch under way, paused")
    h.listeners.clear()
    service.cancel_switch()
    service.resume()
    wait_until(lambda: h.reader.next_model_id is None, what="the switch cancelled")
    assert any(isinstance(e, SwitchProgressed) and e.progress is None for e in h.seen)
    assert h.reader.model_id == old_model
    assert not h.reader.conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'photo_vectors_next'").fetchone()
    assert len(_search(service)) == 12
    assert not any(isinstance(e, ModelReady) and e.model_id != old_model for e in h.seen)


def test_the_service_resumes_a_switch_left_under_way(
        tmp_path, isolated_home, harness, fixres_model, fixres_embedder,
        naflex_embedder) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    with Library(library_path(isolated_home)) as library:
        _indexed(library, folder, fixres_model, fixres_embedder, count=8)
        switch = ModelSwitch(library, naflex_embedder, batch_size=2)
        switch.begin()
        switch.step(2)  # then the program was killed
    h = harness(watch=False)
    h.service.start()
    h.reader = Library(library_path(isolated_home))
    h.event(ModelReady(naflex_embedder.model_id), timeout=120)
    assert h.reader.model_id == naflex_embedder.model_id
    assert h.reader.vector_count() == 8
