"""Tags that learn: quality on fresh demo-model photos, and the speed of retrain + re-tag.

    .venv/bin/python -m benchmarks.bench_learning --photos 600 --speed-photos 100000

Quality: a nonsense-named tag ("zorp", no label) after 3, 5 and 10 positive examples plus as
many negatives, precision/recall over the photos that are not examples, mean of 10 draws;
and a known label's zero-shot against learned after 10 corrections of its mistakes,
measured on a second set of fresh photos that gave no example. Speed: one learned tag
refitted and applied to 100k random clustered vectors already in memory, with the write.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import fill_library, machine


def _index(folder: Path, home: Path, count: int, seed: int):
    from photo_tagger.core.indexer import Indexer
    from photo_tagger.core.store import Library
    from photo_tagger.demo.shapes import write_dataset

    items = write_dataset(folder, count, seed=seed)
    library = Library(home / "library.db")
    Indexer(library, "demo:shapes").index_folders([folder])
    ids, vectors = library.all_vectors()
    by_path = {str(i.path.resolve()): i for i in items}
    photos = library.photos_by_ids(ids.tolist())
    truth = [by_path[photos[int(i)].path] for i in ids]
    return library, ids, np.asarray(vectors), truth


def _pr(predicted: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    hits = (predicted & truth & mask).sum()
    return hits / max((predicted & mask).sum(), 1), hits / max((truth & mask).sum(), 1)


def quality(count: int) -> None:
    from photo_tagger.config import LEARNED_THRESHOLD
    from photo_tagger.core import learning, tagger
    from photo_tagger.core.embedder import Embedder

    embedder = Embedder.load("demo:shapes")
    scale, bias = embedder.logit_scale, embedder.logit_bias
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "a").mkdir()
        (root / "b").mkdir()
        _, ids, vectors, truth = _index(root / "photos-a", root / "a", count, 16)
        _, _, fresh, fresh_truth = _index(root / "photos-b", root / "b", count, 61)
        for name, wanted in [("stars", lambda i: i.shape == "star"),
                             ("yellow circles",
                              lambda i: (i.shape, i.colour) == ("circle", "yellow"))]:
            target = np.array([wanted(i) for i in truth])
            for k in (3, 5, 10):
                if target.sum() <= k:
                    continue  # too few photos of it in a small run
                results = []
                for draw in range(10):
                    rng = np.random.default_rng(draw)
                    pos = rng.choice(np.nonzero(target)[0], k, replace=False)
                    neg = rng.choice(np.nonzero(~target)[0], k, replace=False)
                    examples = np.concatenate([pos, neg])
                    background = vectors[learning._background(ids, examples, "zorp")]
                    fit = learning.fit(vectors[pos], vectors[neg], scale, None, background)
                    p = tagger.sigmoid(vectors @ fit.weights + fit.bias)
                    mask = np.ones(len(ids), bool)
                    mask[examples] = False
                    results.append(_pr(p >= LEARNED_THRESHOLD, target, mask))
                precision, recall = np.mean(results, axis=0)
                print(f"zorp = {name}, {k}+{k} examples: precision {precision:.2f}, "
                      f"recall {recall:.2f}")
        for word, wanted in [("heart", lambda i: i.shape == "heart"),
                             ("purple star", lambda i: (i.shape, i.colour) == ("star",
                                                                                "purple"))]:
            text = embedder.embed_texts([f"this is a photo of {word}."])[0].astype(np.float64)
            target = np.array([wanted(i) for i in truth])
            fresh_target = np.array([wanted(i) for i in fresh_truth])
            zero_shot = tagger.probability(vectors @ text, scale, bias)
            wrong = np.nonzero((zero_shot >= 0.5) != target)[0]
            rng = np.random.default_rng(0)
            corrections = rng.permutation(wrong)[:10]
            pos, neg = corrections[target[corrections]], corrections[~target[corrections]]
            background = vectors[learning._background(ids, corrections, word)]
            fit = learning.fit(vectors[pos], vectors[neg], scale, (text, bias), background)
            everywhere = np.ones(len(fresh), bool)
            before = _pr(tagger.probability(fresh @ text, scale, bias) >= 0.5, fresh_target,
                         everywhere)
            after = _pr(tagger.sigmoid(fresh @ fit.weights + fit.bias) >= 0.5, fresh_target,
                        everywhere)
            print(f"'{word}' after {len(corrections)} corrections, on fresh photos: zero-shot "
                  f"P {before[0]:.2f} R {before[1]:.2f} → learned P {after[0]:.2f} "
                  f"R {after[1]:.2f}")


def speed(count: int, dim: int) -> None:
    from photo_tagger.core import learning, tagger
    from photo_tagger.core.store import Label, Library

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as home:
        library = Library(Path(home) / "library.db")
        fill_library(library, count, dim, rng)
        ids, _ = library.all_vectors()  # in memory, as in the service
        text = rng.normal(size=dim).astype(np.float32)
        text /= np.linalg.norm(text)
        matrix = tagger.LabelMatrix([Label(1, "thing", "thing", "{label}", None)],
                                    text[None, :], np.full(1, 0.1, np.float32), 112.0, -16.0)
        chosen = rng.choice(ids, 20, replace=False).tolist()
        for photo_id in chosen[:10]:
            library.set_manual_tag(photo_id, "thing", True)
        for photo_id in chosen[10:]:
            library.set_manual_tag(photo_id, "thing", False)
        library.set_learning("thing", True)
        started = time.perf_counter()
        result = learning.retrain(library, "thing", matrix)
        elapsed = time.perf_counter() - started
        print(f"retrain + re-tag, {count} photos × {dim} dims, 20 examples: "
              f"{elapsed * 1000:.0f} ms ({result.tagged} photos tagged)")
        library.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=600)
    parser.add_argument("--speed-photos", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=768)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    quality(args.photos)
    speed(args.speed_photos, args.dim)


if __name__ == "__main__":
    main()
