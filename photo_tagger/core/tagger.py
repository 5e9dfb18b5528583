"""Zero-shot tags from the user's labels: SigLIP's sigmoid score per (photo, label),
multi-label, never a softmax. Re-tagging uses stored vectors only, never the images."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from photo_tagger.config import (
    DEFAULT_TEMPLATE,
    DEFAULT_THRESHOLD,
    DEMO_MODEL_NAME,
    DEMO_TAG_THRESHOLD,
    LEARNED_THRESHOLD,
)
from photo_tagger.core.embedder import Embedder
from photo_tagger.core.store import Label, Library
from photo_tagger.core.vector_index import stored_products

# A new library starts with these everyday concepts; the user edits them freely.
DEFAULT_LABELS = [
    "people", "child", "dog", "cat", "bird", "horse", "beach", "mountain", "snow", "forest",
    "lake", "city", "building", "sunset", "night", "flowers", "food", "car", "bicycle", "boat",
    "airplane", "document", "screenshot", "receipt", "selfie", "group photo", "wedding",
    "birthday cake", "christmas tree", "painting",
]

# Meta flag: labels changed while the model was unavailable; the next run with it re-tags.
RETAG_NEEDED = "retag_needed"


@dataclass
class LearnedTags:
    """Tags that learn from the user (core/learning.py fits them): one linear classifier
    each, `sigmoid(w·x + b)`, applied in place of their labels' zero-shot scores."""

    tags: list[str] = field(default_factory=list)
    weights: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    biases: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    thresholds: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    version: int = 0  # Library.learned_version when read


@dataclass
class LabelMatrix:
    """The labels with their text vectors, ready for one matrix product."""

    labels: list[Label]
    vectors: np.ndarray  # (labels, dim), unit length
    thresholds: np.ndarray  # (labels,)
    scale: float
    bias: float
    learned: LearnedTags = field(default_factory=LearnedTags)

    @property
    def tags(self) -> list[str]:
        return sorted({label.tag for label in self.labels} | set(self.learned.tags))

    def columns(self) -> np.ndarray:
        """What each photo vector is multiplied with: the label vectors, then the learned
        classifiers' weights (`tag_products` reads the products in this order)."""
        vectors = np.asarray(self.vectors, dtype=np.float32)
        if not self.learned.tags:
            return vectors
        weights = np.asarray(self.learned.weights, dtype=np.float32)
        return np.vstack([vectors, weights]) if self.labels else weights

    def scores(self, image_vectors: np.ndarray) -> np.ndarray:
        """The probability of every (photo, label): each label on its own."""
        cosines = np.asarray(image_vectors, dtype=np.float32) @ self.vectors.T
        return probability(cosines, self.scale, self.bias).astype(np.float32)


def logits(cosines: np.ndarray, scale: float, bias: float, *, in_place: bool = False
           ) -> np.ndarray:
    """SigLIP's logit, `scale·cos + bias`, per (image, text). `in_place` reuses a float32
    array the caller owns (a fresh matrix product), so 100k × 100 scores allocate nothing.

    Args:
        cosines: cosine similarities of unit image and text vectors, any shape.
        scale: the model's `logit_scale` (already exponentiated).
        bias: the model's `logit_bias`.
    """
    if not in_place:
        cosines = np.array(cosines, dtype=np.float32)
    cosines *= np.float32(scale)
    cosines += np.float32(bias)
    return cosines


