"""The library's rows: folders, photos, vectors, labels, tags and model metadata.

Every read and write of the library goes through here, so the SQL lives in one place.
"""

from __future__ import annotations

import logging
import time
import zlib
from array import array
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlite_vec import serialize_float32

from photo_tagger.core.db import connect, known_error, transaction
from photo_tagger.paths import folder_prefixes, is_under

log = logging.getLogger(__name__)


class LibraryModelChanged(Exception):
    """Another process switched the library to another model while this one was writing:
    its vectors would be mixed with the new model's, so nothing more is written."""

    def __init__(self, library_model: str | None, writer_model: str) -> None:
        super().__init__(
            f"The library now uses the model {library_model}, switched by another program "
            f"while this one indexed with {writer_model}; nothing more was written with "
            f"{writer_model}.")
        self.library_model = library_model
        self.writer_model = writer_model


class SwitchChanged(Exception):
    """The model switch this writer worked for was cancelled, finished or replaced by
    another one (possibly by another program): its vectors are not written."""

    def __init__(self, next_model: str | None, writer_model: str) -> None:
        super().__init__(
            f"The switch to {writer_model} is no longer under way"
            + (f" (the library now switches to {next_model})" if next_model else "")
            + "; nothing more was written for it.")
        self.next_model = next_model
        self.writer_model = writer_model


# The vectors of the model a switch is moving to, beside `photo_vectors` until the swap.
NEXT_VECTORS = "photo_vectors_next"


@dataclass(frozen=True)
class Photo:
    id: int
    path: str
    folder_id: int | None
    size: int | None
    mtime: float | None
    content_hash: str | None
    width: int | None
    height: int | None
    taken_at: str | None
    camera: str | None
    status: str
    reason: str | None
    dhash: int | None = None
    ctime: float | None = None
    inode: int | None = None


@dataclass(frozen=True)
class Folder:
    id: int
    path: str
    auto_tag: bool
    polling: bool


@dataclass(frozen=True)
class Label:
    id: int
    name: str
    tag: str
    template: str
    threshold: float | None


@dataclass(frozen=True)
class LearnedTag:
    """A tag that learns from the user's decisions, and its classifier (core/learning.py):
    `weights` is None until it is fitted, and belongs to `model_id`'s vectors only."""

    tag: str
    threshold: float | None  # None: its labels' threshold, or config.LEARNED_THRESHOLD
    model_id: str | None
    weights: np.ndarray | None
    bias: float | None
    examples: int
    prior: bool  # the text of its labels was used as the prior


@dataclass(frozen=True)
class Tag:
    tag: str
    score: float | None
    source: str


_PHOTO_COLUMNS = (
    "id, path, folder_id, size, mtime, content_hash, width, height, taken_at, camera, "
    "status, reason, dhash, ctime, inode"
)


