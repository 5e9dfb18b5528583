"""The in-memory vector index behind search: exact numpy for small libraries, FAISS (IVF
with 8-bit codes, persisted beside the DB) from `FAISS_MIN_PHOTOS` up. No Qt here.

sqlite-vec's `photo_vectors` table stays the durable store; the FAISS file is a cache of it,
brought up to date at every `refresh` from the photos' content hashes (a vector changes only
with its file's content), rebuilt when the model changes or too much moved. A saved index
whose record names the library's current vector generation is mapped from disk as it is
(no per-photo check, nothing copied): the first search at 1M photos waits well under 1 s.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from photo_tagger.core.facets import sorted_positions
from photo_tagger.core.store import Library

log = logging.getLogger(__name__)
# Below this many photos exact search is kept: it is exact, needs no build, and costs
# ≤ 8 ms here at 50k (docs/PERFORMANCE.md); above, it grows to 220 ms at 1M.
FAISS_MIN_PHOTOS = 50_000
# Vectors written or dropped since the saved index above which it is rebuilt rather than
# patched (reading one vector through vec0's SQL costs ~1 ms).
PATCH_MAX_CHANGES = 5_000
# The flat scan's `within` first asks for this many nearest photos (see
# FaissBackend._within_by_nearest); a query matching more asks again for 8× as many.
WITHIN_FIRST = 1024
# Recall@50 the IVF search must reach on the library's own vectors at build time; where no
# nprobe reaches it (vectors without structure, e.g. uniform random), a flat 8-bit scan.
TARGET_RECALL = 0.95
# Restricted searches (a folder, tags) over at most this many candidates score them all.
EXACT_CANDIDATES_MAX = 20_000
# A patched index is written back at most this often (the next start patches the rest).
SAVE_INTERVAL_S = 30.0
INDEX_FORMAT = 1
# Photos whose content-hash checksum is compared with the saved record before a mapped
# index is trusted (beside the vector generation and the count): a replaced database with
# the same generation differs here.
SPOT_CHECKS = 64


class Backend(Protocol):
    """One way to find nearest vectors; `ids` lists the photos it holds."""

    ids: np.ndarray

    def nearest(self, query: np.ndarray, limit: int, allowed: set[int] | None = None,
                exclude: set[int] | None = None) -> list[tuple[int, float]]: ...

    def within(self, query: np.ndarray, cosine: float) -> np.ndarray: ...

    def vectors_of(self, ids: np.ndarray) -> np.ndarray: ...


def top_k(ids: np.ndarray, scores: np.ndarray, limit: int) -> list[tuple[int, float]]:
    """The `limit` best (id, score) by score, ties by position; -inf scores are dropped."""
    count = min(limit, int(np.isfinite(scores).sum()))
    if count <= 0:
        return []
    top = np.argpartition(-scores, count - 1)[:count]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(ids[i]), float(scores[i])) for i in top]


class ExactBackend:
    """Every vector in one float32 matrix; a matrix-vector product per query (1.2 ms per
    10k photos here, memory-bandwidth bound)."""

    def __init__(self, ids: np.ndarray, matrix: np.ndarray) -> None:
        self.ids = ids
        self.matrix = matrix

    def nearest(self, query: np.ndarray, limit: int, allowed: set[int] | None = None,
                exclude: set[int] | None = None) -> list[tuple[int, float]]:
        if len(self.ids) == 0 or limit <= 0:
            return []
        scores = self.matrix @ query.astype(np.float32)
        if allowed is not None or exclude:
            mask = np.ones(len(self.ids), dtype=bool)
            if allowed is not None:
                mask &= np.isin(self.ids, np.fromiter(allowed, dtype=np.int64))
            if exclude:
                mask &= ~np.isin(self.ids, np.fromiter(exclude, dtype=np.int64))
            scores = np.where(mask, scores, -np.inf)
        return top_k(self.ids, scores, limit)

    def within(self, query: np.ndarray, cosine: float) -> np.ndarray:
        """Ids of the photos whose cosine with `query` reaches `cosine`."""
        if len(self.ids) == 0:
            return np.zeros(0, dtype=np.int64)
        return self.ids[self.matrix @ query.astype(np.float32) >= cosine]

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The vectors of `ids` (all held), row for row."""
        order = np.argsort(self.ids)
        return self.matrix[order[np.searchsorted(self.ids, ids, sorter=order)]]


