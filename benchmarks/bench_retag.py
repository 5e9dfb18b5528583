"""Re-tagging after a label change: 100k photos × 100 labels from stored vectors.

    .venv/bin/python -m benchmarks.bench_retag --photos 100000 --labels 100
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import fill_library, machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--dim", type=int, default=768)
    args = parser.parse_args()

    from photo_tagger.core import tagger
    from photo_tagger.core.store import Label, Library

    print(f"machine: {machine()}")
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as home:
        library = Library(Path(home) / "library.db")
        fill_library(library, args.photos, args.dim, rng)
        label_vectors = rng.normal(size=(args.labels, args.dim)).astype(np.float32)
        label_vectors /= np.linalg.norm(label_vectors, axis=1, keepdims=True)
        labels = [Label(i, f"label {i}", f"tag {i}", "this is a photo of {label}.", None)
                  for i in range(args.labels)]
        # Scale and bias of SigLIP 2 base; a 0.05 threshold on random vectors tags a few.
        matrix = tagger.LabelMatrix(labels, label_vectors,
                                    np.full(args.labels, 0.05, np.float32), 112.0, -16.0)
        started = time.perf_counter()
        ids, vectors = library.all_vectors()
        load = time.perf_counter() - started
        started = time.perf_counter()
        rows = tagger.tag_rows(matrix, ids.tolist(), vectors)
        compute = time.perf_counter() - started
        started = time.perf_counter()
        written = tagger.retag_library(library, matrix)
        total = time.perf_counter() - started
        print(f"{args.photos} photos × {args.labels} labels: scores+thresholds "
              f"{compute * 1000:.0f} ms ({len(rows)} tags); vectors from SQLite "
              f"{load * 1000:.0f} ms (once; then shared with search); whole re-tag incl. DB write "
              f"{total * 1000:.0f} ms "
              f"({written} tags)")
        library.close()


if __name__ == "__main__":
    main()
