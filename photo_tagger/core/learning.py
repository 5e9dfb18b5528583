"""Tags that learn from the user's corrections: every manual tag and untag is an example,
fitted into one logistic regression per tag over the stored image vectors, pulled towards
the zero-shot text prior of the tag's labels. No Qt, no torch: numpy on stored vectors."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from photo_tagger.core import tagger
from photo_tagger.core.store import LearnedTag, Library

# How hard the weights are pulled towards the prior, in cosine units: the penalty is
# PRIOR_STRENGTH·|w/scale − text|². Chosen with benchmarks/bench_learning.py.
PRIOR_STRENGTH = 16.0
# The same pull towards zero for a tag with no prior, so a few examples cannot overfit.
PLAIN_STRENGTH = 1.0
# Weight of each background photo's agreement with the prior's probability.
PRIOR_AGREEMENT = 1.0
# Bias pull towards the prior's bias (logit units); without a prior the bias is free.
BIAS_STRENGTH = 0.05
# A tag without a prior also learns that most photos are not it: this many library photos,
# weighing together BACKGROUND_WEIGHT times its positives, serve as weak negatives.
BACKGROUND = 256
BACKGROUND_WEIGHT = 0.5
# The text prior is dropped when it ranks the examples this badly (AUC): the name means
# nothing to the model ("Rex", "zorp"), so the examples alone decide.
PRIOR_MIN_AUC = 0.8
NEWTON_STEPS = 30

MatrixSource = Callable[[], tagger.LabelMatrix]


class LearningError(ValueError):
    """A known problem with a learning request (no such tag, not learning): a message."""


@dataclass(frozen=True)
class Fit:
    weights: np.ndarray | None  # None: nothing to learn from yet
    bias: float
    prior: bool


@dataclass(frozen=True)
class LearnResult:
    """What one retraining did, for the CLI and the window to report."""

    tag: str
    positives: int
    negatives: int
    prior: bool
    tagged: int  # photos the tag is on after the re-tag (learned and manual)

    def as_dict(self) -> dict[str, object]:
        return {"tag": self.tag, "positives": self.positives, "negatives": self.negatives,
                "prior": self.prior, "tagged": self.tagged}


@dataclass(frozen=True)
class Candidate:
    """A photo the classifier is unsure about, for the review queue."""

    photo_id: int
    path: str
    probability: float

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "probability": round(self.probability, 6)}


# -- fitting ------------------------------------------------------------------------------
def fit(positives: np.ndarray, negatives: np.ndarray, scale: float,
        prior: tuple[np.ndarray, float] | None = None,
        background: np.ndarray | None = None) -> Fit:
    """Regularised logistic regression on unit vectors, `p = sigmoid(w·x + b)`.

    Args:
        positives: (n, dim) vectors of photos the user tagged.
        negatives: (m, dim) vectors of photos the user untagged.
        scale: the model's logit scale; weights are regularised in cosine units (w/scale).
        prior: (unit text vector, bias): the zero-shot classifier `scale·text, bias` that
            the fit starts from and is pulled towards; None for examples alone.
        background: vectors of unlabelled photos, weak negatives for a tag with no prior.
    """
    dim = positives.shape[1] if len(positives) else negatives.shape[1]
    if len(positives) == 0 and prior is None:
        return Fit(None, 0.0, False)
    parts = [positives, negatives]
    labels = [np.ones(len(positives)), np.zeros(len(negatives))]
    weights = [np.ones(len(positives) + len(negatives))]
    if background is not None and len(background):
        parts.append(background)
        if prior is None:
            # Most photos are not a private concept: weak negatives.
            labels.append(np.zeros(len(background)))
            weights.append(np.full(len(background),
                                   BACKGROUND_WEIGHT * max(len(positives), 1) / len(background)))
        else:
            # Elsewhere, agree with the text prior: its own probabilities as soft targets,
            # so the examples correct the tag near them without moving it far from them.
            labels.append(tagger.sigmoid(
                scale * background.astype(np.float64) @ prior[0] + prior[1]))
            weights.append(np.full(len(background), PRIOR_AGREEMENT))
    x = np.hstack([np.vstack(parts).astype(np.float64), np.ones((sum(map(len, parts)), 1))])
    y, c = np.concatenate(labels), np.concatenate(weights)
    start = np.zeros(dim + 1)
    lam = np.full(dim + 1, PLAIN_STRENGTH / scale**2)
    lam[-1] = 1e-6  # the bias is free without a prior
    if prior is not None:
        start[:dim], start[-1] = scale * prior[0], prior[1]
        lam[:dim], lam[-1] = PRIOR_STRENGTH / scale**2, BIAS_STRENGTH
    theta = _newton(x, y, c, start, lam)
    return Fit(theta[:dim].astype(np.float32), float(theta[-1]), prior is not None)


def _objective(x: np.ndarray, y: np.ndarray, c: np.ndarray, theta: np.ndarray,
               start: np.ndarray, lam: np.ndarray) -> float:
    f = x @ theta
    loss = c * (np.logaddexp(0.0, f) - y * f)
    return float(loss.sum() + 0.5 * (lam * (theta - start) ** 2).sum())


def _newton(x: np.ndarray, y: np.ndarray, c: np.ndarray, start: np.ndarray,
            lam: np.ndarray) -> np.ndarray:
    """Newton's method with backtracking: the problem is strictly convex, so a few steps
    reach the optimum; each costs one n×n (few examples) or dim×dim solve."""
    theta = start.copy()
    value = _objective(x, y, c, theta, start, lam)
    for _ in range(NEWTON_STEPS):
        p = tagger.sigmoid(x @ theta)
        gradient = x.T @ (c * (p - y)) + lam * (theta - start)
        step = _solve(x, c * p * (1 - p), lam, gradient)
        size = 1.0
        while size > 1e-4:
            candidate = theta - size * step
            new_value = _objective(x, y, c, candidate, start, lam)
            if new_value <= value:
                break
            size /= 2
        else:
            break
        theta, improvement, value = candidate, value - new_value, new_value
        if improvement < 1e-9 * max(1.0, abs(value)):
            break
    return theta


def _solve(x: np.ndarray, d: np.ndarray, lam: np.ndarray, g: np.ndarray) -> np.ndarray:
    """(xᵀ·diag(d)·x + diag(lam))⁻¹·g. With fewer examples than dimensions, through the
    Woodbury identity (an n×n system) instead of the (dim+1)² one."""
    n, k = x.shape
    if n >= k:
        return np.linalg.solve((x.T * d) @ x + np.diag(lam), g)
    scaled = x / lam  # x·Λ⁻¹
    root = np.sqrt(d)
    inner = np.eye(n) + root[:, None] * (scaled @ x.T) * root[None, :]
    z = root * np.linalg.solve(inner, root * (scaled @ g))
    solution: np.ndarray = g / lam - scaled.T @ z
    return solution


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """How often a positive outranks a negative (ties count half)."""
    greater = (positive[:, None] > negative[None, :]).mean()
    ties = (positive[:, None] == negative[None, :]).mean()
    return float(greater + ties / 2)


def text_prior(matrix: tagger.LabelMatrix, tag: str) -> np.ndarray | None:
    """The direction of a tag's labels' text (synonyms averaged), or None without labels."""
    rows = [i for i, label in enumerate(matrix.labels) if label.tag == tag]
    if not rows:
        return None
    direction = matrix.vectors[rows].astype(np.float64).mean(axis=0)
    norm = np.linalg.norm(direction)
    return direction / norm if norm > 0 else None


# -- the library's side -------------------------------------------------------------------
def _rows_of(ids: np.ndarray, wanted: list[int]) -> np.ndarray:
    """Rows of `wanted` photo ids in `ids` (those with a vector)."""
    if not wanted or len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    wanted_arr = np.asarray(wanted, dtype=np.int64)
    at = np.minimum(np.searchsorted(sorted_ids, wanted_arr), len(ids) - 1)
    found = sorted_ids[at] == wanted_arr
    rows: np.ndarray = order[at[found]]
    return rows


def _background(ids: np.ndarray, exclude: np.ndarray, tag: str) -> np.ndarray:
    """A fixed sample of library rows (the same for the same tag and library)."""
    rng = np.random.default_rng(zlib.crc32(tag.encode()))
    pool = np.setdiff1d(np.arange(len(ids)), exclude)
    return np.sort(rng.choice(pool, size=min(BACKGROUND, len(pool)), replace=False))


def fit_tag(library: Library, tag: str, matrix: tagger.LabelMatrix) -> Fit:
    """Fit `tag`'s classifier from the user's decisions on the library's vectors."""
    ids, vectors = library.all_vectors()
    positive_ids, negative_ids = library.manual_examples(tag)
    positive_rows, negative_rows = _rows_of(ids, positive_ids), _rows_of(ids, negative_ids)
    positives, negatives = vectors[positive_rows], vectors[negative_rows]
    background = vectors[_background(ids, np.concatenate([positive_rows, negative_rows]),
                                     tag)] if len(ids) else vectors[:0]
    direction = text_prior(matrix, tag)
    if direction is not None and len(positives):
        # Does the text rank the user's examples at all? If not, it is a private name.
        against = negatives if len(negatives) else background
        if len(against) and _auc(positives @ direction, against @ direction) < PRIOR_MIN_AUC:
            direction = None
    prior = None if direction is None else (direction, matrix.bias)
    return fit(positives, negatives, matrix.scale, prior, background)


