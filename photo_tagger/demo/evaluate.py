"""Measure the demo model on freshly generated shape photos: search, tagging, near-duplicates.

Run: python -m photo_tagger.demo.evaluate resources/models/siglip2-shapes-demo
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np

from photo_tagger.config import DEMO_TAG_THRESHOLD
from photo_tagger.demo import shapes

EVAL_SEED = 12345  # training uses small seeds; this one draws images it never saw
MAX_LENGTH = 64
# The demo model's tag threshold, chosen from the score distributions (docs/DEMO-MODEL.md).
DEFAULT_THRESHOLD = DEMO_TAG_THRESHOLD


def load(model_dir: str | Path):
    """Load model and processor the way the app does: safetensors, AutoModel/AutoProcessor."""
    from transformers import AutoModel, AutoProcessor

    model = AutoModel.from_pretrained(model_dir, use_safetensors=True).eval()
    return model, AutoProcessor.from_pretrained(model_dir)


def _model_dir(model_dir: str | Path | None) -> str | Path:
    """The folder to load when no loaded model is given: one of the two is needed."""
    if model_dir is None:
        raise ValueError("give a model directory or a loaded model and processor")
    return model_dir


def embed_images(model, processor, images: list) -> np.ndarray:
    """L2-normalised image embeddings, float32."""
    import torch

    with torch.no_grad():
        pix = processor(images=images, return_tensors="pt")["pixel_values"]
        out = model.get_image_features(pixel_values=pix)
        emb = out if isinstance(out, torch.Tensor) else out.pooler_output
    emb = emb.numpy().astype(np.float32)
    return emb / np.linalg.norm(emb, axis=1, keepdims=True)


def embed_texts(model, processor, texts: list[str]) -> np.ndarray:
    """L2-normalised text embeddings, padded to 64 tokens exactly as the app does."""
    import torch

    with torch.no_grad():
        enc = processor(text=[t.lower() for t in texts], padding="max_length",
                        max_length=MAX_LENGTH, truncation=True, return_tensors="pt")
        out = model.get_text_features(**enc)
        emb = out if isinstance(out, torch.Tensor) else out.pooler_output
    emb = emb.numpy().astype(np.float32)
    return emb / np.linalg.norm(emb, axis=1, keepdims=True)


def tag_scores(model, cos: np.ndarray) -> np.ndarray:
    """Sigmoid probability that a label applies: sigmoid(exp(t) * cos + b)."""
    scale = float(model.logit_scale.detach().exp())
    bias = float(model.logit_bias.detach())
    return 1.0 / (1.0 + np.exp(-(scale * cos + bias)))


def make_images(per_combo: int, seed: int = EVAL_SEED, size: int = 128):
    """Fresh images with their (shape, colour) labels, balanced over every combination."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for _ in range(per_combo):
        for shape, colour in itertools.product(shapes.SHAPES, shapes.COLOURS):
            images.append(shapes.render_shape(shape, colour, rng, size))
            labels.append((shape, colour))
    return images, labels


def _quantiles(values: np.ndarray) -> dict[str, float]:
    q = np.quantile(values, [0.0, 0.01, 0.05, 0.5, 0.95, 0.99, 1.0])
    names = ["min", "p1", "p5", "median", "p95", "p99", "max"]
    return {n: round(float(v), 4) for n, v in zip(names, q, strict=True)}


def _precision_at_k(sim: np.ndarray, relevant: np.ndarray, k: int) -> float:
    top = np.argsort(-sim, axis=1)[:, :k]
    return float(np.take_along_axis(relevant, top, axis=1).mean())


