"""The model the indexing service works with: loading it (vectors read beside the load,
garbage collections paused during it), switching to another, and the "unavailable" state
with its reason when it cannot be loaded. No Qt here."""

from __future__ import annotations

import logging
from collections.abc import Callable

from photo_tagger.core.embedder import Embedder, ModelUnavailable
from photo_tagger.core.indexer import Indexer
from photo_tagger.core.reader import VectorPrefetch
from photo_tagger.core.responsiveness import collector_paused

log = logging.getLogger(__name__)

EmbedderLoader = Callable[[str], Embedder]


class ModelHolder:
    """Loads the model an `Indexer` is made for and hands it over; remembers why it failed.

    Used on the thread that owns the indexer and the library's write connection.
    """

    def __init__(self, load_embedder: EmbedderLoader = Embedder.load) -> None:
        self.load_embedder = load_embedder
        self.model_id: str | None = None  # the model in use, or being loaded
        self.embedder: Embedder | None = None  # None until loaded, and after a failure
        self.error: str | None = None  # why the current model cannot be loaded

    def adopt(self, indexer: Indexer, embedder: Embedder) -> None:
        """Hand `indexer` a model loaded already (the one a finished switch embedded
        the library with): no second load."""
        indexer.attach_embedder(embedder)
        self.model_id, self.embedder, self.error = embedder.model_id, embedder, None

    def load(self, indexer: Indexer) -> Embedder | None:
        """Load `indexer.model_id` and attach it to `indexer` (a different model than the
        library's marks the library for re-embedding).

        Returns:
            The embedder, or None when the model cannot be loaded: `error` says why, and
            the indexer is told, so its runs leave files pending instead of retrying.
        """
        library = indexer.library
        self.model_id, self.embedder = indexer.model_id, None
        # The vectors are read beside the load, unless the load is about to drop them.
        same_model = library.model_id == indexer.model_id
        prefetch = VectorPrefetch(library.path) if same_model else None
        try:
            with collector_paused():
                embedder = self.load_embedder(indexer.model_id)
                indexer.attach_embedder(embedder)
        except ModelUnavailable as exc:
            self.error = str(exc)
            log.error("The model cannot be loaded: %s", exc)
            indexer.set_model_unavailable(self.error)
            return None
        finally:
            if prefetch is not None:  # also after a failed load: similar photos need no model
                prefetch.hand_to(library)
        self.error, self.embedder = None, embedder
        log.info("Model ready: %s", embedder.model_id)
        return embedder
