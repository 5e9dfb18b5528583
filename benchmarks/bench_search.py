"""Search latency at 10k and 100k photos: text query → top 50, split into text encoding and
vector search; plus the cached repeat, the index load, and sqlite-vec's own KNN for
comparison (recall of our search against it).

    .venv/bin/python -m benchmarks.bench_search --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlite_vec import serialize_float32

from benchmarks.common import build_model, fill_library, machine, percentile

QUERIES = ["kids playing in the snow", "a dog on the beach", "sunset over mountains",
           "birthday cake with candles", "red car", "people at a wedding", "a cat sleeping",
           "receipt", "city at night", "flowers in a vase", "a boat on a lake",
           "screenshot of a phone", "group photo", "forest path", "food on a plate",
           "an airplane in the sky", "a horse in a field", "christmas tree", "selfie",
           "a painting in a museum"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--model", default="base-patch16-224")
    args = parser.parse_args()

    from photo_tagger.core.embedder import Embedder
    from photo_tagger.core.search import Searcher
    from photo_tagger.core.store import Library

    print(f"machine: {machine()}")
    embedder = Embedder.load(str(build_model(args.model)))
    encode = []
    for query in QUERIES:
        started = time.perf_counter()
        embedder.embed_texts([query])
        encode.append((time.perf_counter() - started) * 1000)
    print(f"text encoding ({args.model} text tower, fp32): p50 {percentile(encode, 50):.0f} ms,"
          f" p95 {percentile(encode, 95):.0f} ms")
    started = time.perf_counter()
    embedder.embed_text_cached(QUERIES[0])
    embedder.embed_text_cached(QUERIES[0])
    cached = time.perf_counter()
    embedder.embed_text_cached(QUERIES[0])
    print(f"repeated query (cache hit): {(time.perf_counter() - cached) * 1e6:.0f} µs")

    rng = np.random.default_rng(0)
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as home:
            library = Library(Path(home) / "library.db")
            fill_library(library, size, embedder.dim, rng)
            searcher = Searcher(library, embedder)
            started = time.perf_counter()
            searcher.index.refresh(library)
            load_ms = (time.perf_counter() - started) * 1000
            queries = rng.normal(size=(200, embedder.dim)).astype(np.float32)
            queries /= np.linalg.norm(queries, axis=1, keepdims=True)
            timings, recalls, vec0 = [], [], []
            for number, query in enumerate(queries):
                started = time.perf_counter()
                hits = searcher.similar_to_vector(query, limit=50)
                timings.append((time.perf_counter() - started) * 1000)
                if number < 20:
                    started = time.perf_counter()
                    rows = library.conn.execute(
                        "SELECT photo_id FROM photo_vectors WHERE embedding MATCH ? "
                        "AND k = 50", (serialize_float32(query),)).fetchall()
                    vec0.append((time.perf_counter() - started) * 1000)
                    exact = {r[0] for r in rows}
                    recalls.append(len(exact & {h.photo_id for h in hits}) / 50)
            full = []
            for query in QUERIES[:10]:
                embedder.embed_text_cached(query)  # typed recently
                started = time.perf_counter()
                searcher.search(query, limit=50)
                full.append((time.perf_counter() - started) * 1000)
            # The cost of the probability, the cutoff and the filters: find() against the
            # whole ranking's search() on the same cached queries.
            cut, filtered = [], []
            for query in QUERIES[:10]:
                started = time.perf_counter()
                searcher.find(query, limit=50)
                cut.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                searcher.find(f"{query} after:2000-01-01 type:jpg -tag:none", limit=50)
                filtered.append((time.perf_counter() - started) * 1000)
            print(f"{size:>7} photos: find (probability + cutoff) p50 "
                  f"{percentile(cut, 50):.1f} ms; with date, type and -tag filters p50 "
                  f"{percentile(filtered, 50):.1f} ms")
            print(f"{size:>7} photos: vector search top 50 p50 {percentile(timings, 50):.1f} ms,"
                  f" p95 {percentile(timings, 95):.1f} ms; recall@50 vs sqlite-vec exact KNN "
                  f"{np.mean(recalls):.3f}; sqlite-vec KNN p50 {percentile(vec0, 50):.0f} ms; "
                  f"whole search with cached text p50 {percentile(full, 50):.1f} ms; "
                  f"index load {load_ms:.0f} ms")
            library.close()


if __name__ == "__main__":
    main()