def evaluate(model_dir: str | Path | None = None, per_combo: int = 20, seed: int = EVAL_SEED,
             threshold: float = DEFAULT_THRESHOLD, model=None, processor=None
             ) -> dict[str, Any]:
    """All demo metrics on `per_combo` new images per shape×colour.

    Returns per-language text→image precision@10 for "colour shape" queries, bare shape
    label tagging precision/recall at `threshold` with the app's prompt template, the
    positive/negative score distributions, image→image precision@10 and near-duplicate
    cosine distributions.
    """
    from photo_tagger.demo.train import degrade

    if model is None:
        model, processor = load(_model_dir(model_dir))
    images, labels = make_images(per_combo, seed)
    img = embed_images(model, processor, images)
    img_shape = np.array([s for s, _ in labels])
    img_colour = np.array([c for _, c in labels])
    report: dict[str, Any] = {"images": len(images), "threshold": threshold, "langs": {}}

    pos_scores, neg_scores = [], []
    for lang in shapes.LANGS:
        combos = list(itertools.product(shapes.SHAPES, shapes.COLOURS))
        queries = [shapes.label(s, c, lang) for s, c in combos]
        q = embed_texts(model, processor, queries)
        relevant = np.array([(img_shape == s) & (img_colour == c) for s, c in combos])
        p10 = _precision_at_k(q @ img.T, relevant, 10)

        labels_ = [shapes.prompt(shapes.SHAPE_WORDS[lang][s][0]) for s in shapes.SHAPES]
        scores = tag_scores(model, embed_texts(model, processor, labels_) @ img.T)
        truth = np.array([img_shape == s for s in shapes.SHAPES])
        predicted = scores >= threshold
        tp = float((predicted & truth).sum())
        precision = tp / max(1.0, float(predicted.sum()))
        recall = tp / float(truth.sum())
        # Best single label per image (what a "top tag" display would show).
        top1 = float((np.argmax(scores, axis=0) == np.argmax(truth, axis=0)).mean())
        pos_scores.append(scores[truth])
        neg_scores.append(scores[~truth])
        report["langs"][lang] = {"query_p@10": round(p10, 4), "tag_precision": round(precision, 4),
                                 "tag_recall": round(recall, 4), "tag_top1": round(top1, 4),
                                 "tag_pos_median": round(float(np.median(scores[truth])), 4),
                                 "tag_neg_p99": round(float(np.quantile(scores[~truth], .99)), 4)}
    pos, neg = np.concatenate(pos_scores), np.concatenate(neg_scores)
    report["tag_scores"] = {"positives": _quantiles(pos), "negatives": _quantiles(neg)}
    # The threshold that best separates them (max F1), to document next to the default.
    grid = np.linspace(0.01, 0.99, 99)
    f1 = [2 * (pos >= t).sum() / ((pos >= t).sum() + (neg >= t).sum() + len(pos)) for t in grid]
    report["best_f1_threshold"] = round(float(grid[int(np.argmax(f1))]), 2)
    report["best_f1"] = round(float(max(f1)), 4)

    same = (img_shape[:, None] == img_shape[None]) & (img_colour[:, None] == img_colour[None])
    sim = img @ img.T
    np.fill_diagonal(sim, -np.inf)
    report["image_p@10"] = round(_precision_at_k(sim, same & ~np.eye(len(img), dtype=bool), 10),
                                 4)

    rng = np.random.default_rng(seed + 1)
    n = min(len(images), 120)
    dup = embed_images(model, processor, [degrade(im, rng, quality=60) for im in images[:n]])
    dup_cos = np.sum(dup * img[:n], axis=1)
    # The most similar *other* image of the same shape and colour: the hardest look-alike.
    sim_same = np.where(same, img @ img.T, -np.inf)
    np.fill_diagonal(sim_same, -np.inf)
    look_cos = sim_same[:n].max(axis=1)
    report["near_duplicate_cos"] = _quantiles(dup_cos)
    report["same_class_max_cos"] = _quantiles(look_cos)
    others = same & ~np.eye(len(img), dtype=bool)
    report["same_class_mean_cos"] = round(float((img @ img.T)[others].mean()), 4)
    report["duplicate_wins"] = round(float((dup_cos > look_cos).mean()), 4)
    return report


