"""Tags that learn from the user's corrections: on fresh shape photos with the demo model
(personal concepts, a text prior, review order, manual decisions winning, the CLI) and on
the two tiny models (refitting after a model switch, the schema upgrade)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from photo_tagger.cli import main
from photo_tagger.core import labels as api
from photo_tagger.core import learning, tagger
from photo_tagger.core.indexer import Indexer
from photo_tagger.core.store import Library
from photo_tagger.demo.shapes import write_dataset
from photos import noise, solid


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple]]:
    """120 new shape photos (4 per shape × colour) indexed once with the demo model."""
    root = tmp_path_factory.mktemp("learning")
    items = write_dataset(root / "photos", 120, seed=16016)
    home = root / "home"
    assert main(["index", str(root / "photos"), "--model", "demo:shapes", "--home",
                 str(home)]) == 0
    return home, {str(i.path.resolve()): (i.shape, i.colour) for i in items}


@pytest.fixture
def demo(demo_home, tmp_path: Path):
    """A copy of the indexed demo library for one test to change."""
    home, truth = demo_home
    copy = tmp_path / "demo-home"
    shutil.copytree(home, copy)
    return copy, truth


def run(capsys: pytest.CaptureFixture[str], home: Path, *argv: str) -> str:
    capsys.readouterr()
    code = main([*argv, "--home", str(home)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def with_tag(library: Library, tag: str, source: str | None = None) -> set[str]:
    sql = "SELECT p.path FROM tags t JOIN photos p ON p.id = t.photo_id " \
          "WHERE t.tag = ? AND t.rejected = 0"
    args: tuple[str, ...] = (tag,)
    if source is not None:
        sql += " AND t.source = ?"
        args += (source,)
    return {r[0] for r in library.conn.execute(sql, args)}


def precision_recall(found: set[str], wanted: set[str]) -> tuple[float, float]:
    hits = len(found & wanted)
    return hits / max(len(found), 1), hits / max(len(wanted), 1)


def test_a_personal_concept_learns_from_a_few_examples(demo, capsys) -> None:
    home, truth = demo
    circles = sorted(p for p, (shape, _) in truth.items() if shape == "circle")
    others = sorted(p for p, (shape, _) in truth.items() if shape != "circle")
    examples = circles[0:20:4]
    counter = others[0:100:20]
    run(capsys, home, "tag", *examples, "zorp")  # several photos at once
    run(capsys, home, "untag", *counter, "zorp")
    out = run(capsys, home, "labels", "learn", "zorp", "--json")
    result = json.loads(out)
    assert result["positives"] == 5 and result["negatives"] == 5
    assert result["prior"] is False  # no label: examples alone
    with Library(home / "library.db") as library:
        learned = with_tag(library, "zorp", "learned")
        learned_tag = library.learned_tag("zorp")
    assert learned_tag is not None and learned_tag.examples == 10
    rest = set(circles) - set(examples)
    precision, recall = precision_recall(learned, rest)
    # A shape that is a fifth of the library, from 5 + 5 examples (docs/TAGGING.md).
    assert precision >= 0.8 and recall >= 0.4, (precision, recall)
    shown = json.loads(run(capsys, home, "tags", sorted(learned)[0], "--json"))
    assert {"label": "zorp", "source": "learned"} .items() <= next(
        t for t in shown["tags"] if t["label"] == "zorp").items()
    assert 0.5 <= next(t["score"] for t in shown["tags"] if t["label"] == "zorp") <= 1


def test_a_nonsense_label_drops_its_text_prior(demo) -> None:
    home, truth = demo
    with Library(home / "library.db") as library:
        api.add_label(library, "zorp", threshold=0.5)
        stars = sorted(p for p, (shape, _) in truth.items() if shape == "star")
        examples = stars[::2][:10]  # two of each of five colours: shape is what they share
        api.set_photos_tag(library, examples, "zorp", True)
        result = api.learn_tag(library, "zorp", load_embedder=api.library_model_loader(
            library))
        assert result is not None and result.prior is False
        precision, recall = precision_recall(with_tag(library, "zorp", "learned"),
                                             set(stars) - set(examples))
    assert precision >= 0.7 and recall >= 0.5, (precision, recall)


def test_a_known_label_keeps_its_prior_and_every_decision_retrains(demo, capsys) -> None:
    home, truth = demo
    run(capsys, home, "labels", "add", "heart", "--threshold", "0.5")
    with Library(home / "library.db") as library:
        zero_shot = with_tag(library, "heart", "auto")
    assert zero_shot
    out = json.loads(run(capsys, home, "labels", "learn", "heart", "--json"))
    assert out["prior"] is True and out["positives"] == 0
    with Library(home / "library.db") as library:
        assert with_tag(library, "heart", "auto") == set()  # the classifier took over
        learned = with_tag(library, "heart", "learned")
        version = library.learned_version()
    hearts = {p for p, (shape, _) in truth.items() if shape == "heart"}
    # With no examples the classifier is the zero-shot one.
    assert learned == zero_shot
    before = precision_recall(learned, hearts)
    # A decision retrains at once: the user untags two photos it got wrong, and the
    # classifier changes and re-tags the library.
    wrong = sorted(learned - hearts)[:2]
    assert len(wrong) == 2, before
    out = run(capsys, home, "untag", *wrong, "heart")
    assert "retrained" in out
    with Library(home / "library.db") as library:
        assert library.learned_version() > version
        assert library.learned_tag("heart").examples == 2  # type: ignore[union-attr]
        tagged_after = with_tag(library, "heart")
        precision, recall = precision_recall(tagged_after, hearts)
        # The labels editor's live count follows the classifier, at the tried threshold.
        count, total = tagger.would_tag(library, None, "heart", "unused {label}", 0.5)  # type: ignore[arg-type]
        assert (count, total) == (len(with_tag(library, "heart", "learned")), 120)
    def f1(p: float, r: float) -> float:
        return 2 * p * r / (p + r)

    # Two corrections buy precision (0.88 → 0.95 measured) for at most one heart of 24.
    assert not set(wrong) & tagged_after
    assert f1(precision, recall) > f1(*before), (before, precision, recall)
    assert precision >= 0.9 and recall >= 0.85, (precision, recall)


def test_manual_decisions_always_win_for_their_photo(demo) -> None:
    home, truth = demo
    with Library(home / "library.db") as library:
        circles = sorted(p for p, (shape, _) in truth.items() if shape == "circle")
        others = sorted(p for p, (shape, _) in truth.items() if shape != "circle")
        api.set_photos_tag(library, circles[:6], "ring", True)
        api.set_photos_tag(library, others[:6], "ring", False)
        api.learn_tag(library, "ring", load_embedder=api.library_model_loader(library))
        # The user disagrees with the classifier on one photo each way.
        sure_yes = sorted(with_tag(library, "ring", "learned") & set(circles))[0]
        api.untag_photo(library, sure_yes, "ring")
        api.tag_photo(library, others[30], "ring")
        tagged = with_tag(library, "ring")
        assert sure_yes not in tagged and others[30] in tagged
        rows = dict(library.conn.execute(
            "SELECT p.path, t.source FROM tags t JOIN photos p ON p.id = t.photo_id "
            "WHERE t.tag = 'ring' AND p.path IN (?, ?)", (sure_yes, others[30])).fetchall())
        assert rows == {sure_yes: "manual", others[30]: "manual"}
        # A full re-tag keeps them too.
        api.retag(library, api.library_model_loader(library))
        tagged = with_tag(library, "ring")
        assert sure_yes not in tagged and others[30] in tagged


def test_review_lists_the_least_sure_photos_first(demo, capsys) -> None:
    home, truth = demo
    squares = sorted(p for p, (shape, _) in truth.items() if shape == "square")
    others = sorted(p for p, (shape, _) in truth.items() if shape != "square")
    run(capsys, home, "tag", *squares[:3], "box")
    run(capsys, home, "untag", *others[:3], "box")
    run(capsys, home, "labels", "learn", "box")
    candidates = json.loads(run(capsys, home, "review", "box", "--json", "--limit", "10"))
    assert len(candidates) == 10
    decided = set(squares[:3]) | set(others[:3])
    assert not decided & {c["path"] for c in candidates}
    distance = [abs(np.log(c["probability"]) - np.log1p(-c["probability"]))
                for c in candidates]
    assert distance == sorted(distance)
    # Nobody else is nearer the threshold (0.5 here) than the last one listed.
    with Library(home / "library.db") as library:
        everything = learning.review(library, "box", limit=1000)
    assert len(everything) == 120 - len(decided)
    assert [c.path for c in everything[:10]] == [c["path"] for c in candidates]
    text = run(capsys, home, "review", "box", "--limit", "2")
    assert candidates[0]["path"] in text.splitlines()[0]


def test_learning_off_hands_the_tag_back_to_its_labels(demo, capsys) -> None:
    home, truth = demo
    run(capsys, home, "labels", "add", "heart", "--threshold", "0.5")
    with Library(home / "library.db") as library:
        zero_shot = with_tag(library, "heart", "auto")
    run(capsys, home, "labels", "learn", "heart")
    hearts = sorted(p for p, (shape, _) in truth.items() if shape == "heart")
    run(capsys, home, "tag", hearts[0], "heart")
    out = run(capsys, home, "labels", "learn", "heart", "--off")
    assert "no longer learns" in out
    with Library(home / "library.db") as library:
        assert with_tag(library, "heart", "learned") == set()
        assert with_tag(library, "heart", "auto") == zero_shot - {hearts[0]}
        assert library.learned_tag("heart") is None
        assert hearts[0] in with_tag(library, "heart", "manual")


def test_review_and_learn_errors_are_one_line(demo, capsys) -> None:
    home, _ = demo
    capsys.readouterr()
    assert main(["review", "nothing", "--home", str(home)]) == 2
    assert "labels learn nothing" in capsys.readouterr().err
    assert main(["labels", "learn", "nothing", "--off", "--home", str(home)]) == 2
    assert "is not learning" in capsys.readouterr().err


def test_a_learned_tag_is_refitted_after_a_model_switch(
        library: Library, fixres_model: Path, naflex_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    reds = [solid(folder / f"red{i}.png", (200 + i * 10, 30, 30)) for i in range(3)]
    blues = [solid(folder / f"blue{i}.png", (30, 30, 200 + i * 10)) for i in range(3)]
    for i in range(6):
        noise(folder / f"n{i}.png", seed=i)
    Indexer(library, str(fixres_model)).index_folders([folder])
    api.set_photos_tag(library, reds, "warm", True)
    api.set_photos_tag(library, blues, "warm", False)
    api.learn_tag(library, "warm", load_embedder=api.library_model_loader(library))
    before = library.learned_tag("warm")
    assert before is not None and before.model_id == str(fixres_model.resolve())
    # Another model, another dimension: the examples are the same photos.
    Indexer(library, str(naflex_model)).index_folders([folder])
    after = library.learned_tag("warm")
    assert after is not None and after.model_id == str(naflex_model.resolve())
    assert after.weights is not None and len(after.weights) == library.dimension
    assert not np.array_equal(after.weights, before.weights)  # type: ignore[arg-type]
    assert after.examples == 6
    tagged = with_tag(library, "warm")
    assert {str(p.resolve()) for p in reds} <= tagged
    assert not {str(p.resolve()) for p in blues} & tagged
    # Applied across the library again: the new classifier scored the examples.
    scores = [r[0] for r in library.conn.execute(
        "SELECT score FROM tags WHERE tag = 'warm' AND rejected = 0")]
    assert len(scores) >= 3 and all(s is not None and s >= 0.5 for s in scores)


def test_fit_with_few_examples_matches_the_full_solve() -> None:
    """The n×n (Woodbury) and the dim×dim Newton solves give the same classifier."""
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(40, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    lam = np.full(17, 0.3)
    d = rng.uniform(0.01, 0.25, size=12)
    g = rng.normal(size=17)
    x = np.hstack([vectors[:12], np.ones((12, 1))])
    full = np.linalg.solve((x.T * d) @ x + np.diag(lam), g)
    assert np.allclose(learning._solve(x, d, lam, g), full)
    result = learning.fit(vectors[:5], vectors[5:10], 10.0)
    assert result.weights is not None
    scores = tagger.sigmoid(vectors[:10] @ result.weights + result.bias)
    assert scores[:5].min() > scores[5:].max()


def test_an_older_library_upgrades_to_learned_tags(tmp_path: Path) -> None:
    """Schema 4 (tags limited to 'auto'/'manual') upgrades keeping every row."""
    from photo_tagger.core import db

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for script in db.MIGRATIONS[:4]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO photos(id, path, status) VALUES (1, '/a.jpg', 'indexed')")
    conn.execute("INSERT INTO tags VALUES (1, 'dog', NULL, 'manual', 1)")
    conn.execute("INSERT INTO tags VALUES (1, 'cat', 0.4, 'auto', 0)")
    conn.commit()
    conn.close()
    with Library(path) as library:
        rows = library.conn.execute("SELECT * FROM tags ORDER BY tag").fetchall()
        assert rows == [(1, "cat", 0.4, "auto", 0), (1, "dog", None, "manual", 1)]
        with library.transaction():
            library.conn.execute("INSERT INTO tags VALUES (1, 'rex', 0.9, 'learned', 0)")
        with pytest.raises(db.sqlite_module().IntegrityError), library.transaction():
            library.conn.execute("INSERT INTO tags VALUES (1, 'x', 0.9, 'guessed', 0)")
        assert library.manual_examples("dog") == ([], [1])
        # Deleting a photo still takes its tags (the foreign key survived the rebuild).
        with library.transaction():
            library.conn.execute("DELETE FROM photos WHERE id = 1")
        assert library.conn.execute("SELECT count(*) FROM tags").fetchone()[0] == 0
