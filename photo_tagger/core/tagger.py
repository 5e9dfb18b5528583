"""Zero-shot tags from the user's labels: SigLIP's sigmoid score per (photo, label),
multi-label, never a softmax. Re-tagging uses stored vectors only, never the images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from photo_tagger.config import DEFAULT_THRESHOLD
from photo_tagger.core.embedder import Embedder
from photo_tagger.core.store import Label, Library

# A new library starts with these everyday concepts; the user edits them freely.
DEFAULT_LABELS = [
    "people", "child", "dog", "cat", "bird", "horse", "beach", "mountain", "snow", "forest",
    "lake", "city", "building", "sunset", "night", "flowers", "food", "car", "bicycle", "boat",
    "airplane", "document", "screenshot", "receipt", "selfie", "group photo", "wedding",
    "birthday cake", "christmas tree", "painting",
]


@dataclass
class LabelMatrix:
    """The labels with their text vectors, ready for one matrix product."""

    labels: list[Label]
    vectors: np.ndarray  # (labels, dim), unit length
    thresholds: np.ndarray  # (labels,)
    scale: float
    bias: float

    @property
    def tags(self) -> list[str]:
        return sorted({label.tag for label in self.labels})

    def scores(self, image_vectors: np.ndarray) -> np.ndarray:
        logits = image_vectors @ self.vectors.T * self.scale + self.bias
        return 1.0 / (1.0 + np.exp(-logits))


def seed_default_labels(library: Library) -> None:
    """Give a new library the default labels, once (a user who deletes them all keeps none)."""
    if library.get_meta("labels_seeded"):
        return
    with library.transaction():
        for name in DEFAULT_LABELS:
            library.conn.execute(
                "INSERT OR IGNORE INTO labels(name, tag) VALUES (?, ?)", (name, name))
        library.set_meta("labels_seeded", "1")


def label_matrix(library: Library, embedder: Embedder) -> LabelMatrix:
    """Text vectors of every label, computed once per model and cached in the library."""
    labels = library.labels()
    vectors = np.zeros((len(labels), embedder.dim), dtype=np.float32)
    stale = []
    for row, label in enumerate(labels):
        cached = library.conn.execute(
            "SELECT vector, vector_model, template FROM labels WHERE id = ?", (label.id,)
        ).fetchone()
        if cached[0] is not None and cached[1] == _vector_key(embedder, label):
            vectors[row] = np.frombuffer(cached[0], dtype=np.float32)
        else:
            stale.append(row)
    if stale:
        prompts = [labels[row].template.replace("{label}", labels[row].name) for row in stale]
        fresh = embedder.embed_texts(prompts)
        with library.transaction():
            for row, vector in zip(stale, fresh, strict=True):
                vectors[row] = vector
                library.conn.execute(
                    "UPDATE labels SET vector = ?, vector_model = ? WHERE id = ?",
                    (vector.astype(np.float32).tobytes(), _vector_key(embedder, labels[row]),
                     labels[row].id))
        library.set_meta("label_scale", repr(embedder.logit_scale))
        library.set_meta("label_bias", repr(embedder.logit_bias))
    thresholds = np.array(
        [DEFAULT_THRESHOLD if label.threshold is None else label.threshold for label in labels],
        dtype=np.float32)
    return LabelMatrix(labels, vectors, thresholds, embedder.logit_scale, embedder.logit_bias)


def _vector_key(embedder: Embedder, label: Label) -> str:
    # A label's vector is valid for one model and one prompt template.
    return f"{embedder.model_id}\n{label.template}"


def tag_rows(matrix: LabelMatrix, photo_ids: Sequence[int], image_vectors: np.ndarray,
             allowed: dict[int, set[str] | None] | None = None) -> list[tuple[int, str, float]]:
    """(photo, tag, score) for every tag a photo reaches. A tag's score is the best of its
    synonym labels; `allowed` maps a photo to the tags its folder permits (None: all)."""
    if not matrix.labels or len(photo_ids) == 0:
        return []
    scores = matrix.scores(image_vectors)
    passed = scores >= matrix.thresholds
    best: dict[tuple[int, str], float] = {}
    rows, cols = np.nonzero(passed)
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        photo_id = int(photo_ids[r])
        tag = matrix.labels[c].tag
        permitted = allowed.get(photo_id) if allowed else None
        if permitted is not None and tag not in permitted:
            continue
        key = (photo_id, tag)
        best[key] = max(best.get(key, 0.0), float(scores[r, c]))
    return [(p, t, s) for (p, t), s in best.items()]


def folder_permissions(library: Library, photo_ids: Sequence[int]) -> dict[int, set[str] | None]:
    """Which tags each photo's folder allows: None for all, an empty set when the folder's
    auto-tagging is off."""
    per_folder: dict[int | None, set[str] | None] = {}
    for folder in library.folders():
        if not folder.auto_tag:
            per_folder[folder.id] = set()
            continue
        chosen = {r[0] for r in library.conn.execute(
            "SELECT tag FROM folder_labels WHERE folder_id = ?", (folder.id,))}
        per_folder[folder.id] = chosen or None
    photos = library.photos_by_ids(list(photo_ids))
    return {pid: per_folder.get(photos[pid].folder_id) if pid in photos else None
            for pid in photo_ids}


def tag_photos(library: Library, matrix: LabelMatrix, photo_ids: Sequence[int],
               image_vectors: np.ndarray) -> None:
    """Automatic tags for freshly indexed photos; call inside the batch's transaction."""
    allowed = folder_permissions(library, photo_ids)
    library.replace_auto_tags(tag_rows(matrix, photo_ids, image_vectors, allowed), photo_ids)


def retag_library(library: Library, matrix: LabelMatrix) -> int:
    """Re-tag every photo from its stored vector after a label change: one matrix product,
    no image opened. Returns the number of automatic tags written."""
    ids, vectors = library.all_vectors()
    allowed = folder_permissions(library, ids.tolist())
    rows = tag_rows(matrix, ids.tolist(), vectors, allowed)
    with library.transaction():
        library.replace_auto_tags(rows)
    return len(rows)
