"""Behaviour of the whole app through the CLI with the small trained demo model: new
shape photos (never seen in training) are found by text in five languages, tagged by
multilingual labels, matched by similarity, and their resized copies found as duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from photo_tagger.cli import main
from photo_tagger.demo.shapes import COLOURS, LANGS, SHAPES, label, write_dataset

PER_COMBO = 20
# The demo model's scores sit near 0 or 1; docs/DEMO-MODEL.md measures 0.5 as its threshold.
DEMO_THRESHOLD = "0.5"
QUERIES = [("circle", "red"), ("square", "blue"), ("triangle", "green"), ("star", "yellow"),
           ("heart", "purple"), ("circle", "orange")]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory):
    """A library of 300 new shape photos indexed with the demo model through the CLI."""
    root = tmp_path_factory.mktemp("demo")
    folder = root / "photos"
    items = write_dataset(folder, len(SHAPES) * len(COLOURS) * PER_COMBO, seed=424242)
    truth = {str(item.path.resolve()): (item.shape, item.colour) for item in items}
    home = root / "home"
    assert main(["index", str(folder), "--model", "demo:shapes", "--home", str(home),
                 "--json"]) == 0
    return home, folder, truth


def run_json(capsys, home: Path, *args: str):
    capsys.readouterr()
    assert main([*args, "--home", str(home), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("lang", LANGS)
def test_text_search_finds_shape_and_colour_in_every_language(library, capsys,
                                                              lang: str) -> None:
    home, _, truth = library
    precisions = []
    for shape, colour in QUERIES:
        results = run_json(capsys, home, "search", label(shape, colour, lang), "--limit", "10")
        hits = [truth[r["path"]] == (shape, colour) for r in results]
        precisions.append(sum(hits) / 10)
    assert sum(precisions) / len(precisions) >= 0.9, precisions


def test_multilingual_labels_tag_circles_and_nothing_else(library, capsys) -> None:
    home, _, truth = library
    for name, extra in [("circle", []), ("Kreis", ["--synonym-of", "circle"]),
                        ("cercle", ["--synonym-of", "circle"])]:
        assert main(["labels", "add", name, *extra, "--threshold", DEMO_THRESHOLD,
                     "--home", str(home)]) == 0
    capsys.readouterr()
    tagged = {r["path"] for r in run_json(capsys, home, "search", "tag:circle", "--limit",
                                          "1000")}
    circles = {path for path, (shape, _) in truth.items() if shape == "circle"}
    precision = len(tagged & circles) / max(len(tagged), 1)
    recall = len(tagged & circles) / len(circles)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)


def test_similar_images_have_the_same_shape_and_colour(library, capsys) -> None:
    """Measured P@10 of the demo model is 0.89 (docs/DEMO-MODEL.md); 0.85 leaves room."""
    home, _, truth = library
    precisions = []
    for path, expected in list(truth.items())[:: len(truth) // 12][:12]:
        results = run_json(capsys, home, "similar", path, "--limit", "10")
        precisions.append(sum(truth[r["path"]] == expected for r in results) / 10)
    assert sum(precisions) / len(precisions) >= 0.85, precisions


def test_resized_and_recompressed_copies_are_near_duplicates(library, capsys) -> None:
    home, folder, truth = library
    originals = sorted(truth)[:: len(truth) // 5][:5]
    copies = folder / "copies"
    copies.mkdir(exist_ok=True)
    for original in originals:
        image = Image.open(original)
        image.resize((image.width // 2, image.height // 2)).save(
            copies / f"small_{Path(original).name}", quality=60)
    assert main(["index", str(folder), "--home", str(home)]) == 0
    # The demo model's own duplicate cosine (tests/test_demo_model.py, docs/DEMO-MODEL.md).
    groups = run_json(capsys, home, "duplicates", "--threshold", "0.75")
    members = [{r["path"] for r in group} for group in groups]
    for original in originals:
        copy = str((copies / f"small_{Path(original).name}").resolve())
        assert any({original, copy} <= group for group in members), original
    # Not asserted: that no look-alike joins a group. Many synthetic shapes of one colour
    # differ by less than the 8×8 hash sees (docs/DEMO-MODEL.md, "Near-duplicates").


# --- the second generator: drawings made by other code, which training never sees -------
DRAWN_PER_COMBO = 8
# Floors under what the committed model measures on the second generator (docs/
# DEMO-MODEL.md, "Second generator"): colour is right, shape only partly.
DRAWN_COLOUR_P10 = 0.95
DRAWN_SHAPE_P10 = 0.6
DRAWN_BOTH_P5 = 0.3


@pytest.fixture(scope="module")
def drawn_library(tmp_path_factory: pytest.TempPathFactory):
    """240 drawings from photo_tagger/demo/paint.py (PNG and JPEG, 128-1024 px, shapes at
    15-70 % of the side) indexed with the demo model through the CLI."""
    from photo_tagger.demo import paint

    root = tmp_path_factory.mktemp("drawn")
    folder = root / "drawings"
    items = paint.write_dataset(folder, DRAWN_PER_COMBO, seed=31337)
    truth = {str(item.path.resolve()): (item.shape, item.colour) for item in items}
    home = root / "home"
    assert main(["index", str(folder), "--model", "demo:shapes", "--home", str(home)]) == 0
    return home, truth


def _precision(capsys, home: Path, truth: dict, query: str, wanted, k: int) -> float:
    results = run_json(capsys, home, "search", query, "--limit", str(k))
    return sum(wanted(*truth[r["path"]]) for r in results) / k


@pytest.mark.parametrize("lang", LANGS)
def test_drawn_shapes_are_found_by_colour_and_shape_in_every_language(
        drawn_library, capsys, lang: str) -> None:
    """Measured on the second generator: docs/DEMO-MODEL.md, "Second generator"."""
    home, truth = drawn_library
    both = [_precision(capsys, home, truth, label(s, c, lang),
                       lambda s2, c2, s=s, c=c: (s2, c2) == (s, c), 5) for s, c in QUERIES]
    colours = [_precision(capsys, home, truth, label(None, c, lang),
                          lambda _, c2, c=c: c2 == c, 10) for c in COLOURS]
    kinds = [_precision(capsys, home, truth, label(s, None, lang),
                        lambda s2, _, s=s: s2 == s, 10) for s in SHAPES]
    assert sum(colours) / len(colours) >= DRAWN_COLOUR_P10, colours
    assert sum(kinds) / len(kinds) >= DRAWN_SHAPE_P10, kinds
    assert sum(both) / len(both) >= DRAWN_BOTH_P5, both
