"""What the window lists: the query for its search text, folder, tag or photo to match, which
answer is still wanted, and the words around the grid. No Qt here: the window asks this and
sends the query it gets to the service."""

from __future__ import annotations

import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from photo_tagger.config import SEARCH_LIMIT
from photo_tagger.core import albums
from photo_tagger.core.query import QueryError
from photo_tagger.core.search import Explanation, SearchAnswer, Searcher, SearchResult
from photo_tagger.core.store import Folder, Library
from photo_tagger.core.textcache import ModelNeeded


def plural(count: int, word: str, words: str | None = None) -> str:
    """"1 photo", "2 photos", "1,200 photos": the one way the window counts things."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


@dataclass(frozen=True)
class Filters:
    """What the user chose: the search box's text, the sidebar's folder and tag."""

    text: str = ""
    folder: str | None = None
    tag: str | None = None
    sort: str = "relevance"  # the window's sort control: the same as typing `sort:date`

    @property
    def query(self) -> str:
        """The text to search: the box's, with the sort control's `sort:date` unless the
        text says how to sort."""
        text = self.text.strip()
        if self.sort != "relevance" and text and "sort:" not in text.lower():
            text += f" sort:{self.sort}"
        return text


class PhotoRows(Sequence[SearchResult]):
    """A listing's rows as two columns, each row's `SearchResult` made when it is asked for
    (the grid asks only for the rows it paints). A million result objects kept alive made
    each of the collector's full passes, on whichever thread, hold the window for up to
    0.2 s; strings and an int array are not scanned at all."""

    def __init__(self, ids: array[int], paths: list[str]) -> None:
        self.ids = ids
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, index: int) -> SearchResult: ...
    @overload
    def __getitem__(self, index: slice) -> list[SearchResult]: ...

    def __getitem__(self, index: int | slice) -> SearchResult | list[SearchResult]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return SearchResult(self.ids[index], self.paths[index], 1.0)


@dataclass(frozen=True)
class Listing:
    """No query: every indexed photo (of a folder), newest first; read without the model."""

    request: int
    folder: str | None

    def run(self, library: Library) -> PhotoRows:
        """Runs on the reading thread."""
        return PhotoRows(*library.indexed_photo_columns(self.folder))


@dataclass(frozen=True)
class TextSearch:
    """A typed query and/or a tag, ranked by the model, within a folder."""

    request: int
    text: str
    folder: str | None
    tags: list[str] | None
    limit: int
    everything: bool = False  # the whole ranking ("Show 1,203 weaker matches")


@dataclass(frozen=True)
class SimilarSearch:
    """Photos like a library photo (its id) or like an image file (its path)."""

    request: int
    target: int | Path
    limit: int


Query = Listing | TextSearch | SimilarSearch


@dataclass(frozen=True)
class Answer:
    """A query's results as the grid should show them."""

    results: Sequence[SearchResult]  # a search's list, or a listing's `PhotoRows`
    keep_place: bool  # a refresh while indexing: the user's place stays where it was
    error: str | None  # for the status bar; the grid then shows nothing
    found: SearchAnswer | None = None  # a search's counts: matches, weaker, cutoff


