"""The tagging commands end to end through `photo_tagger.cli.main`, on a real library and
the tiny real model: labels, a photo's tags, tag/untag, folders, search by tag, XMP."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from photo_tagger.cli import main
from photos import solid


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> object:
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def indexed(capsys: pytest.CaptureFixture[str], fixres_model: Path,
            tmp_path: Path) -> dict[str, Path]:
    """Two folders of photos indexed with the tiny model."""
    folders = {"home": tmp_path / "home", "work": tmp_path / "work"}
    for folder in folders.values():
        folder.mkdir()
    photos = {
        "red": solid(folders["home"] / "red.png", (200, 30, 30)),
        "blue": solid(folders["home"] / "blue.png", (30, 30, 200)),
        "doc": solid(folders["work"] / "doc.png", (240, 240, 240)),
    }
    code, _, err = run(capsys, "index", folders["home"], folders["work"], "--model",
                       fixres_model)
    assert code == 0, err
    return {**folders, **photos, "model": fixres_model}


def test_labels_add_list_remove_in_any_script(capsys: pytest.CaptureFixture[str]) -> None:
    names = ["Strand", "plage", "海滩", "собака", "🐶", "כלב"]
    for name in names:
        code, out, err = run(capsys, "labels", "add", name)
        assert code == 0, err
    run(capsys, "labels", "add", "Hund", "--synonym-of", "собака", "--threshold", "0.05",
        "--template", "ein Foto von {label}.")
    listed = {item["label"]: item for item in run_json(capsys, "labels", "list", "--json")}
    assert set(names) | {"Hund", "dog", "beach", "people"} <= set(listed)  # defaults kept
    assert listed["Hund"] == {"label": "Hund", "tag": "собака",
                              "template": "ein Foto von {label}.", "threshold": 0.05,
                              "custom_threshold": True}
    assert listed["🐶"]["threshold"] == 0.1 and not listed["🐶"]["custom_threshold"]
    code, out, _ = run(capsys, "labels", "list")
    assert "Hund  (synonym of собака)" in out and "כלב" in out
    assert run(capsys, "labels", "remove", "🐶")[0] == 0
    assert "🐶" not in {i["label"] for i in run_json(capsys, "labels", "list", "--json")}


def test_label_errors_are_one_line_messages(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "labels", "remove", "no such label")
    assert code == 2 and "There is no label 'no such label'" in err
    code, _, err = run(capsys, "labels", "add", "x", "--template", "no placeholder")
    assert code == 2 and "{label}" in err and "Traceback" not in err
    code, _, err = run(capsys, "labels", "set-threshold", "dog", "2")
    assert code == 2 and "between 0 and 1" in err
    with pytest.raises(SystemExit):
        main(["labels", "set-threshold", "dog", "abc"])
    capsys.readouterr()


def test_tags_of_a_photo_and_manual_override(
        capsys: pytest.CaptureFixture[str], indexed: dict[str, Path]) -> None:
    red = indexed["red"]
    data = run_json(capsys, "tags", red, "--all", "--json")
    assert data["path"] == str(red.resolve())
    scores = {item["label"]: item for item in data["labels"]}
    assert {"dog", "beach", "people"} <= set(scores)
    auto = {t["label"]: t for t in data["tags"]}
    for name, item in scores.items():  # a tag iff its score reaches its threshold
        assert (name in auto) == item["passed"] == (item["score"] >= item["threshold"])
        if name in auto:
            assert auto[name]["source"] == "auto"
            assert auto[name]["score"] == pytest.approx(item["score"], abs=1e-5)

    # Put dog's threshold just above this photo's score, then tag it by hand anyway.
    dog = scores["dog"]["score"]
    run(capsys, "labels", "set-threshold", "dog", str(min(dog + 1e-3, 1.0)))
    assert run(capsys, "tag", red, "dog")[0] == 0
    assert run(capsys, "untag", red, "people")[0] == 0
    tags = {t["label"]: t for t in run_json(capsys, "tags", red, "--json")["tags"]}
    assert tags["dog"]["source"] == "manual" and "people" not in tags
    run(capsys, "labels", "set-threshold", "people", "0")  # would give it to every photo
    run(capsys, "retag")
    tags = {t["label"]: t for t in run_json(capsys, "tags", red, "--json")["tags"]}
    assert tags["dog"]["source"] == "manual" and "people" not in tags
    assert "people" in {t["label"] for t in run_json(
        capsys, "tags", indexed["blue"], "--json")["tags"]}
    code, out, _ = run(capsys, "tags", red)
    assert "dog  (manual)" in out and "people  (removed by hand)" in out

    code, _, err = run(capsys, "tag", indexed["home"] / "missing.png", "dog")
    assert code == 2 and "not in the library" in err


def test_search_by_tag_and_text(capsys: pytest.CaptureFixture[str],
                                indexed: dict[str, Path]) -> None:
    run(capsys, "tag", indexed["red"], "trip")
    run(capsys, "tag", indexed["doc"], "trip")
    run(capsys, "tag", indexed["doc"], "work stuff")

    def names(*argv: str) -> set[str]:
        return {Path(r["path"]).name for r in run_json(capsys, "search", *argv, "--json", "--all")}

    assert names("tag:trip") == {"red.png", "doc.png"}
    assert names("a red circle", "--tag", "trip") == {"red.png", "doc.png"}
    assert names('a red circle tag:trip', "--tag", "work stuff") == {"doc.png"}
    assert names('tag:"work stuff"') == {"doc.png"}
    assert names("a red circle", "--tag", "nothing") == set()


def test_folders_commands(capsys: pytest.CaptureFixture[str],
                          indexed: dict[str, Path]) -> None:
    run(capsys, "labels", "set-threshold", "document", "0")
    run(capsys, "labels", "set-threshold", "beach", "0")
    assert run(capsys, "folders", "auto-tag", indexed["home"], "off")[0] == 0
    assert run(capsys, "folders", "labels", indexed["work"], "document")[0] == 0
    listed = {Path(f["path"]).name: f for f in run_json(capsys, "folders", "list", "--json")}
    assert listed["home"] == {"path": str(indexed["home"].resolve()), "auto_tag": False,
                              "labels": None}
    assert listed["work"]["labels"] == ["document"] and listed["work"]["auto_tag"]
    assert run_json(capsys, "tags", indexed["red"], "--json")["tags"] == []
    assert [t["label"] for t in run_json(capsys, "tags", indexed["doc"], "--json")["tags"]] \
        == ["document"]
    run(capsys, "folders", "auto-tag", indexed["home"], "on")
    run(capsys, "folders", "labels", indexed["work"])
    assert {"beach", "document"} <= {
        t["label"] for t in run_json(capsys, "tags", indexed["red"], "--json")["tags"]}
    code, _, err = run(capsys, "folders", "auto-tag", indexed["home"] / "nope", "on")
    assert code == 2 and "not a folder of the library" in err


def test_label_added_while_the_model_is_missing(
        capsys: pytest.CaptureFixture[str], fixres_model: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(fixres_model, model)
    photos = tmp_path / "photos"
    photos.mkdir()
    photo = solid(photos / "a.png", (20, 90, 200))
    run(capsys, "index", photos, "--model", model)
    model.rename(tmp_path / "elsewhere")
    code, out, err = run(capsys, "labels", "add", "Meer", "--threshold", "0")
    assert code == 0, err
    assert "not re-tagged yet" in out and "photo-tagger index" in out
    assert "Meer" in {i["label"] for i in run_json(capsys, "labels", "list", "--json")}
    (tmp_path / "elsewhere").rename(model)
    run(capsys, "index", photos)  # the library's own model, found again
    assert "Meer" in {t["label"] for t in run_json(capsys, "tags", photo, "--json")["tags"]}


def test_export_xmp_command(capsys: pytest.CaptureFixture[str],
                            indexed: dict[str, Path]) -> None:
    run(capsys, "tag", indexed["red"], "Urlaub")
    data = run_json(capsys, "export-xmp", indexed["home"], "--json")
    assert data["failed"] == [] and data["written"] >= 1
    sidecar = indexed["home"] / "red.png.xmp"
    assert "Urlaub" in sidecar.read_text(encoding="utf-8")
    assert not (indexed["work"] / "doc.png.xmp").exists()  # only the folder asked for
    code, _, err = run(capsys, "export-xmp", indexed["home"] / "nope")
    assert code == 2 and "is not a folder" in err