PAINT_SEED = 2024  # the second generator's images (photo_tagger/demo/paint.py)


def _p10_rows(sim: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    top = np.argsort(-sim, axis=1)[:, :10]
    return np.take_along_axis(relevant, top, axis=1).mean(axis=1)


def evaluate_paint(model_dir: str | Path | None = None, per_combo: int = 12,
                   seed: int = PAINT_SEED, threshold: float = DEFAULT_THRESHOLD,
                   model=None, processor=None) -> dict[str, Any]:
    """The model on the second generator, which training never sees: files written as PNG
    or JPEG and read back, 128-1024 px. Precision@10 of "colour shape" queries per
    language and per shape, of colour-only and shape-only queries, tag precision/recall
    of bare shape labels, and the cosine of half-size JPEG copies to their originals."""
    import tempfile

    from PIL import Image

    from photo_tagger.demo import paint

    if model is None:
        model, processor = load(_model_dir(model_dir))
    with tempfile.TemporaryDirectory() as folder:
        items = paint.write_dataset(folder, per_combo, seed)
        images = [Image.open(item.path).convert("RGB") for item in items]
    img = embed_images(model, processor, images)
    img_shape = np.array([item.shape for item in items])
    img_colour = np.array([item.colour for item in items])
    combos = list(itertools.product(shapes.SHAPES, shapes.COLOURS))
    relevant = np.array([(img_shape == s) & (img_colour == c) for s, c in combos])
    report: dict[str, Any] = {"images": len(images), "langs": {}, "shapes": {}}
    per_shape: dict[str, list[float]] = {s: [] for s in shapes.SHAPES}
    for lang in shapes.LANGS:
        q = embed_texts(model, processor, [shapes.label(s, c, lang) for s, c in combos])
        rows = _p10_rows(q @ img.T, relevant)
        for (s, _), value in zip(combos, rows, strict=True):
            per_shape[s].append(float(value))
        colour_q = embed_texts(model, processor, [shapes.label(None, c, lang)
                                                  for c in shapes.COLOURS])
        colour_p = _p10_rows(colour_q @ img.T,
                             np.array([img_colour == c for c in shapes.COLOURS])).mean()
        shape_q = embed_texts(model, processor, [shapes.label(s, None, lang)
                                                 for s in shapes.SHAPES])
        shape_p = _p10_rows(shape_q @ img.T,
                            np.array([img_shape == s for s in shapes.SHAPES])).mean()
        labels_ = [shapes.prompt(shapes.SHAPE_WORDS[lang][s][0]) for s in shapes.SHAPES]
        scores = tag_scores(model, embed_texts(model, processor, labels_) @ img.T)
        truth = np.array([img_shape == s for s in shapes.SHAPES])
        tagged = scores >= threshold
        tp = float((tagged & truth).sum())
        report["langs"][lang] = {
            "query_p@10": round(float(rows.mean()), 4), "colour_p@10": round(float(colour_p), 4),
            "shape_p@10": round(float(shape_p), 4),
            "tag_precision": round(tp / max(1.0, float(tagged.sum())), 4),
            "tag_recall": round(tp / float(truth.sum()), 4)}
    report["shapes"] = {s: round(float(np.mean(v)), 4) for s, v in per_shape.items()}
    report.update(_duplicate_cosines(model, processor, images, img, seed))
    return report


def _duplicate_cosines(model, processor, images: list, img: np.ndarray, seed: int
                       ) -> dict[str, Any]:
    """What the duplicate finder's default cosine must separate: copies (resized to
    0.4-0.8× and saved as JPEG q50-90) against their originals, and distinct images whose
    perceptual hashes already agree (within `DUPLICATE_HASH_DISTANCE` bits)."""
    import io

    from PIL import Image

    from photo_tagger.core.images import hash_distance, perceptual_hash
    from photo_tagger.core.search import DUPLICATE_HASH_DISTANCE
    from photo_tagger.demo.train import degrade

    rng = np.random.default_rng(seed + 1)
    n = min(len(images), 120)
    half = embed_images(model, processor, [degrade(im, rng, quality=60) for im in images[:n]])
    copies = []
    for im in images[:n]:
        scale = rng.uniform(0.4, 0.8)
        small = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                          Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        small.save(buf, "JPEG", quality=int(rng.integers(50, 91)))
        copies.append(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    copy = embed_images(model, processor, copies)
    hashes = [perceptual_hash(im) for im in images]
    close = [(i, j) for i in range(len(images)) for j in range(i + 1, len(images))
             if hash_distance(hashes[i], hashes[j]) <= DUPLICATE_HASH_DISTANCE]
    look = np.array([float(img[i] @ img[j]) for i, j in close]) if close else np.zeros(1)
    return {"near_duplicate_cos": _quantiles(np.sum(half * img[:n], axis=1)),
            "copy_cos": _quantiles(np.sum(copy * img[:n], axis=1)),
            "hash_lookalike_pairs": len(close), "hash_lookalike_cos": _quantiles(look)}


def format_paint_report(report: dict[str, Any]) -> str:
    """A plain-text table of `evaluate_paint`'s result."""
    lines = [f"second generator (paint.py): {report['images']} images",
             "lang  query P@10  colour P@10  shape P@10  tag P  tag R"]
    for lang, r in report["langs"].items():
        lines.append(f"{lang:4}  {r['query_p@10']:10.3f}  {r['colour_p@10']:11.3f}  "
                     f"{r['shape_p@10']:10.3f}  {r['tag_precision']:5.3f}  "
                     f"{r['tag_recall']:5.3f}")
    lines.append("query P@10 per shape: " + ", ".join(
        f"{s} {v:.3f}" for s, v in report["shapes"].items()))
    lines.append(f"near-duplicate cos (0.5x + JPEG q60): {report['near_duplicate_cos']}")
    lines.append(f"copy cos (0.4-0.8x + JPEG q50-90): {report['copy_cos']}")
    lines.append(f"{report['hash_lookalike_pairs']} distinct pairs within the hash distance, "
                 f"cos: {report['hash_lookalike_cos']}")
    return "\n".join(lines)


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of `evaluate`'s result."""
    lines = [f"{report['images']} fresh images; tag threshold {report['threshold']}",
             "lang  query P@10  tag P  tag R  top1  pos-median  neg-p99"]
    for lang, r in report["langs"].items():
        lines.append(f"{lang:4}  {r['query_p@10']:10.3f}  {r['tag_precision']:5.3f}  "
                     f"{r['tag_recall']:5.3f}  {r['tag_top1']:4.2f}  {r['tag_pos_median']:10.3f}"
                     f"  {r['tag_neg_p99']:7.3f}")
    lines += [f"tag scores, positives: {report['tag_scores']['positives']}",
              f"tag scores, negatives: {report['tag_scores']['negatives']}",
              f"best-F1 threshold {report['best_f1_threshold']} (F1 {report['best_f1']})",
              f"image->image P@10 (same shape and colour): {report['image_p@10']:.3f}",
              f"near-duplicate cos (0.5x + JPEG q60): {report['near_duplicate_cos']}",
              f"closest other same-class image cos: {report['same_class_max_cos']}",
              f"mean same-class cos {report['same_class_mean_cos']}; duplicate beats closest "
              f"look-alike for {report['duplicate_wins']:.1%} of images"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command line: evaluate a saved model directory and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir", nargs="?", type=Path,
                        default=Path("resources/models/siglip2-shapes-demo"))
    parser.add_argument("--per-combo", type=int, default=20)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    report = evaluate(args.model_dir, args.per_combo, threshold=args.threshold)
    print(format_report(report))
    print(format_paint_report(evaluate_paint(args.model_dir, threshold=args.threshold)))
    print(f"evaluated in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
