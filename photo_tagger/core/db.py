"""Opening the library database: SQLite with sqlite-vec, WAL, and numbered migrations."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlite_vec


class DatabaseError(Exception):
    """A known problem with the library file, shown to the user as a message."""


def is_damaged(exc: BaseException) -> bool:
    """True for SQLite's "malformed" and "not a database" errors: the file itself is
    damaged, so no later statement on it can succeed either."""
    return getattr(exc, "sqlite_errorname", None) in ("SQLITE_CORRUPT", "SQLITE_NOTADB")


class LibraryNotWritable(DatabaseError):
    """The library file, its working files or its folder cannot be written (permissions,
    owner, a read-only disk)."""


class LibraryDamaged(DatabaseError):
    """The library file is corrupted, or is not a photo-tagger database at all."""


class DiskFull(DatabaseError):
    """The disk holding the library is full: the last change was not saved."""


class LibraryTooNew(DatabaseError):
    """The library was written by a newer photo-tagger."""


# SQLite's primary result codes (the low byte of an extended code) that are the user's
# environment, not a bug: https://sqlite.org/rescode.html
_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_IOERR = 3, 8, 10
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 11, 13, 14, 26

# What the library holds, and what is safe: said wherever a damaged library is reported.
DAMAGED_ADVICE = (
    "Your photos are safe: photo-tagger only reads them. The library file holds the index, "
    "the vectors, your labels and the tags you set by hand. To recover, close photo-tagger "
    "and put back a backup copy of the library file. Without a backup, rename or move the "
    "damaged file (keep it: a repair tool may still save your hand-set tags); photo-tagger "
    "then starts a new library in its place, and indexing your folders again finds every "
    "photo and its automatic tags."
)


def _permission_advice(path: Path) -> str:
    return (
        f"photo-tagger writes to the library file and keeps two working files beside it "
        f"({path.name}-wal and {path.name}-shm), so it needs to read and write the file and "
        f"to create files in its folder {path.parent}. Give your user that permission (files "
        "created by another user or with sudo: change their owner back to you), or keep the "
        "library on a disk that is not read-only."
    )


def known_error(exc: BaseException | None, path: Path) -> DatabaseError | None:
    """The known problem behind a raw SQLite error, as a `DatabaseError` that says what is
    wrong with the library at `path` and how to fix it; None for other errors (bugs)."""
    if isinstance(exc, DatabaseError):
        return exc
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(exc, sqlite_module().Error) or code is None:
        return None
    primary = code & 0xFF
    if primary == _SQLITE_CORRUPT:
        return LibraryDamaged(f"The library {path} is damaged ({exc}). {DAMAGED_ADVICE}")
    if primary == _SQLITE_NOTADB:
        return LibraryDamaged(
            f"The library {path} is not a photo-tagger database, or its first page is "
            f"damaged ({exc}). {DAMAGED_ADVICE}")
    if primary == _SQLITE_FULL:
        return DiskFull(
            f"The disk holding the library {path} is full ({exc}). The last change was not "
            "saved and nothing before it was lost. Free some space on that disk, then try "
            "again.")
    if primary in (_SQLITE_READONLY, _SQLITE_PERM):
        return LibraryNotWritable(
            f"The library {path} cannot be written ({exc}). {_permission_advice(path)}")
    if primary == _SQLITE_CANTOPEN:
        return LibraryNotWritable(
            f"The library {path} cannot be opened ({exc}). {_permission_advice(path)}")
    if primary == _SQLITE_IOERR:
        return DatabaseError(
            f"The library {path} could not be read or written: the disk reported an error "
            f"({exc}). Check that the disk is still connected and has free space, then try "
            "again.")
    return None


def _check_access(path: Path) -> None:
    """Refuse a library that cannot be written before SQLite tries: it would open it
    read-only and fail later, or call it 'not a database' when the folder is read-only."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFull(f"Cannot create the library folder {folder}: the disk is full. "
                           "Free some space on that disk, then try again.") from exc
        raise LibraryNotWritable(
            f"Cannot create the library folder {folder} ({exc.strerror or exc}). "
            f"{_permission_advice(path)}") from exc
    blocked = [] if os.access(folder, os.W_OK | os.X_OK) else [f"the folder {folder}"]
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if os.path.exists(file) and not os.access(file, os.R_OK | os.W_OK):
            blocked.append(f"the file {file.name}")
    if blocked:
        raise LibraryNotWritable(
            f"The library {path} cannot be written: {' and '.join(blocked)} "
            f"{'is' if len(blocked) == 1 else 'are'} read-only for this user. "
            f"{_permission_advice(path)} Nothing was changed.")


def _stdlib_can_load_extensions() -> bool:
    return hasattr(sqlite3.Connection, "enable_load_extension")


