"""The indexer over a real library, a real tiny model and real files."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np
import pytest

import photos
from photo_tagger.core.embedder import Embedder, ModelUnavailable
from photo_tagger.core.indexer import Indexer
from photo_tagger.core.store import Library
from photo_tagger.core.watcher import Moved, Ready, Removed


class CountingLoader:
    """Loads the real model and counts the images that go through it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.embedded = 0

    def __call__(self, model_id: str) -> Embedder:
        embedder = Embedder.load(model_id)
        original = embedder.embed_pixels

        def counting(pixels):
            vectors = original(pixels)
            self.embedded += len(vectors)
            return vectors

        embedder.embed_pixels = counting  # type: ignore[method-assign]
        return embedder


@pytest.fixture
def library(tmp_path: Path):
    with Library(tmp_path / "lib.db") as lib:
        yield lib


def make_folder(root: Path) -> Path:
    folder = root / "photos"
    (folder / "2024" / "summer").mkdir(parents=True)
    photos.solid(folder / "red.jpg", (220, 20, 20))
    photos.solid(folder / "2024" / "blue.png", (20, 20, 220))
    photos.noise(folder / "2024" / "summer" / "noise.jpg", 3)
    photos.jpeg_with_rotation(folder / "rotated.jpg")
    photos.solid(folder / "ünïcødé 写真.jpg", (20, 220, 20))
    photos.solid(folder / ".hidden.jpg", (1, 1, 1))
    photos.text_as_jpg(folder / "notes.jpg")
    (folder / "readme.txt").write_text("not a photo")
    return folder


