"""What the window lists, decided without Qt: queries for the user's filters, which answers
still count, the sidebar's counts and the words around the grid, over a real library."""

from __future__ import annotations

from pathlib import Path

import pytest

import photos
from photo_tagger.core import labels as label_api
from photo_tagger.core.browse import (
    SEARCH_LIMIT,
    BrowseController,
    Filters,
    Listing,
    SidebarCounts,
    SimilarSearch,
    TextSearch,
)
from photo_tagger.core.indexer import Indexer
from photo_tagger.core.search import Searcher, SearchResult
from photo_tagger.core.store import Library


@pytest.fixture
def indexed(library: Library, tmp_path: Path, fixres_embedder, fixres_model: Path):
    """Two watched folders of real photos, indexed by the real indexer and tiny model."""
    home, trip = tmp_path / "home-photos", tmp_path / "trip"
    for folder in (home, trip):
        folder.mkdir()
    photos.solid(home / "red.png", (220, 30, 30))
    photos.solid(home / "blue.png", (30, 30, 220))
    photos.solid(trip / "green.png", (30, 200, 40))
    for folder in (home, trip):
        library.add_folder(folder)
    indexer = Indexer(library, str(fixres_model), lambda _: fixres_embedder)
    indexer.index_folders([home, trip])
    return library, Searcher(library, fixres_embedder), home.resolve(), trip.resolve()


def test_no_query_lists_the_indexed_photos_of_the_chosen_folder(indexed) -> None:
    library, _, home, trip = indexed
    browse = BrowseController()
    everything = browse.query(Filters())
    assert isinstance(everything, Listing) and everything.folder is None
    assert len(everything.run(library)) == 3
    in_trip = browse.query(Filters(text="  ", folder=str(trip)))
    assert isinstance(in_trip, Listing)
    assert [r.path for r in in_trip.run(library)] == [str(trip / "green.png")]


def test_a_big_listing_keeps_no_object_per_photo(library: Library) -> None:
    """A million result objects kept alive made each full garbage collection hold the
    window for up to 0.2 s: a listing is two columns, its rows made when asked for."""
    import gc

    library.set_model("test-model", 4)
    folder = library.add_folder(Path("/photos"))
    count = 20_000
    with library.transaction():
        library.conn.executemany(
            "INSERT INTO photos(path, folder_id, size, mtime, content_hash, status, taken_at) "
            "VALUES (?, ?, 1, 1, ?, 'indexed', ?)",
            [(f"/photos/{n:05d}.jpg", folder.id, f"{n:040x}", f"2024-01-01T00:00:{n % 60:02d}")
             for n in range(count)])
    gc.collect()
    before = len(gc.get_objects())
    rows = Listing(1, None).run(library)
    gc.collect()
    assert len(gc.get_objects()) - before < 100
    assert len(rows) == count
    assert [(r.photo_id, r.path) for r in rows[:3]] == library.indexed_photos()[:3]
    assert rows[-1] == SearchResult(*library.indexed_photos()[-1], 1.0)


def test_text_and_tag_become_a_search_the_searcher_answers(indexed) -> None:
    library, searcher, home, _ = indexed
    label_api.tag_photo(library, home / "blue.png", "Lieblingsfoto")
    browse = BrowseController()
    query = browse.query(Filters(text=" a red circle ", folder=str(home), tag="Lieblingsfoto"))
    assert isinstance(query, TextSearch)
    assert (query.text, query.folder, query.tags, query.limit) == (
        "a red circle", str(home), ["Lieblingsfoto"], SEARCH_LIMIT)
    results = searcher.search(query.text, query.limit, folder=query.folder, tags=query.tags)
    assert [r.path for r in results] == [str(home / "blue.png")]
    # A tag alone is a search too: the tagged photos by score, no text.
    only_tag = browse.query(Filters(tag="Lieblingsfoto"))
    assert isinstance(only_tag, TextSearch) and only_tag.text == ""
    assert len(searcher.search(only_tag.text, only_tag.limit, tags=only_tag.tags)) == 1


