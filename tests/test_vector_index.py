"""The vector index behind search: FAISS against exact search, its file beside the DB,
keeping up with added, rewritten and deleted vectors, and re-tagging from its codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.vectors import clustered_vectors, queries_near, uniform_vectors
from photo_tagger.core import tagger
from photo_tagger.core.store import Label, Library
from photo_tagger.core.vector_index import (
    WITHIN_FIRST,
    ExactBackend,
    FaissBackend,
    VectorIndex,
    index_path,
    stored_vectors,
    update_saved_index,
)

DIM = 96


def fill(library: Library, vectors: np.ndarray, start: int = 0) -> list[int]:
    if library.model_id is None:
        library.set_model("test-model", vectors.shape[1])
    folder = library.add_folder(Path("/photos"))
    ids = []
    with library.transaction():
        for number, vector in enumerate(vectors, start):
            ids.append(library.save_indexed(
                f"/photos/{number:06d}.jpg", folder.id, size=1, mtime=1.0,
                content_hash=f"hash{number}", width=1, height=1, taken_at=None, camera=None,
                vector=vector))
    return ids


def recall(index: VectorIndex, exact: ExactBackend, queries: np.ndarray, k: int = 50,
           **restrict: set[int]) -> float:
    found = [len({i for i, _ in index.nearest(q, k, **restrict)}
                 & {i for i, _ in exact.nearest(q, k, **restrict)}) / k for q in queries]
    return float(np.mean(found))


@pytest.fixture
def clustered(tmp_path: Path) -> tuple[Library, np.ndarray, list[int]]:
    rng = np.random.default_rng(1)
    vectors = clustered_vectors(4000, DIM, rng)
    library = Library(tmp_path / "library.db")
    ids = fill(library, vectors)
    yield library, vectors, ids
    library.close()


def test_faiss_ivf_finds_what_exact_search_finds(clustered) -> None:
    library, vectors, ids = clustered
    index = VectorIndex(min_faiss=1000)
    index.refresh(library)
    assert index.kind == "faiss-ivf-sq8"
    exact = ExactBackend(np.array(ids), vectors)
    queries = queries_near(vectors, 20, np.random.default_rng(2))
    assert recall(index, exact, queries) >= 0.95
    some = set(ids[::7])  # a restriction large enough to go through FAISS's selector
    assert recall(index, exact, queries[:5], allowed=some) >= 0.9
    few = set(ids[:300])  # small: every candidate scored
    assert recall(index, exact, queries[:5], allowed=few) >= 0.95
    top = index.nearest(queries[0], 5)
    skipped = {top[0][0]}
    assert skipped.isdisjoint(i for i, _ in index.nearest(queries[0], 5, exclude=skipped))
    # Scores are cosines decoded from 8-bit codes: within 0.02 of the exact ones.
    exact_scores = dict(exact.nearest(queries[0], 5))
    for photo_id, score in top:
        assert score == pytest.approx(exact_scores[photo_id], abs=0.02)


def test_small_library_keeps_exact_search(clustered) -> None:
    library, _, _ = clustered
    index = VectorIndex()  # the default threshold is far above 4000 photos
    index.refresh(library)
    assert index.kind == "exact"
    assert not index_path(library).exists()


def test_uniform_vectors_fall_back_to_a_flat_scan(tmp_path: Path) -> None:
    """Without structure no nprobe reaches the recall goal: an 8-bit scan keeps it."""
    rng = np.random.default_rng(3)
    vectors = uniform_vectors(4000, 256, rng)
    with Library(tmp_path / "library.db") as library:
        ids = fill(library, vectors)
        index = VectorIndex(min_faiss=1000)
        index.refresh(library)
        assert index.kind == "faiss-flat-sq8"
        exact = ExactBackend(np.array(ids), vectors)
        assert recall(index, exact, uniform_vectors(10, 256, rng)) >= 0.95
        # Search's matches and decoded vectors work on the flat scan too.
        some = np.array(ids[100:110])
        assert np.abs(index.vectors_of(some) - vectors[100:110]).max() < 0.02
        cut = float(np.quantile(vectors @ vectors[7], 0.99))
        want = set(exact.within(vectors[7], cut).tolist())
        got = set(index.within(vectors[7], cut).tolist())
        assert ids[7] in got and len(got ^ want) <= 3
        # More matches than the first nearest-photos request holds: it asks again.
        broad = float(np.quantile(vectors @ vectors[7], 0.4))
        want = set(exact.within(vectors[7], broad).tolist())
        got = set(index.within(vectors[7], broad).tolist())
        assert len(want) > WITHIN_FIRST and len(got ^ want) <= 0.05 * len(want)


def test_index_is_saved_beside_the_db_and_loaded_not_rebuilt(clustered) -> None:
    library, vectors, _ = clustered
    VectorIndex(min_faiss=1000).refresh(library)
    path = index_path(library)
    assert path == Path(str(library.path) + ".faiss") and path.exists()
    stamp = path.stat().st_mtime_ns
    with Library(library.path) as again:
        index = VectorIndex(min_faiss=1000)
        index.refresh(again)
        assert index.kind == "faiss-ivf-sq8"
        assert path.stat().st_mtime_ns == stamp  # loaded as it was: nothing rebuilt
        query = queries_near(vectors, 1, np.random.default_rng(4))[0]
        assert index.nearest(query, 1)[0][1] > 0.9


def test_index_follows_added_rewritten_and_deleted_vectors(clustered) -> None:
    library, vectors, ids = clustered
    index = VectorIndex(min_faiss=1000)
    index.refresh(library)
    rng = np.random.default_rng(5)
    fresh = uniform_vectors(2, DIM, rng)
    [added] = fill(library, fresh[:1], start=10_000)
    with library.transaction():  # photo ids[1]'s file changed: new content, new vector
        library.save_indexed("/photos/000001.jpg", None, size=2, mtime=2.0,
                             content_hash="changed", width=1, height=1, taken_at=None,
                             camera=None, vector=fresh[1])
    library.remove_photos(["/photos/000002.jpg"])
    index.refresh(library)
    assert index.nearest(fresh[0], 1)[0][0] == added
    assert index.nearest(fresh[1], 1)[0][0] == ids[1]
    assert ids[2] not in {i for i, _ in index.nearest(vectors[2], 50)}
    index.save()
    # A new process patches the saved file the same way and agrees.
    with Library(library.path) as again:
        other = VectorIndex(min_faiss=1000)
        other.refresh(again)
        assert other.nearest(fresh[1], 1)[0][0] == ids[1]
        assert len(other.ids) == len(ids)


def test_model_switch_rebuilds_the_index(clustered) -> None:
    library, _, _ = clustered
    VectorIndex(min_faiss=1000).refresh(library)
    library.set_model("other-model", DIM)
    rng = np.random.default_rng(6)
    vectors = clustered_vectors(1500, DIM, rng)
    with library.transaction():
        for number, vector in enumerate(vectors):
            library.save_indexed(f"/photos/{number:06d}.jpg", None, size=1, mtime=1.0,
                                 content_hash=f"new{number}", width=1, height=1,
                                 taken_at=None, camera=None, vector=vector)
    assert FaissBackend.load(index_path(library), "other-model") is None
    index = VectorIndex(min_faiss=1000)
    index.refresh(library)
    assert len(index.ids) == 1500
    assert FaissBackend.load(index_path(library), "other-model") is not None


def test_retag_reads_the_8bit_codes_of_a_current_index(clustered) -> None:
    library, vectors, ids = clustered
    VectorIndex(min_faiss=1000).refresh(library)
    batches = list(stored_vectors(library, rows=512, min_faiss=1000))
    got_ids = np.concatenate([b[0] for b in batches])
    got = np.concatenate([b[1] for b in batches])
    assert sorted(got_ids.tolist()) == sorted(ids)
    original = vectors[np.searchsorted(np.array(ids), got_ids)]
    error = np.abs(got - original).max()
    assert 0 < error < 0.01  # decoded from codes (not the float rows), and close to them
    labels = [Label(i, f"l{i}", f"t{i}", "{label}", None) for i in range(3)]
    matrix = tagger.LabelMatrix(labels, vectors[:3].copy(), np.full(3, 0.5, np.float32),
                                10.0, -5.0)
    assert tagger.retag_library(library, matrix) > 0
    expected = {(p, t) for p, t, s in tagger.tag_rows(matrix, ids, vectors)
                if abs(s - 0.5) > 0.05}
    written = set(library.conn.execute(
        "SELECT photo_id, tag FROM tags WHERE source = 'auto'").fetchall())
    assert expected - written == set()


def test_a_current_saved_index_is_mapped_at_start_and_patched_in_a_copy(clustered) -> None:
    library, vectors, _ = clustered
    VectorIndex(min_faiss=1000).refresh(library)
    path = index_path(library)
    saved = FaissBackend.load(path, "test-model")
    assert saved is not None and saved.generation == library.vectors_generation()
    with Library(library.path) as again:
        index = VectorIndex(min_faiss=1000)
        index.refresh(again)
        backend = index.backend
        assert isinstance(backend, FaissBackend) and backend.mapped  # trusted, not copied
        query = queries_near(vectors, 1, np.random.default_rng(7))[0]
        assert index.nearest(query, 1)[0][1] > 0.9
        # A vector written later: the mapped (read-only) index is patched in an owned copy.
        fresh = uniform_vectors(1, DIM, np.random.default_rng(8))
        [added] = fill(again, fresh, start=20_000)
        index.refresh(again)
        patched = index.backend
        assert isinstance(patched, FaissBackend) and not patched.mapped
        assert index.nearest(fresh[0], 1)[0][0] == added


def test_vectors_changed_since_the_save_are_found_and_patched(clustered) -> None:
    """The stale entry: a file rewritten (new content, new vector) after the index was
    saved, by another connection; the next start must not trust the saved index."""
    library, vectors, ids = clustered
    VectorIndex(min_faiss=1000).refresh(library)
    fresh = uniform_vectors(1, DIM, np.random.default_rng(9))
    with Library(library.path) as writer, writer.transaction():
        writer.save_indexed("/photos/000003.jpg", None, size=2, mtime=2.0,
                            content_hash="rewritten", width=1, height=1, taken_at=None,
                            camera=None, vector=fresh[0])
    with Library(library.path) as again:
        index = VectorIndex(min_faiss=1000)
        index.refresh(again)
        top = index.nearest(fresh[0], 1)[0]
        assert top[0] == ids[3] and top[1] > 0.98
        assert ids[3] not in {i for i, _ in index.nearest(vectors[3], 5)}
        # A patch waits to be written (the first search after a start does not pay for the
        # write); the service writes it once idle or closing.
        assert FaissBackend.load(index_path(library), "test-model").generation \
            < library.vectors_generation()
        index.save()
    saved = FaissBackend.load(index_path(library), "test-model")
    assert saved is not None and saved.generation == library.vectors_generation()


def test_an_indexing_run_leaves_the_saved_index_current_for_the_next_start(clustered
                                                                         ) -> None:
    """`photo-tagger index` does not search, but a large library's saved index must follow
    what it wrote, or the app's next start patches it before its first search."""
    library, vectors, ids = clustered
    VectorIndex(min_faiss=1000).refresh(library)  # the app built and saved it
    fresh = uniform_vectors(2, DIM, np.random.default_rng(11))
    with library.transaction():
        library.save_indexed("/photos/new.jpg", None, size=1, mtime=1.0, content_hash="new",
                             width=1, height=1, taken_at=None, camera=None, vector=fresh[0])
    assert not FaissBackend.load(index_path(library), "test-model").is_current(
        library, library.vectors_generation())
    assert update_saved_index(library, min_faiss=1000)
    saved = FaissBackend.load(index_path(library), "test-model", mapped=True)
    assert saved is not None and saved.is_current(library, library.vectors_generation())
    assert saved.index.ntotal == len(ids) + 1
    assert not update_saved_index(library, min_faiss=10_000)  # a small library: no file


