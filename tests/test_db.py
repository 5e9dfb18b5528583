"""The library file: sqlite-vec on every connection, WAL, migrations, newer DB refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from photo_tagger.core import db
from photo_tagger.core.store import Library


def test_connection_loads_sqlite_vec_and_uses_wal(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "lib.db")
    assert conn.execute("SELECT vec_version()").fetchone()[0].startswith("v")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    conn.close()


def test_fallback_module_is_used_when_python_cannot_load_extensions() -> None:
    module = db.sqlite_module()
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        assert module is sqlite3
    else:
        assert module.__name__ == "sqlean"
    assert hasattr(module.connect(":memory:"), "enable_load_extension")


def test_newer_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "lib.db"
    db.connect(path).close()
    conn = db.sqlite_module().connect(str(path))
    conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    with pytest.raises(db.DatabaseError, match="newer photo-tagger"):
        db.connect(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lib.db"
    path.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(db.DatabaseError, match="not a photo-tagger database"):
        db.connect(path)


def test_nested_transactions_roll_back_only_the_inner_part(tmp_path: Path) -> None:
    with Library(tmp_path / "lib.db") as library:
        with library.transaction():
            library.set_meta("outer", "1")
            with pytest.raises(RuntimeError), library.transaction():
                library.set_meta("inner", "1")
                raise RuntimeError("boom")
        assert library.get_meta("outer") == "1"
        assert library.get_meta("inner") is None


def test_model_switch_drops_vectors_and_auto_tags_but_keeps_manual(tmp_path: Path) -> None:
    with Library(tmp_path / "lib.db") as library:
        library.set_model("model-a", 4)
        folder = library.add_folder(tmp_path)
        with library.transaction():
            photo_id = library.save_indexed(
                str(tmp_path / "a.jpg"), folder.id, size=1, mtime=1.0, content_hash="h",
                width=1, height=1, taken_at=None, camera=None,
                vector=np.array([1, 0, 0, 0], dtype=np.float32))
            library.replace_auto_tags([(photo_id, "beach", 0.5)], [photo_id])
        library.set_manual_tag(photo_id, "holiday", True)
        assert library.vector_count() == 1

        assert library.set_model("model-b", 8) is True
        assert library.vector_count() == 0
        assert library.dimension == 8
        assert [t.tag for t in library.tags_of(photo_id)] == ["holiday"]
        assert library.photo(photo_id).status == "pending"
        assert library.set_model("model-b", 8) is False


def _library_with_vectors(path: Path) -> Library:
    """2,500 vectors over three sqlite-vec chunks, with holes left by deletes."""
    from sqlite_vec import serialize_float32

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(2500, 8)).astype(np.float32)
    library = Library(path)
    library.set_model("m", 8)
    with library.transaction():
        library.conn.executemany(
            "INSERT INTO photo_vectors(photo_id, embedding) VALUES (?, ?)",
            [(i * 3 + 1, serialize_float32(vectors[i])) for i in range(2500)])
        library.conn.executemany("DELETE FROM photo_vectors WHERE photo_id = ?",
                                 [(i * 3 + 1,) for i in range(0, 2500, 7)])
    return library


def _scanned(library: Library) -> dict[int, np.ndarray]:
    """sqlite-vec's own, documented row-by-row answer."""
    return {r[0]: np.frombuffer(r[1], dtype=np.float32) for r in library.conn.execute(
        "SELECT photo_id, embedding FROM photo_vectors")}


def test_all_vectors_reads_what_sqlite_vec_returns(tmp_path: Path) -> None:
    """The fast read of sqlite-vec's chunks must agree with its own row-by-row scan."""
    with _library_with_vectors(tmp_path / "lib.db") as library:
        ids, matrix = library.all_vectors()
        expected = {r[0]: np.frombuffer(r[1], dtype=np.float32) for r in library.conn.execute(
            "SELECT photo_id, embedding FROM photo_vectors")}
        assert len(ids) == len(expected) == library.vector_count()
        for photo_id, row in zip(ids.tolist(), matrix, strict=True):
            assert np.array_equal(expected[photo_id], row)


def test_the_chunk_fast_path_itself_reads_every_vector(tmp_path: Path, caplog) -> None:
    """sqlite-vec is pinned because its private chunk layout is read: this fails (rather
    than all_vectors quietly going 20 times slower) on a release that changes it."""
    with _library_with_vectors(tmp_path / "lib.db") as library:
        ids, matrix = library.vectors_from_chunks(8)
        expected = _scanned(library)
        assert sorted(ids.tolist()) == sorted(expected)
        for photo_id, row in zip(ids.tolist(), matrix, strict=True):
            assert np.array_equal(expected[photo_id], row)
        with caplog.at_level("WARNING", logger="photo_tagger.core.store"):
            library.all_vectors()
        assert not caplog.records  # the fast path was taken


def test_an_unexpected_chunk_layout_falls_back_with_a_warning(tmp_path: Path, caplog) -> None:
    with _library_with_vectors(tmp_path / "lib.db") as library:
        # Row ids the fast path cannot line up with the vectors; sqlite-vec's own scan
        # does not read them, as if a new release had moved them elsewhere.
        library.conn.execute("UPDATE photo_vectors_chunks SET rowids = zeroblob(8)")
        expected = _scanned(library)
        with caplog.at_level("WARNING", logger="photo_tagger.core.store"):
            ids, matrix = library.all_vectors()
        assert "chunk tables are not laid out as expected" in caplog.text
        assert sorted(ids.tolist()) == sorted(expected)
        for photo_id, row in zip(ids.tolist(), matrix, strict=True):
            assert np.array_equal(expected[photo_id], row)
