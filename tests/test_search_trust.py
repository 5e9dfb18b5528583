"""Search you can trust, on the demo model and a real library: where matches end in five
languages, a real NOT, every filter alone and with text, filter-only listings by date,
saved searches that follow indexing, explanations, and repeated queries without torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photo_tagger.cli import main
from photo_tagger.core.indexer import Indexer
from photo_tagger.core.query import QueryError, parse_query
from photo_tagger.core.relevance import match_probability
from photo_tagger.core.search import Searcher
from photo_tagger.core.store import Library
from photo_tagger.demo.shapes import (
    COLOUR_WORDS,
    COLOURS,
    LANGS,
    SHAPE_WORDS,
    SHAPES,
    label,
    render_shape,
    write_dataset,
)

DEMO = "demo:shapes"
PER_COMBO = 6


def _dated_jpeg(path: Path, shape: str, colour: str, taken: str, seed: int) -> None:
    exif = Image.Exif()
    exif[306] = taken  # DateTime, as cameras write it: '2019:07:04 10:00:00'
    render_shape(shape, colour, np.random.default_rng(seed)).save(path, quality=92,
                                                                  exif=exif)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    """180 fresh shape photos plus a few with known dates, types and a copy, indexed with
    the demo model into a real library."""
    root = tmp_path_factory.mktemp("trust")
    folder = root / "photos"
    items = write_dataset(folder / "shapes", len(SHAPES) * len(COLOURS) * PER_COMBO,
                          seed=9090)
    truth = {str(item.path.resolve()): (item.shape, item.colour) for item in items}
    extra = folder / "extra"
    extra.mkdir()
    _dated_jpeg(extra / "old_red_heart.jpg", "heart", "red", "2019:07:04 10:00:00", 1)
    _dated_jpeg(extra / "june_blue_star.jpg", "star", "blue", "2024:06:15 09:30:00", 2)
    _dated_jpeg(extra / "july_green_star.jpg", "star", "green", "2024:07:01 18:00:00", 3)
    render_shape("square", "yellow", np.random.default_rng(4)).save(extra / "yellow.png")
    original = next(i for i in items if (i.shape, i.colour) == ("circle", "purple"))
    Image.open(original.path).resize((96, 96)).save(extra / "purple_copy.jpg", quality=80)
    for name in ("old_red_heart.jpg", "june_blue_star.jpg", "july_green_star.jpg",
                 "yellow.png", "purple_copy.jpg"):
        path = extra / name
        os.utime(path, (1_600_000_000, 1_600_000_000))  # 2020-09-13: the EXIF date wins
    home = root / "home"
    with Library(home / "library.db") as library:
        Indexer(library, DEMO).index_folders([folder])
    return home, folder, truth, original


@pytest.fixture
def searcher(demo):
    home = demo[0]
    with Library(home / "library.db") as library:
        from photo_tagger.core.embedder import Embedder

        yield Searcher(library, load_model=lambda: Embedder.load(DEMO))


def names(results) -> list[str]:
    return [Path(r.path).name for r in results]


def _precision_recall(searcher: Searcher, truth: dict, queries) -> tuple[float, float]:
    tp = fp = fn = 0
    for text, wanted in queries:
        found = {r.path for r in searcher.find(text).results}
        relevant = {p for p, shown in truth.items() if wanted(*shown)}
        tp += len(found & relevant)
        fp += len(found - relevant)  # a hit among the extra/ photos counts against it
        fn += len(relevant - found)
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


@pytest.mark.parametrize("lang", LANGS)
def test_the_cutoff_keeps_matches_and_drops_the_rest_in_every_language(demo, searcher,
                                                                       lang: str) -> None:
    """Shape words and colour words alone, each over the whole library: the default
    search returns the photos that show them and (nearly) nothing else."""
    _, _, truth, _ = demo
    shapes = [(SHAPE_WORDS[lang][s][0], lambda sh, co, s=s: sh == s) for s in SHAPES]
    colours = [(COLOUR_WORDS[lang][c][0], lambda sh, co, c=c: co == c) for c in COLOURS]
    shape_p, shape_r = _precision_recall(searcher, truth, shapes)
    colour_p, colour_r = _precision_recall(searcher, truth, colours)
    assert shape_p >= 0.8 and shape_r >= 0.9, (shape_p, shape_r)
    assert colour_p >= 0.8 and colour_r >= 0.9, (colour_p, colour_r)


def test_a_match_count_and_weaker_count_add_up(searcher) -> None:
    answer = searcher.find(label("circle", "red", "en"))
    assert 0 < answer.matches < 40
    assert answer.matches + answer.weaker + answer.removed == searcher.library.vector_count()
    assert answer.cutoff == pytest.approx(match_probability(answer_bias(searcher)))
    assert all(r.probability >= answer.cutoff for r in answer.results)
    everything = searcher.find(label("circle", "red", "en"), everything=True)
    assert len(everything.results) == searcher.library.vector_count()
    assert [r.path for r in everything.results[:answer.matches]] == \
        [r.path for r in answer.results]
    assert everything.results[answer.matches].probability < answer.cutoff


def answer_bias(searcher: Searcher) -> float:
    return searcher.texts.scale_bias()[1]


def test_not_removes_the_photos_that_match_the_phrase(demo, searcher) -> None:
    _, _, truth, _ = demo
    circles = searcher.find("circle")
    assert any(truth.get(r.path, ("", ""))[1] == "red" for r in circles.results)
    answer = searcher.find("circle -red")
    assert answer.removed > 0 and answer.results
    assert not any(truth.get(r.path, ("", ""))[1] == "red" for r in answer.results)
    shapes = [truth[r.path][0] for r in answer.results if r.path in truth]
    assert shapes.count("circle") >= 0.8 * len(shapes)
    # Only a NOT: every photo that is not red, newest first.
    not_red = searcher.find("-red")
    assert not_red.matches == searcher.library.vector_count() - not_red.removed
    # -tag: removes tagged photos.
    first = circles.results[0]
    searcher.library.set_manual_tag(first.photo_id, "keep-out", True)
    try:
        assert first.photo_id not in {r.photo_id for r in
                                      searcher.find("circle -tag:keep-out").results}
    finally:
        searcher.library.set_manual_tag(first.photo_id, "keep-out", False)


def test_tag_filters_need_every_tag_and_never_pad(searcher) -> None:
    library = searcher.library
    stars = searcher.find("star").results
    a, b = stars[0].photo_id, stars[1].photo_id
    square = searcher.find("square").results[0].photo_id
    for pid, tag in [(a, "trip"), (b, "trip"), (a, "family"), (square, "family")]:
        library.set_manual_tag(pid, tag, True)
    try:
        assert {r.photo_id for r in searcher.find("tag:trip").results} == {a, b}
        assert [r.photo_id for r in searcher.find("tag:trip tag:family").results] == [a]
        # With text: only the tagged photos that also match; the square is no star.
        assert {r.photo_id for r in searcher.find("star tag:family").results} == {a}
        assert searcher.find("heart tag:trip").results == []  # never padded
    finally:
        for pid, tag in [(a, "trip"), (b, "trip"), (a, "family"), (square, "family")]:
            library.set_manual_tag(pid, tag, False)


def test_folder_type_and_duplicate_filters_alone_and_with_text(demo, searcher) -> None:
    _, folder, _, original = demo
    extra = str(folder / "extra")
    assert sorted(names(searcher.find(f"folder:{extra}").results)) == sorted(
        ["old_red_heart.jpg", "june_blue_star.jpg", "july_green_star.jpg", "yellow.png",
         "purple_copy.jpg"])
    assert names(searcher.find(f"star folder:{extra}").results)[:2] and set(
        names(searcher.find(f"star folder:{extra}").results)) == {
        "june_blue_star.jpg", "july_green_star.jpg"}
    assert names(searcher.find("type:png").results) == ["yellow.png"]
    assert names(searcher.find("yellow square type:png").results) == ["yellow.png"]
    assert searcher.find("red circle type:png").results == []
    # The `duplicates` rule: the demo's flat shapes of one kind are near-duplicates too.
    copies = set(names(searcher.find("is:duplicate").results))
    grouped = {Path(r.path).name for group in searcher.duplicate_groups() for r in group}
    assert {"purple_copy.jpg", original.path.name} <= copies and copies == grouped
    with_text = set(names(searcher.find("purple circle is:duplicate").results))
    assert {"purple_copy.jpg", original.path.name} <= with_text <= copies
    everything = set(names(searcher.find(f"folder:{folder}", limit=1000).results))
    assert copies < everything  # the rule leaves photos out, at the model's own threshold
    in_extra = set(names(searcher.find("is:duplicate folder:" + extra).results))
    assert "purple_copy.jpg" in in_extra and in_extra == copies & {
        "old_red_heart.jpg", "june_blue_star.jpg", "july_green_star.jpg", "yellow.png",
        "purple_copy.jpg"}


def test_date_filters_use_exif_then_mtime_and_filter_only_lists_newest_first(searcher
                                                                            ) -> None:
    assert names(searcher.find("date:2019").results) == ["old_red_heart.jpg"]
    assert names(searcher.find("date:2024-06").results) == ["june_blue_star.jpg"]
    assert names(searcher.find("date:2024").results) == ["july_green_star.jpg",
                                                         "june_blue_star.jpg"]
    assert names(searcher.find("after:2024-06-16").results) != []
    june_on = set(names(searcher.find("after:2024-06-15 before:2024-07-02").results))
    assert june_on == {"july_green_star.jpg", "june_blue_star.jpg"}
    assert names(searcher.find("before:2020").results) == ["old_red_heart.jpg"]
    # mtime when there is no EXIF date: the copy and the PNG carry 2020-09-13.
    assert set(names(searcher.find("date:2020-09").results)) == {"yellow.png",
                                                                 "purple_copy.jpg"}
    assert names(searcher.find("star date:2024").results) == ["july_green_star.jpg",
                                                              "june_blue_star.jpg"] or \
        set(names(searcher.find("star date:2024").results)) == {"july_green_star.jpg",
                                                                "june_blue_star.jpg"}
    assert searcher.find("heart date:2024").results == []
    # sort:date orders the matches by date, newest first.
    from photo_tagger.core.filters import photo_dates

    by_date = searcher.find("star sort:date").results
    dates = photo_dates(searcher.library, [r.photo_id for r in by_date])
    assert [dates[r.photo_id] for r in by_date] == sorted(dates.values(), reverse=True)
    assert names(by_date)[-2:] == ["july_green_star.jpg", "june_blue_star.jpg"]


def test_held_filters_follow_changes_made_by_another_connection(demo, tmp_path) -> None:
    """Dates, types and folders are held in memory between queries (core/facets.py): a
    change written by another process (the indexing service) must still show at once."""
    home = tmp_path / "home"
    shutil.copytree(demo[0], home)
    with Library(home / "library.db") as library, Library(home / "library.db") as other:
        searcher = Searcher(library)
        heart = searcher.find("date:2019").results
        assert names(heart) == ["old_red_heart.jpg"]
        with other.transaction():
            other.conn.execute("UPDATE photos SET taken_at = '2023:01:02 03:04:05' "
                               "WHERE id = ?", (heart[0].photo_id,))
        assert searcher.find("date:2019").results == []
        assert names(searcher.find("date:2023-01").results) == ["old_red_heart.jpg"]
        moved = str(Path(heart[0].path).parent / "new" / "old_red_heart.png")
        with other.transaction():
            other.conn.execute("UPDATE photos SET path = ? WHERE id = ?",
                               (moved, heart[0].photo_id))
        assert "old_red_heart.png" in names(searcher.find("type:png").results)
        inside = searcher.find(f"folder:{Path(moved).parent}").results
        assert [r.path for r in inside] == [moved]
        with other.transaction():
            other.conn.execute("DELETE FROM photos WHERE id = ?", (heart[0].photo_id,))
        assert searcher.find("date:2023-01").results == []


def test_query_syntax_errors_are_known() -> None:
    for bad in ("date:June", "type:doc", "sort:size", "is:blurry", "-folder:x"):
        with pytest.raises(QueryError):
            parse_query(bad)
    parsed = parse_query('red -circle tag:"new year" -tag:work note: hi')
    assert parsed.positive == ["red", "note: hi"] or parsed.positive == ["red"]
    assert parsed.negative[0].startswith("circle")
    assert parsed.tags == ["new year"] and parsed.not_tags == ["work"]


def test_a_saved_search_grows_when_a_matching_photo_is_indexed(demo, tmp_path) -> None:
    home, folder, _, _ = demo
    with Library(home / "library.db") as library:
        from photo_tagger.core.embedder import Embedder

        before = Searcher(library, load_model=lambda: Embedder.load(DEMO)).save_album(
            "Red hearts", "red heart")
        assert before >= PER_COMBO
        new = folder / "later"
        new.mkdir()
        render_shape("heart", "red", np.random.default_rng(77)).save(new / "new_heart.jpg")
        Indexer(library, DEMO).index_folders([folder])
        # No model at all: the phrase's vector is pinned in the library.
        counted = Searcher(library).album_counts()
        assert counted == [("Red hearts", "red heart", before + 1)]
        assert "new_heart.jpg" in names(Searcher(library).find("album:\"Red hearts\"").results)
        assert "new_heart.jpg" not in names(
            Searcher(library).find("album:\"Red hearts\" folder:/nowhere").results)
        (new / "new_heart.jpg").unlink()
        Indexer(library, DEMO).index_folders([folder])


def test_explain_says_why(demo, capsys) -> None:
    home = demo[0]
    capsys.readouterr()
    assert main(["search", "blue star -circle date:2024", "--explain", "--home", str(home),
                 "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [Path(r["path"]).name for r in results] == ["june_blue_star.jpg"]
    why = results[0]["explanation"]
    assert why["terms"]["blue star"] > 0.5 and why["terms"]["-circle"] < 0.5
    assert why["filters"] == ["date:2024"] and why["date"].startswith("2024-06-15")
    assert set(results[0]) == {"path", "score", "probability", "explanation"}
    assert main(["search", "blue star date:2024", "--explain", "--home", str(home)]) == 0
    captured = capsys.readouterr()
    assert "june_blue_star.jpg" in captured.out and "passed: date:2024" in captured.out
    assert "1 match" in captured.err


def test_albums_cli_and_json_probability(demo, capsys) -> None:
    home = demo[0]
    run = ["--home", str(home)]
    assert main(["albums", "save", "Greens", "green -circle", *run]) == 0
    capsys.readouterr()
    assert main(["albums", "list", "--json", *run]) == 0
    listed = {a["name"]: a for a in json.loads(capsys.readouterr().out)}
    assert listed["Greens"]["count"] > 0
    assert main(["search", "album:Greens", "--json", *run]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found and all(set(r) == {"path", "score", "probability"} for r in found)
    assert main(["albums", "remove", "Greens", *run]) == 0
    assert main(["search", "album:Greens", *run]) == 2
    assert "no saved search named 'Greens'" in capsys.readouterr().err


def test_a_repeated_query_imports_no_torch(demo) -> None:
    home = demo[0]
    code = (
        "import sys, json\n"
        "from photo_tagger.cli import main\n"
        f"main(['search', 'orange triangle', '--json', '--home', {str(home)!r}])\n"
        "print(json.dumps(['torch' in sys.modules, 'transformers' in sys.modules]))\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=300, check=True)
    assert json.loads(first.stdout.splitlines()[-1]) == [True, True]  # a new phrase
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=300, check=True)
    assert json.loads(again.stdout.splitlines()[-1]) == [False, False]
    assert json.loads(again.stdout.splitlines()[0]) == json.loads(first.stdout.splitlines()[0])
