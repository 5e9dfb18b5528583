"""What the date, type and folder filters read, held in memory as arrays: one row per
indexed photo. Reading them through SQL for every query scanned `photos` and computed each
photo's date (270 ms at 100k photos); held, a filter is a comparison of arrays (< 1 ms).
They are read again only when a row of `photos` changed (`Library.photos_generation`,
kept by triggers, so changes made by other processes count too)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from photo_tagger.core.store import Library
from photo_tagger.paths import folder_prefixes

# A photo's date as sortable text, 'YYYY-MM-DD HH:MM:SS': the EXIF date taken
# ('2024:06:01 12:00:00', colons in the date) when it looks like one, else the file's
# modification time in local time.
PHOTO_DATE_SQL = (
    "CASE WHEN taken_at GLOB '[12][0-9][0-9][0-9][:-][01][0-9][:-][0-3][0-9]*' "
    "THEN replace(substr(taken_at, 1, 10), ':', '-') || substr(taken_at, 11) "
    "ELSE datetime(mtime, 'unixepoch', 'localtime') END")
# A photo's date as a number, YYYYMMDDHHMMSS (PHOTO_DATE_SQL's text without its
# separators); -1 when the photo has none.
_DATE_NUMBER_SQL = (
    "coalesce(CAST(substr(replace(replace(replace({date}, '-', ''), ' ', ''), ':', '') "
    "|| '00000000000000', 1, 14) AS INTEGER), -1)")


def sorted_positions(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of `ids`: its position in `sorted_ids`, and whether it is there (where it
    is not, the position is a valid one to index with, never read as a match)."""
    if not len(sorted_ids):
        return np.zeros(len(ids), dtype=np.int64), np.zeros(len(ids), dtype=bool)
    rows = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    held: np.ndarray = sorted_ids[rows] == ids
    return rows, held


def date_number(day: str) -> int:
    """'YYYY-MM-DD' (a date filter's bound) as the number its first second has."""
    return int(day.replace("-", "")[:8].ljust(8, "0")) * 1_000_000


@dataclass
class Facets:
    """Rows sorted by photo id: `dates` (see _DATE_NUMBER_SQL), `extensions` (an index into
    `extension_names`, lower-case with the dot), `directories` (an index into
    `directory_names`) and `path_order` (each photo's rank by path, for stable listings)."""

    generation: int
    ids: np.ndarray
    dates: np.ndarray
    extensions: np.ndarray
    extension_names: list[str]
    directories: np.ndarray
    directory_names: list[str]
    path_order: np.ndarray
    _last: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @classmethod
    def read(cls, library: Library) -> Facets:
        generation = library.photos_generation()
        rows = library.conn.execute(
            f"SELECT id, {_DATE_NUMBER_SQL.format(date=PHOTO_DATE_SQL)}, path FROM photos "
            "WHERE status = 'indexed' ORDER BY path").fetchall()
        extension_codes: dict[str, int] = {}
        directory_codes: dict[str, int] = {}
        count = len(rows)
        ids = np.empty(count, dtype=np.int64)
        dates = np.empty(count, dtype=np.int64)
        extensions = np.empty(count, dtype=np.int32)
        directories = np.empty(count, dtype=np.int32)
        for row, (pid, date, path) in enumerate(rows):
            directory, name = os.path.split(path.replace("\\", "/"))
            ids[row], dates[row] = pid, date
            extensions[row] = extension_codes.setdefault(
                os.path.splitext(name)[1].lower(), len(extension_codes))
            directories[row] = directory_codes.setdefault(directory, len(directory_codes))
        order = np.argsort(ids, kind="stable")
        return cls(generation, ids[order], dates[order], extensions[order],
                   list(extension_codes), directories[order], list(directory_codes),
                   order.astype(np.int64))  # rows were read by path: a row's rank is its path's

    def positions(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each of `ids`: its row here, and whether it has one. The answer for the
        last array asked about is kept: search asks about the same index ids each query."""
        if self._last is not None and self._last[0] is ids:
            return self._last[1], self._last[2]
        rows, held = sorted_positions(self.ids, ids)
        rows.flags.writeable = held.flags.writeable = False  # shared with later callers
        self._last = (ids, rows, held)
        return rows, held

    def in_dates(self, start: str | None, end: str | None) -> np.ndarray:
        """Rows whose date lies in [start, end) (ISO days); a photo without one never does."""
        keep = self.dates >= 0
        if start is not None:
            keep &= self.dates >= date_number(start)
        if end is not None:
            keep &= self.dates < date_number(end)
        return keep

    def with_extensions(self, extensions: set[str]) -> np.ndarray:
        codes = [code for code, name in enumerate(self.extension_names) if name in extensions]
        return np.isin(self.extensions, codes)

    def in_folder(self, folder: str) -> np.ndarray:
        """Rows of photos inside `folder` (at any depth), by either separator."""
        slash, _ = folder_prefixes(folder.replace("\\", "/"))
        codes = [code for code, name in enumerate(self.directory_names)
                 if name + "/" == slash or name.startswith(slash)]
        return np.isin(self.directories, codes)
