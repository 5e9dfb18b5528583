"""The model holder with a real tiny model and a real library: a load that fails is
remembered (and the indexer told), a later load of a real model clears it."""

from __future__ import annotations

from pathlib import Path

import pytest

import photos
from photo_tagger.core.embedder import ModelUnavailable
from photo_tagger.core.indexer import Indexer
from photo_tagger.core.model_holder import ModelHolder
from photo_tagger.core.store import Library


def test_a_failed_load_is_remembered_and_a_real_model_clears_it(
        tmp_path: Path, fixres_model: Path) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    photos.noise(folder / "a.png", seed=1)
    holder = ModelHolder()
    with Library(tmp_path / "lib.db") as library:
        missing = Indexer(library, str(tmp_path / "no-such-model"), holder.load_embedder)
        assert holder.load(missing) is None
        assert holder.model_id == str(tmp_path / "no-such-model")
        assert holder.error is not None and "does not exist" in holder.error
        with pytest.raises(ModelUnavailable):  # the indexer was told: no second load
            missing.index_folders([folder])
        assert library.status_counts()["pending"] == 1

        indexer = Indexer(library, str(fixres_model), holder.load_embedder)
        embedder = holder.load(indexer)
        assert embedder is not None and holder.embedder is embedder
        assert (holder.error, holder.model_id, library.model_id) == (
            None, str(fixres_model), embedder.model_id)
        assert indexer.index_folders([folder]).indexed == 1
