"""Opening the library database: SQLite with sqlite-vec, WAL, and numbered migrations."""

from __future__ import annotations

import contextlib
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
]

SCHEMA_VERSION = len(MIGRATIONS)


def _migrate(conn: Any, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise DatabaseError(
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


def connect(path: Path) -> Any:
    """Open (creating if needed) the library at `path` with sqlite-vec loaded.

    One connection per thread: callers never share a connection across threads.
    """
    module = sqlite_module()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = module.connect(str(path), timeout=30, isolation_level=None,
                              check_same_thread=True)
    except module.Error as exc:
        raise DatabaseError(f"Cannot open the library {path}: {exc}") from exc
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
        raise DatabaseError(f"The library {path} is not a photo-tagger database: {exc}") from exc
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
            conn.execute("ROLLBACK TO nested")
            conn.execute("RELEASE nested")
            raise
        conn.execute("RELEASE nested")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