def test_index_rerun_move_copy_delete(library: Library, fixres_model: Path,
                                      tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    loader = CountingLoader(fixres_model)
    summary = Indexer(library, str(fixres_model), loader).index_folders([folder])
    assert summary.indexed == 5 and loader.embedded == 5
    assert [Path(p).name for p, _ in summary.skipped] == ["notes.jpg"]
    assert "not an image" in summary.skipped[0][1]
    assert library.status_counts() == {"indexed": 5, "skipped": 1, "pending": 0}
    assert library.vector_count() == 5
    assert library.photo_by_path(str(folder / ".hidden.jpg")) is None

    # A second run finds nothing to do and never runs the model.
    again = Indexer(library, str(fixres_model), loader).index_folders([folder])
    assert (again.indexed, again.unchanged, loader.embedded) == (0, 6, 5)

    # Move, copy and delete: the vector follows the photo, copies reuse it.
    red = library.photo_by_path(str(folder / "red.jpg"))
    red_vector = library.vector(red.id)
    os.rename(folder / "red.jpg", folder / "2024" / "red-moved.jpg")
    (folder / "copy.png").write_bytes((folder / "2024" / "blue.png").read_bytes())
    os.remove(folder / "2024" / "summer" / "noise.jpg")
    third = Indexer(library, str(fixres_model), loader).index_folders([folder])
    assert (third.moved, third.reused, third.removed, third.indexed) == (1, 1, 1, 0)
    assert loader.embedded == 5
    moved = library.photo_by_path(str(folder / "2024" / "red-moved.jpg"))
    assert moved.id == red.id
    assert np.array_equal(library.vector(moved.id), red_vector)
    assert library.photo_by_path(str(folder / "2024" / "summer" / "noise.jpg")) is None
    assert library.vector_count() == 5


def test_changed_file_is_re_embedded_in_place(library: Library, fixres_model: Path,
                                              tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    path = photos.solid(folder / "a.png", (200, 0, 0))
    Indexer(library, str(fixres_model)).index_folders([folder])
    before = library.photo_by_path(str(path))
    old_vector = library.vector(before.id)
    photos.noise(path, seed=9)
    os.utime(path, (before.mtime + 10, before.mtime + 10))
    summary = Indexer(library, str(fixres_model)).index_folders([folder])
    after = library.photo_by_path(str(path))
    assert summary.indexed == 1 and after.id == before.id
    assert not np.allclose(library.vector(after.id), old_vector)


def test_symlink_loops_are_not_followed_forever(library: Library, fixres_model: Path,
                                               tmp_path: Path) -> None:
    folder = tmp_path / "p"
    (folder / "a").mkdir(parents=True)
    photos.solid(folder / "a" / "x.jpg", (5, 5, 5))
    os.symlink(folder, folder / "a" / "loop")
    summary = Indexer(library, str(fixres_model)).index_folders([folder])
    assert summary.indexed == 1


def test_stopped_run_is_finished_by_the_next_with_no_duplicates(
        library: Library, fixres_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    for i in range(20):
        photos.noise(folder / f"{i:02d}.png", seed=i)
    stop = threading.Event()
    indexer = Indexer(library, str(fixres_model), batch_size=4, stop=stop,
                      between_batches=stop.set)
    first = indexer.index_folders([folder])
    assert first.cancelled and first.indexed == 4
    assert library.status_counts()["pending"] == 16
    second = Indexer(library, str(fixres_model), batch_size=4).index_folders([folder])
    assert second.indexed == 16 and second.unchanged == 4
    rows = library.conn.execute("SELECT count(*), count(DISTINCT path) FROM photos").fetchone()
    assert rows == (20, 20)
    assert library.vector_count() == 20


def test_model_switch_re_embeds_and_keeps_manual_tags(library: Library, fixres_model: Path,
                                                     naflex_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    photos.solid(folder / "a.png", (200, 0, 0))
    photos.solid(folder / "b.png", (0, 0, 200))
    Indexer(library, str(fixres_model)).index_folders([folder])
    photo = library.photo_by_path(str(folder / "a.png"))
    library.set_manual_tag(photo.id, "favourite", True)
    summary = Indexer(library, str(naflex_model)).index_folders([folder])
    assert summary.indexed == 2
    assert library.model_id == str(naflex_model.resolve())
    assert library.vector_count() == 2
    assert "favourite" in [t.tag for t in library.tags_of(photo.id)]


def test_every_broken_file_is_skipped_and_the_rest_indexed(
        library: Library, fixres_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    photos.empty(folder / "empty.jpg")
    photos.truncated_jpeg(folder / "truncated.jpg")
    photos.text_as_jpg(folder / "text.jpg")
    photos.decompression_bomb(folder / "bomb.png")
    photos.png_with_alpha(folder / "alpha.png")
    photos.cmyk_jpeg(folder / "cmyk.jpg")
    photos.tiff_16bit(folder / "deep.tiff")
    photos.heic(folder / "iphone.heic")
    photos.gif(folder / "anim.gif")
    photos.webp(folder / "w.webp")
    summary = Indexer(library, str(fixres_model)).index_folders([folder])
    reasons = {Path(p).name: r for p, r in summary.skipped}
    assert set(reasons) == {"empty.jpg", "truncated.jpg", "text.jpg", "bomb.png"}
    assert summary.indexed == 6
    stored = dict(library.skipped())
    assert stored[str(folder / "bomb.png")].startswith("image too large")


def test_known_hashes_are_read_once_per_indexer_and_a_stale_one_still_gets_indexed(
        library: Library, fixres_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    first = photos.solid(folder / "a.png", (200, 0, 0))
    indexer = Indexer(library, str(fixres_model), CountingLoader(fixres_model))
    indexer.index_folders([folder])
    statements: list[str] = []
    library.conn.set_trace_callback(statements.append)
    try:
        # A watcher batch: a copy is recognised from the hashes kept since the first run.
        copy = folder / "a-copy.png"
        copy.write_bytes(first.read_bytes())
        summary = indexer.index_files([str(copy)])
        assert (summary.reused, summary.indexed) == (1, 0)
        assert not [s for s in statements if "SELECT content_hash FROM photos" in s]
        # Both photos removed behind the indexer's back: its hash is stale now.
        with library.transaction():
            library.remove_photos([str(first), str(copy)])
        again = folder / "a-again.png"
        again.write_bytes(first.read_bytes())
        summary = indexer.index_files([str(again)])
    finally:
        library.conn.set_trace_callback(None)
    assert (summary.indexed, summary.reused) == (1, 0)
    row = library.photo_by_path(str(again))
    assert row is not None and row.status == "indexed"
    assert library.vector(row.id) is not None


def test_a_touched_file_keeps_its_vector_with_a_new_indexer(
        library: Library, fixres_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    path = photos.solid(folder / "a.png", (200, 0, 0))
    Indexer(library, str(fixres_model)).index_folders([folder])
    os.utime(path, (1_700_000_000, 1_700_000_000))  # a restore or an rsync: content the same
    loader = CountingLoader(fixres_model)
    summary = Indexer(library, str(fixres_model), loader).index_folders([folder])
    assert (summary.unchanged, summary.indexed, loader.embedded) == (1, 0, 0)
    assert library.photo_by_path(str(path)).status == "indexed"


def test_a_photo_indexed_by_another_process_and_then_moved_keeps_its_row(
        library: Library, fixres_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    photos.solid(folder / "a.png", (200, 0, 0))
    loader = CountingLoader(fixres_model)
    app = Indexer(library, str(fixres_model), loader)
    app.index_folders([folder])  # the app's indexer has read the known hashes
    with Library(library.path) as other:  # e.g. `photo-tagger index` meanwhile
        photos.solid(folder / "b.png", (0, 0, 200))
        Indexer(other, str(fixres_model)).index_folders([folder])
    before = library.photo_by_path(str(folder / "b.png"))
    os.rename(folder / "b.png", folder / "c.png")
    summary = app.index_folders([folder])
    assert (summary.moved, summary.indexed, loader.embedded) == (1, 0, 1)
    assert library.photo_by_path(str(folder / "c.png")).id == before.id


def test_known_hashes_stay_compact_as_photos_are_added(library: Library) -> None:
    from photo_tagger.core.indexer import KnownHashes

    known = KnownHashes(library)
    def digest_of(index: int) -> str:
        return hashlib.blake2b(str(index).encode(), digest_size=20).hexdigest()

    digests = [digest_of(index) for index in range(KnownHashes.MERGE_EVERY + 100)]
    for digest in digests:
        known.add(digest)
    assert len(known._added) < KnownHashes.MERGE_EVERY  # merged into the sorted array
    assert all(digest in known for digest in digests)
    assert digest_of(-1) not in known


def test_a_content_hash_that_is_not_hex_does_not_stop_indexing(
        library: Library, fixres_model: Path, tmp_path: Path) -> None:
    """A row written by another tool (or an old benchmark) once stopped every later run at
    the first hash it could not parse."""
    elsewhere = library.add_folder(tmp_path / "elsewhere")
    with library.transaction():
        library.conn.execute(
            "INSERT INTO photos(path, folder_id, size, mtime, content_hash, status) "
            "VALUES (?, ?, 1, 1, 'not-hex', 'indexed')",
            (str(tmp_path / "elsewhere" / "x.jpg"), elsewhere.id))
    folder = tmp_path / "p"
    folder.mkdir()
    photos.solid(folder / "a.png", (200, 0, 0))
    summary = Indexer(library, str(fixres_model)).index_folders([folder])
    assert summary.indexed == 1
    assert library.photo_by_path(str(folder / "a.png")).status == "indexed"


def test_a_file_deleted_during_the_run_is_dropped_not_skipped(
        library: Library, fixres_model: Path, tmp_path: Path) -> None:
    from photo_tagger.config import DECODE_AHEAD

    folder = tmp_path / "p"
    folder.mkdir()
    count = DECODE_AHEAD + 4  # the last one is read well after the first batch
    for i in range(count):
        photos.noise(folder / f"{i:03}.png", i)
    last = folder / f"{count - 1:03}.png"

    def delete_last() -> None:  # between the scan and its decoding
        if last.exists():
            last.unlink()

    summary = Indexer(library, str(fixres_model), batch_size=1,
                      between_batches=delete_last).index_folders([folder])
    assert summary.skipped == []
    assert summary.indexed == count - 1
    assert library.photo_by_path(str(last)) is None
    assert library.skipped() == []


def test_apply_change_moves_files_and_folders_without_the_model(
        library: Library, fixres_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "p"
    (folder / "trip").mkdir(parents=True)
    for i in range(3):
        photos.noise(folder / "trip" / f"{i}.png", seed=i)
    single = photos.noise(folder / "single.png", seed=9)
    loader = CountingLoader(fixres_model)
    indexer = Indexer(library, str(fixres_model), loader)
    indexer.index_folders([folder])
    ids = {p: row.id for p, row in library.photos_under(str(folder)).items()}
    embedded = loader.embedded

    renamed = folder / "renamed.png"
    single.rename(renamed)
    summary = indexer.apply_change(Moved(str(single), str(renamed), False))
    assert (summary.moved, summary.indexed) == (1, 0)
    assert library.photo_by_path(str(renamed)).id == ids[str(single)]

    (folder / "trip").rename(folder / "holiday")
    summary = indexer.apply_change(Moved(str(folder / "trip"), str(folder / "holiday"), True))
    assert (summary.moved, summary.indexed) == (3, 0)
    for i in range(3):
        moved = library.photo_by_path(str(folder / "holiday" / f"{i}.png"))
        assert moved.id == ids[str(folder / "trip" / f"{i}.png")]
        assert library.vector(moved.id) is not None
    assert loader.embedded == embedded


def test_apply_change_deletes_keeps_a_recreated_file_and_indexes_new_ones(
        library: Library, fixres_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    gone = photos.noise(folder / "gone.png", seed=1)
    saved = photos.noise(folder / "saved.png", seed=2)
    indexer = Indexer(library, str(fixres_model))
    indexer.index_folders([folder])
    saved_id = library.photo_by_path(str(saved)).id

    gone.unlink()
    summary = indexer.apply_change(Removed(str(gone), False))
    assert summary.removed == 1 and library.photo_by_path(str(gone)) is None

    # An editor's save: delete and recreate. The row and its id stay.
    data = saved.read_bytes()
    saved.unlink()
    saved.write_bytes(data)
    summary = indexer.apply_change(Removed(str(saved), False))
    assert summary.removed == 0
    assert library.photo_by_path(str(saved)).id == saved_id

    new = photos.noise(folder / "new.png", seed=3)
    told: list[list[str]] = []
    summary = indexer.apply_change(Ready((str(new), str(folder / "vanished.png"))),
                                   on_indexing=told.append)
    assert summary.indexed == 1 and told == [[str(new)]]
    assert library.photo_by_path(str(new)).status == "indexed"


def test_a_move_onto_a_settling_file_is_left_to_the_watcher(
        library: Library, fixres_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    indexer = Indexer(library, str(fixres_model))
    indexer.index_folders([folder])
    arrived = photos.noise(folder / "arrived.png", seed=4)
    summary = indexer.apply_change(Moved(str(folder / "tmp"), str(arrived), False),
                                   settling=lambda path: path == str(arrived))
    assert summary.indexed == 0 and library.photo_by_path(str(arrived)) is None
    summary = indexer.apply_change(Moved(str(folder / "tmp"), str(arrived), False))
    assert summary.indexed == 1


def test_an_unavailable_model_leaves_files_pending_without_a_new_load(
        library: Library, fixres_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    path = photos.noise(folder / "a.png", seed=5)
    loads: list[str] = []

    def load(model_id: str) -> Embedder:
        loads.append(model_id)
        return Embedder.load(model_id)

    indexer = Indexer(library, str(fixres_model), load)
    indexer.set_model_unavailable("no network")
    with pytest.raises(ModelUnavailable, match="no network"):
        indexer.apply_change(Ready((str(path),)))
    assert library.photo_by_path(str(path)).status == "pending" and loads == []
