"""Which photos a query's filters allow, before any ranking: tags (all of them), excluded
tags, folders, dates, file types, and near-duplicates. Plain SQL over `photos` and `tags`,
plus a vector check for `is:duplicate`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from photo_tagger.config import duplicate_threshold
from photo_tagger.core.query import TYPE_EXTENSIONS, SearchQuery, format_tag_filter
from photo_tagger.core.store import Library
from photo_tagger.paths import folder_prefixes

# Perceptual-hash bits (of 64) by which two near-duplicates may differ.
DUPLICATE_HASH_DISTANCE = 10
# A photo's date as sortable text, 'YYYY-MM-DD HH:MM:SS': the EXIF date taken
# ('2024:06:01 12:00:00', colons in the date) when it looks like one, else the file's
# modification time in local time.
PHOTO_DATE_SQL = (
    "CASE WHEN taken_at GLOB '[12][0-9][0-9][0-9][:-][01][0-9][:-][0-3][0-9]*' "
    "THEN replace(substr(taken_at, 1, 10), ':', '-') || substr(taken_at, 11) "
    "ELSE datetime(mtime, 'unixepoch', 'localtime') END")


def resolved_tags(library: Library, names: list[str]) -> list[str]:
    """A synonym stands for its group: tag:Hund finds the photos tagged "dog"."""
    return [library.tag_for_name(name) for name in names]


def allowed_ids(library: Library, query: SearchQuery) -> set[int] | None:
    """Indexed photos that pass every filter except `is:duplicate`; None when the query
    has none of them (every photo passes)."""
    clauses: list[str] = []
    args: list[object] = []
    for tag in resolved_tags(library, query.tags):
        clauses.append("id IN (SELECT photo_id FROM tags WHERE tag = ? AND rejected = 0)")
        args.append(tag)
    for tag in resolved_tags(library, query.not_tags):
        clauses.append("id NOT IN (SELECT photo_id FROM tags WHERE tag = ? AND rejected = 0)")
        args.append(tag)
    for folder in query.folders:
        slash, backslash = folder_prefixes(str(Path(folder).expanduser().resolve()))
        clauses.append("(path = ? OR substr(path, 1, ?) IN (?, ?))")
        args += [slash[:-1], len(slash), slash, backslash]
    for dates in query.dates:
        if dates.start is not None:
            clauses.append(f"{PHOTO_DATE_SQL} >= ?")
            args.append(dates.start)
        if dates.end is not None:
            clauses.append(f"{PHOTO_DATE_SQL} < ?")
            args.append(dates.end)
    if query.types:
        extensions = sorted({e for kind in query.types for e in TYPE_EXTENSIONS[kind]})
        clauses.append("(" + " OR ".join("lower(path) LIKE ?" for _ in extensions) + ")")
        args += [f"%{e}" for e in extensions]
    if not clauses:
        return None
    sql = "SELECT id FROM photos WHERE status = 'indexed' AND " + " AND ".join(clauses)
    return {r[0] for r in library.conn.execute(sql, args)}


def photo_dates(library: Library, ids: list[int]) -> dict[int, str]:
    """Each photo's date ('YYYY-MM-DD HH:MM:SS', see PHOTO_DATE_SQL); '' when unknown."""
    dates: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = library.conn.execute(
            f"SELECT id, {PHOTO_DATE_SQL} FROM photos WHERE id IN "
            f"({','.join('?' * len(chunk))})", chunk)
        dates.update((r[0], r[1] or "") for r in rows)
    return dates


def indexed_by_date(library: Library, allowed: set[int] | None) -> list[tuple[int, str]]:
    """(id, path) of the indexed photos newest first: a query made only of filters."""
    rows = library.conn.execute(
        f"SELECT id, path FROM photos WHERE status = 'indexed' "
        f"ORDER BY {PHOTO_DATE_SQL} IS NULL, {PHOTO_DATE_SQL} DESC, path").fetchall()
    return [(r[0], r[1]) for r in rows if allowed is None or r[0] in allowed]


def duplicate_ids(library: Library, ids: np.ndarray, matrix: np.ndarray,
                  positions: np.ndarray, chunk: int = 1024) -> set[int]:
    """The photos at `positions` (rows of `matrix`) that have a near-duplicate anywhere
    in the library: the `duplicates` pair rule (cosine ≥ the model kind's
    `duplicate_threshold`, the same default the duplicates view uses, and perceptual
    hashes within DUPLICATE_HASH_DISTANCE bits, either hash unknown counting as agreeing).
    Cost: len(positions) × library dot products."""
    hashes = dict(library.conn.execute(
        "SELECT id, dhash FROM photos WHERE status = 'indexed'").fetchall())
    # -1 marks an unknown hash; hashes are stored as signed 64-bit integers.
    known = np.array([hashes.get(int(i)) is not None for i in ids])
    bits = np.array([(hashes.get(int(i)) or 0) & 0xFFFFFFFFFFFFFFFF for i in ids],
                    dtype=np.uint64)
    threshold = duplicate_threshold(library.model_id)
    found: set[int] = set()
    for start in range(0, len(positions), chunk):
        rows_at = positions[start:start + chunk]
        block = matrix[rows_at] @ matrix.T
        rows, cols = np.nonzero(block >= threshold)
        pairs = rows_at[rows] != cols  # a photo is not its own duplicate
        rows, cols = rows[pairs], cols[pairs]
        left = rows_at[rows]
        close = np.bitwise_count(bits[left] ^ bits[cols]) <= DUPLICATE_HASH_DISTANCE
        agree = close | ~known[left] | ~known[cols]
        found.update(int(i) for i in ids[left[agree]])
    return found


def describe(query: SearchQuery) -> list[str]:
    """The query's filters as typed, for explanations ("the filters it passed")."""
    parts = [format_tag_filter(t) for t in query.tags]
    parts += ["-" + format_tag_filter(t) for t in query.not_tags]
    parts += [f'folder:"{f}"' if " " in f else f"folder:{f}" for f in query.folders]
    parts += [d.text for d in query.dates]
    parts += [f"type:{t}" for t in query.types]
    if query.duplicate:
        parts.append("is:duplicate")
    return parts
