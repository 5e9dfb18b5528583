"""Query phrases → text vectors, remembered in the library per model, so a repeated query
or a saved search is answered without the model (and without importing torch).

The model is loaded only when a phrase is new: `TextVectors` takes a loader and calls it
on the first miss. The model's `logit_scale` and `logit_bias` come from the library's meta
(written with the label vectors) so probabilities need no model either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from photo_tagger.core.store import Library

if TYPE_CHECKING:  # the embedder module is imported by whoever loads the model
    from photo_tagger.core.embedder import Embedder

# Unpinned phrases kept per library; a row is ~3 kB at 768 dimensions.
CACHE_ROWS = 2000
# Meta keys shared with the label vectors (tagger.label_matrix writes the same ones).
_SCALE, _BIAS, _SCALE_MODEL = "label_scale", "label_bias", "label_scale_model"


class ModelNeeded(Exception):
    """A phrase is not cached and no model can be loaded here."""


class TextVectors:
    """Unit text vectors of query phrases for the library's model.

    Args:
        library: where the vectors are cached (table `query_vectors`).
        embedder: a loaded model, if the caller has one.
        load: called at most once, on the first phrase not cached, when `embedder` is None.
    """

    def __init__(self, library: Library, embedder: Embedder | None = None,
                 load: Callable[[], Embedder] | None = None) -> None:
        self.library = library
        self._embedder = embedder
        self._load = load
        self._memory: dict[tuple[str, str], np.ndarray] = {}

    @property
    def model_id(self) -> str | None:
        return self._embedder.model_id if self._embedder is not None else self.library.model_id

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            if self._load is None:
                raise ModelNeeded("this query needs the model to read its text")
            self._embedder = self._load()
        return self._embedder

    def set_embedder(self, embedder: Embedder | None) -> None:
        self._embedder = embedder

    @property
    def has_model(self) -> bool:
        return self._embedder is not None

    def vectors(self, phrases: Sequence[str], pin: bool = False) -> dict[str, np.ndarray]:
        """Each phrase's vector: from memory, then the library, then the model (one batch
        for all missing phrases, stored for next time). `pin` keeps them past pruning."""
        model_id = self.model_id or ""
        found: dict[str, np.ndarray] = {}
        missing = []
        for phrase in dict.fromkeys(phrases):
            cached = self._memory.get((model_id, phrase))
            if cached is None:
                row = self.library.conn.execute(
                    "SELECT vector FROM query_vectors WHERE model_id = ? AND text = ?",
                    (model_id, phrase)).fetchone()
                if row is not None:
                    cached = np.frombuffer(row[0], dtype=np.float32)
            if cached is None:
                missing.append(phrase)
            else:
                found[phrase] = cached
        if missing:
            embedder = self.embedder
            model_id = embedder.model_id
            fresh = embedder.embed_texts(missing)
            self._remember_scale(embedder)
            with self.library.transaction():
                self.library.conn.executemany(
                    "INSERT INTO query_vectors(model_id, text, vector) VALUES (?, ?, ?) "
                    "ON CONFLICT(model_id, text) DO UPDATE SET vector = excluded.vector",
                    [(model_id, p, v.astype(np.float32).tobytes())
                     for p, v in zip(missing, fresh, strict=True)])
                self._prune()
            found.update(zip(missing, fresh, strict=True))
        if pin and phrases:
            with self.library.transaction():
                self.library.conn.executemany(
                    "UPDATE query_vectors SET pinned = 1 WHERE model_id = ? AND text = ?",
                    [(model_id, p) for p in phrases])
        for phrase, vector in found.items():
            self._memory[(model_id, phrase)] = vector
        return found

    def scale_bias(self) -> tuple[float, float]:
        """The model's (logit_scale, logit_bias): from the library when recorded for this
        model, else from the model (loading it)."""
        model_id = self.model_id
        if self._embedder is None and model_id is not None \
                and self.library.get_meta(_SCALE_MODEL) == model_id:
            scale, bias = self.library.get_meta(_SCALE), self.library.get_meta(_BIAS)
            if scale is not None and bias is not None:
                return float(scale), float(bias)
        embedder = self.embedder
        self._remember_scale(embedder)
        return embedder.logit_scale, embedder.logit_bias

    def _remember_scale(self, embedder: Embedder) -> None:
        if self.library.get_meta(_SCALE_MODEL) == embedder.model_id:
            return
        with self.library.transaction():
            self.library.set_meta(_SCALE, repr(embedder.logit_scale))
            self.library.set_meta(_BIAS, repr(embedder.logit_bias))
            self.library.set_meta(_SCALE_MODEL, embedder.model_id)

    def _prune(self) -> None:
        self.library.conn.execute(
            "DELETE FROM query_vectors WHERE pinned = 0 AND rowid NOT IN ("
            "SELECT rowid FROM query_vectors WHERE pinned = 0 "
            "ORDER BY added_at DESC LIMIT ?)", (CACHE_ROWS,))
