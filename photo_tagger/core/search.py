"""Finding photos: text queries ranked by the model's probability and cut where matches
end, with real NOTs and filters (see query.py, filters.py, relevance.py), saved searches,
similar images and near-duplicate groups, over an in-memory copy of the library's vectors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from photo_tagger.config import API_SEARCH_LIMIT, duplicate_threshold
from photo_tagger.core import albums, filters
from photo_tagger.core.embedder import Embedder
from photo_tagger.core.facets import Facets
from photo_tagger.core.filters import DUPLICATE_HASH_DISTANCE
from photo_tagger.core.images import hash_distance, load_image
from photo_tagger.core.query import QueryError, SearchQuery, format_tag_filter, parse_query
from photo_tagger.core.relevance import match_cosine, match_probability
from photo_tagger.core.store import Library
from photo_tagger.core.tagger import probability
from photo_tagger.core.textcache import TextVectors
from photo_tagger.core.vector_index import VectorIndex

# Names other modules import from here.
__all__ = ["DUPLICATE_HASH_DISTANCE", "Explanation", "ParsedQuery", "QueryError",
           "SearchAnswer", "SearchQuery", "SearchResult", "Searcher", "VectorIndex",
           "format_tag_filter", "parse_query"]

ParsedQuery = SearchQuery  # the name callers used before the query grew filters


@dataclass(frozen=True)
class Explanation:
    """Why a photo is in the answer: each phrase's probability (NOT phrases below the
    cutoff, or the photo would be gone), the photo's tags, the filters it passed and its
    date."""

    terms: tuple[tuple[str, float], ...]  # ("red circle", 0.97), ("-square", 0.01)
    tags: tuple[str, ...]
    filters: tuple[str, ...]
    date: str  # 'YYYY-MM-DD HH:MM:SS' (EXIF date taken, else file mtime), '' if unknown


@dataclass(frozen=True)
class SearchResult:
    photo_id: int
    path: str
    score: float  # cosine similarity to the query (1.0 when the query has no text)
    probability: float | None = None  # the model's probability that the text describes it
    explanation: Explanation | None = field(default=None, compare=False)


@dataclass
class SearchAnswer:
    """One search's answer: the results, and what the window needs around them."""

    query: SearchQuery
    results: list[SearchResult]  # matches (or the whole ranking), best first, up to limit
    matches: int  # photos that match: pass the filters, the cutoff and every NOT
    weaker: int  # candidates below the cutoff ("Show 1,203 weaker matches")
    removed: int  # candidates a NOT phrase removed
    cutoff: float | None  # the probability at which matches end; None without text

