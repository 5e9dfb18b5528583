"""Vectors in Milvus, against a real Milvus Lite: index, search, filters, delete, model
switch, idempotent upserts by content hash, and the `--vector-store` choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.vectors import clustered_vectors
from photo_tagger.core.milvus_store import (
    NO_DATE,
    VECTOR_STORE_ENV,
    VECTOR_STORE_SETTING,
    MilvusStore,
    StoredPhoto,
    VectorStoreError,
    VectorStoreSpec,
    requested_vector_store,
    sync_library,
    taken_seconds,
)
from photo_tagger.core.store import Library

DIM = 32


@pytest.fixture
def spec(tmp_path: Path) -> VectorStoreSpec:
    return VectorStoreSpec.parse(f"milvus-lite:{tmp_path / 'milvus.db'}")


def photo(number: int, vector: np.ndarray, tags: list[str], folder: str,
          taken: str | None) -> StoredPhoto:
    return StoredPhoto(f"hash{number}", vector, tags, folder, taken_seconds(taken))


def test_index_search_filter_and_delete(spec: VectorStoreSpec) -> None:
    vectors = clustered_vectors(60, DIM, np.random.default_rng(0))
    rows = [photo(i, v, ["beach"] if i % 3 == 0 else ["snow"],
                  "/archive/2023/summer" if i < 30 else "/archive/2024",
                  "2023-07-01T10:00:00" if i < 30 else None) for i, v in enumerate(vectors)]
    with MilvusStore(spec, "model-a", DIM) as store:
        assert store.upsert(rows) == 60
        assert store.count() == 60
        hits = store.search(vectors[7], 5)
        assert hits[0][0] == "hash7" and hits[0][1] == pytest.approx(1.0, abs=1e-3)
        beach = store.search(vectors[7], 60, tags=["beach"])
        assert beach and {h for h, _ in beach} == {f"hash{i}" for i in range(0, 60, 3)}
        under = store.search(vectors[7], 60, folder="/archive/2023")
        assert {h for h, _ in under} == {f"hash{i}" for i in range(30)}
        assert store.search(vectors[7], 60, folder="/archive/202") == []  # not a prefix match
        dated = store.search(vectors[40], 60, taken_from=taken_seconds("2023-01-01"),
                             taken_to=taken_seconds("2024-01-01"))
        assert len(dated) == 30 and "hash40" not in {h for h, _ in dated}
        store.delete(["hash7"])
        assert "hash7" not in {h for h, _ in store.search(vectors[7], 5)}
        assert store.count() == 59


def test_upserts_are_idempotent_across_desktops(spec: VectorStoreSpec) -> None:
    """The same file seen from two desktops (two mount paths) is one row."""
    vector = clustered_vectors(1, DIM, np.random.default_rng(1))[0]
    with MilvusStore(spec, "model-a", DIM) as store:
        store.upsert([StoredPhoto("same", vector, ["dog"], "/mnt/a/photos", NO_DATE)])
        store.upsert([StoredPhoto("same", vector, ["dog", "park"], "/Volumes/a/photos",
                                  NO_DATE)])
        assert store.count() == 1
        assert store.search(vector, 5, tags=["park"])[0][0] == "same"


def test_model_switch_uses_its_own_collection(spec: VectorStoreSpec) -> None:
    rng = np.random.default_rng(2)
    with MilvusStore(spec, "model-a", DIM) as store:
        store.upsert([StoredPhoto("a1", clustered_vectors(1, DIM, rng)[0], [], "/x", NO_DATE)])
    with MilvusStore(spec, "model-b", 16) as other:
        assert other.count() == 0  # model-a's vectors are never mixed in
        other.upsert([StoredPhoto("b1", clustered_vectors(1, 16, rng)[0], [], "/x", NO_DATE)])
        assert other.count() == 1
    with MilvusStore(spec, "model-a", DIM) as store:
        assert store.count() == 1
        store.drop()


def test_sync_pushes_the_library_keyed_by_content_hash(tmp_path: Path,
                                                       spec: VectorStoreSpec) -> None:
    vectors = clustered_vectors(20, DIM, np.random.default_rng(3))
    with Library(tmp_path / "library.db") as library:
        library.set_model("model-a", DIM)
        folder = library.add_folder(tmp_path / "photos")
        with library.transaction():
            for number, vector in enumerate(vectors):
                library.save_indexed(
                    str(tmp_path / "photos" / f"{number}.jpg"), folder.id, size=1, mtime=1.0,
                    content_hash=f"h{number}", width=1, height=1,
                    taken_at="2022-05-01T08:00:00", camera=None, vector=vector)
        library.set_manual_tag(1, "cat", True)
        with MilvusStore(spec, "model-a", DIM) as store:
            assert sync_library(library, store) == 20
            assert sync_library(library, store) == 20  # a re-run rewrites, never duplicates
            assert store.count() == 20
            assert store.search(vectors[0], 3, tags=["cat"])[0][0] == "h0"
        with MilvusStore(spec, "model-b", DIM) as other, pytest.raises(VectorStoreError):
            sync_library(library, other)


def test_vector_store_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert VectorStoreSpec.parse("milvus://db.example:19530").uri == "http://db.example:19530"
    lite = VectorStoreSpec.parse(f"milvus-lite:{tmp_path}/v.db")
    assert lite.lite and lite.uri == f"{tmp_path}/v.db"
    for bad in ("milvus://host", "redis://x:1", "milvus-lite:/tmp/v.sqlite"):
        with pytest.raises(VectorStoreError):
            VectorStoreSpec.parse(bad)
    with Library(tmp_path / "library.db") as library:
        assert requested_vector_store(None, library) is None
        with library.transaction():
            library.set_meta(VECTOR_STORE_SETTING, "milvus://setting:19530")
        assert requested_vector_store(None, library).uri == "http://setting:19530"
        monkeypatch.setenv(VECTOR_STORE_ENV, "milvus://env:19530")
        assert requested_vector_store(None, library).uri == "http://env:19530"
        assert requested_vector_store("milvus://cli:1", library).uri == "http://cli:1"


def test_cli_indexes_into_and_searches_milvus_lite(tmp_path: Path, fixres_model: Path,
                                                    capsys, monkeypatch) -> None:
    """`--vector-store` is accepted where `--home` and `--model` are; the environment
    variable selects the store as well."""
    import json

    import photos
    from photo_tagger.cli import main

    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    photos.solid(folder / "red.jpg", (220, 20, 20))
    photos.solid(folder / "sub" / "blue.png", (20, 20, 220))
    store = f"milvus-lite:{tmp_path / 'shared.db'}"
    assert main(["--vector-store", store, "index", str(folder), "--model",
                 str(fixres_model)]) == 0
    capsys.readouterr()
    with _library() as library, MilvusStore(VectorStoreSpec.parse(store), library.model_id,
                     library.dimension) as milvus:
        assert milvus.count() == 2
    monkeypatch.setenv(VECTOR_STORE_ENV, store)
    assert main(["search", "a red circle", "--json", "--folder", str(folder / "sub")]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [Path(r["path"]).name for r in results] == ["blue.png"]
    assert main(["search", "a red circle", "--json", "--vector-store", store]) == 0
    assert {Path(r["path"]).name for r in json.loads(capsys.readouterr().out)} == {
        "red.jpg", "blue.png"}


def _library() -> Library:
    """The library the CLI used ($PHOTO_TAGGER_HOME, set by the test fixtures)."""
    from photo_tagger.paths import home_dir, library_path

    return Library(library_path(home_dir()))