def sqlite_module() -> Any:
    """The DB-API module to use: Python's own `sqlite3`, or `sqlean` where it cannot load
    extensions (pyenv builds, python.org's macOS builds)."""
    if _stdlib_can_load_extensions():
        return sqlite3
    import sqlean

    return sqlean


def sqlite_backend_name() -> str:
    module = sqlite_module()
    return f"{module.__name__} (SQLite {module.sqlite_version})"


MIGRATIONS: list[str] = [
    # 1: the first schema. Vectors live in `photo_vectors`, created when the model is known.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE folders (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        auto_tag INTEGER NOT NULL DEFAULT 1,
        polling INTEGER NOT NULL DEFAULT 0,
        added_at REAL NOT NULL DEFAULT (unixepoch('subsec'))
    );
    CREATE TABLE photos (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        folder_id INTEGER REFERENCES folders(id) ON DELETE CASCADE,
        size INTEGER,
        mtime REAL,
        content_hash TEXT,
        width INTEGER,
        height INTEGER,
        taken_at TEXT,
        camera TEXT,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'indexed', 'skipped')),
        reason TEXT,
        indexed_at REAL
    );
    CREATE INDEX photos_by_hash ON photos(content_hash);
    CREATE INDEX photos_by_folder ON photos(folder_id);
    CREATE INDEX photos_by_status ON photos(status);
    CREATE TABLE labels (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        tag TEXT NOT NULL,
        template TEXT NOT NULL DEFAULT 'this is a photo of {label}.',
        threshold REAL,
        vector BLOB,
        vector_model TEXT
    );
    CREATE INDEX labels_by_tag ON labels(tag);
    CREATE TABLE folder_labels (
        folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        PRIMARY KEY (folder_id, tag)
    );
    CREATE TABLE tags (
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        score REAL,
        source TEXT NOT NULL CHECK (source IN ('auto', 'manual')),
        rejected INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (photo_id, tag)
    );
    CREATE INDEX tags_by_tag ON tags(tag);
    """,
    # 2: a perceptual hash per photo, so near-duplicates are confirmed by their pixels.
    """
    ALTER TABLE photos ADD COLUMN dhash INTEGER;
    """,
    # 3: change detection also compares ctime and inode: a file replaced with the same size
    # and mtime (`cp --preserve=timestamps`) changes them. NULL on older rows: filled in by
    # the next scan, so an upgrade re-reads nothing.
    """
    ALTER TABLE photos ADD COLUMN ctime REAL;
    ALTER TABLE photos ADD COLUMN inode INTEGER;
    """,
    # 4: photos the user removed from the library but kept on disk: scans pass them by
    # until the user takes them back.
    """
    CREATE TABLE excluded (
        path TEXT PRIMARY KEY,
        excluded_at REAL NOT NULL DEFAULT (unixepoch('subsec'))
    );
    """,
    # 5: search. Query phrases' text vectors per model, so a repeated query or a saved
    # search needs no model (and no torch import); `pinned` rows belong to saved searches
    # and are never pruned. Saved searches (smart albums) by name.
    """
    CREATE TABLE query_vectors (
        model_id TEXT NOT NULL,
        text TEXT NOT NULL,
        vector BLOB NOT NULL,
        pinned INTEGER NOT NULL DEFAULT 0,
        added_at REAL NOT NULL DEFAULT (unixepoch('subsec')),
        PRIMARY KEY (model_id, text)
    );
    CREATE TABLE albums (
        name TEXT PRIMARY KEY,
        query TEXT NOT NULL,
        created_at REAL NOT NULL DEFAULT (unixepoch('subsec'))
    );
    """,
    # 6: tags that learn from the user's corrections (core/learning.py): a third tag source,
    # 'learned', so the tags table is rebuilt with the wider CHECK (SQLite cannot alter a
    # CHECK), and one classifier per learning tag, fitted on one model's vectors.
    """
    CREATE TABLE tags_rebuilt (
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        score REAL,
        source TEXT NOT NULL CHECK (source IN ('auto', 'manual', 'learned')),
        rejected INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (photo_id, tag)
    );
    INSERT INTO tags_rebuilt(photo_id, tag, score, source, rejected)
        SELECT photo_id, tag, score, source, rejected FROM tags;
    DROP TABLE tags;
    ALTER TABLE tags_rebuilt RENAME TO tags;
    CREATE INDEX tags_by_tag ON tags(tag);
    CREATE TABLE learned_tags (
        tag TEXT PRIMARY KEY,
        threshold REAL,
        model_id TEXT,
        weights BLOB,
        bias REAL,
        examples INTEGER NOT NULL DEFAULT 0,
        prior INTEGER NOT NULL DEFAULT 0,
        fitted_at REAL
    );
    """,
    # 7: a count that moves whenever a photo row is added, removed, moved, indexed or
    # re-dated, by any process: search keeps the date, type and folder of every photo in
    # memory (core/facets.py) and reads them again only when it moved. The tag index
    # covers what a tag filter reads, so it never visits the table (12 ms → 2 ms for 25k
    # tagged photos).
    """
    CREATE INDEX tags_by_tag_covering ON tags(tag, rejected, photo_id);
    DROP INDEX tags_by_tag;
    INSERT OR IGNORE INTO meta(key, value) VALUES ('photos_generation', '0');
    CREATE TRIGGER photos_added AFTER INSERT ON photos BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'photos_generation';
    END;
    CREATE TRIGGER photos_removed AFTER DELETE ON photos BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'photos_generation';
    END;
    CREATE TRIGGER photos_changed AFTER UPDATE OF path, status, taken_at, mtime ON photos
    BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'photos_generation';
    END;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def _migrate(conn: Any, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise LibraryTooNew(
            f"The library {path} was written by a newer photo-tagger (schema {version}, this "
            f"version knows {SCHEMA_VERSION}). Update photo-tagger to open it."
        )
    for number in range(version, SCHEMA_VERSION):
        # Each migration and its version bump commit together, so a crash never half-applies.
        # The version is read again under the write lock: two connections opening a new
        # library at once (the indexing service and the window) must not both migrate it.
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] <= number:
                for statement in _statements(MIGRATIONS[number]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (`execute` runs one at a time)."""
    complete = sqlite_module().complete_statement
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if complete(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return [s for s in statements if s.rstrip(";").strip()]


def _enable_wal(conn: Any, module: Any) -> None:
    """Switch to WAL. The switch needs the file to itself and SQLite does not wait for it
    (no busy handler), so two connections opening a new library at once retry briefly."""
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
        return  # already WAL (every library after its first open): nothing to lock
    deadline = time.monotonic() + 10
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except module.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


# File names that are not UTF-8 (old Samba shares, camera cards: `caf\xe9.jpg`) reach
# Python as lone surrogates (os.fsdecode's surrogateescape), which SQLite text cannot hold.
# Each such surrogate U+DC80..U+DCFF is stored as the private-use code point U+10FF80..
# U+10FFFF (plane 16, used by no file name) and turned back when read. Char for char, so
# prefix queries still work, and every path round-trips to the same bytes on disk.
_SURROGATE_TO_PRIVATE = {0xDC00 + b: 0x10FF00 + b for b in range(0x80, 0x100)}
_PRIVATE_TO_SURROGATE = {v: k for k, v in _SURROGATE_TO_PRIVATE.items()}
_PRIVATE_UTF8_LEAD = "\U0010ff80".encode()[:2]  # the first two bytes of all 128 of them


def text_to_db(text: str) -> str:
    """Every str bound to SQL passes here (a sqlite3 adapter): most cost one isascii()."""
    if text.isascii():
        return text
    try:
        text.encode()
        return text
    except UnicodeEncodeError:
        return text.translate(_SURROGATE_TO_PRIVATE)


def text_from_db(data: bytes) -> str:
    """Every text value read back (the connections' text_factory)."""
    text = data.decode()
    return text.translate(_PRIVATE_TO_SURROGATE) if _PRIVATE_UTF8_LEAD in data else text


def connect(path: Path) -> Any:
    """Open (creating if needed) the library at `path` with sqlite-vec loaded.

    One connection per thread: callers never share a connection across threads. Raises a
    `DatabaseError` (a subclass for the known kinds) that says what is wrong and what to do.
    """
    module = sqlite_module()
    _check_access(path)
    try:
        conn = module.connect(str(path), timeout=30, isolation_level=None,
                              check_same_thread=True)
    except module.Error as exc:
        raise known_error(exc, path) or DatabaseError(
            f"Cannot open the library {path}: {exc}") from exc
    module.register_adapter(str, text_to_db)  # a no-op after the first connection
    conn.text_factory = text_from_db
    try:
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
    except (AttributeError, module.Error) as exc:
        conn.close()
        raise DatabaseError(f"Cannot load the sqlite-vec extension: {exc}") from exc
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        _enable_wal(conn, module)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        _migrate(conn, path)
    except module.DatabaseError as exc:
        conn.close()
        raise known_error(exc, path) or DatabaseError(
            f"The library {path} is not a photo-tagger database ({exc}). Point photo-tagger "
            "at another library folder; this file was not changed.") from exc
    except DatabaseError:
        conn.close()
        raise
    return conn


@contextlib.contextmanager
def transaction(conn: Any) -> Iterator[Any]:
    """A short write transaction; nests as a savepoint when one is already open."""
    if conn.in_transaction:
        conn.execute("SAVEPOINT nested")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:  # SQLite rolls back by itself on a full disk or I/O error
                conn.execute("ROLLBACK TO nested")
                conn.execute("RELEASE nested")
            raise
        conn.execute("RELEASE nested")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # ROLLBACK of an ended transaction would hide the error
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