def test_a_similar_search_lasts_until_the_user_types_or_filters() -> None:
    browse = BrowseController(limit=50)
    browse.find_similar(7)
    query = browse.query(Filters(folder="/photos", tag="dog"))
    assert query == SimilarSearch(query.request, 7, 50)
    assert not browse.follows_library(Filters())
    browse.text_changed("")  # clearing the box for the similar search keeps it
    assert isinstance(browse.query(Filters()), SimilarSearch)
    browse.text_changed("beach")
    assert isinstance(browse.query(Filters("beach")), TextSearch)
    browse.find_similar(Path("/elsewhere/query.png"))
    browse.filters_changed()
    assert isinstance(browse.query(Filters()), Listing)


def test_only_the_latest_answer_counts_and_a_refresh_keeps_the_place() -> None:
    browse = BrowseController()
    rows = [SearchResult(1, "/p/a.jpg", 0.5)]
    first = browse.query(Filters("dog"))
    second = browse.query(Filters("dogs"))
    assert browse.answer(first.request, rows, None) is None  # replaced since
    answer = browse.answer(second.request, rows, None)
    assert answer is not None and answer.results == rows and not answer.keep_place
    refresh = browse.query(Filters(), refresh=True)
    assert browse.refresh_request == refresh.request == browse.request
    kept = browse.answer(refresh.request, rows, None)
    assert kept is not None and kept.keep_place
    failed = browse.answer(refresh.request, None, RuntimeError("model not loaded"))
    assert failed is not None and failed.results == []
    assert failed.error == "Search failed: model not loaded"


def test_a_listing_follows_the_library_and_a_typed_query_does_not() -> None:
    browse = BrowseController()
    assert browse.follows_library(Filters(folder="/p", tag="dog"))
    assert browse.follows_library(Filters(text="   "))
    assert not browse.follows_library(Filters(text="dog"))


def test_a_second_click_on_a_tag_clears_it() -> None:
    browse = BrowseController()
    assert browse.click_tag("dog") == "dog"
    assert browse.click_tag("dog") is None
    assert browse.click_tag("dog") == "dog"
    assert browse.click_tag("cat") == "cat"
    browse.reset()
    assert browse.click_tag("cat") == "cat"


def test_the_words_around_the_grid() -> None:
    browse = BrowseController()
    assert browse.heading(Filters(), 1234) == "Photos: 1,234"
    assert browse.heading(Filters(tag="dog"), 2) == "Results: 2"
    assert browse.heading(Filters(text="dog"), 0) == "Results: 0"
    assert browse.empty_message(Filters(), pending=0, model_error=None) == "No photos here yet."
    assert "being indexed" in browse.empty_message(Filters(), pending=5, model_error=None)
    assert browse.empty_message(Filters(" dog "), pending=5, model_error=None) \
        == "No photos match “dog”."
    assert "needs the model" in browse.empty_message(Filters("dog"), pending=0,
                                                     model_error="no model")
    browse.find_similar(3)
    assert browse.heading(Filters(), 40) == "Similar photos: 40"


def test_sidebar_counts_order_tags_by_use(indexed) -> None:
    library, _, home, trip = indexed
    for name in ("red.png", "blue.png"):
        label_api.tag_photo(library, home / name, "zoo")
    label_api.tag_photo(library, trip / "green.png", "alps")
    label_api.tag_photo(library, home / "red.png", "beach")
    counts = SidebarCounts.read(library)
    ours = [(tag, n) for tag, n in counts.tags if tag in {"zoo", "alps", "beach"}]
    assert ours == [("zoo", 2), ("alps", 1), ("beach", 1)]
    assert counts.known_tags == sorted(tag for tag, _ in counts.tags)
    by_path = {f.path: counts.folder_counts[f.id] for f in counts.folders}
    assert by_path == {str(home): 2, str(trip): 1}
    assert counts.summary() == "3 photos"
    waiting = SidebarCounts(counts.folders, counts.folder_counts,
                            {"indexed": 1200, "pending": 3, "skipped": 1}, counts.tags)
    assert waiting.summary() == "1,200 photos · 3 waiting · 1 skipped"