def threshold_of(library: Library, learned: LearnedTag, prior: bool) -> float:
    return tagger.learned_threshold(learned.threshold, prior, library.labels(), learned.tag)


def retrain(library: Library, tag: str, matrix: tagger.LabelMatrix) -> LearnResult:
    """Refit `tag` from every decision so far, then re-tag the whole library with it."""
    learned = library.learned_tag(tag)
    if learned is None:
        raise LearningError(f"'{tag}' does not learn; `photo-tagger labels learn {tag}` "
                            "turns it on.")
    result = fit_tag(library, tag, matrix)
    positives, negatives = library.manual_examples(tag)
    library.save_classifier(tag, library.model_id or "", result.weights, result.bias,
                            len(positives) + len(negatives), result.prior)
    tagged = apply(library, tag)
    return LearnResult(tag, len(positives), len(negatives), result.prior, tagged)


def apply(library: Library, tag: str) -> int:
    """Re-tag the library with one learned tag: one matrix-vector product over the stored
    vectors. Returns the photos that carry the tag afterwards."""
    learned = library.learned_tag(tag)
    ids, vectors = library.all_vectors()
    rows: list[tuple[int, float]] = []
    if learned is not None and learned.weights is not None and len(ids) \
            and learned.model_id == library.model_id:
        threshold = threshold_of(library, learned, learned.prior)
        probabilities = tagger.sigmoid(vectors @ learned.weights + np.float32(learned.bias))
        passing = np.nonzero(probabilities >= threshold)[0]
        passing_ids = ids[passing].tolist()
        allowed = tagger.folder_permissions(library, passing_ids)
        rows = [(pid, p) for pid, p in zip(passing_ids, probabilities[passing].tolist(),
                                           strict=True)
                if allowed.get(pid) is None or tag in allowed[pid]]  # type: ignore[operator]
    library.replace_tag_rows(tag, rows)
    return len(library.photo_ids_with_tags([tag]))


