"""Finding photos: text queries with rclip-style `+`/`-` terms and `tag:` filters, similar
images, and near-duplicate groups, over an in-memory copy of the library's vectors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from photo_tagger.core.embedder import Embedder
from photo_tagger.core.images import hash_distance, load_image
from photo_tagger.core.store import Library
from photo_tagger.core.vector_index import VectorIndex

# Perceptual-hash bits (of 64) by which two near-duplicates may differ.
DUPLICATE_HASH_DISTANCE = 10


@dataclass(frozen=True)
class SearchResult:
    photo_id: int
    path: str
    score: float  # cosine similarity to the query


@dataclass
class ParsedQuery:
    positive: list[str] = field(default_factory=list)
    negative: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    @property
    def has_text(self) -> bool:
        return bool(self.positive or self.negative)


_TAG_PATTERN = re.compile(r'(?:^|\s)tag:(?:"([^"]+)"|(\S+))')


def parse_query(query: str) -> ParsedQuery:
    """`kids in the snow +sled -adults tag:winter tag:"new year"`: the first phrase and
    every `+phrase` pull the query towards them, every `-phrase` pushes it away, and
    `tag:` keeps only photos with that tag."""
    parsed = ParsedQuery()
    for match in _TAG_PATTERN.finditer(query):
        parsed.tags.append((match.group(1) or match.group(2)).strip())
    rest = _TAG_PATTERN.sub(" ", query)
    # Split before every + or - that starts a word; the sign belongs to the phrase after it.
    for part in re.split(r"(?:^|\s)(?=[+-]\S)", rest):
        phrase = part.strip()
        if not phrase:
            continue
        if phrase[0] == "-":
            if phrase[1:].strip():
                parsed.negative.append(phrase[1:].strip())
        elif phrase[0] == "+":
            if phrase[1:].strip():
                parsed.positive.append(phrase[1:].strip())
        else:
            parsed.positive.append(phrase)
    return parsed


def format_tag_filter(tag: str) -> str:
    """The query text that filters by `tag` (quoted when it has spaces)."""
    return f'tag:"{tag}"' if " " in tag else f"tag:{tag}"


class Searcher:
    """Answers queries for one library; holds the vector index and the model."""

    def __init__(self, library: Library, embedder: Embedder | None = None) -> None:
        self.library = library
        self.embedder = embedder
        self.index = VectorIndex()

    def _allowed(self, folder: str | None, tags: list[str]) -> set[int] | None:
        allowed: set[int] | None = None
        if folder is not None:
            allowed = {p.id for p in self.library.photos_under(str(Path(folder).resolve()))
                       .values()}
        if tags:
            tagged = self.library.photo_ids_with_tags(tags)
            allowed = tagged if allowed is None else allowed & tagged
        return allowed

    def query_vector(self, parsed: ParsedQuery) -> np.ndarray:
        if self.embedder is None:
            raise RuntimeError("a text query needs the model")
        total = np.zeros(self.embedder.dim, dtype=np.float32)
        for phrase in parsed.positive:
            total += self.embedder.embed_text_cached(phrase)
        for phrase in parsed.negative:
            total -= self.embedder.embed_text_cached(phrase)
        norm = float(np.linalg.norm(total))
        return total / norm if norm > 0 else total

    def search(self, query: str, limit: int = 50, folder: str | None = None,
               tags: list[str] | None = None) -> list[SearchResult]:
        """Best photos for a text query; with only `tag:` terms, the tagged photos by score."""
        parsed = parse_query(query)
        # A synonym stands for its group: tag:Hund finds the photos tagged "dog".
        all_tags = [self.library.tag_for_name(t) for t in parsed.tags + list(tags or [])]
        allowed = self._allowed(folder, all_tags)
        if not parsed.has_text:
            return self._tagged(all_tags, allowed, limit) if all_tags else []
        self.index.refresh(self.library)
        hits = self.index.nearest(self.query_vector(parsed), limit, allowed)
        return self._results(hits)

    def similar_to_vector(self, vector: np.ndarray, limit: int = 50,
                          folder: str | None = None,
                          exclude: set[int] | None = None) -> list[SearchResult]:
        self.index.refresh(self.library)
        hits = self.index.nearest(vector, limit, self._allowed(folder, []), exclude)
        return self._results(hits)

    def similar_to_photo(self, photo_id: int, limit: int = 50) -> list[SearchResult]:
        vector = self.library.vector(photo_id)
        if vector is None:
            return []
        return self.similar_to_vector(vector, limit, exclude={photo_id})

    def similar_to_file(self, path: Path, limit: int = 50) -> list[SearchResult]:
        """Photos like an image file; an indexed file uses its stored vector."""
        row = self.library.photo_by_path(str(Path(path).resolve()))
        if row is not None and row.status == "indexed":
            return self.similar_to_photo(row.id, limit)
        if self.embedder is None:
            raise RuntimeError("searching by an image that is not indexed needs the model")
        image = load_image(Path(path), self.embedder.image_size)
        return self.similar_to_vector(self.embedder.embed_images([image.image])[0], limit)

    def _tagged(self, tags: list[str], allowed: set[int] | None,
                limit: int) -> list[SearchResult]:
        if not allowed:
            return []
        marks = ",".join("?" * len(tags))
        rows = self.library.conn.execute(
            f"SELECT p.id, p.path, max(coalesce(t.score, 1.0)) AS s FROM tags t "
            f"JOIN photos p ON p.id = t.photo_id WHERE t.rejected = 0 AND t.tag IN ({marks}) "
            "GROUP BY p.id ORDER BY s DESC, p.path", tags).fetchall()
        return [SearchResult(r[0], r[1], float(r[2])) for r in rows if r[0] in allowed][:limit]

    def _results(self, hits: list[tuple[int, float]]) -> list[SearchResult]:
        photos = self.library.photos_by_ids([photo_id for photo_id, _ in hits])
        return [SearchResult(pid, photos[pid].path, score)
                for pid, score in hits if pid in photos]

    def duplicate_groups(self, threshold: float = 0.95, chunk: int = 2048,
                         max_hash_distance: int = DUPLICATE_HASH_DISTANCE
                         ) -> list[list[SearchResult]]:
        """Groups of near-duplicate photos: a pair at or above `threshold` cosine whose
        perceptual hashes also agree (resized, recompressed or lightly edited copies) is a
        match; look-alikes with close embeddings but other pixels stay apart.

        Groups do not chain: in photo-id order, each photo not yet grouped leads a group of
        the ungrouped photos that match it, so every member matches its group's leader
        (joining matches transitively made one group of 3677 out of 5000 distinct photos).
        Exact, in chunks, so memory stays at chunk × library floats. Each result's score is
        its cosine to the group's leader; the leader's is its best member's.
        """
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