def sigmoid(values: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x); a large negative logit gives 0 without a warning."""
    with np.errstate(over="ignore"):  # exp(large) → inf → score 0, which is right
        scores: np.ndarray = 1.0 / (1.0 + np.exp(-values))
    return scores


def probability(cosines: np.ndarray, scale: float, bias: float) -> np.ndarray:
    """SigLIP's probability that a text describes an image: `sigmoid(scale·cos + bias)`,
    each pair on its own (multi-label, never a softmax). The one place this formula lives.

    Args:
        cosines: cosine similarities of unit image and text vectors, any shape.
        scale: the model's `logit_scale` (already exponentiated).
        bias: the model's `logit_bias`.
    """
    return sigmoid(logits(cosines, scale, bias))


# A seeded label: (name, tag, threshold or None for the default).
SeedLabel = tuple[str, str, float | None]


def demo_labels() -> list[SeedLabel]:
    """What the demo model knows: its shapes and colours in its five languages, each
    word a label of its English tag ("rot", "rouge", "红色" → tag "red"), at the threshold
    measured for it (docs/DEMO-MODEL.md)."""
    from photo_tagger.demo.shapes import COLOUR_WORDS, COLOURS, LANGS, SHAPE_WORDS, SHAPES

    out: list[SeedLabel] = []
    for tag, words in [*((s, [w for lang in LANGS for w in SHAPE_WORDS[lang][s]])
                         for s in SHAPES),
                       *((c, [w for lang in LANGS for w in COLOUR_WORDS[lang][c]])
                         for c in COLOURS)]:
        out += [(name, tag, DEMO_TAG_THRESHOLD) for name in dict.fromkeys(words)]
    return out


def starter_labels(model_id: str | None) -> tuple[str, list[SeedLabel]]:
    """The label set a library on `model_id` starts with: its kind and its labels."""
    if model_id == DEMO_MODEL_NAME:
        return "demo", demo_labels()
    return "everyday", [(name, name, None) for name in DEFAULT_LABELS]


def seed_default_labels(library: Library, model_id: str | None = None) -> None:
    """Give a new library the starter labels of its model kind, once (a user who deletes
    them all keeps none). When the library moves to another kind of model (the demo model
    and a real checkpoint), the seeded labels the user left as they were make way for the
    other kind's set; labels the user wrote or edited stay."""
    kind, wanted = starter_labels(model_id or library.model_id)
    seeded = library.get_meta("labels_seeded")
    if seeded == kind or (seeded == "1" and kind == "everyday"):
        return
    with library.transaction():
        if seeded:
            old = (json.loads(library.get_meta("seeded_labels") or "[]") if seeded != "1"
                   else starter_labels(None)[1])
            for name, tag, threshold in old:
                library.conn.execute(
                    "DELETE FROM labels WHERE name = ? AND tag = ? AND threshold IS ? "
                    "AND template = ?", (name, tag, threshold, DEFAULT_TEMPLATE))
        for name, tag, threshold in wanted:
            library.conn.execute(
                "INSERT OR IGNORE INTO labels(name, tag, threshold) VALUES (?, ?, ?)",
                (name, tag, threshold))
        library.set_meta("labels_seeded", kind)
        library.set_meta("seeded_labels", json.dumps(wanted, ensure_ascii=False))


def _thresholds(labels: Sequence[Label]) -> np.ndarray:
    return np.array(
        [DEFAULT_THRESHOLD if label.threshold is None else label.threshold for label in labels],
        dtype=np.float32)


def label_matrix(library: Library, embedder: Embedder) -> LabelMatrix:
    """Text vectors of every label, computed once per model and cached in the library."""
    labels = library.labels()
    vectors = np.zeros((len(labels), embedder.dim), dtype=np.float32)
    stale = []
    for row, label in enumerate(labels):
        cached = library.conn.execute(
            "SELECT vector, vector_model FROM labels WHERE id = ?", (label.id,)
        ).fetchone()
        if cached[0] is not None and cached[1] == _vector_key(embedder.model_id, label):
            vectors[row] = np.frombuffer(cached[0], dtype=np.float32)
        else:
            stale.append(row)
    if stale:
        prompts = [prompt_for(labels[row]) for row in stale]
        fresh = embedder.embed_texts(prompts)
        with library.transaction():
            for row, vector in zip(stale, fresh, strict=True):
                vectors[row] = vector
                library.conn.execute(
                    "UPDATE labels SET vector = ?, vector_model = ? WHERE id = ?",
                    (vector.astype(np.float32).tobytes(),
                     _vector_key(embedder.model_id, labels[row]), labels[row].id))
    if library.get_meta("label_scale_model") != embedder.model_id:
        # Threshold edits later re-tag without loading the model: keep its scale and bias.
        with library.transaction():
            library.set_meta("label_scale", repr(embedder.logit_scale))
            library.set_meta("label_bias", repr(embedder.logit_bias))
            library.set_meta("label_scale_model", embedder.model_id)
    return LabelMatrix(labels, vectors, _thresholds(labels), embedder.logit_scale,
                       embedder.logit_bias, learned_tags(library, labels))