def enable(library: Library, tag: str, matrix: tagger.LabelMatrix,
           threshold: float | None = None) -> LearnResult:
    """Start learning `tag` (its labels' zero-shot rows give way to the classifier)."""
    library.set_learning(tag, True, threshold)
    return retrain(library, tag, matrix)


def disable(library: Library, tag: str) -> None:
    """Stop learning `tag`: the classifier goes, the user's decisions stay. The caller
    re-tags, so the tag's labels (if any) tag by their zero-shot score again."""
    if library.learned_tag(tag) is None:
        raise LearningError(f"'{tag}' is not learning.")
    library.set_learning(tag, False)


def after_decision(library: Library, tags: set[str], matrix: MatrixSource
                   ) -> list[LearnResult]:
    """Retrain every learning tag among `tags` after the user tagged or untagged photos."""
    learning = {t.tag for t in library.learned_tags()} & tags
    if not learning:
        return []
    built = matrix()
    return [retrain(library, tag, built) for tag in sorted(learning)]


def refit_stale(library: Library, matrix: MatrixSource) -> list[LearnResult]:
    """Refit the tags whose classifier belongs to another model (after a model switch the
    examples are the same photos, with new vectors). `matrix` is called only if needed."""
    if library.vector_count() == 0:
        return []
    stale = [t.tag for t in library.learned_tags() if t.model_id != library.model_id]
    if not stale:
        return []
    built = matrix()
    return [retrain(library, tag, built) for tag in stale]


def review(library: Library, tag: str, limit: int = 50) -> list[Candidate]:
    """The photos the classifier is least sure about, most informative first: nearest the
    tag's threshold in logit space (uncertainty sampling), leaving out photos the user has
    already decided on."""
    learned = library.learned_tag(tag)
    if learned is None or learned.weights is None or learned.model_id != library.model_id:
        raise LearningError(
            f"'{tag}' has no classifier yet: `photo-tagger labels learn {tag}` and a few "
            f"`photo-tagger tag PHOTO {tag}` give it one.")
    ids, vectors = library.all_vectors()
    if len(ids) == 0 or limit <= 0:
        return []
    threshold = threshold_of(library, learned, learned.prior)
    logits = vectors @ learned.weights + np.float32(learned.bias)
    at = np.log(threshold) - np.log1p(-threshold) if 0 < threshold < 1 else 0.0
    distance = np.abs(logits.astype(np.float64) - at)
    positives, negatives = library.manual_examples(tag)
    distance[_rows_of(ids, positives + negatives)] = np.inf
    count = min(limit, int(np.isfinite(distance).sum()))
    order = np.lexsort((ids, distance))[:count]  # ties: the older photo first
    photos = library.photos_by_ids(ids[order].tolist())
    probabilities = tagger.sigmoid(logits[order].astype(np.float64)).tolist()
    return [Candidate(int(pid), photos[int(pid)].path, p)
            for pid, p in zip(ids[order].tolist(), probabilities, strict=True)
            if int(pid) in photos]