class Searcher:
    """Answers queries for one library; holds the vector index and, when given or loaded,
    the model. `load_model` is called only when a query phrase is not cached yet."""

    def __init__(self, library: Library, embedder: Embedder | None = None,
                 load_model: Callable[[], Embedder] | None = None) -> None:
        self.library = library
        self.index = VectorIndex()
        self.texts = TextVectors(library, embedder, load_model)
        self._duplicates: tuple[int, set[int]] | None = None  # (generation, photo ids)
        self._facets: Facets | None = None

    @property
    def embedder(self) -> Embedder | None:
        """The model if loaded; never loads it."""
        return self.texts.embedder if self.texts.has_model else None

    @embedder.setter
    def embedder(self, embedder: Embedder | None) -> None:
        """The service hands its model over once loaded."""
        self.texts.set_embedder(embedder)

    def facets(self) -> Facets:
        """Every indexed photo's date, type and folder, read again only when a photo row
        changed since (by any process)."""
        if self._facets is None or \
                self._facets.generation != self.library.photos_generation():
            self._facets = Facets.read(self.library)
        return self._facets

    def _allowed(self, folder: str | None, tags: list[str]) -> set[int] | None:
        ids = self.index.ids
        mask = filters.allowed_mask(self.library, SearchQuery(
            tags=list(tags), folders=[folder] if folder is not None else []), ids,
            self.facets)
        return None if mask is None else set(ids[mask].tolist())

    def query_vector(self, parsed: SearchQuery) -> np.ndarray:
        """The ranking vector: positive phrases added, NOT phrases subtracted."""
        vectors = self.texts.vectors(parsed.positive + parsed.negative)
        return _unit(sum((vectors[p] for p in parsed.positive), _zeros(vectors))
                     - sum((vectors[p] for p in parsed.negative), _zeros(vectors)))

    def expand(self, query: str | SearchQuery) -> SearchQuery:
        """The query with every `album:NAME` replaced by that saved search's terms."""
        parsed = parse_query(query) if isinstance(query, str) else query
        remaining, parsed.albums = parsed.albums, []
        seen: set[str] = set()
        while remaining:
            name = remaining.pop(0)
            if name in seen:  # an album that names itself, directly or not
                continue
            seen.add(name)
            text = albums.album_query(self.library, name)
            if text is None:
                raise QueryError(f"There is no saved search named '{name}'.")
            inner = parse_query(text)
            remaining += inner.albums
            parsed = parsed.merged(inner)
        return parsed

    def find(self, query: str | SearchQuery, *, limit: int | None = None,
             everything: bool = False, explain: bool = False, folder: str | None = None,
             tags: list[str] | None = None) -> SearchAnswer:
        """Search: filters restrict the candidates, the text ranks them, NOT phrases remove
        the photos they match, and the cutoff (relevance.py) says where matches end.

        Args:
            query: the query text (see query.py) or a parsed query.
            limit: at most this many results (None: all).
            everything: the whole ranking of the candidates, not only the matches.
            explain: fill each result's `explanation`.
            folder, tags: extra filters (the window's folder and tag choice).

        A query with no positive phrase lists its candidates newest first. `sort:date`
        orders the matches by date. Raises `QueryError` for a query it cannot read.
        """
        parsed = self.expand(query)
        if folder is not None:
            parsed.folders.append(folder)
        parsed.tags += list(tags or [])
        self.index.refresh(self.library)
        ids = self.index.ids
        mask = filters.allowed_mask(self.library, parsed, ids, self.facets)
        if mask is None:
            mask = np.ones(len(ids), dtype=bool)
        if parsed.duplicate:
            mask &= np.isin(ids, np.fromiter(self._duplicate_ids(mask), dtype=np.int64))
        if not parsed.has_text:
            return self._listing(parsed, ids[mask], limit, explain)
        vectors = self.texts.vectors(parsed.positive + parsed.negative)
        scale, bias = self.texts.scale_bias()
        cut_cos = match_cosine(scale, bias)
        removed = np.zeros(len(ids), dtype=bool)
        if not everything:  # a real NOT: the photos that match a -phrase go
            for phrase in parsed.negative:
                removed |= np.isin(ids, self.index.within(vectors[phrase], cut_cos))
            removed &= mask
            mask &= ~removed
            if not parsed.positive:  # only NOTs: what is left, newest first
                answer = self._listing(parsed, ids[mask], limit, explain)
                answer.removed, answer.cutoff = int(removed.sum()), match_probability(bias)
                return answer
        # The whole ranking (`everything`) is today's vector arithmetic: -phrases push.
        query_vector = self.query_vector(parsed)
        positive = _unit(sum((vectors[p] for p in parsed.positive), _zeros(vectors))) \
            if parsed.positive else None
        # What is scored: every candidate when the floats are in memory; with FAISS, the
        # photos near the query only, decoded from their codes (no 3 GB matrix at 1M).
        if self.index.holds_floats:
            scope_ids, matrix, in_scope = ids, self.index.matrix, mask
        else:
            scope = self._near(ids, mask, query_vector, positive, cut_cos, everything,
                               limit)
            scope_ids, in_scope = ids[scope], mask[scope]
            matrix = self.index.vectors_of(scope_ids)
        scores = matrix @ query_vector
        if positive is not None:
            relevance = scores if not parsed.negative else matrix @ positive
        else:
            relevance = np.full(len(scope_ids), -np.inf, dtype=np.float32)
        matched = in_scope & (relevance >= cut_cos)
        shown = in_scope if everything else matched
        positions = np.flatnonzero(shown)
        if parsed.sort == "date":
            positions = self._by_date(scope_ids, positions)
        else:
            positions = _top(scores, positions, limit)
        positions = positions[:limit] if limit is not None else positions
        chosen = scope_ids[positions].tolist()
        probabilities: list[float | None] = [None] * len(positions)
        if positive is not None:
            probabilities = probability(relevance[positions], scale, bias).tolist()
        photos = self.library.photos_by_ids(chosen)
        explanations = self._explain(parsed, chosen, matrix[positions], vectors, scale,
                                     bias) if explain else {}
        results = [SearchResult(pid, photos[pid].path, float(scores[pos]), p,
                                explanations.get(pid))
                   for pid, pos, p in zip(chosen, positions.tolist(), probabilities,
                                          strict=True) if pid in photos]
        matches = int(matched.sum())
        return SearchAnswer(parsed, results, matches, int(mask.sum()) - matches,
                            int(removed.sum()), match_probability(bias))

    def _near(self, ids: np.ndarray, mask: np.ndarray, query_vector: np.ndarray,
              positive: np.ndarray | None, cut_cos: float, everything: bool,
              limit: int | None) -> np.ndarray:
        """Positions (into `ids`) worth scoring when FAISS holds the library: the matches
        of the positive phrases, and for the whole ranking its best `limit` too."""
        found = [self.index.within(positive, cut_cos)] if positive is not None else []
        if everything:
            if limit is None:
                return np.flatnonzero(mask)
            allowed = None if mask.all() else set(ids[mask].tolist())
            found.append(np.array([pid for pid, _ in self.index.nearest(
                query_vector, limit, allowed)], dtype=np.int64))
        wanted = np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)
        return np.flatnonzero(np.isin(ids, wanted) & mask)

    def search(self, query: str, limit: int = API_SEARCH_LIMIT, folder: str | None = None,
               tags: list[str] | None = None) -> list[SearchResult]:
        """The whole ranking of the query's candidates, best first: no cutoff, -phrases
        push the vector without removing; filters apply (`find(..., everything=True)`)."""
        return self.find(query, limit=limit, everything=True, folder=folder,
                         tags=tags).results

    def save_album(self, name: str, query: str) -> int:
        """Save `query` as the album `name`, embedding its phrases once (pinned in the
        query cache, so later counts need no model). Returns its count now."""
        parsed = self.expand(query)  # an unknown album inside it is refused here
        if parsed.has_text:
            self.texts.vectors(parsed.positive + parsed.negative, pin=True)
        albums.save_album(self.library, name, query)
        return self.count(query)

    def album_counts(self) -> list[tuple[str, str, int]]:
        """(name, query, live count) of every saved search: the sidebar's and `albums
        list`'s rows."""
        return [(a.name, a.query, self.count(a.query)) for a in albums.albums(self.library)]

    def count(self, query: str | SearchQuery) -> int:
        """How many photos match: a saved search's live count (no model when its phrases
        are cached)."""
        return self.find(query, limit=0).matches

    def explain(self, query: str | SearchQuery, photo_id: int) -> Explanation | None:
        """Why `photo_id` is (or is not) an answer to `query`, on demand."""
        parsed = self.expand(query)
        self.index.refresh(self.library)
        if not (self.index.ids == photo_id).any():
            return None
        vectors = self.texts.vectors(parsed.positive + parsed.negative) \
            if parsed.has_text else {}
        scale, bias = self.texts.scale_bias() if parsed.has_text else (1.0, 0.0)
        rows = self.index.vectors_of(np.array([photo_id], dtype=np.int64))
        return self._explain(parsed, [photo_id], rows, vectors, scale, bias)[photo_id]

    # -- helpers ------------------------------------------------------------------------
    def _listing(self, parsed: SearchQuery, candidates: np.ndarray, limit: int | None,
                 explain: bool) -> SearchAnswer:
        """A query without positive text: its indexed candidates, newest first (then by
        path; photos without a date last)."""
        facets = self.facets()
        rows, held = facets.positions(candidates)
        rows = rows[held]
        dates = facets.dates[rows]
        order = np.lexsort((facets.path_order[rows], -dates, dates < 0))
        order = order[:limit] if limit is not None else order
        chosen = facets.ids[rows[order]].tolist()
        paths = self.library.photos_by_ids(chosen)
        explanations = {}
        if explain and chosen:
            vectors = self.texts.vectors(parsed.negative) if parsed.negative else {}
            scale, bias = self.texts.scale_bias() if parsed.negative else (1.0, 0.0)
            explanations = self._explain(parsed, chosen, self.index.vectors_of(
                np.asarray(chosen, dtype=np.int64)), vectors, scale, bias)
        results = [SearchResult(pid, paths[pid].path, 1.0, None, explanations.get(pid))
                   for pid in chosen if pid in paths]
        return SearchAnswer(parsed, results, len(rows), 0, 0, None)

    def _by_date(self, ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """`positions` newest first; equal dates keep their order, undated photos last."""
        facets = self.facets()
        rows, held = facets.positions(ids[positions])
        dates = np.where(held, facets.dates[rows], -1)
        return positions[np.argsort(-dates, kind="stable")]

    def _duplicate_ids(self, mask: np.ndarray) -> set[int]:
        """Candidates with a near-duplicate; the whole library's set is kept per vector
        generation (an `is:duplicate` alone compares every pair once)."""
        ids, matrix = self.index.ids, self.index.matrix
        if mask.all():
            if self._duplicates is None or self._duplicates[0] != self.index.generation:
                self._duplicates = (self.index.generation, filters.duplicate_ids(
                    self.library, ids, matrix, np.arange(len(ids))))
            return self._duplicates[1]
        return filters.duplicate_ids(self.library, ids, matrix, np.flatnonzero(mask))

    def _explain(self, parsed: SearchQuery, chosen: list[int], rows: np.ndarray,
                 vectors: dict[str, np.ndarray], scale: float, bias: float
                 ) -> dict[int, Explanation]:
        """Each chosen photo's breakdown; `rows` are their vectors, row for row."""
        terms = [(p, p) for p in parsed.positive] + [(f"-{p}", p) for p in parsed.negative]
        per_term = {label: probability(rows @ vectors[phrase], scale, bias)
                    for label, phrase in terms}
        dates = filters.photo_dates(self.library, chosen)
        described = tuple(filters.describe(parsed))
        explained = {}
        for row, pid in enumerate(chosen):
            explained[pid] = Explanation(
                tuple((label, float(per_term[label][row])) for label, _ in terms),
                tuple(t.tag for t in self.library.tags_of(pid)), described,
                dates.get(pid, ""))
        return explained

    def similar_to_vector(self, vector: np.ndarray, limit: int = API_SEARCH_LIMIT,
                          folder: str | None = None,
                          exclude: set[int] | None = None) -> list[SearchResult]:
        self.index.refresh(self.library)
        hits = self.index.nearest(vector, limit, self._allowed(folder, []), exclude)
        return self._results(hits)

    def similar_to_photo(self, photo_id: int, limit: int = API_SEARCH_LIMIT) -> list[SearchResult]:
        vector = self.library.vector(photo_id)
        if vector is None:
            return []
        return self.similar_to_vector(vector, limit, exclude={photo_id})

    def similar_to_file(self, path: Path, limit: int = API_SEARCH_LIMIT) -> list[SearchResult]:
        """Photos like an image file; an indexed file uses its stored vector."""
        row = self.library.photo_by_path(str(Path(path).resolve()))
        if row is not None and row.status == "indexed":
            return self.similar_to_photo(row.id, limit)
        if self.embedder is None:
            raise RuntimeError("searching by an image that is not indexed needs the model")
        image = load_image(Path(path), self.embedder.image_size)
        return self.similar_to_vector(self.embedder.embed_images([image.image])[0], limit)

    def _results(self, hits: list[tuple[int, float]]) -> list[SearchResult]:
        photos = self.library.photos_by_ids([photo_id for photo_id, _ in hits])
        return [SearchResult(pid, photos[pid].path, score)
                for pid, score in hits if pid in photos]

    def duplicate_groups(self, threshold: float | None = None, chunk: int = 2048,
                         max_hash_distance: int = DUPLICATE_HASH_DISTANCE
                         ) -> list[list[SearchResult]]:
        """Groups of near-duplicate photos: a pair at or above `threshold` cosine whose
        perceptual hashes also agree (resized, recompressed or lightly edited copies) is a
        match; look-alikes with close embeddings but other pixels stay apart. Without a
        `threshold`, the one measured for the library's model kind (`duplicate_threshold`).

        Groups do not chain: in photo-id order, each photo not yet grouped leads a group of
        the ungrouped photos that match it, so every member matches its group's leader
        (joining matches transitively made one group of 3677 out of 5000 distinct photos).
        Exact, in chunks, so memory stays at chunk × library floats. Each result's score is
        its cosine to the group's leader; the leader's is its best member's.
        """
        if threshold is None:
            threshold = duplicate_threshold(self.library.model_id)
        self.index.refresh(self.library)
        ids, matrix = self.index.ids, self.index.matrix
        hashes = dict(self.library.conn.execute(
            "SELECT id, dhash FROM photos WHERE status = 'indexed'").fetchall())
        # Leaders in photo-id order, not the index's (which moves as vectors are rewritten),
        # so the same library gives the same groups.
        order = np.argsort(ids, kind="stable")
        grouped = np.zeros(len(ids), dtype=bool)  # by position in the index
        groups: list[dict[int, float]] = []  # position -> score, leader first
        for start in range(0, len(ids), chunk):
            positions = order[start:start + chunk]
            block = matrix[positions] @ matrix.T
            rows, cols = np.nonzero(block >= threshold)  # ordered by row, then column
            firsts = np.flatnonzero(np.diff(rows, prepend=-1)).tolist()
            for first, end in zip(firsts, [*firsts[1:], len(rows)], strict=True):
                r = int(rows[first])
                leader = int(positions[r])
                if grouped[leader]:
                    continue
                leader_hash = hashes.get(int(ids[leader]))
                members: dict[int, float] = {}
                for c in cols[first:end].tolist():
                    other_hash = hashes.get(int(ids[c]))
                    if c == leader or grouped[c] or (
                            leader_hash is not None and other_hash is not None
                            and hash_distance(leader_hash, other_hash) > max_hash_distance):
                        continue
                    members[c] = float(block[r, c])
                if members:
                    grouped[leader] = True
                    grouped[list(members)] = True
                    groups.append({leader: max(members.values()), **members})
        photos = self.library.photos_by_ids([int(ids[i]) for g in groups for i in g])
        result = []
        for group in groups:
            members_sorted = sorted(group, key=lambda i: photos[int(ids[i])].path)
            result.append([SearchResult(int(ids[i]), photos[int(ids[i])].path, group[i])
                           for i in members_sorted])
        result.sort(key=lambda g: (-len(g), g[0].path))
        return result


def _zeros(vectors: dict[str, np.ndarray]) -> np.ndarray:
    dim = len(next(iter(vectors.values()))) if vectors else 0
    return np.zeros(dim, dtype=np.float32)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)


def _top(scores: np.ndarray, positions: np.ndarray, limit: int | None) -> np.ndarray:
    """`positions` ordered by score, best first; only the best `limit` sorted."""
    if limit is not None and limit < len(positions):
        if limit <= 0:
            return positions[:0]
        part = np.argpartition(-scores[positions], limit - 1)[:limit]
        positions = positions[part]
    return positions[np.argsort(-scores[positions], kind="stable")]
