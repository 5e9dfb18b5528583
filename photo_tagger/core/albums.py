"""Saved searches ("smart albums"): named queries stored in the library. An album holds
its query, not its photos, so its count follows the library as photos are indexed; its
phrases' text vectors are pinned in the query cache, so counting needs no model."""

from __future__ import annotations

from dataclasses import dataclass

from photo_tagger.core.query import QueryError, parse_query
from photo_tagger.core.store import Library


@dataclass(frozen=True)
class Album:
    name: str
    query: str


def save_album(library: Library, name: str, query: str) -> Album:
    """Save (or replace) the album `name`. Raises `QueryError` for an empty name or a
    query that cannot be read. Call `Searcher.texts.vectors(phrases, pin=True)` too, so
    its phrases are embedded once (the CLI and `save_search` below do)."""
    name = name.strip()
    if not name:
        raise QueryError("An album needs a name.")
    parse_query(query)  # refuse what search would refuse, now rather than at each count
    with library.transaction():
        library.conn.execute(
            "INSERT INTO albums(name, query) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET query = excluded.query", (name, query.strip()))
    return Album(name, query.strip())


def albums(library: Library) -> list[Album]:
    return [Album(r[0], r[1]) for r in library.conn.execute(
        "SELECT name, query FROM albums ORDER BY name COLLATE NOCASE, name")]


def album_query(library: Library, name: str) -> str | None:
    row = library.conn.execute("SELECT query FROM albums WHERE name = ?",
                               (name.strip(),)).fetchone()
    return row[0] if row else None


def remove_album(library: Library, name: str) -> bool:
    with library.transaction():
        cursor = library.conn.execute("DELETE FROM albums WHERE name = ?", (name.strip(),))
    return bool(cursor.rowcount > 0)