@dataclass(frozen=True)
class SidebarCounts:
    """What the sidebar and the status bar's count show, counted on the reading thread."""

    folders: list[Folder]
    folder_counts: dict[int, int]
    status: dict[str, int]  # indexed, pending, skipped
    tags: list[tuple[str, int]]  # most used first, then by name (within `folder`, if set)
    folder: str | None = None  # the folder the tag counts are for; None: the whole library
    all_tags: list[str] | None = None  # every tag in use, when `tags` is for one folder

    @classmethod
    def read(cls, library: Library, folder: str | None = None) -> SidebarCounts:
        """GROUP BYs over the whole library: run on the reading thread, never the window's.
        With `folder`, the tag counts are those of its photos: the list beside the grid
        counts what the grid can show."""
        tag_counts = library.tag_counts()
        all_tags = sorted(tag_counts)
        if folder is not None:
            in_folder = set(library.indexed_photo_columns(folder)[0])
            tag_counts = {tag: count for tag in all_tags
                          if (count := len(library.photo_ids_with_tags([tag]) & in_folder))}
        tags = sorted(tag_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls(library.folders(), library.folder_photo_counts(), library.status_counts(),
                   tags, folder, all_tags)

    @property
    def known_tags(self) -> list[str]:
        """Every tag in use, by name: what the tag fields offer to complete."""
        if self.all_tags is not None:
            return list(self.all_tags)
        return sorted(tag for tag, _ in self.tags)

    @property
    def skipped_text(self) -> str:
        """"3 skipped", or "" when nothing was skipped."""
        skipped = self.status["skipped"]
        return f"{skipped:,} skipped" if skipped else ""

    def summary(self, *, with_skipped: bool = True) -> str:
        """The status bar's count: "1,234 photos · 5 waiting · 2 skipped"."""
        parts = [plural(self.status["indexed"], "photo")]
        if self.status["pending"]:
            parts.append(f"{self.status['pending']:,} waiting")
        if with_skipped and self.skipped_text:
            parts.append(self.skipped_text)
        return " · ".join(parts)


STATE_TEXT = {
    "loading-model": "Loading the model…",
    "scanning": "Looking for new and changed photos…",
    "indexing": "Indexing",
    "idle": "Up to date",
    "paused": "Paused",
    "pausing": "Pausing after this batch…",
    "stopped": "Stopped",
}


def state_text(state: str, *, pending: int, model_error: str | None) -> str:
    """The status bar's words for the service's state: never "Up to date" while photos
    wait, and never "indexing" while nothing can be (no model yet, or none at all)."""
    waiting = plural(pending, "photo")
    if model_error is not None and state in ("idle", "stopped", "loading-model"):
        if pending:
            return f"No model: {waiting} to index once one is chosen"
        return "No model: choose one to search and tag photos"
    if state == "loading-model" and pending:
        return f"Waiting for the model: {waiting} to index"
    if state == "idle" and pending:
        return f"{waiting} waiting to be indexed"
    return STATE_TEXT.get(state, state)


class BrowseController:
    """Turns the user's filters into queries and decides which answers still count.

    Every query gets a new request number; an answer for an older one is dropped, because
    a newer search replaced it. A refresh (the library changed under a plain listing) is
    marked, so its answer keeps the user's place instead of starting at the top.
    """

    def __init__(self, limit: int = SEARCH_LIMIT) -> None:
        self.limit = limit
        self.similar_to: int | Path | None = None  # set: the grid shows photos like this
        self._request = 0
        self._refresh_request = -1
        self._last_tag: str | None = None
        self.everything = False  # the weaker matches too, until the query changes
        self.found: SearchAnswer | None = None  # the shown search's counts

    @property
    def request(self) -> int:
        """The number of the latest query: the only one whose answer is shown."""
        return self._request

    @property
    def refresh_request(self) -> int:
        """The number of the latest refresh (-1: none yet)."""
        return self._refresh_request

    # -- the user's moves ---------------------------------------------------------------
    def text_changed(self, text: str) -> None:
        """Typing replaces a "find similar" search, and shows only matches again."""
        self.everything = False
        if text:
            self.similar_to = None

    def show_weaker(self) -> None:
        """"Show 1,203 weaker matches": the next query gives the whole ranking."""
        self.everything = True

    def find_similar(self, target: int | Path) -> None:
        self.similar_to = target

    def filters_changed(self) -> None:
        """A folder or tag chosen in the sidebar starts over from the filters."""
        self.similar_to = None
        self.everything = False

    def click_tag(self, tag: str | None) -> str | None:
        """A click on a sidebar tag; a second click on the same tag clears the filter.
        Returns the tag now chosen, or None when the filter was cleared."""
        if self._last_tag == tag:
            self._last_tag = None
            return None
        self._last_tag = tag
        return tag

    def reset(self) -> None:
        """Show all photos: no similar search, no tag."""
        self.similar_to = None
        self._last_tag = None
        self.everything = False

    # -- queries and answers ------------------------------------------------------------
    def follows_library(self, filters: Filters) -> bool:
        """A listing follows the library as it changes; a typed query or a similar search
        keeps its results while indexing goes on."""
        return not filters.query and self.similar_to is None

    def query(self, filters: Filters, *, refresh: bool = False) -> Query:
        """The next query for these filters; `refresh` marks a refresh after a change."""
        self._request += 1
        if refresh:
            self._refresh_request = self._request
        if self.similar_to is not None:
            return SimilarSearch(self._request, self.similar_to, self.limit)
        if filters.query or filters.tag:
            return TextSearch(self._request, filters.query, filters.folder,
                              [filters.tag] if filters.tag else None, self.limit,
                              self.everything)
        return Listing(self._request, filters.folder)

    def answer(self, request: int, results: Sequence[SearchResult] | SearchAnswer | None,
               error: BaseException | None) -> Answer | None:
        """How to show a query's answer, or None when a newer query replaced it."""
        if request != self._request:
            return None
        keep_place = request == self._refresh_request
        self.found = None
        if error is not None:
            reason = str(error) if isinstance(error, QueryError) else f"Search failed: {error}"
            return Answer([], keep_place, reason)
        if isinstance(results, SearchAnswer):
            self.found = results
            return Answer(results.results, keep_place, None, results)
        return Answer(results or [], keep_place, None)

    # -- the words around the grid ------------------------------------------------------
    def heading(self, filters: Filters, count: int) -> str:
        """What the grid holds: "Photos: 120", "42 matches", "All 1,245 results · 42
        matches", "Similar photos: 40"; "Results: 12" for a query without text."""
        found = self.found
        if self.similar_to is None and found is not None and found.cutoff is not None:
            matches = plural(found.matches, "match", "matches")
            if self.everything:
                return f"All {plural(count, 'result')} · {matches}"
            return matches if count >= found.matches else f"{matches} ({count:,} shown)"
        if self.similar_to is not None:
            what = "Similar photos"
        elif filters.query or filters.tag:
            what = "Results"
        else:
            what = "Photos"
        return f"{what}: {count:,}"

    def weaker_text(self) -> str:
        """The link to the rest of the ranking: "Show 1,203 weaker matches", or ""."""
        found = self.found
        if found is None or self.everything or not found.weaker or self.similar_to is not None:
            return ""
        return f"Show {plural(found.weaker, 'weaker match', 'weaker matches')}"

    def empty_message(self, filters: Filters, *, pending: int, model_error: str | None,
                      state: str = "indexing") -> str:
        """Why the grid is empty, and what to expect: "being indexed" only while it is."""
        if filters.query:
            text = f"No photos match “{filters.query}”."
            if model_error:
                text += "\nText search needs the model (see the message above)."
            return text
        if pending:
            waiting = plural(pending, "photo")
            wait = "waits" if pending == 1 else "wait"
            if model_error:
                return f"{waiting} {wait} to be indexed: that needs a model (see above)."
            if state == "loading-model":
                return f"Loading the model: {waiting} will show here once indexed."
            if state in ("paused", "pausing"):
                return f"Indexing is paused: {waiting} {wait} to be indexed."
            if state in ("idle", "stopped"):
                return f"{waiting} {wait} to be indexed."
            return "Photos are being indexed; they appear here as they are ready."
        return "No photos here yet."


def probability_text(probability: float | None) -> str:
    """A result's probability as the badge shows it: "97%", "0.4%", or "" without text."""
    if probability is None:
        return ""
    percent = probability * 100
    return f"{percent:.0f}%" if percent >= 10 or percent == 0 else f"{percent:.1g}%"


def explanation_text(path: str, why: Explanation | None) -> str:
    """"Why this photo?": each query term's probability, the photo's tags, the filters it
    passed and its date, as lines of plain text."""
    if why is None:
        return f"{path}\n\nThis photo is not in the library's index."
    lines = [path, ""]
    for term, p in why.terms:
        if term.startswith("-"):
            lines.append(f"{probability_text(p):>6}  NOT “{term[1:]}” (below the cutoff: kept)")
        else:
            lines.append(f"{probability_text(p):>6}  “{term}”")
    lines.append(f"Tags: {', '.join(why.tags) or '(none)'}")
    if why.filters:
        lines.append(f"Passed: {' '.join(why.filters)}")
    lines.append(f"Date: {why.date or 'unknown'}")
    return "\n".join(lines)


@dataclass(frozen=True)
class AlbumRow:
    """A saved search in the sidebar; `count` None when it cannot be counted now (a phrase
    the library has no vector for yet)."""

    name: str
    query: str
    count: int | None


class AlbumCounter:
    """Live counts of the saved searches, on the reading thread: no model and no
    re-embedding (their phrases' vectors are pinned in the library), only the stored
    photo vectors and filters. Keeps its vector index between counts."""

    def __init__(self) -> None:
        self._searcher: Searcher | None = None

    def read(self, library: Library) -> list[AlbumRow]:
        if self._searcher is None or self._searcher.library is not library:
            self._searcher = Searcher(library)
        rows = []
        for album in albums.albums(library):
            try:
                count: int | None = self._searcher.count(album.query)
            except (ModelNeeded, QueryError):
                count = None
            rows.append(AlbumRow(album.name, album.query, count))
        return rows


def album_query(name: str) -> str:
    """The search box's text that opens a saved search."""
    return f'album:"{name}"' if re.search(r'\s|"', name) else f"album:{name}"