def test_a_database_changed_behind_the_generation_is_not_trusted(clustered) -> None:
    """Content hashes and vectors rewritten without the generation moving (as when the
    database file is replaced by another one): the spot check sees it."""
    library, vectors, ids = clustered
    VectorIndex(min_faiss=1000).refresh(library)
    generation = library.vectors_generation()
    fresh = uniform_vectors(1, DIM, np.random.default_rng(10))
    with library.transaction():
        library.conn.execute("UPDATE photos SET content_hash = 'other' || id")
        library.conn.execute("UPDATE photo_vectors SET embedding = ? WHERE photo_id = ?",
                             (fresh[0].astype(np.float32).tobytes(), ids[5]))
    assert library.vectors_generation() == generation
    with Library(library.path) as again:
        index = VectorIndex(min_faiss=1000)
        index.refresh(again)
        assert index.nearest(fresh[0], 1)[0][0] == ids[5]


def test_retag_reads_the_index_search_holds_and_agrees_with_the_floats(clustered) -> None:
    library, vectors, ids = clustered
    index = VectorIndex(min_faiss=1000)
    index.refresh(library)
    index_path(library).unlink()  # nothing left to load: re-tagging must use what is held
    labels = [Label(i, f"l{i}", f"t{i % 4}", "{label}", None) for i in range(6)]
    limits = {"t0": 0.5, "t1": 0.3, "t2": 0.6, "t3": 0.0}  # synonyms share a threshold
    matrix = tagger.LabelMatrix(labels, vectors[[0, 700, 1400, 2100, 2800, 3500]].copy(),
                                np.array([limits[label.tag] for label in labels], np.float32),
                                10.0, -5.0)
    got = {(p, t): s for p, t, s in tagger.library_tag_rows(library, matrix)}
    exact = {(p, t): s for p, t, s in tagger.tag_rows(matrix, ids, vectors)}
    # Equal tags, except where a score lies within the 8-bit codes' error of its threshold
    # (cosines within ~0.01: scores within 0.03 at this scale).
    unsure = {key for key, score in [*exact.items(), *got.items()]
              if abs(score - limits[key[1]]) < 0.03}
    assert len(exact) > 4000
    assert got.keys() - unsure == exact.keys() - unsure
    both = got.keys() & exact.keys()
    assert max(abs(got[k] - exact[k]) for k in both) < 0.03
    assert any(abs(got[k] - exact[k]) > 1e-6 for k in both)  # from the codes, not floats
    assert tagger.retag_library(library, matrix) == len(got)


