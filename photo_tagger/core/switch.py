"""A model switch in the background: the library embedded with the next model beside the
current vectors (`photo_vectors_next`), then swapped in at once, thresholds carried over.

Search, tags and `similar` read only the current set until the swap, so no search ever
mixes two models' vectors. No Qt here.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from photo_tagger.config import BATCH_SIZE, DEMO_MODEL_NAME
from photo_tagger.core import tagger
from photo_tagger.core.embedder import FAST_SUFFIX, Embedder, split_fast_suffix
from photo_tagger.core.images import UnreadableImage, load_image
from photo_tagger.core.store import Label, Library
from photo_tagger.paths import demo_model_dir

# The embedding size of each SigLIP 2 family, so the disk space is told before a download.
FAMILY_DIMENSIONS = {"siglip2-base-": 768, "siglip2-large-": 1024, "siglip2-so400m-": 1152}
# vec0 keeps a rowid, a chunk slot and a validity bit per vector, and a chunk table per
# 1024 rows: about 16 bytes a photo and a little per table, rounded up.
ROW_OVERHEAD_BYTES = 16
TABLE_OVERHEAD_BYTES = 1 << 20


@dataclass(frozen=True)
class SwitchProgress:
    """How far the next model has come: `done` of `total` indexed photos embedded."""

    model_id: str
    done: int
    total: int


def expected_dimension(model_id: str) -> int | None:
    """The vector size `model_id` will give, without loading it: from its config.json when
    the files are on disk, else from its family's name; None when unknown."""
    base, _ = split_fast_suffix(model_id)
    folder: Path | None = None
    if base == DEMO_MODEL_NAME:
        folder = demo_model_dir()
    elif Path(base).expanduser().is_dir():
        folder = Path(base).expanduser()
    if folder is not None:
        try:
            config = json.loads((folder / "config.json").read_text())
        except (OSError, ValueError):
            return None
        text = config.get("text_config", {})
        size = text.get("projection_size") or text.get("hidden_size")
        return int(size) if size else None
    for family, dimension in FAMILY_DIMENSIONS.items():
        if family in base:
            return dimension
    return None


def second_set_bytes(photos: int, dimension: int) -> int:
    """Disk space the next model's vectors take: photos × dimension × 4 bytes + overhead."""
    return photos * (dimension * 4 + ROW_OVERHEAD_BYTES) + TABLE_OVERHEAD_BYTES