def cached_label_matrix(library: Library) -> LabelMatrix | None:
    """The label matrix from the library alone, or None when some label has no vector for
    the library's model yet (a new label or template: the model must embed it)."""
    model_id, dim = library.model_id, library.dimension
    if model_id is None or dim is None or library.get_meta("label_scale_model") != model_id:
        return None
    labels = library.labels()
    vectors = np.zeros((len(labels), dim), dtype=np.float32)
    for row, label in enumerate(labels):
        cached = library.conn.execute(
            "SELECT vector, vector_model FROM labels WHERE id = ?", (label.id,)).fetchone()
        if cached[0] is None or cached[1] != _vector_key(model_id, label) \
                or len(cached[0]) != dim * 4:
            return None
        vectors[row] = np.frombuffer(cached[0], dtype=np.float32)
    scale = float(library.get_meta("label_scale") or "nan")
    bias = float(library.get_meta("label_bias") or "nan")
    return LabelMatrix(labels, vectors, _thresholds(labels), scale, bias,
                       learned_tags(library, labels))


def learned_threshold(threshold: float | None, prior: bool, labels: Sequence[Label],
                      tag: str) -> float:
    """A learning tag's threshold: its own, else (when its labels' text is its prior, so
    its scores keep their scale) the lowest of its labels', else LEARNED_THRESHOLD."""
    if threshold is not None:
        return threshold
    own = [t for label, t in zip(labels, _thresholds(labels).tolist(), strict=True)
           if label.tag == tag]
    return min(own) if prior and own else LEARNED_THRESHOLD


def learned_tags(library: Library, labels: Sequence[Label] | None = None) -> LearnedTags:
    """The fitted classifiers that belong to the library's current model (one fitted on
    another model's vectors waits for `learning.refit_stale`)."""
    labels = library.labels() if labels is None else labels
    version = library.learned_version()
    usable = [(t, t.weights) for t in library.learned_tags()
              if t.weights is not None and t.model_id == library.model_id
              and len(t.weights) == library.dimension]
    if not usable:
        return LearnedTags(version=version)
    return LearnedTags(
        [t.tag for t, _ in usable], np.stack([w for _, w in usable]).astype(np.float32),
        np.array([t.bias for t, _ in usable], np.float32),
        np.array([learned_threshold(t.threshold, t.prior, labels, t.tag) for t, _ in usable],
                 np.float32), version)


def prompt_for(label: Label) -> str:
    """The text the model reads for a label: its template with the label filled in."""
    return label.template.replace("{label}", label.name)


def _vector_key(model_id: str, label: Label) -> str:
    # A label's vector is valid for one model and one prompt template (and its name,
    # which a rename clears explicitly).
    return f"{model_id}\n{label.template}"


def tag_rows(matrix: LabelMatrix, photo_ids: Sequence[int] | np.ndarray,
             image_vectors: np.ndarray, allowed: dict[int, set[str] | None] | None = None
             ) -> list[tuple[int, str, float]]:
    """(photo, tag, score) for every tag a photo reaches. A tag's score is the best of its
    synonym labels that reach their own threshold; `allowed` maps a photo to the tags its
    folder permits (None: all)."""
    if (not matrix.labels and not matrix.learned.tags) or len(photo_ids) == 0:
        return []
    image_vectors = np.asarray(image_vectors, dtype=np.float32)
    return tag_products(matrix, photo_ids, image_vectors @ matrix.columns().T, allowed)


