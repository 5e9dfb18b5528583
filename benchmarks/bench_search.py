"""Vector search at 10k to 1M photos, one library per size and distribution: exact numpy,
the app's `VectorIndex` (FAISS from 50k photos), sqlite-vec's own KNN and Milvus Lite, side
by side; recall@50 of each against exact numpy; the index's memory, load and build times;
re-tagging 100 labels from the stored vectors.

    .venv/bin/python -m benchmarks.bench_search --sizes 10000 100000 1000000
    .venv/bin/python -m benchmarks.bench_search --sizes 1000000 --json

`--json` prints one JSON object per size and distribution, with the keys `photos`, `p50_ms`
(the app's search), `exact_p50_ms`, `recall_at_50`, `vector_memory_mb`, `load_s` (the
index ready from a fresh start, its FAISS file already built), `first_search_s` (that plus
the first query), `retag_100_labels_s` (scores and thresholds of 100 labels for every
photo, from a fresh start: the FAISS file mapped, or the float vectors), `retag_held_s`
(the same from the index a search already holds, as in the running app) and more.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlite_vec import serialize_float32

from benchmarks.common import machine, percentile
from benchmarks.vectors import ClusteredVectors, queries_near, uniform_vectors

DIM = 768
QUERIES = 50


def fill(library, count: int, batch: Callable[[int], np.ndarray]) -> None:
    """`count` indexed photos with vectors from `batch(n)`, written as the indexer does."""
    library.set_model("benchmark", DIM)
    folder = library.add_folder(Path("/bench"))
    with library.transaction():
        for start in range(0, count, 5000):
            n = min(5000, count - start)
            vectors = batch(n)
            library.conn.executemany(
                "INSERT INTO photos(id, path, folder_id, size, mtime, content_hash, status) "
                "VALUES (?, ?, ?, 1, 1, ?, 'indexed')",
                [(start + i + 1, f"/bench/{start + i:07d}.jpg", folder.id, f"h{start + i}")
                 for i in range(n)])
            library.conn.executemany(
                "INSERT INTO photo_vectors(photo_id, embedding) VALUES (?, ?)",
                [(start + i + 1, serialize_float32(vectors[i])) for i in range(n)])
        library._bump_generation()


def timed(function: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = function()
    return (time.perf_counter() - started) * 1000, result


def recall(found: list[int], truth: list[int]) -> float:
    return len(set(found) & set(truth)) / max(1, len(truth))


def measure(size: int, kind: str, milvus_max: int, knn_queries: int) -> dict[str, object]:
    from photo_tagger.core import tagger
    from photo_tagger.core.store import Label, Library
    from photo_tagger.core.vector_index import ExactBackend, VectorIndex

    rng = np.random.default_rng(0)
    clusters = ClusteredVectors(DIM, rng, max(20, size // 500))
    batch = clusters.sample if kind == "clustered" else (
        lambda n: uniform_vectors(n, DIM, rng))
    result: dict[str, object] = {"photos": size, "vectors": kind}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as home:
        path = Path(home) / "library.db"
        library = Library(path)
        fill(library, size, batch)

        # Exact numpy: the float32 copy (what the app held for every size before).
        load_ms, (ids, matrix) = timed(library.all_vectors)
        exact = ExactBackend(ids, matrix)
        queries = queries_near(matrix, QUERIES, rng) if kind == "clustered" else \
            uniform_vectors(QUERIES, DIM, rng)
        exact_times, truth = [], []
        for query in queries:
            ms, hits = timed(lambda q=query: exact.nearest(q, 50))
            exact_times.append(ms)
            truth.append([i for i, _ in hits])
        result.update(exact_p50_ms=percentile(exact_times, 50), exact_load_s=load_ms / 1000,
                      exact_memory_mb=matrix.nbytes / 1e6)

        # The app's index: built once (and saved), then loaded as at a fresh start.
        build_ms, _ = timed(lambda: VectorIndex().refresh(library))
        exact = matrix = ids = None  # one float copy at a time (3 GB at 1M)
        library.close()
        library = Library(path)
        index = VectorIndex()
        load_ms, _ = timed(lambda: index.refresh(library))
        times, recalls = [], []
        for query, expected in zip(queries, truth, strict=True):
            ms, hits = timed(lambda q=query: index.nearest(q, 50))
            times.append(ms)
            recalls.append(recall([i for i, _ in hits], expected))
        backend = index.backend
        memory = backend.memory_bytes() if hasattr(backend, "memory_bytes") else \
            backend.matrix.nbytes
        result.update(index=index.kind, p50_ms=percentile(times, 50),
                      p95_ms=percentile(times, 95), recall_at_50=float(np.mean(recalls)),
                      vector_memory_mb=memory / 1e6, load_s=load_ms / 1000,
                      first_search_s=(load_ms + times[0]) / 1000, build_s=build_ms / 1000)
        if hasattr(backend, "nprobe"):
            result["nprobe"] = backend.nprobe

        # Re-tag, 100 labels: every photo's tags as re-tagging computes them (the vectors
        # read as it reads them, scores, thresholds; the tag rows are not written).
        labels = [Label(i, f"label {i}", f"tag {i}", "{label}", None) for i in range(100)]
        label_matrix = tagger.LabelMatrix(labels, uniform_vectors(100, DIM, rng),
                                          np.full(100, 0.05, np.float32), 112.0, -16.0)
        held_ms, _ = timed(lambda: len(tagger.library_tag_rows(library, label_matrix)))
        index = backend = None
        library.close()
        library = Library(path)
        retag_ms, tags = timed(lambda: len(tagger.library_tag_rows(library, label_matrix)))
        result.update(retag_100_labels_s=retag_ms / 1000, retag_held_s=held_ms / 1000,
                      retag_tags=tags)

        # sqlite-vec's own KNN (a scan without SIMD in 0.1.9): a few queries at 1M.
        knn_times, knn_recalls = [], []
        for query, expected in list(zip(queries, truth, strict=True))[:knn_queries]:
            ms, rows = timed(lambda q=query: library.conn.execute(
                "SELECT photo_id FROM photo_vectors WHERE embedding MATCH ? AND k = 50",
                (serialize_float32(q),)).fetchall())
            knn_times.append(ms)
            knn_recalls.append(recall([r[0] for r in rows], expected))
        result.update(sqlite_vec_p50_ms=percentile(knn_times, 50),
                      sqlite_vec_recall_at_50=float(np.mean(knn_recalls)))

        if size <= milvus_max:
            result.update(milvus_lite(library, home, queries, truth))
        library.close()
    return result


def milvus_lite(library, home: str, queries: np.ndarray,
                truth: list[list[int]]) -> dict[str, float]:
    """Milvus Lite, embedded: the whole library upserted, then the same queries."""
    from photo_tagger.core.milvus_store import MilvusStore, StoredPhoto, VectorStoreSpec

    spec = VectorStoreSpec.parse(f"milvus-lite:{home}/milvus.db")
    with MilvusStore(spec, "benchmark", DIM) as store:
        def rows():
            for ids, vectors in library.vector_batches():
                for photo_id, vector in zip(ids.tolist(), vectors, strict=True):
                    yield StoredPhoto(f"h{photo_id - 1}", vector, [], "/bench", 0)

        insert_ms, _ = timed(lambda: store.upsert(rows()))
        store.search(queries[0], 50)  # the first search loads the collection
        times, recalls = [], []
        for query, expected in zip(queries, truth, strict=True):
            ms, hits = timed(lambda q=query: store.search(q, 50))
            times.append(ms)
            recalls.append(recall([int(h[1:]) + 1 for h, _ in hits], expected))
    return {"milvus_lite_p50_ms": percentile(times, 50),
            "milvus_lite_recall_at_50": float(np.mean(recalls)),
            "milvus_lite_insert_s": insert_ms / 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--vectors", nargs="+", default=["clustered", "uniform"],
                        choices=["clustered", "uniform"])
    parser.add_argument("--milvus-max", type=int, default=100_000,
                        help="largest size also measured in Milvus Lite (insert ~4.5k/s)")
    parser.add_argument("--knn-queries", type=int, default=5,
                        help="queries timed with sqlite-vec's KNN (1.7 s each at 1M)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.json:
        print(f"machine: {machine()}")
    for size in args.sizes:
        for kind in args.vectors:
            result = measure(size, kind, args.milvus_max, args.knn_queries)
            if args.json:
                print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                  for k, v in result.items()}), flush=True)
            else:
                print(f"{size:>8} {kind:>9}: " + ", ".join(
                    f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in result.items() if k not in ("photos", "vectors")), flush=True)


if __name__ == "__main__":
    main()