class Library:
    """One library database. Not thread-safe: each thread opens its own `Library`."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """`read_only`: for a connection beside the writer (the window's): SQLite itself
        refuses any write on it, so a slip cannot race the service's transactions."""
        self.path = path
        self.conn: Any = connect(path)
        if read_only:
            self.conn.execute("PRAGMA query_only = ON")
        self._vectors_cache: tuple[int, np.ndarray, np.ndarray] | None = None
        # (generation, the FAISS index search holds, set by `VectorIndex`): re-tagging reads
        # its codes instead of loading the file again. Loosely typed: the store knows no FAISS.
        self.held_index: tuple[int, object] | None = None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        """Close; a raw SQLite error that is a known problem (a damaged file, a full disk,
        no permission) leaves as a `DatabaseError` that says what to do."""
        self.close()
        known = known_error(exc, self.path) if exc is not None else None
        if known is not None and known is not exc:
            raise known from exc

    def transaction(self) -> Any:
        return transaction(self.conn)

    # -- meta ---------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def meta_with_prefix(self, prefix: str) -> dict[str, str]:
        """Meta rows whose key starts with `prefix`, keyed by the rest of the key."""
        rows = self.conn.execute("SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?",
                                 (len(prefix), prefix)).fetchall()
        return {key[len(prefix):]: value for key, value in rows}

    @property
    def model_id(self) -> str | None:
        return self.get_meta("model_id")

    @property
    def dimension(self) -> int | None:
        value = self.get_meta("dimension")
        return int(value) if value else None

    def vectors_generation(self) -> int:
        """Bumped on every vector change, so in-memory copies know when to reload."""
        return int(self.get_meta("vectors_generation") or 0)

    def photos_generation(self) -> int:
        """Moves whenever a photo row is added, removed, moved, indexed or re-dated (kept by
        the schema's triggers, so other processes' changes count too)."""
        return int(self.get_meta("photos_generation") or 0)

    def _bump_generation(self) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES ('vectors_generation', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def set_model(self, model_id: str, dimension: int) -> bool:
        """Record the embedding model. A different model than before drops every vector
        and automatic tag and marks the photos pending; manual tags are kept.

        Returns True when the model changed (the library must be re-embedded).
        """
        if self.model_id == model_id and self.dimension == dimension and self._has_vec_table():
            return False
        with self.transaction():
            self.conn.execute("DROP TABLE IF EXISTS photo_vectors")
            self._create_vec_table("photo_vectors", dimension)
            self.conn.execute("DELETE FROM tags WHERE source IN ('auto', 'learned')")
            self.conn.execute(
                "UPDATE photos SET status = 'pending', reason = NULL WHERE status = 'indexed'"
            )
            self.set_meta("model_id", model_id)
            self.set_meta("dimension", str(int(dimension)))
            self._bump_generation()
        return True

    def require_model(self, model_id: str) -> None:
        """Refuse to write vectors of `model_id` unless the library still uses it. Call
        inside the write transaction (BEGIN IMMEDIATE), so no switch can slip in between."""
        current = self.model_id
        if current != model_id:
            raise LibraryModelChanged(current, model_id)

    def _has_vec_table(self, table: str = "photo_vectors") -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone()
        return row is not None

    def _create_vec_table(self, table: str, dimension: int) -> None:
        self.conn.execute(
            f"CREATE VIRTUAL TABLE {table} USING vec0("
            f"photo_id INTEGER PRIMARY KEY, embedding float[{int(dimension)}] "
            "distance_metric=cosine)")

    # -- a model switch: the next model's vectors beside the current ones ---------------
    @property
    def next_model_id(self) -> str | None:
        """The model a switch is moving to; None when no switch is under way."""
        return self.get_meta("next_model_id")

    @property
    def next_dimension(self) -> int | None:
        value = self.get_meta("next_dimension")
        return int(value) if value else None

    def begin_switch(self, model_id: str, dimension: int) -> bool:
        """Start embedding the library with `model_id` next to the current vectors. A
        switch to the same model already under way is resumed (its vectors kept); one to
        another model is replaced. Returns True when a new set was started."""
        with self.transaction():
            if self.next_model_id == model_id and self.next_dimension == dimension \
                    and self._has_vec_table(NEXT_VECTORS):
                return False
            self.conn.execute(f"DROP TABLE IF EXISTS {NEXT_VECTORS}")
            self._create_vec_table(NEXT_VECTORS, dimension)
            self.set_meta("next_model_id", model_id)
            self.set_meta("next_dimension", str(int(dimension)))
        return True

    def cancel_switch(self) -> None:
        """Drop the partial set of the next model; the current model stays."""
        with self.transaction():
            self.conn.execute(f"DROP TABLE IF EXISTS {NEXT_VECTORS}")
            self.conn.execute(
                "DELETE FROM meta WHERE key IN ('next_model_id', 'next_dimension')")

    def require_next_model(self, model_id: str) -> None:
        """Refuse to write next-set vectors of `model_id` unless the library still
        switches to it. Call inside the write transaction, like `require_model`."""
        current = self.next_model_id
        if current != model_id or not self._has_vec_table(NEXT_VECTORS):
            raise SwitchChanged(current, model_id)

    def photos_missing_next(self, limit: int) -> list[tuple[int, str]]:
        """(id, path) of indexed photos without a vector of the next model yet."""
        if not self._has_vec_table(NEXT_VECTORS):
            raise SwitchChanged(self.next_model_id, "the next model")
        return [(r[0], r[1]) for r in self.conn.execute(
            "SELECT id, path FROM photos WHERE status = 'indexed' AND id NOT IN "
            f"(SELECT rowid FROM {NEXT_VECTORS}_rowids) ORDER BY id LIMIT ?", (limit,))]

    def next_vector_count(self) -> int:
        """Indexed photos embedded with the next model so far (0 without a switch)."""
        if not self._has_vec_table(NEXT_VECTORS):
            return 0
        return int(self.conn.execute(
            "SELECT count(*) FROM photos WHERE status = 'indexed' AND id IN "
            f"(SELECT rowid FROM {NEXT_VECTORS}_rowids)").fetchone()[0])

    def next_vectors(self, dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids, vectors) of the next model embedded so far."""
        if not self._has_vec_table(NEXT_VECTORS):
            return np.zeros(0, dtype=np.int64), np.zeros((0, dimension), dtype=np.float32)
        return self._read_all_vectors(dimension, NEXT_VECTORS)

    def write_next_vectors(self, model_id: str, rows: Iterable[tuple[int, np.ndarray]]) -> None:
        """Store next-model vectors; call inside a transaction. The search does not see
        them, so the generation does not move."""
        self.require_next_model(model_id)
        for photo_id, vector in rows:
            self.conn.execute(f"DELETE FROM {NEXT_VECTORS} WHERE photo_id = ?", (photo_id,))
            self.conn.execute(
                f"INSERT INTO {NEXT_VECTORS}(photo_id, embedding) VALUES (?, ?)",
                (photo_id, serialize_float32(np.asarray(vector, dtype=np.float32))))

    def swap_to_next(self, model_id: str) -> list[int]:
        """Make the next model the library's, at once: its vectors replace the current ones
        and automatic tags are dropped (the caller re-tags in the same transaction). An
        indexed photo the switch could not embed is marked pending. Call inside a
        transaction. Returns those pending photo ids."""
        self.require_next_model(model_id)
        dimension = self.next_dimension
        assert dimension is not None
        missing = [photo_id for photo_id, _ in self.photos_missing_next(2**62)]
        if missing:
            self.conn.executemany("UPDATE photos SET status = 'pending' WHERE id = ?",
                                  [(i,) for i in missing])
        # vec0 cannot rename its shadow tables, so the vectors are copied (read the fast
        # way; about 2 s per 100k photos) and the table name every reader knows stays.
        ids, matrix = self.next_vectors(dimension)
        self.conn.execute("DROP TABLE IF EXISTS photo_vectors")
        self._create_vec_table("photo_vectors", dimension)
        self.conn.executemany(
            "INSERT INTO photo_vectors(photo_id, embedding) VALUES (?, ?)",
            ((int(i), serialize_float32(v)) for i, v in zip(ids, matrix, strict=True)))
        self.conn.execute(f"DROP TABLE {NEXT_VECTORS}")
        self.conn.execute("DELETE FROM tags WHERE source = 'auto'")
        self.conn.execute("DELETE FROM meta WHERE key IN ('next_model_id', 'next_dimension')")
        self.set_meta("model_id", model_id)
        self.set_meta("dimension", str(int(dimension)))
        self._bump_generation()
        return missing

    # -- folders ------------------------------------------------------------------------
    def add_folder(self, path: Path) -> Folder:
        resolved = str(Path(path).resolve())
        with self.transaction():
            self.conn.execute("INSERT OR IGNORE INTO folders(path) VALUES (?)", (resolved,))
        folder = self.folder_by_path(resolved)
        assert folder is not None
        return folder

    def remove_folder(self, folder_id: int) -> None:
        """Forget a folder and its photos (the files on disk are untouched)."""
        with self.transaction():
            ids = [r[0] for r in self.conn.execute(
                "SELECT id FROM photos WHERE folder_id = ?", (folder_id,))]
            self._delete_vectors(ids)
            self.conn.execute("DELETE FROM folders WHERE id = ?", (folder_id,))

    def folders(self) -> list[Folder]:
        rows = self.conn.execute("SELECT id, path, auto_tag, polling FROM folders ORDER BY path")
        return [Folder(r[0], r[1], bool(r[2]), bool(r[3])) for r in rows]

    def folder_by_path(self, path: str) -> Folder | None:
        row = self.conn.execute(
            "SELECT id, path, auto_tag, polling FROM folders WHERE path = ?", (path,)
        ).fetchone()
        return Folder(row[0], row[1], bool(row[2]), bool(row[3])) if row else None

    def folder_for(self, path: str) -> Folder | None:
        """The watched folder containing `path` (the deepest, if folders nest)."""
        best = None
        for folder in self.folders():
            if is_under(path, folder.path) and (best is None or len(folder.path) > len(best.path)):
                best = folder
        return best

    def set_folder_options(self, folder_id: int, *, auto_tag: bool | None = None,
                           polling: bool | None = None) -> None:
        with self.transaction():
            if auto_tag is not None:
                self.conn.execute("UPDATE folders SET auto_tag = ? WHERE id = ?",
                                  (int(auto_tag), folder_id))
            if polling is not None:
                self.conn.execute("UPDATE folders SET polling = ? WHERE id = ?",
                                  (int(polling), folder_id))

    # -- photos -------------------------------------------------------------------------
    def photo(self, photo_id: int) -> Photo | None:
        row = self.conn.execute(
            f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE id = ?", (photo_id,)
        ).fetchone()
        return Photo(*row) if row else None

    def photo_by_path(self, path: str) -> Photo | None:
        row = self.conn.execute(
            f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE path = ?", (path,)
        ).fetchone()
        return Photo(*row) if row else None

    def photos_under(self, folder_path: str) -> dict[str, Photo]:
        slash, backslash = folder_prefixes(folder_path)
        rows = self.conn.execute(
            f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE path = ? OR substr(path, 1, ?) IN (?, ?)",
            (slash[:-1], len(slash), slash, backslash),
        )
        return {r[1]: Photo(*r) for r in rows}

    def photos_by_ids(self, ids: Sequence[int]) -> dict[int, Photo]:
        found: dict[int, Photo] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE id IN ({marks})", chunk
            ):
                found[row[0]] = Photo(*row)
        return found

    def indexed_photo_with_hash(self, content_hash: str) -> Photo | None:
        row = self.conn.execute(
            f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE content_hash = ? AND status = 'indexed' "
            "ORDER BY id LIMIT 1",
            (content_hash,),
        ).fetchone()
        return Photo(*row) if row else None

    def indexed_photos_with_hashes(self, hashes: Sequence[str]) -> dict[str, list[Photo]]:
        """The indexed photos holding each content hash (a vector store's keys)."""
        found: dict[str, list[Photo]] = {}
        for start in range(0, len(hashes), 500):
            part = list(hashes[start:start + 500])
            for row in self.conn.execute(
                    f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE status = 'indexed' AND "
                    f"content_hash IN ({','.join('?' * len(part))}) ORDER BY path", part):
                photo = Photo(*row)
                found.setdefault(photo.content_hash or "", []).append(photo)
        return found

    def mark_pending(self, path: str, folder_id: int | None) -> int:
        """Record a photo that is waiting for the model; keeps an existing row's id."""
        self.conn.execute(
            "INSERT INTO photos(path, folder_id, status) VALUES (?, ?, 'pending') "
            "ON CONFLICT(path) DO UPDATE SET status = 'pending', reason = NULL, "
            "folder_id = excluded.folder_id",
            (path, folder_id),
        )
        return int(self.conn.execute("SELECT id FROM photos WHERE path = ?", (path,)).fetchone()[0])

    def save_indexed(self, path: str, folder_id: int | None, *, size: int, mtime: float,
                     content_hash: str, width: int | None, height: int | None,
                     taken_at: str | None, camera: str | None,
                     vector: np.ndarray, dhash: int | None = None,
                     ctime: float | None = None, inode: int | None = None) -> int:
        """Write one indexed photo and its vector; call inside a transaction."""
        self.conn.execute(
            "INSERT INTO photos(path, folder_id, size, mtime, content_hash, width, height, "
            "taken_at, camera, status, reason, indexed_at, dhash, ctime, inode) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'indexed', NULL, ?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET folder_id = excluded.folder_id, "
            "size = excluded.size, mtime = excluded.mtime, content_hash = excluded.content_hash, "
            "width = excluded.width, height = excluded.height, taken_at = excluded.taken_at, "
            "camera = excluded.camera, status = 'indexed', reason = NULL, "
            "indexed_at = excluded.indexed_at, dhash = excluded.dhash, "
            "ctime = excluded.ctime, inode = excluded.inode",
            (path, folder_id, size, mtime, content_hash, width, height, taken_at, camera,
             time.time(), dhash, ctime, inode),
        )
        photo_id = int(self.conn.execute(
            "SELECT id FROM photos WHERE path = ?", (path,)).fetchone()[0])
        self._write_vector(photo_id, vector)
        return photo_id

    def save_skipped(self, path: str, folder_id: int | None, *, size: int | None,
                     mtime: float | None, reason: str, ctime: float | None = None,
                     inode: int | None = None) -> None:
        self.conn.execute(
            "INSERT INTO photos(path, folder_id, size, mtime, status, reason, ctime, inode) "
            "VALUES (?, ?, ?, ?, 'skipped', ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET folder_id = excluded.folder_id, "
            "size = excluded.size, mtime = excluded.mtime, status = 'skipped', "
            "reason = excluded.reason, content_hash = NULL, ctime = excluded.ctime, "
            "inode = excluded.inode",
            (path, folder_id, size, mtime, reason, ctime, inode),
        )
        row = self.conn.execute("SELECT id FROM photos WHERE path = ?", (path,)).fetchone()
        self._delete_vectors([row[0]])

    def mark_indexed(self, photo_id: int, *, size: int, mtime: float,
                     ctime: float | None = None, inode: int | None = None) -> None:
        """A file touched but not changed: its vector and tags stay valid."""
        self.conn.execute(
            "UPDATE photos SET size = ?, mtime = ?, ctime = ?, inode = ?, status = 'indexed', "
            "reason = NULL WHERE id = ?", (size, mtime, ctime, inode, photo_id))

    def set_file_identity(self, stamps: Iterable[tuple[int, float, int]]) -> None:
        """(photo id, ctime, inode) for rows written before these were recorded."""
        self.conn.executemany("UPDATE photos SET ctime = ?, inode = ? WHERE id = ?",
                              [(ctime, inode, photo_id) for photo_id, ctime, inode in stamps])

    def move_photo(self, photo_id: int, new_path: str, folder_id: int | None, *,
                   size: int, mtime: float, ctime: float | None = None,
                   inode: int | None = None) -> None:
        """Give an indexed photo a new path, keeping its id, vector and tags."""
        # A photo renamed over another replaces it: drop the other's vector too.
        self._delete_vectors([r[0] for r in self.conn.execute(
            "SELECT id FROM photos WHERE path = ? AND id != ?", (new_path, photo_id))])
        self.conn.execute("DELETE FROM photos WHERE path = ? AND id != ?", (new_path, photo_id))
        self.conn.execute(
            "UPDATE photos SET path = ?, folder_id = ?, size = ?, mtime = ?, ctime = ?, "
            "inode = ? WHERE id = ?",
            (new_path, folder_id, size, mtime, ctime, inode, photo_id),
        )

    def remove_photos(self, paths: Iterable[str]) -> int:
        removed = 0
        for path in paths:
            row = self.conn.execute("SELECT id FROM photos WHERE path = ?", (path,)).fetchone()
            if row:
                self._delete_vectors([row[0]])
                self.conn.execute("DELETE FROM photos WHERE id = ?", (row[0],))
                removed += 1
        return removed

    def exclude_photos(self, paths: Iterable[str]) -> int:
        """Forget photos but keep their files: later scans pass them by, until
        `include_again`. Call inside a transaction. Returns the rows removed."""
        paths = list(paths)
        self.conn.executemany("INSERT OR IGNORE INTO excluded(path) VALUES (?)",
                              [(path,) for path in paths])
        return self.remove_photos(paths)

    def include_again(self, paths: Iterable[str]) -> int:
        """Undo `exclude_photos`: the next scan (or `Indexer.index_files`) indexes them."""
        removed = 0
        for path in paths:
            removed += self.conn.execute("DELETE FROM excluded WHERE path = ?",
                                         (path,)).rowcount
        return removed

    def excluded_paths(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT path FROM excluded ORDER BY path")]

    def indexed_photos(self, folder_path: str | None = None) -> list[tuple[int, str]]:
        """(id, path) of the indexed photos, newest taken first."""
        ids, paths = self.indexed_photo_columns(folder_path)
        return list(zip(ids, paths, strict=True))

    def indexed_photo_columns(self, folder_path: str | None = None
                              ) -> tuple[array[int], list[str]]:
        """Ids and paths of the indexed photos, newest taken first: the window's view when
        no query is typed. Two columns, not a row object per photo: a million objects kept
        alive made the collector's full passes hold the GIL, and so the window, for up to
        0.2 s each."""
        sql = "SELECT id, path FROM photos WHERE status = 'indexed'"
        args: tuple[object, ...] = ()
        if folder_path is not None:
            slash, backslash = folder_prefixes(folder_path)
            sql += " AND substr(path, 1, ?) IN (?, ?)"
            args = (len(slash), slash, backslash)
        sql += " ORDER BY taken_at IS NULL, taken_at DESC, path"
        ids: array[int] = array("q")
        paths: list[str] = []
        for photo_id, path in self.conn.execute(sql, args):
            ids.append(photo_id)
            paths.append(path)
        return ids, paths

    def folder_photo_counts(self) -> dict[int, int]:
        """Indexed photos per watched folder id."""
        return dict(self.conn.execute(
            "SELECT folder_id, count(*) FROM photos WHERE status = 'indexed' "
            "AND folder_id IS NOT NULL GROUP BY folder_id").fetchall())

    def status_counts(self) -> dict[str, int]:
        counts = {"indexed": 0, "skipped": 0, "pending": 0}
        for status, count in self.conn.execute(
            "SELECT status, count(*) FROM photos GROUP BY status"
        ):
            counts[status] = count
        return counts

    def skipped(self) -> list[tuple[str, str]]:
        return list(self.conn.execute(
            "SELECT path, reason FROM photos WHERE status = 'skipped' ORDER BY path"))

    # -- vectors ------------------------------------------------------------------------
    def _write_vector(self, photo_id: int, vector: np.ndarray) -> None:
        # A photo (re)embedded with the current model has no valid next-model vector: the
        # switch embeds it again, so the new set never holds a vector of older content.
        self._delete_next_vectors([photo_id])
        self.conn.execute("DELETE FROM photo_vectors WHERE photo_id = ?", (photo_id,))
        self.conn.execute(
            "INSERT INTO photo_vectors(photo_id, embedding) VALUES (?, ?)",
            (photo_id, serialize_float32(np.asarray(vector, dtype=np.float32))),
        )
        self._bump_generation()

    def _delete_next_vectors(self, ids: Sequence[int]) -> None:
        if ids and self._has_vec_table(NEXT_VECTORS):
            self.conn.executemany(f"DELETE FROM {NEXT_VECTORS} WHERE photo_id = ?",
                                  [(i,) for i in ids])

    def _delete_vectors(self, ids: Sequence[int]) -> None:
        self._delete_next_vectors(ids)
        if not ids or not self._has_vec_table():
            return
        for photo_id in ids:
            self.conn.execute("DELETE FROM photo_vectors WHERE photo_id = ?", (photo_id,))
        self._bump_generation()

    def vector(self, photo_id: int) -> np.ndarray | None:
        if not self._has_vec_table():
            return None
        row = self.conn.execute(
            "SELECT embedding FROM photo_vectors WHERE photo_id = ?", (photo_id,)
        ).fetchone()
        return np.frombuffer(row[0], dtype=np.float32).copy() if row else None

    def all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids, unit vectors) of every indexed photo, for the in-memory index.

        Read from sqlite-vec's chunk tables (`vectors_from_chunks`), the plain scan if their
        layout is not the expected one.
        """
        dim = self.dimension
        if not dim or not self._has_vec_table():
            return np.zeros(0, dtype=np.int64), np.zeros((0, dim or 0), dtype=np.float32)
        # Search and re-tagging share one copy until a vector changes (any process bumps
        # the generation), so a label edit re-tags without reading 300 MB again.
        generation = self.vectors_generation()
        if self._vectors_cache is not None and self._vectors_cache[0] == generation:
            return self._vectors_cache[1], self._vectors_cache[2]
        ids, matrix = self._read_all_vectors(dim)
        ids.setflags(write=False)
        matrix.setflags(write=False)
        self._vectors_cache = (generation, ids, matrix)
        return ids, matrix

    def shareable_vectors(self) -> tuple[int, np.ndarray, np.ndarray]:
        """(generation, ids, vectors) read in one snapshot, for another connection to adopt."""
        own_transaction = not self.conn.in_transaction
        if own_transaction:
            self.conn.execute("BEGIN")
        try:
            ids, matrix = self.all_vectors()
            generation = self._vectors_cache[0] if self._vectors_cache else -1
        finally:
            if own_transaction:
                self.conn.execute("COMMIT")
        return generation, ids, matrix

    def adopt_vectors(self, generation: int, ids: np.ndarray, matrix: np.ndarray) -> bool:
        """Take vectors another connection read, if no vector changed since."""
        if generation != self.vectors_generation():
            return False
        self._vectors_cache = (generation, ids, matrix)
        return True

    def _read_all_vectors(self, dim: int, table: str = "photo_vectors"
                          ) -> tuple[np.ndarray, np.ndarray]:
        try:
            ids, matrix = self.vectors_from_chunks(dim, table)
            count = self.conn.execute(f"SELECT count(*) FROM {table}_rowids").fetchone()[0]
            if len(ids) == count:
                return ids, matrix
            problem = f"{len(ids)} vectors in the chunks, {count} in the table"
        except Exception as exc:  # any other layout: the documented scan still works
            problem = repr(exc)
        log.warning("sqlite-vec's chunk tables are not laid out as expected (%s); reading "
                    "vectors row by row, about 20 times slower.", problem)
        rows = self.conn.execute(f"SELECT photo_id, embedding FROM {table}").fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        return ids, matrix.reshape(len(rows), dim).copy()

    def vectors_from_chunks(self, dim: int, table: str = "photo_vectors"
                            ) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids, vectors) read from sqlite-vec 0.1.9's private chunk tables.

        Chosen over the documented `SELECT photo_id, embedding FROM photo_vectors` because
        that scan re-reads a whole chunk for every row: on 100k x 768 vectors it took 19.9 s
        here against 1.0 s for this (lookups by photo_id were no faster). The price is a
        private layout, so pyproject pins sqlite-vec exactly and tests/test_db.py calls this
        directly: a release that changes the layout fails a test instead of going slow.
        """
        chunks = list(self._vec0_chunks(dim, table=table))
        # Filled chunk by chunk rather than concatenated: one 300 MB copy held the GIL, and
        # so the window, for 60 ms while this ran beside it during the model load.
        total = sum(len(ids) for ids, _, _ in chunks)
        all_ids = np.empty(total, dtype=np.int64)
        matrix = np.empty((total, dim), dtype=np.float32)
        position = 0
        for ids, chunk_vectors, valid in chunks:
            end = position + len(ids)
            all_ids[position:end] = ids
            np.compress(valid, chunk_vectors, axis=0, out=matrix[position:end])
            position = end
        return all_ids, matrix

    def _vec0_chunks(self, dim: int, every: int = 1, table: str = "photo_vectors"
                     ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(ids of valid rows, the chunk's vectors, validity) per vec0 chunk; `every` > 1
        reads one chunk in `every` (a sample, for training an index)."""
        for number, (chunk_id, size, validity, rowids) in enumerate(self.conn.execute(
            f"SELECT chunk_id, size, validity, rowids FROM {table}_chunks ORDER BY chunk_id"
        ).fetchall()):
            if number % every:
                continue
            vectors = self.conn.execute(
                f"SELECT vectors FROM {table}_vector_chunks00 WHERE rowid = ?", (chunk_id,)
            ).fetchone()[0]
            valid = np.unpackbits(np.frombuffer(validity, dtype=np.uint8),
                                  bitorder="little")[:size].astype(bool)
            chunk_ids = np.frombuffer(rowids, dtype=np.int64)[:size]
            chunk_vectors = np.frombuffer(vectors, dtype=np.float32).reshape(size, dim)
            yield chunk_ids[valid], chunk_vectors, valid

    def vector_batches(self, every: int = 1) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every vector as (ids, vectors) a vec0 chunk (1024 rows) at a time, without the
        whole matrix in memory (building an on-disk index of 1M photos); `every` > 1 gives
        a sample of whole chunks."""
        dim = self.dimension
        if not dim or not self._has_vec_table():
            return
        for ids, vectors, valid in self._vec0_chunks(dim, every):
            yield ids.copy(), vectors[valid]

    def vectors_of(self, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids found, vectors) of a few photos, through sqlite-vec's documented SQL."""
        dim = self.dimension or 0
        found: list[int] = []
        blobs: list[bytes] = []
        if dim and self._has_vec_table():
            wanted = [int(i) for i in ids]
            for start in range(0, len(wanted), 500):
                part = wanted[start:start + 500]
                for photo_id, blob in self.conn.execute(
                        "SELECT photo_id, embedding FROM photo_vectors WHERE photo_id IN "
                        f"({','.join('?' * len(part))})", part):
                    found.append(photo_id)
                    blobs.append(blob)
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(found), dim)
        return np.array(found, dtype=np.int64), matrix.copy()

    def vector_signatures(self) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids, a 32-bit checksum of each content hash) of the indexed photos: a
        vector changes only with its file's content (or the model, which drops them all),
        so an index kept elsewhere finds what to add, drop and rewrite from these alone."""
        # As bytes: the text converter (non-UTF-8 paths) costs 7 s a million rows.
        rows = self.conn.execute(
            "SELECT id, CAST(content_hash AS BLOB) FROM photos WHERE status = 'indexed'"
        ).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        sums = np.fromiter((zlib.crc32(r[1] or b"") for r in rows),
                           dtype=np.uint32, count=len(rows))
        return ids, sums

    def signatures_of(self, ids: Sequence[int]) -> dict[int, int]:
        """`vector_signatures` of a few indexed photos (a spot check of a saved index)."""
        wanted = [int(i) for i in ids]
        found: dict[int, int] = {}
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            found.update((r[0], zlib.crc32(r[1] or b"")) for r in self.conn.execute(
                "SELECT id, CAST(content_hash AS BLOB) FROM photos WHERE status = 'indexed' "
                f"AND id IN ({','.join('?' * len(part))})", part))
        return found

    def indexed_count(self) -> int:
        """Photos whose vector is stored (from the status index: milliseconds at 1M)."""
        return int(self.conn.execute(
            "SELECT count(*) FROM photos WHERE status = 'indexed'").fetchone()[0])

    def vector_count(self) -> int:
        if not self._has_vec_table():
            return 0
        return int(self.conn.execute("SELECT count(*) FROM photo_vectors_rowids").fetchone()[0])

    # -- labels and tags ----------------------------------------------------------------
    def labels(self) -> list[Label]:
        rows = self.conn.execute(
            "SELECT id, name, tag, template, threshold FROM labels ORDER BY tag, id")
        return [Label(*r) for r in rows]

    def label(self, name: str) -> Label | None:
        row = self.conn.execute(
            "SELECT id, name, tag, template, threshold FROM labels WHERE name = ?", (name,)
        ).fetchone()
        return Label(*row) if row else None

    def tag_for_name(self, name: str) -> str:
        """The tag a label name stands for (its synonym group), or the name itself."""
        label = self.label(name.strip())
        return label.tag if label is not None else name.strip()

    def add_label(self, name: str, tag: str | None = None, template: str | None = None,
                  threshold: float | None = None) -> Label:
        from photo_tagger.config import DEFAULT_TEMPLATE

        with self.transaction():
            self.conn.execute(
                "INSERT INTO labels(name, tag, template, threshold) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET tag = excluded.tag, "
                "template = excluded.template, threshold = excluded.threshold",
                (name, tag or name, template or DEFAULT_TEMPLATE, threshold),
            )
        label = self.label(name)
        assert label is not None
        return label

    def remove_label(self, name: str) -> bool:
        with self.transaction():
            cursor = self.conn.execute("DELETE FROM labels WHERE name = ?", (name,))
        return bool(cursor.rowcount > 0)

    def set_label_threshold(self, name: str, threshold: float | None) -> bool:
        with self.transaction():
            cursor = self.conn.execute(
                "UPDATE labels SET threshold = ? WHERE name = ?", (threshold, name))
        return bool(cursor.rowcount > 0)

    def tags_of(self, photo_id: int) -> list[Tag]:
        rows = self.conn.execute(
            "SELECT tag, score, source FROM tags WHERE photo_id = ? AND rejected = 0 "
            "ORDER BY score IS NULL, score DESC, tag", (photo_id,))
        return [Tag(*r) for r in rows]

    def tag_counts(self) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT t.tag, count(*) FROM tags t JOIN photos p ON p.id = t.photo_id "
            "WHERE t.rejected = 0 AND p.status = 'indexed' GROUP BY t.tag ORDER BY t.tag")
        return dict(rows.fetchall())

    def photo_ids_with_tags(self, tags: Sequence[str]) -> set[int]:
        result: set[int] | None = None
        for tag in tags:
            ids = {r[0] for r in self.conn.execute(
                "SELECT photo_id FROM tags WHERE tag = ? AND rejected = 0", (tag,))}
            result = ids if result is None else result & ids
        return result or set()

    def set_manual_tag(self, photo_id: int, tag: str, present: bool) -> None:
        """The user's decision on a tag; it always wins over automatic scores."""
        with self.transaction():
            self.conn.execute(
                "INSERT INTO tags(photo_id, tag, score, source, rejected) "
                "VALUES (?, ?, NULL, 'manual', ?) "
                "ON CONFLICT(photo_id, tag) DO UPDATE SET source = 'manual', "
                "rejected = excluded.rejected",
                (photo_id, tag, 0 if present else 1),
            )

    def replace_auto_tags(self, rows: Iterable[tuple[int, str, float]],
                          photo_ids: Sequence[int] | None = None,
                          learned: Collection[str] = ()) -> None:
        """Replace automatic tags (of `photo_ids`, or of all photos); manual rows stay.
        Rows of a tag in `learned` are written with source 'learned', the others 'auto'."""
        if photo_ids is None:
            self.conn.execute("DELETE FROM tags WHERE source IN ('auto', 'learned')")
        else:
            self.conn.executemany(
                "DELETE FROM tags WHERE source IN ('auto', 'learned') AND photo_id = ?",
                [(int(i),) for i in photo_ids])
        # A manual decision on the same (photo, tag) wins: keep it, only record the score.
        self.conn.executemany(
            "INSERT INTO tags(photo_id, tag, score, source) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(photo_id, tag) DO UPDATE SET score = excluded.score",
            ((int(p), t, float(s), "learned" if t in learned else "auto")
             for p, t, s in rows),
        )

    def replace_tag_rows(self, tag: str, rows: Iterable[tuple[int, float]]) -> None:
        """Replace one tag's automatic rows across the library by (photo, score) rows of
        source 'learned'; the user's own rows stay, with their score refreshed."""
        with self.transaction():
            self.conn.execute(
                "DELETE FROM tags WHERE tag = ? AND source IN ('auto', 'learned')", (tag,))
            self.conn.execute(
                "UPDATE tags SET score = NULL WHERE tag = ? AND source = 'manual'", (tag,))
            self.conn.executemany(
                "INSERT INTO tags(photo_id, tag, score, source) VALUES (?, ?, ?, 'learned') "
                "ON CONFLICT(photo_id, tag) DO UPDATE SET score = excluded.score",
                ((int(p), tag, float(s)) for p, s in rows))

    # -- learned tags (core/learning.py) --------------------------------------------------
    def manual_examples(self, tag: str) -> tuple[list[int], list[int]]:
        """(positive, negative) photo ids: the user's own decisions on `tag`."""
        positives: list[int] = []
        negatives: list[int] = []
        for photo_id, rejected in self.conn.execute(
                "SELECT photo_id, rejected FROM tags WHERE tag = ? AND source = 'manual' "
                "ORDER BY photo_id", (tag,)):
            (negatives if rejected else positives).append(photo_id)
        return positives, negatives

    def learned_tags(self) -> list[LearnedTag]:
        rows = self.conn.execute(
            "SELECT tag, threshold, model_id, weights, bias, examples, prior "
            "FROM learned_tags ORDER BY tag")
        return [LearnedTag(tag, threshold, model_id,
                           None if weights is None else np.frombuffer(weights, np.float32),
                           bias, examples, bool(prior))
                for tag, threshold, model_id, weights, bias, examples, prior in rows]

    def learned_tag(self, tag: str) -> LearnedTag | None:
        return next((t for t in self.learned_tags() if t.tag == tag), None)

    def set_learning(self, tag: str, on: bool, threshold: float | None = None) -> None:
        """Start (or stop: the classifier is forgotten, the examples stay) learning `tag`."""
        with self.transaction():
            if on:
                self.conn.execute(
                    "INSERT INTO learned_tags(tag, threshold) VALUES (?, ?) ON CONFLICT(tag) "
                    "DO UPDATE SET threshold = coalesce(excluded.threshold, threshold)",
                    (tag, threshold))
            else:
                self.conn.execute("DELETE FROM learned_tags WHERE tag = ?", (tag,))
                self.conn.execute(
                    "DELETE FROM tags WHERE tag = ? AND source = 'learned'", (tag,))
            self._bump_learned()

    def save_classifier(self, tag: str, model_id: str, weights: np.ndarray | None,
                        bias: float, examples: int, prior: bool) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE learned_tags SET model_id = ?, weights = ?, bias = ?, examples = ?, "
                "prior = ?, fitted_at = ? WHERE tag = ?",
                (model_id, None if weights is None
                 else np.asarray(weights, np.float32).tobytes(), float(bias), examples,
                 int(prior), time.time(), tag))
            self._bump_learned()

    def learned_version(self) -> int:
        """Bumped whenever a classifier changes, so cached label matrices reload."""
        return int(self.get_meta("learned_version") or 0)

    def _bump_learned(self) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES ('learned_version', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def quick_check(self) -> list[str]:
        """SQLite's `PRAGMA quick_check` over every page: the problems found, [] when the
        file is sound. Reads the whole file (seconds for a large library): for checks the
        user asked for, not for every open."""
        rows = [r[0] for r in self.conn.execute("PRAGMA quick_check(20)")]
        if rows == ["ok"]:
            return []
        lines = (line.strip() for row in rows for line in str(row).splitlines())
        return [line for line in lines if line and not line.startswith("***")]

    def db_size_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal", "-shm"):
            candidate = Path(str(self.path) + suffix)
            if candidate.exists():
                total += candidate.stat().st_size
        return total