def human_bytes(count: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"


def canonical_model_id(model_id: str) -> str:
    """The id a model is recorded under once loaded (a folder by its resolved path, as
    `Embedder.load` records it), so two spellings of one folder are one model."""
    base, fast = split_fast_suffix(model_id)
    if base != DEMO_MODEL_NAME and Path(base).expanduser().is_dir():
        base = str(Path(base).expanduser().resolve())
    return base + (FAST_SUFFIX if fast else "")


def needs_background_switch(library: Library, model_id: str) -> bool:
    """Whether using `model_id` means a background switch: the library already answers
    searches with another model. A new or empty library takes the model at once."""
    return library.model_id not in (None, canonical_model_id(model_id)) \
        and library.vector_count() > 0


def switch_notice(library: Library, model_id: str) -> str:
    """What the user is told before a switch starts: that search keeps working, and the
    disk space the second set of vectors needs."""
    photos = library.status_counts()["indexed"]
    dimension = expected_dimension(model_id)
    if dimension is None:
        space = "an unknown amount of disk space (the model's vector size is not known yet)"
    else:
        space = (f"about {human_bytes(second_set_bytes(photos, dimension))} of disk space "
                 f"({photos} photos × {dimension} dimensions × 4 bytes)")
    return (f"Switching to {model_id}: your photos are embedded again beside the current "
            f"vectors, and search keeps using {library.model_id} until every photo is done. "
            f"The second set of vectors needs {space}.")


def carried_thresholds(labels: Sequence[Label], old: tagger.LabelMatrix,
                       old_vectors: np.ndarray, new_label_vectors: np.ndarray,
                       new_vectors: np.ndarray, scale: float, bias: float
                       ) -> dict[str, float]:
    """New thresholds for the labels whose threshold the user set, so that about as many
    photos keep each tag: for every such label, the old model's count at its threshold,
    and the new model's score that tags that many photos. Labels on the default are left
    out (they take the new model's default)."""
    old_rows = {label.id: row for row, label in enumerate(old.labels)}
    carried: dict[str, float] = {}
    for row, label in enumerate(labels):
        if label.threshold is None or label.id not in old_rows or len(new_vectors) == 0:
            continue
        before = tagger.probability(old_vectors @ old.vectors[old_rows[label.id]],
                                    old.scale, old.bias)
        count = int((before >= label.threshold).sum())
        after = np.sort(tagger.probability(new_vectors @ new_label_vectors[row],
                                           scale, bias))[::-1]
        if count == 0:  # just above the best score: still tags nothing
            value = float(np.nextafter(np.float32(after[0]), np.float32(1)))
        elif count >= len(after):
            value = float(after[-1])
        else:  # between the count-th score and the next: tags exactly that many
            value = float((after[count - 1] + after[count]) / 2)
        carried[label.name] = min(max(value, 0.0), 1.0)
    return carried


class ModelSwitch:
    """Embeds the library's indexed photos with `embedder` into the next set, then swaps.

    Runs on the thread that owns the library's write connection. A run can stop at any
    batch (`stop`): what was embedded stays and the next run goes on from there, in this
    process or the next one.
    """

    def __init__(self, library: Library, embedder: Embedder, *, batch_size: int = BATCH_SIZE,
                 decode_workers: int = min(4, os.cpu_count() or 1),
                 stop: threading.Event | None = None,
                 between_batches: Callable[[], None] | None = None,
                 on_progress: Callable[[SwitchProgress], None] | None = None) -> None:
        self.library = library
        self.embedder = embedder
        self.model_id = embedder.model_id
        self.batch_size = batch_size
        self.decode_workers = decode_workers
        self.stop = stop or threading.Event()
        self.between_batches = between_batches or (lambda: None)
        self.on_progress = on_progress or (lambda progress: None)
        self.unreadable: set[int] = set()  # photos this switch could not read
        self.marked_pending: list[int] = []  # those the swap left for the new model

    def begin(self) -> bool:
        """Record the switch (or resume the same one under way). True when new."""
        return self.library.begin_switch(self.model_id, self.embedder.dim)

    def progress(self) -> SwitchProgress:
        counts = self.library.status_counts()
        return SwitchProgress(self.model_id, self.library.next_vector_count(),
                              counts["indexed"])

    def missing(self, limit: int) -> list[tuple[int, str]]:
        """Photos still to embed, passing by those this switch could not read."""
        rows = self.library.photos_missing_next(limit + len(self.unreadable))
        return [row for row in rows if row[0] not in self.unreadable][:limit]

    def step(self, max_photos: int) -> bool:
        """Embed up to `max_photos` photos (stopping early on `stop`). True when nothing
        is left to embed, so the swap may run."""
        embedded = 0
        with ThreadPoolExecutor(self.decode_workers, thread_name_prefix="switch-decode") \
                as decoders:
            while embedded < max_photos and not self.stop.is_set():
                rows = self.missing(min(self.batch_size, max_photos - embedded))
                if not rows:
                    return True
                prepared = list(decoders.map(self._prepare, [path for _, path in rows]))
                ready = [(photo_id, pixels) for (photo_id, _), pixels
                         in zip(rows, prepared, strict=True) if pixels is not None]
                self.unreadable.update(photo_id for (photo_id, _), pixels
                                       in zip(rows, prepared, strict=True) if pixels is None)
                if ready:
                    vectors = self.embedder.embed_pixels(
                        Embedder.collate([pixels for _, pixels in ready]))
                    with self.library.transaction():
                        self.library.write_next_vectors(
                            self.model_id, zip([i for i, _ in ready], vectors, strict=True))
                embedded += len(rows)
                self.on_progress(self.progress())
                self.between_batches()
        return not self.missing(1)

    def run(self) -> bool:
        """Embed what is missing, then swap. False when stopped before the end."""
        while not self.stop.is_set():
            if self.step(self.batch_size * 8):
                self.marked_pending = self.finish()
                return True
        return False

    def _prepare(self, path: str) -> dict[str, Any] | None:
        # Decode threads: no database here. A photo that cannot be read now (its folder
        # unmounted, the file deleted since) is left for the swap to mark pending.
        try:
            image = load_image(Path(path), self.embedder.image_size)
            return self.embedder.preprocess([image.image])
        except (UnreadableImage, OSError):
            return None

    def finish(self, old_labels: tagger.LabelMatrix | None = None) -> list[int]:
        """Swap in one transaction: the next vectors become the library's, thresholds the
        user set are carried over, every photo is re-tagged with the new model, and the
        generation moves so every reader reloads. Returns the photos marked pending (the
        ones this switch could not read: embedded when they can be read again)."""
        library = self.library
        old = old_labels or tagger.cached_label_matrix(library)
        labels = library.labels()
        new_label_vectors = self.embedder.embed_texts([tagger.prompt_for(x) for x in labels])
        _, old_vectors = library.all_vectors()
        next_dimension = library.next_dimension or self.embedder.dim
        _, new_vectors = library.next_vectors(next_dimension)
        carried = {} if old is None else carried_thresholds(
            labels, old, old_vectors, new_label_vectors, new_vectors,
            self.embedder.logit_scale, self.embedder.logit_bias)
        with library.transaction():
            pending = library.swap_to_next(self.model_id)
            for name, threshold in carried.items():
                library.set_label_threshold(name, threshold)
            tagger.retag_library(library, tagger.label_matrix(library, self.embedder))
        return pending