def _cache_phrase(library: Library, phrase: str, vector: np.ndarray) -> None:
    """A query phrase as the library caches it (no model needed to search it again)."""
    with library.transaction():
        library.conn.execute(
            "INSERT INTO query_vectors(model_id, text, vector) VALUES (?, ?, ?)",
            (library.model_id, phrase, (vector / np.linalg.norm(vector)).astype(
                np.float32).tobytes()))


def test_find_over_faiss_matches_exact_without_the_float_matrix(clustered) -> None:
    from photo_tagger.core.relevance import match_cosine, match_probability
    from photo_tagger.core.search import Searcher

    library, vectors, ids = clustered
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    near, other = unit[0], unit[2000]
    _cache_phrase(library, "near", near)
    _cache_phrase(library, "other", other)
    # A temperature and bias whose cutoff keeps ~2 % of the library for "near".
    scale = 10.0
    cut = float(np.quantile(unit @ near, 0.98))
    bias = -scale * cut / 0.75
    assert match_cosine(scale, bias) == pytest.approx(cut)
    with library.transaction():
        library.set_meta("label_scale", repr(scale))
        library.set_meta("label_bias", repr(bias))
        library.set_meta("label_scale_model", library.model_id)
    VectorIndex(min_faiss=1000).refresh(library)  # the index file, as a running app has
    exact = Searcher(library)
    # Its own connection, as the window's: what it reads is its own.
    own = Library(library.path)
    indexed = Searcher(own)
    indexed.index = VectorIndex(min_faiss=1000)
    for query in ["near", "near -other", "near folder:/photos", "near sort:date"]:
        want, got = exact.find(query, limit=30), indexed.find(query, limit=30)
        assert exact.index.holds_floats and not indexed.index.holds_floats
        assert want.matches >= 40
        # The same matches, within the 8-bit codes' rounding at the border.
        assert abs(got.matches - want.matches) <= max(2, want.matches // 20), query
        assert got.weaker == pytest.approx(want.weaker, abs=max(2, want.matches // 20))
        overlap = {r.photo_id for r in got.results} & {r.photo_id for r in want.results}
        assert len(overlap) >= 27, query
        assert got.cutoff is not None and all(
            r.probability is not None and r.probability >= got.cutoff - 1e-3
            for r in got.results)
    # NOT removes what matches the -phrase: nothing near "near" survives "-near".
    assert indexed.find("other -near", limit=None).removed == exact.find(
        "other -near", limit=None).removed
    # The whole ranking's best results, and explanations, without the float matrix.
    assert [r.photo_id for r in indexed.find("near", limit=5, everything=True).results][:3] \
        == [r.photo_id for r in exact.find("near", limit=5, everything=True).results][:3]
    explained = indexed.find("near", limit=3, explain=True).results[0].explanation
    assert explained is not None and explained.terms[0][0] == "near"
    assert explained.terms[0][1] >= match_probability(bias) - 1e-3
    # None of it read the float matrix (3 GB at 1M photos) into the searcher's connection.
    assert own._vectors_cache is None
    own.close()
