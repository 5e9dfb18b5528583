"""Query syntax, text search, filters, similar images and near-duplicates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import photos
from photo_tagger.core.indexer import Indexer
from photo_tagger.core.search import Searcher, VectorIndex, parse_query
from photo_tagger.core.store import Library
from photo_tagger.demo.shapes import render_shape


def test_parse_query_terms_and_tags() -> None:
    parsed = parse_query('kids in the snow +sled -adults tag:winter tag:"new year"')
    assert parsed.positive == ["kids in the snow", "sled"]
    assert parsed.negative == ["adults"]
    assert parsed.tags == ["winter", "new year"]
    assert parse_query("well-known t-shirt").positive == ["well-known t-shirt"]
    assert parse_query("tag:beach").has_text is False


def test_vector_index_orders_by_cosine_and_filters() -> None:
    index = VectorIndex()
    index.ids = np.array([10, 20, 30])
    index.matrix = np.eye(3, dtype=np.float32)
    query = np.array([0.1, 0.9, 0.4], dtype=np.float32)
    assert [i for i, _ in index.nearest(query, 3)] == [20, 30, 10]
    assert [i for i, _ in index.nearest(query, 3, allowed={10, 30})] == [30, 10]
    assert [i for i, _ in index.nearest(query, 2, exclude={20})] == [30, 10]


@pytest.fixture
def indexed(tmp_path: Path, fixres_model: Path):
    folder = tmp_path / "p"
    (folder / "sub").mkdir(parents=True)
    # A picture with structure, as photos have: a flat colour has no perceptual hash to match.
    render_shape("circle", "red", np.random.default_rng(5), size=64).save(folder / "red.png")
    photos.solid(folder / "sub" / "blue.png", (20, 20, 220))
    photos.noise(folder / "noise.png", 1)
    big = Image.open(folder / "red.png").resize((128, 96))
    big.save(folder / "red-bigger.jpg", quality=70)
    with Library(tmp_path / "lib.db") as library:
        indexer = Indexer(library, str(fixres_model))
        indexer.index_folders([folder])
        yield library, Searcher(library, indexer.embedder), folder


def test_text_search_matches_a_brute_force_ranking(indexed) -> None:
    library, searcher, folder = indexed
    results = searcher.search("a red circle", limit=10)
    assert len(results) == 4
    query = searcher.embedder.embed_texts(["a red circle"])[0]
    expected = sorted(((float(library.vector(r.photo_id) @ query), r.path) for r in results),
                      reverse=True)
    assert [p for _, p in expected] == [r.path for r in results]
    assert all(abs(r.score - s) < 1e-5 for r, (s, _) in zip(results, expected, strict=True))


def test_minus_terms_push_away_and_folder_filter_limits(indexed) -> None:
    library, searcher, folder = indexed
    plain = searcher.search("blue square", limit=10)
    minus = searcher.search("blue square -blue square", limit=10)
    assert plain and all(r.score == 0 for r in minus)
    sub = searcher.search("blue square", limit=10, folder=str(folder / "sub"))
    assert [Path(r.path).name for r in sub] == ["blue.png"]


def test_tag_filter_combines_with_text(indexed) -> None:
    library, searcher, folder = indexed
    blue = library.photo_by_path(str(folder / "sub" / "blue.png"))
    library.set_manual_tag(blue.id, "ocean", True)
    assert [r.path for r in searcher.search("tag:ocean")] == [blue.path]
    assert [r.path for r in searcher.search("red tag:ocean")] == [blue.path]
    assert searcher.search("red", tags=["nonexistent"]) == []
    # A synonym's name stands for its tag group.
    library.add_label("ocean")
    library.add_label("Ozean", tag="ocean")
    assert [r.path for r in searcher.search("tag:Ozean")] == [blue.path]


def test_similar_and_near_duplicates(indexed) -> None:
    library, searcher, folder = indexed
    red = library.photo_by_path(str(folder / "red.png"))
    similar = searcher.similar_to_photo(red.id, limit=3)
    assert red.id not in [r.photo_id for r in similar]
    assert Path(similar[0].path).name == "red-bigger.jpg"
    groups = searcher.duplicate_groups(threshold=0.99)
    names = [sorted(Path(r.path).name for r in group) for group in groups]
    assert ["red-bigger.jpg", "red.png"] in names
    assert not any("noise.png" in group for group in names)


def test_duplicate_groups_do_not_chain(tmp_path: Path) -> None:
    """v0..v19 turn by a small angle each: neighbours are above the threshold, the ends are
    opposite. Joining matches transitively made them one group; each group must stay
    within the threshold of its leader, while real duplicates still group."""
    threshold, dim = 0.95, 8
    step = np.arccos(0.97)  # neighbours at cosine 0.97, two steps apart at 0.88
    chain = [np.array([np.cos(k * step), np.sin(k * step)] + [0.0] * (dim - 2))
             for k in range(20)]
    twins = [np.eye(dim)[5] + np.eye(dim)[6] * e for e in (0.0, 0.05, 0.1)]
    with Library(tmp_path / "lib.db") as library:
        library.set_model("test", dim)
        folder = library.add_folder(tmp_path)
        with library.transaction():
            for name, vector in [*((f"chain{k:02}", v) for k, v in enumerate(chain)),
                                 *((f"twin{k}", v) for k, v in enumerate(twins))]:
                library.save_indexed(
                    str(tmp_path / f"{name}.jpg"), folder.id, size=1, mtime=1.0,
                    content_hash=name, width=1, height=1, taken_at=None, camera=None,
                    vector=(vector / np.linalg.norm(vector)).astype(np.float32))
        groups = Searcher(library).duplicate_groups(threshold=threshold)
        vectors = {r.photo_id: library.vector(r.photo_id) for g in groups for r in g}
    names = [[Path(r.path).stem for r in group] for group in groups]
    assert ["twin0", "twin1", "twin2"] in names
    assert max(len(group) for group in groups) == 3
    for group in groups:  # some member is within the threshold of every other one
        members = [vectors[r.photo_id] for r in group]
        assert any(all(float(a @ b) >= threshold - 1e-6 for b in members) for a in members)
    # Each chained photo is in a group (its neighbour is close), two by two.
    assert sum(len(n) for n in names if n[0].startswith("chain")) == 20