def _empty_exact() -> ExactBackend:
    return ExactBackend(np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32))


def _faiss() -> Any:
    import faiss  # imported on first use: small libraries never load it

    return faiss


class FaissBackend:
    """An IVF index with 8-bit scalar codes (768 bytes a photo: 1M photos in ~0.8 GB), or a
    flat 8-bit scan where IVF cannot reach `TARGET_RECALL`. Codes are not residuals, so
    they decode without their list's centroid (`products`, used by re-tagging).

    A `mapped` index reads its codes straight from the file (faiss's IO_FLAG_MMAP_IFC): it
    loads in milliseconds but must never be changed (faiss aborts the process), so patching
    starts from an owned copy."""

    def __init__(self, index: Any, nprobe: int, ids: np.ndarray, sums: np.ndarray,
                 generation: int = -1, mapped: bool = False) -> None:
        self.index = index
        self.nprobe = nprobe
        self.ids = ids  # photo ids held, sorted
        self.sums = sums  # content-hash checksums, aligned with ids
        self.generation = generation  # the library's vectors generation it reflects; -1: unknown
        self.mapped = mapped
        self.stamp: tuple[int, int] | None = None  # (size, mtime) of the file it was read from

    # -- building -------------------------------------------------------------------------
    @classmethod
    def build(cls, library: Library, ids: np.ndarray, sums: np.ndarray) -> FaissBackend:
        """Train on a sample of whole vec0 chunks, then add every vector chunk by chunk, so
        the float32 matrix (3 GB at 1M) is never held at once."""
        faiss = _faiss()
        dim = int(library.dimension or 0)
        count = len(ids)
        nlist = max(16, int(np.sqrt(count)))
        wanted = min(count, 40 * nlist)
        every = max(1, count // max(wanted, 1))
        sample = np.concatenate([v for _, v in library.vector_batches(every)] or
                                [np.zeros((0, dim), np.float32)])
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist,
                                              faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
        index.by_residual = False
        index.cp.niter = 10  # k-means converges enough for probing; 25 doubles the build
        index.train(sample)
        for batch_ids, vectors in library.vector_batches():
            index.add_with_ids(np.ascontiguousarray(vectors), batch_ids)
        nprobe = _calibrate(index, sample, nlist)
        if nprobe is None:
            index = _flat_sq8(index, library)
            nprobe = 0
        order = np.argsort(ids)
        return cls(index, nprobe, ids[order], sums[order])

    # -- searching ------------------------------------------------------------------------
    @property
    def is_ivf(self) -> bool:
        return self.nprobe > 0

    def _search(self, query: np.ndarray, count: int, selector: Any = None,
                nprobe: int | None = None) -> list[tuple[int, float]]:
        faiss = _faiss()
        params = None
        if self.is_ivf:
            params = faiss.SearchParametersIVF(nprobe=nprobe or self.nprobe, sel=selector)
        elif selector is not None:
            params = faiss.SearchParameters(sel=selector)
        scores, ids = self.index.search(query[None, :], count, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def nearest(self, query: np.ndarray, limit: int, allowed: set[int] | None = None,
                exclude: set[int] | None = None) -> list[tuple[int, float]]:
        if len(self.ids) == 0 or limit <= 0:
            return []
        query = np.ascontiguousarray(query, dtype=np.float32)
        exclude = exclude or set()
        if allowed is not None:
            allowed = allowed - exclude
            if len(allowed) <= EXACT_CANDIDATES_MAX:
                return self._score_candidates(query, allowed, limit)
        count = min(len(self.ids), limit + len(exclude))
        selector = None
        if allowed is not None:
            selector = _faiss().IDSelectorBatch(np.fromiter(allowed, dtype=np.int64))
        hits = [h for h in self._search(query, count, selector) if h[0] not in exclude]
        if len(hits) < limit and self.is_ivf:
            # A restriction can empty the probed lists: probe them all rather than miss.
            hits = [h for h in self._search(query, count, selector, self.index.nlist)
                    if h[0] not in exclude]
        return hits[:limit]

    def _score_candidates(self, query: np.ndarray, allowed: set[int],
                          limit: int) -> list[tuple[int, float]]:
        wanted = np.fromiter(allowed, dtype=np.int64)
        wanted = wanted[np.isin(wanted, self.ids)]
        if len(wanted) == 0:
            return []
        return top_k(wanted, self.vectors_of(wanted) @ query, limit)

    def within(self, query: np.ndarray, cosine: float) -> np.ndarray:
        """Ids of the photos whose cosine with `query` reaches `cosine` (8-bit codes; IVF
        probes twice its calibrated lists, so matches near a list's border are kept)."""
        if len(self.ids) == 0:
            return np.zeros(0, dtype=np.int64)
        query = np.ascontiguousarray(query[None, :], dtype=np.float32)
        if not self.is_ivf:
            return self._within_by_nearest(query, cosine)
        faiss = _faiss()
        params = faiss.SearchParametersIVF(nprobe=min(self.index.nlist, 2 * self.nprobe))
        # range_search keeps scores above the radius; the cutoff is "at least".
        _, _, found = self.index.range_search(query, float(np.nextafter(
            np.float32(cosine), np.float32(-np.inf))), params=params)
        return np.asarray(found, dtype=np.int64)

    def _within_by_nearest(self, query: np.ndarray, cosine: float) -> np.ndarray:
        """The flat scan's `within`: FAISS's range search over 8-bit codes skips its SIMD
        path (73 ms at 100k against 7 ms for a top-1000), so ask for the nearest
        WITHIN_FIRST and grow the count until the last one falls below the cutoff."""
        count = min(len(self.ids), WITHIN_FIRST)
        while True:
            scores, found = self.index.search(query, count)
            keep = (scores[0] >= np.float32(cosine)) & (found[0] >= 0)
            if not keep[-1] or count == len(self.ids):
                return np.asarray(found[0][keep], dtype=np.int64)
            count = min(len(self.ids), count * 8)

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The decoded 8-bit vectors of `ids` (all held), row for row."""
        if len(ids) == 0:
            return np.zeros((0, self.index.d), dtype=np.float32)
        if self.is_ivf and self.index.direct_map.type == 0:
            # id → position, built on first use (not saved, and not at load: building
            # it for 1M photos costs seconds before the first search).
            self.index.set_direct_map_type(_faiss().DirectMap.Hashtable)
        # The flat scan is an IndexIDMap2, which maps ids to positions itself.
        return np.asarray(self.index.reconstruct_batch(
            np.ascontiguousarray(ids, dtype=np.int64)), dtype=np.float32)

    # -- keeping up with the library ------------------------------------------------------
    def apply(self, library: Library, ids: np.ndarray, sums: np.ndarray) -> int:
        """Bring the index to the library's (ids, checksums): drop what went or changed,
        add what came or changed. Returns the number of vectors touched."""
        assert not self.mapped, "a mapped index is read-only: patch an owned copy"
        order = np.argsort(ids)
        ids, sums = ids[order], sums[order]
        # Sorted arrays, not dicts: two million-entry dicts took 1.5 s at 1M photos.
        kept_old = _same_in(self.ids, self.sums, ids, sums)
        kept_new = _same_in(ids, sums, self.ids, self.sums)
        gone = self.ids[~kept_old]
        came = ids[~kept_new].tolist()
        if len(gone):
            self.index.remove_ids(np.ascontiguousarray(gone, dtype=np.int64))
        if came:
            found, vectors = library.vectors_of(came)
            if len(found):
                self.index.add_with_ids(vectors, found)
            missing = set(came) - set(found.tolist())
            if missing:  # indexed but without a vector (mid-write): keep the two in step
                keep = ~np.isin(ids, np.fromiter(missing, dtype=np.int64))
                ids, sums = ids[keep], sums[keep]
        self.ids, self.sums = ids, sums
        return len(gone) + len(came)

    def _decoding(self) -> tuple[np.ndarray, np.ndarray]:
        """(low, step) per dimension: faiss decodes code c as min + (c + 0.5) / 255 · range,
        that is low + c · step."""
        faiss = _faiss()
        inner = self.index if self.is_ivf else faiss.downcast_index(self.index.index)
        trained = faiss.vector_to_array(inner.sq.trained).reshape(2, -1).astype(np.float32)
        step = trained[1] / np.float32(255.0)
        return trained[0] + np.float32(0.5) * step, step

    def decoded_batches(self, rows: int = 16_384) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every vector as (ids, float32 vectors decoded from the 8-bit codes), about `rows`
        at a time."""
        low, step = self._decoding()
        for ids, vectors in self._float_codes(rows):
            vectors *= step
            vectors += low
            yield ids, vectors.copy()  # the buffer is reused

    def products(self, columns: np.ndarray, rows: int = 8_192
                 ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, every vector's dot product with each of `columns`), about `rows` vectors at
        a time, scored on the codes without decoding them: x·c = c_codes·(step∘c) + low·c.
        One float32 matrix product per block is nearly all the work (1M × 100 in ~1 s)."""
        low, step = self._decoding()
        columns = np.asarray(columns, dtype=np.float32)
        scaled = np.ascontiguousarray((columns * step).T)
        offset = columns @ low
        for ids, codes in self._float_codes(rows):
            out = codes @ scaled
            out += offset
            yield ids, out

    def _float_codes(self, rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, the 8-bit codes as float32) in blocks of about `rows` (an inverted list is
        never split), converted into one reused buffer, so it stays in the CPU's cache.
        The vectors yielded are overwritten by the next block."""
        faiss = _faiss()
        dim = int(self.index.d)
        if not self.is_ivf:
            total = int(self.index.ntotal)
            codes = faiss.rev_swig_ptr(faiss.downcast_index(self.index.index).codes.data(),
                                       total * dim).reshape(total, dim)
            ids = faiss.vector_to_array(self.index.id_map)
            buffer = np.empty((min(rows, total), dim), dtype=np.float32)
            for start in range(0, total, rows):
                block = buffer[:len(ids[start:start + rows])]
                np.copyto(block, codes[start:start + rows], casting="unsafe")
                yield ids[start:start + rows], block
            return
        lists = self.index.invlists
        sizes = [int(lists.list_size(number)) for number in range(self.index.nlist)]
        capacity = max([rows, *sizes])
        buffer = np.empty((capacity, dim), dtype=np.float32)
        block_ids = np.empty(capacity, dtype=np.int64)
        held = 0
        for number, size in enumerate(sizes):
            if size == 0:
                continue
            if held + size > capacity:
                yield block_ids[:held].copy(), buffer[:held]
                held = 0
            np.copyto(buffer[held:held + size], faiss.rev_swig_ptr(
                lists.get_codes(number), size * dim).reshape(size, dim), casting="unsafe")
            block_ids[held:held + size] = faiss.rev_swig_ptr(lists.get_ids(number), size)
            held += size
            if held >= rows:
                yield block_ids[:held].copy(), buffer[:held]
                held = 0
        if held:
            yield block_ids[:held].copy(), buffer[:held]

    def memory_bytes(self) -> int:
        dim = int(self.index.d)
        return len(self.ids) * (dim + 8 + 4 + 16) + (
            int(self.index.nlist) * dim * 4 if self.is_ivf else 0)

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: Path, model_id: str) -> None:
        """Write `<db>.faiss` and its record atomically; the record is written last, so a
        half-written index is never taken for a whole one."""
        assert not self.mapped, "a mapped index is already its file"
        faiss = _faiss()
        temporary = path.with_name(path.name + ".tmp")
        faiss.write_index(self.index, str(temporary))
        os.replace(temporary, path)
        self.stamp = _stamp(path)
        self.save_record(path, model_id)

    def save_record(self, path: Path, model_id: str) -> None:
        """Write the record alone (photo ids, checksums, the generation they reflect): after
        a start that found the file current but its record's generation behind. Nothing
        is written when the file is no longer the one this index was read from."""
        if self.stamp != _stamp(path):
            return
        record = _record_path(path)
        with open(record.with_name(record.name + ".tmp"), "wb") as handle:
            np.savez(handle, ids=self.ids, sums=self.sums, meta=np.array(json.dumps({
                "format": INDEX_FORMAT, "model_id": model_id, "nprobe": self.nprobe,
                "index_bytes": path.stat().st_size, "generation": self.generation})))
        os.replace(record.with_name(record.name + ".tmp"), record)

    @classmethod
    def load(cls, path: Path, model_id: str, *, mapped: bool = False) -> FaissBackend | None:
        """The saved index, or None when absent, of another model or format, or torn.
        `mapped`: its codes read from the file as needed (milliseconds, read-only)."""
        faiss = _faiss()
        record = _record_path(path)
        try:
            with np.load(record) as saved:
                meta = json.loads(str(saved["meta"]))
                ids, sums = saved["ids"], saved["sums"]
            stamp = _stamp(path)
            if meta.get("format") != INDEX_FORMAT or meta.get("model_id") != model_id \
                    or meta.get("index_bytes") != stamp[0]:
                return None
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mapped else 0)
        except (OSError, ValueError, KeyError, RuntimeError):
            return None
        if index.ntotal != len(ids):
            return None
        backend = cls(index, int(meta["nprobe"]), ids, sums, int(meta.get("generation", -1)),
                      mapped)
        backend.stamp = stamp
        return backend

    def is_current(self, library: Library, generation: int) -> bool:
        """Whether the index holds exactly the library's vectors, judged without reading
        every photo: its record names the library's vector generation (bumped with every
        vector written or dropped), the indexed count matches, and a spot check of content
        hashes agrees (a database file replaced by another with the same generation)."""
        if self.generation != generation or library.indexed_count() != len(self.ids):
            return False
        if len(self.ids) == 0:
            return True
        picks = np.unique(np.linspace(0, len(self.ids) - 1, SPOT_CHECKS).astype(np.intp))
        found = library.signatures_of(self.ids[picks].tolist())
        return all(found.get(int(i)) == int(s)
                   for i, s in zip(self.ids[picks], self.sums[picks], strict=True))


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".npz")