def tag_products(matrix: LabelMatrix, photo_ids: Sequence[int] | np.ndarray,
                 products: np.ndarray, allowed: dict[int, set[str] | None] | None = None
                 ) -> list[tuple[int, str, float]]:
    """`tag_rows` from the photos' dot products with `matrix.columns()` (computed by the
    caller, e.g. on 8-bit codes). Vectorised and sparse: one comparison of every product
    with its column's threshold (moved from logit to product space, so no sigmoid or
    logit over the whole matrix), then the logit, synonyms and folder rules on the few
    entries that pass; 1M photos × 100 labels cost little beyond the matrix product."""
    learned = matrix.learned
    tags = matrix.tags
    if not tags or len(photo_ids) == 0:
        return []
    labels = len(matrix.labels)
    column_tags = [label.tag for label in matrix.labels] + learned.tags
    column_tag = np.array([tags.index(tag) for tag in column_tags], dtype=np.int64)
    # The logit each column must reach; a learning tag's classifier replaces its labels.
    needed = np.concatenate([_logit(matrix.thresholds), _logit(learned.thresholds)])
    learning = set(learned.tags)
    needed[np.array([i for i in range(labels) if column_tags[i] in learning],
                    dtype=np.int64)] = np.inf
    rows, cols, values = _passing(products, needed, labels, matrix.scale, matrix.bias,
                                  learned.biases)
    tag_of = column_tag[cols]
    if allowed:
        keep = _permitted(tags, photo_ids, allowed)
        if keep is not None:
            ok = keep[1][keep[0][rows], tag_of]
            rows, tag_of, values = rows[ok], tag_of[ok], values[ok]
    # Synonyms: a tag's logit is the best of its labels'; row by row, tags in order.
    key = rows * len(tags) + tag_of
    order = np.argsort(key, kind="stable")
    key, values = key[order], values[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else key
    if len(starts) != len(key):
        values = np.maximum.reduceat(values, starts)
        key = key[starts]
    ids = np.asarray(photo_ids, dtype=np.int64)[key // len(tags)].tolist()
    scores = sigmoid(values.astype(np.float64)).tolist()
    return [(p, tags[c], s) for p, c, s in zip(ids, (key % len(tags)).tolist(), scores,
                                               strict=True)]


def _passing(products: np.ndarray, needed: np.ndarray, labels: int, scale: float,
             bias: float, learned_biases: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, columns, logits) of the entries whose logit reaches `needed`: the first
    `labels` columns are cosines (logit = scale·cos + bias), the rest classifier products
    (logit = product + its bias). Candidates are found in product space, with a margin for
    float32 rounding, and confirmed on the logit computed as before (float32)."""
    label_part = needed[:labels].astype(np.float64)
    with np.errstate(invalid="ignore"):
        if scale > 0:
            bound = (label_part - bias) / scale
            bound -= 1e-4 * (1.0 + np.abs(bound))
        else:  # no usable scale (NaN, or not SigLIP's positive one): confirm everything
            bound = np.full(labels, -np.inf)
        learned_part = needed[labels:].astype(np.float64) - learned_biases
        learned_part -= 1e-4 * (1.0 + np.abs(learned_part))
    candidate = np.concatenate([bound, learned_part]).astype(np.float32)
    rows, cols = np.divmod(np.flatnonzero(products >= candidate), products.shape[1])
    multiplier = np.concatenate([np.full(labels, scale), np.ones(len(learned_biases))])
    offset = np.concatenate([np.full(labels, bias), learned_biases])
    logit = products[rows, cols] * multiplier.astype(np.float32)[cols]
    logit += offset.astype(np.float32)[cols]
    with np.errstate(invalid="ignore"):
        ok = (logit >= needed[cols]) & np.isfinite(logit)
    return rows[ok], cols[ok], logit[ok].astype(np.float32)


def _permitted(tags: list[str], photo_ids: Sequence[int] | np.ndarray,
               allowed: dict[int, set[str] | None]) -> tuple[np.ndarray, np.ndarray] | None:
    """(each row's permission group, group × tag allowed): few folders, so few groups.
    Group 0 allows every tag. None when every photo here may take every tag."""
    groups: dict[frozenset[str], int] = {}
    row_group = np.zeros(len(photo_ids), dtype=np.int64)
    for row, photo_id in enumerate(np.asarray(photo_ids).tolist()):
        permitted = allowed.get(int(photo_id))
        if permitted is not None:
            row_group[row] = groups.setdefault(frozenset(permitted), len(groups) + 1)
    if not groups:
        return None
    table = np.ones((len(groups) + 1, len(tags)), dtype=bool)
    for group, number in groups.items():
        table[number] = [tag in group for tag in tags]
    return row_group, table


def _logit(thresholds: np.ndarray) -> np.ndarray:
    """The logit at which each threshold is reached: 0 → -inf (always), 1 → +inf."""
    t = np.asarray(thresholds, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return (np.log(t) - np.log1p(-t)).astype(np.float32)


def folder_permissions(library: Library, photo_ids: Sequence[int] | None = None
                       ) -> dict[int, set[str] | None]:
    """Which tags each photo's folder allows (every photo's when `photo_ids` is None): None
    for all, an empty set when the folder's auto-tagging is off."""
    per_folder: dict[int | None, set[str] | None] = {}
    restricted = False
    for folder in library.folders():
        if not folder.auto_tag:
            per_folder[folder.id] = set()
            restricted = True
            continue
        chosen = {r[0] for r in library.conn.execute(
            "SELECT tag FROM folder_labels WHERE folder_id = ?", (folder.id,))}
        per_folder[folder.id] = chosen or None
        restricted = restricted or bool(chosen)
    if not restricted:
        return {}  # the common case: every folder takes every label; skip the photo lookup
    if photo_ids is None or len(photo_ids) > 500:
        folder_of = dict(library.conn.execute("SELECT id, folder_id FROM photos").fetchall())
        photo_ids = list(folder_of) if photo_ids is None else photo_ids
    else:
        folder_of = {pid: photo.folder_id
                     for pid, photo in library.photos_by_ids(list(photo_ids)).items()}
    return {int(pid): per_folder.get(folder_of.get(int(pid))) for pid in photo_ids}


def tag_photos(library: Library, matrix: LabelMatrix, photo_ids: Sequence[int],
               image_vectors: np.ndarray) -> None:
    """Automatic tags for freshly indexed photos; call inside the batch's transaction."""
    allowed = folder_permissions(library, photo_ids)
    library.replace_auto_tags(tag_rows(matrix, photo_ids, image_vectors, allowed), photo_ids,
                              set(matrix.learned.tags))


def library_tag_rows(library: Library, matrix: LabelMatrix) -> list[tuple[int, str, float]]:
    """`tag_rows` for every stored vector: from the index search holds, or the library's
    FAISS file (8-bit codes, scored without decoding), or the float vectors."""
    if not matrix.labels and not matrix.learned.tags:
        return []
    allowed = folder_permissions(library)
    rows: list[tuple[int, str, float]] = []
    for ids, products in stored_products(library, matrix.columns()):
        rows.extend(tag_products(matrix, ids, products, allowed))
    return rows


def retag_library(library: Library, matrix: LabelMatrix) -> int:
    """Re-tag every photo from its stored vector after a label change: one matrix product,
    no image opened. Manual decisions stay. Returns the number of automatic tags written.
    A large library is scored on its FAISS index's 8-bit codes, a block at a time."""
    rows = library_tag_rows(library, matrix)
    with library.transaction():
        # A manual row's score is refreshed below only where the label still passes.
        library.conn.execute("UPDATE tags SET score = NULL WHERE source = 'manual'")
        library.replace_auto_tags(rows, learned=set(matrix.learned.tags))
        library.conn.execute("DELETE FROM meta WHERE key = ?", (RETAG_NEEDED,))
    return len(rows)


def mark_retag_needed(library: Library) -> None:
    """Labels changed but the model was not at hand: the next run with the model re-tags."""
    with library.transaction():
        library.set_meta(RETAG_NEEDED, "1")


def retag_needed(library: Library) -> bool:
    return library.get_meta(RETAG_NEEDED) == "1"


def retag_if_needed(library: Library, matrix: Callable[[], LabelMatrix]) -> int | None:
    """Finish a re-tag left pending by a label change made without the model. `matrix`
    is called (loading the model) only when there is work. Returns tags written or None."""
    if not retag_needed(library):
        return None
    if library.vector_count() == 0:
        with library.transaction():
            library.conn.execute("DELETE FROM meta WHERE key = ?", (RETAG_NEEDED,))
        return None
    return retag_library(library, matrix())


def would_tag(library: Library, embedder: Embedder, name: str, template: str,
              threshold: float) -> tuple[int, int]:
    """How many indexed photos a label would tag at `threshold`, and how many there are: the
    labels editor's live count. Reads the stored vectors (kept in memory per generation by
    the library), never the images; needs the model for the label's text vector."""
    _, vectors = library.all_vectors()
    if len(vectors) == 0:
        return 0, 0
    label = library.label(name)
    learned = learned_tags(library)
    tag = label.tag if label is not None else name
    if tag in learned.tags:
        # A learning tag is given by its classifier; the threshold is the one being tried.
        row = learned.tags.index(tag)
        scores = sigmoid(vectors @ learned.weights[row] + learned.biases[row])
        return int((scores >= threshold).sum()), len(vectors)
    text = embedder.embed_text_cached(prompt_for(Label(0, name, name, template, threshold)))
    scores = probability(vectors @ text, embedder.logit_scale, embedder.logit_bias)
    return int((scores >= threshold).sum()), len(vectors)


def label_scores(matrix: LabelMatrix, image_vector: np.ndarray) -> list[tuple[Label, float]]:
    """Every label's score for one photo, best first (for `tags --all` and the GUI)."""
    if not matrix.labels:
        return []
    scores = matrix.scores(np.asarray(image_vector, dtype=np.float32)[None, :])[0]
    order = np.argsort(-scores, kind="stable")
    return [(matrix.labels[i], float(scores[i])) for i in order.tolist()]
