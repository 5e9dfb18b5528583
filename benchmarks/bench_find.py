"""What the probability, the cutoff and the filters add to a search (issue 15's goal: at most
5 ms on the search p50 at 100k photos): `Searcher.find` with and without each filter, beside
the plain ranking (`VectorIndex.nearest`) on the same library and query vectors.

    .venv/bin/python -m benchmarks.bench_find --photos 100000

The library holds random unit vectors (768 dimensions); a third of the photos carry an EXIF
date in 2024, a tenth are PNGs, a quarter carry the tag "beach". Query phrases are cached
in the library with vectors near some photos, as a repeated or typed-ahead query is, so no
model is loaded: the figures are the search's own cost, without text encoding.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.common import fill_library, machine, percentile

DIM = 768
MODEL = "benchmark"
# SigLIP 2 base's learned temperature and bias (exp(logit_scale) and logit_bias).
SCALE, BIAS = 112.0, -16.5
QUERIES = 30


def _decorate(library, count: int) -> None:
    """Dates, file types and a tag on a share of the photos, for the filters to work on."""
    with library.transaction():
        library.conn.execute("UPDATE photos SET taken_at = '2024:06:01 12:00:00' "
                             "WHERE id % 3 = 0")
        library.conn.execute("UPDATE photos SET path = replace(path, '.jpg', '.png') "
                             "WHERE id % 10 = 0")
        library.conn.executemany(
            "INSERT INTO tags(photo_id, tag, score, source) VALUES (?, 'beach', 0.9, 'auto')",
            [(i,) for i in range(4, count + 1, 4)])
        library.set_meta("label_scale", repr(SCALE))
        library.set_meta("label_bias", repr(BIAS))
        library.set_meta("label_scale_model", MODEL)


def _phrases(library, rng: np.random.Generator) -> list[str]:
    """Cached query phrases whose vectors sit near a few photos (so some photos match)."""
    ids, vectors = library.all_vectors()
    phrases = []
    with library.transaction():
        for n in range(QUERIES):
            near = vectors[rng.choice(len(ids), size=20, replace=False)].mean(axis=0)
            near /= np.linalg.norm(near)
            phrases.append(f"phrase {n}")
            library.conn.execute(
                "INSERT INTO query_vectors(model_id, text, vector) VALUES (?, ?, ?)",
                (MODEL, phrases[-1], near.astype(np.float32).tobytes()))
    return phrases


def _p50(run: Callable[[str], object], phrases: list[str]) -> float:
    run(phrases[0])  # warm: caches, the filter's first SQL
    timings = []
    for phrase in phrases:
        started = time.perf_counter()
        run(phrase)
        timings.append((time.perf_counter() - started) * 1000)
    return percentile(timings, 50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=100_000)
    args = parser.parse_args()

    from photo_tagger.core.search import Searcher
    from photo_tagger.core.store import Library

    print(f"machine: {machine()}")
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as home:
        library = Library(Path(home) / "library.db")
        fill_library(library, args.photos, DIM, rng, model_id=MODEL)
        _decorate(library, args.photos)
        phrases = _phrases(library, rng)
        searcher = Searcher(library)
        searcher.index.refresh(library)
        vectors = searcher.texts.vectors(phrases)

        def ranking(phrase: str) -> object:
            return searcher.index.nearest(vectors[phrase], 50)

        rows = [("ranking only (VectorIndex.nearest, top 50)", ranking)]
        for label, suffix in [("find: probability + cutoff + counts", ""),
                              ("find + date:2024", " date:2024"),
                              ("find + type:png", " type:png"),
                              ("find + tag:beach", " tag:beach"),
                              ("find + -tag:beach", " -tag:beach"),
                              ("find + folder:/bench", " folder:/bench"),
                              ("find + after: type: -tag: together",
                               " after:2024-01-01 type:jpg -tag:beach")]:
            rows.append((label, lambda phrase, s=suffix: searcher.find(phrase + s,
                                                                       limit=50)))
        rows.append(("filters only: date:2024 type:jpg (listed by date)",
                     lambda _phrase: searcher.find("date:2024 type:jpg", limit=50)))
        base = None
        print(f"{args.photos} photos × {DIM} dims, {searcher.index.kind} index, "
              f"p50 of {QUERIES} queries:")
        for label, run in rows:
            p50 = _p50(run, phrases)
            base = p50 if base is None else base
            print(f"  {label:<52} {p50:7.1f} ms  ({p50 - base:+.1f} ms)")
        library.close()


if __name__ == "__main__":
    main()