def index_path(library: Library) -> Path:
    """Where a library's FAISS index lives: beside its database."""
    return Path(str(library.path) + ".faiss")


def _calibrate(index: Any, sample: np.ndarray, nlist: int) -> int | None:
    """The smallest nprobe whose recall@50 against exact search, on queries near the
    library's own vectors, reaches `TARGET_RECALL`; None when even a quarter of the lists
    does not (then probing buys little over a scan)."""
    rng = np.random.default_rng(0)
    if len(sample) < 100:
        return nlist
    picks = sample[rng.choice(len(sample), 20, replace=False)]
    queries = picks + rng.normal(scale=0.02, size=picks.shape).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    # Exact answers over the whole index, from its own codes (the ceiling IVF can reach).
    faiss = _faiss()
    _, truth = index.search(queries, 50, params=faiss.SearchParametersIVF(nprobe=nlist))
    nprobe = 8
    while nprobe <= max(8, nlist // 4):
        _, found = index.search(queries, 50, params=faiss.SearchParametersIVF(nprobe=nprobe))
        recall = np.mean([len(set(f) & set(t)) / max(1, len(set(t)))
                          for f, t in zip(found.tolist(), truth.tolist(), strict=True)])
        if recall >= TARGET_RECALL:
            return nprobe
        nprobe *= 2
    return None


def _flat_sq8(ivf: Any, library: Library) -> Any:
    """A flat 8-bit scan with the IVF's trained quantizer ranges."""
    faiss = _faiss()
    flat = faiss.IndexScalarQuantizer(ivf.d, faiss.ScalarQuantizer.QT_8bit,
                                      faiss.METRIC_INNER_PRODUCT)
    flat.sq.trained = ivf.sq.trained
    flat.is_trained = True
    index = faiss.IndexIDMap2(flat)
    for batch_ids, vectors in library.vector_batches():
        index.add_with_ids(np.ascontiguousarray(vectors), batch_ids)
    return index


class VectorIndex:
    """Search's view of every photo vector: exact below `FAISS_MIN_PHOTOS`, FAISS above
    (`min_faiss` overrides, for tests and benchmarks). Brought up to date by `refresh`
    whenever the library's `vectors_generation` moves."""

    def __init__(self, min_faiss: int = FAISS_MIN_PHOTOS) -> None:
        self.min_faiss = min_faiss
        self.backend: Backend = _empty_exact()
        self.generation = -1
        self._library: Library | None = None
        # A patch is written back at most every SAVE_INTERVAL_S, counted from start-up: the
        # first search after a start does not wait for a 0.8 GB write (1 s at 1M photos);
        # the service writes it once idle or closing. A fresh build is written at once.
        self._saved_at = time.monotonic()
        self._dirty = False

    # The exact backend's arrays, as before (tests and near-duplicate groups use them).
    @property
    def ids(self) -> np.ndarray:
        return self.backend.ids

    @ids.setter
    def ids(self, value: np.ndarray) -> None:
        self._exact().ids = value

    @property
    def matrix(self) -> np.ndarray:
        """Every vector as float32, row for row with `ids` (read from the library when FAISS
        holds only codes: near-duplicate groups need exact cosines)."""
        if isinstance(self.backend, ExactBackend):
            return self.backend.matrix
        assert self._library is not None
        ids, matrix = self._library.all_vectors()
        return matrix[np.argsort(ids)]

    @matrix.setter
    def matrix(self, value: np.ndarray) -> None:
        self._exact().matrix = value

    def _exact(self) -> ExactBackend:
        if not isinstance(self.backend, ExactBackend):
            self.backend = _empty_exact()
        return self.backend

    @property
    def kind(self) -> str:
        if isinstance(self.backend, FaissBackend):
            return "faiss-ivf-sq8" if self.backend.is_ivf else "faiss-flat-sq8"
        return "exact"

    def refresh(self, library: Library) -> None:
        """Reload when a vector changed since the last call (any process bumps the count)."""
        self._library = library
        generation = library.vectors_generation()
        if generation == self.generation:
            return
        count = library.vector_count()
        if count < self.min_faiss:
            self.backend = ExactBackend(*library.all_vectors())
            library.held_index = None
        else:
            self.backend = self._faiss_backend(library, generation)
            library.held_index = (generation, self.backend)  # re-tagging reads it too
        self.generation = generation

    def _faiss_backend(self, library: Library, generation: int) -> FaissBackend:
        path = index_path(library)
        model_id = library.model_id or ""
        backend = self.backend if isinstance(self.backend, FaissBackend) else None
        if backend is None:
            backend = FaissBackend.load(path, model_id, mapped=True)
            if backend is not None and backend.is_current(library, generation):
                return backend
        # Release a mapped file before it is re-read or replaced (Windows refuses to replace
        # a mapped file; faiss aborts on a change to a mapped index).
        self.backend = _empty_exact()
        library.held_index = None
        ids, sums = library.vector_signatures()  # every photo: 0.3-0.7 s at 1M
        changes = _changes(backend, ids, sums) if backend is not None else 0
        if backend is not None and backend.mapped and 0 < changes <= PATCH_MAX_CHANGES:
            backend = FaissBackend.load(path, model_id)  # patched in an owned copy
            changes = _changes(backend, ids, sums) if backend is not None else 0
        if backend is None or changes > PATCH_MAX_CHANGES:
            backend = FaissBackend.build(library, ids, sums)
            self._dirty = True
            self._saved_at = 0.0  # minutes of work at 1M: not to be lost to a crash
        elif changes:
            backend.apply(library, ids, sums)
            self._dirty = True
        record_behind = backend.generation != generation
        backend.generation = generation
        if self._dirty and time.monotonic() - self._saved_at >= SAVE_INTERVAL_S:
            self._save(backend, path, model_id)
        elif record_behind and not self._dirty:
            # The file holds what the library holds: the next start can trust it at once.
            with _logged_os_error("record"):
                backend.save_record(path, model_id)
        return backend

    def _save(self, backend: FaissBackend, path: Path, model_id: str) -> None:
        with _logged_os_error("index"):
            backend.save(path, model_id)
            self._dirty = False
        self._saved_at = time.monotonic()

    def save(self) -> None:
        """Write a patched FAISS index now (otherwise at most every `SAVE_INTERVAL_S`)."""
        if isinstance(self.backend, FaissBackend) and self._dirty and self._library:
            self._save(self.backend, index_path(self._library), self._library.model_id or "")

    def nearest(self, query: np.ndarray, limit: int, allowed: set[int] | None = None,
                exclude: set[int] | None = None) -> list[tuple[int, float]]:
        return self.backend.nearest(query, limit, allowed, exclude)

    def within(self, query: np.ndarray, cosine: float) -> np.ndarray:
        """Ids of the photos at or above `cosine` with `query` (search's matches)."""
        return self.backend.within(query, cosine)

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The vectors of `ids`, row for row, without the whole float matrix when FAISS
        holds the library (decoded from its 8-bit codes)."""
        return self.backend.vectors_of(ids)

    @property
    def holds_floats(self) -> bool:
        """True when every float vector is in memory (exact search)."""
        return isinstance(self.backend, ExactBackend)


@contextlib.contextmanager
def _logged_os_error(what: str) -> Iterator[None]:
    """Saving is only a head start for the next launch: a full disk, or a file another
    program has mapped (Windows refuses to replace it), is logged and retried later."""
    try:
        yield
    except OSError as exc:
        log.warning("The search %s beside the library was not saved: %s", what, exc)


def _same_in(ids: np.ndarray, sums: np.ndarray, other_ids: np.ndarray,
             other_sums: np.ndarray) -> np.ndarray:
    """For each of (`ids`, `sums`): whether `other_ids` (sorted) holds the id with the same
    checksum."""
    at, held = sorted_positions(other_ids, ids)
    same: np.ndarray = held & (other_sums[at] == sums) if len(other_ids) else held
    return same


def _changes(backend: FaissBackend, ids: np.ndarray, sums: np.ndarray) -> int:
    """How many photos were added, dropped or rewritten between an index and the library."""
    order = np.argsort(ids)
    ids, sums = ids[order], sums[order]
    if np.array_equal(ids, backend.ids) and np.array_equal(sums, backend.sums):
        return 0
    in_old = np.isin(ids, backend.ids, assume_unique=True)
    in_new = np.isin(backend.ids, ids, assume_unique=True)
    rewritten = int((sums[in_old] != backend.sums[in_new]).sum())
    return int((~in_old).sum()) + int((~in_new).sum()) + rewritten


def update_saved_index(library: Library, min_faiss: int = FAISS_MIN_PHOTOS) -> bool:
    """After changes by a process that does not search (`photo-tagger index`): bring the
    FAISS file beside a large library up to date, so that the app's next start maps it
    instead of patching it before its first search (4-8 s at 1M photos). A library
    without the file is left to the app: building it takes minutes. True when written."""
    if library.vector_count() < min_faiss or not index_path(library).exists():
        return False
    index = VectorIndex(min_faiss)
    index.refresh(library)
    index.save()
    return True


def current_faiss(library: Library, min_faiss: int = FAISS_MIN_PHOTOS) -> FaissBackend | None:
    """A FAISS index holding exactly the library's vectors, for reading them all: the one
    search holds (`Library.held_index`), else in a large library its file, mapped (no
    copy) when its record is current, or checked photo by photo; None otherwise."""
    generation = library.vectors_generation()
    held = library.held_index
    if held is not None and held[0] == generation and isinstance(held[1], FaissBackend):
        return held[1]
    if library.vector_count() < min_faiss:
        return None
    backend = FaissBackend.load(index_path(library), library.model_id or "", mapped=True)
    if backend is None or backend.is_current(library, generation) or \
            _changes(backend, *library.vector_signatures()) == 0:
        return backend
    return None


def stored_vectors(library: Library, rows: int = 16_384, min_faiss: int = FAISS_MIN_PHOTOS
                   ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every stored vector as (ids, float32 vectors) in batches: decoded from a current
    FAISS index's 8-bit codes (`current_faiss`), else from SQLite (the copy shared with
    search)."""
    backend = current_faiss(library, min_faiss)
    if backend is not None:
        yield from backend.decoded_batches(rows)
        return
    ids, matrix = library.all_vectors()
    for start in range(0, len(ids), rows):
        yield ids[start:start + rows], matrix[start:start + rows]


def stored_products(library: Library, columns: np.ndarray, rows: int = 8_192,
                    min_faiss: int = FAISS_MIN_PHOTOS) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, every stored vector's dot product with each of `columns`) in batches: scored
    on a current FAISS index's 8-bit codes (re-tagging 1M photos without 3 GB of floats),
    else on the float vectors from SQLite."""
    backend = current_faiss(library, min_faiss)
    if backend is not None:
        yield from backend.products(columns, rows)
        return
    ids, matrix = library.all_vectors()
    columns = np.asarray(columns, dtype=np.float32)
    for start in range(0, len(ids), rows):
        yield ids[start:start + rows], matrix[start:start + rows] @ columns.T
