"""Which photos a query's filters allow, before any ranking: tags (all of them), excluded
tags, folders, dates, file types, and near-duplicates. Tags through SQL over `tags`; dates,
types and folders from the arrays of facets.py; a vector check for `is:duplicate`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from photo_tagger.config import duplicate_threshold
from photo_tagger.core.facets import PHOTO_DATE_SQL, Facets
from photo_tagger.core.query import TYPE_EXTENSIONS, SearchQuery, format_tag_filter
from photo_tagger.core.store import Library

# Perceptual-hash bits (of 64) by which two near-duplicates may differ.
DUPLICATE_HASH_DISTANCE = 10


def resolved_tags(library: Library, names: list[str]) -> list[str]:
    """A synonym stands for its group: tag:Hund finds the photos tagged "dog"."""
    return [library.tag_for_name(name) for name in names]


def has_filters(query: SearchQuery) -> bool:
    """Whether anything but text and `is:duplicate` restricts the candidates."""
    return bool(query.tags or query.not_tags or query.folders or query.dates or query.types)


def allowed_mask(library: Library, query: SearchQuery, ids: np.ndarray,
                 facets: Callable[[], Facets]) -> np.ndarray | None:
    """For each of `ids`, whether that photo is indexed and passes every filter except
    `is:duplicate`; None when the query has none of them (every photo passes). Tags are
    read through the tags index; dates, types and folders from `facets()` (held in
    memory, see facets.py)."""
    if not has_filters(query):
        return None
    held = facets()
    rows, present = held.positions(ids)
    mask = present.copy()  # `present` is kept by the facets for the next query
    keep = np.ones(len(held.ids), dtype=bool)
    for folder in query.folders:
        resolved = str(Path(folder).expanduser().resolve())
        inside = held.in_folder(resolved)
        the_file = [r[0] for r in library.conn.execute(
            "SELECT id FROM photos WHERE path = ?", (resolved,))]
        keep &= inside | np.isin(held.ids, the_file)
    for dates in query.dates:
        keep &= held.in_dates(dates.start, dates.end)
    if query.types:
        keep &= held.with_extensions({e for kind in query.types
                                      for e in TYPE_EXTENSIONS[kind]})
    mask &= keep[rows]
    for tag in resolved_tags(library, query.tags):
        mask &= np.isin(ids, _tagged(library, tag))
    for tag in resolved_tags(library, query.not_tags):
        mask &= ~np.isin(ids, _tagged(library, tag))
    return mask


def _tagged(library: Library, tag: str) -> np.ndarray:
    """Ids of the photos carrying `tag` (not rejected by the user)."""
    # One text of ids rather than a row each: 2 ms for 25k photos instead of 12.
    text = library.conn.execute(
        "SELECT group_concat(photo_id) FROM tags WHERE tag = ? AND rejected = 0",
        (tag,)).fetchone()[0]
    return np.fromstring(text, dtype=np.int64, sep=",") if text else np.zeros(0, np.int64)


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
