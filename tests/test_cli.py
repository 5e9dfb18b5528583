"""The command line end to end: index, search, re-run, move, delete, broken files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import photos
from photo_tagger.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_flow(tmp_path: Path, fixres_model: Path, capsys) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    photos.solid(folder / "red.jpg", (220, 20, 20))
    photos.solid(folder / "blue.png", (20, 20, 220))
    photos.noise(folder / "noise.png", 4)
    photos.truncated_jpeg(folder / "broken.jpg")
    model = str(fixres_model)

    code, out, _ = run(capsys, "index", str(folder), "--model", model)
    assert code == 0
    assert "Indexed 3" in out and "skipped 1" in out
    assert "broken.jpg: damaged or truncated image" in out

    # The tiny random model matches nothing: --all gives the whole ranking.
    code, out, _ = run(capsys, "search", "a red circle", "--json", "--limit", "10", "--all")
    results = json.loads(out)
    assert code == 0 and len(results) == 3
    assert results == sorted(results, key=lambda r: -r["score"])
    assert {Path(r["path"]).name for r in results} == {"red.jpg", "blue.png", "noise.png"}

    code, out, _ = run(capsys, "index", str(folder), "--json")
    summary = json.loads(out)
    assert (summary["indexed"], summary["unchanged"]) == (0, 4)

    os.rename(folder / "red.jpg", folder / "crimson.jpg")
    os.remove(folder / "noise.png")
    code, out, _ = run(capsys, "index", str(folder), "--json")
    summary = json.loads(out)
    assert (summary["indexed"], summary["moved"], summary["removed"]) == (0, 1, 1)

    code, out, _ = run(capsys, "search", "a red circle", "--json", "--all")
    names = {Path(r["path"]).name for r in json.loads(out)}
    assert names == {"crimson.jpg", "blue.png"}

    code, out, _ = run(capsys, "similar", str(folder / "crimson.jpg"), "--json")
    assert [Path(r["path"]).name for r in json.loads(out)] == ["blue.png"]

    code, out, _ = run(capsys, "status", "--json")
    status = json.loads(out)
    assert (status["indexed"], status["skipped"], status["pending"]) == (2, 1, 0)
    assert status["model"] == str(fixres_model.resolve())


def test_search_with_another_model_is_refused(tmp_path: Path, fixres_model: Path,
                                             naflex_model: Path, capsys) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    photos.solid(folder / "a.png", (1, 2, 3))
    assert run(capsys, "index", str(folder), "--model", str(fixres_model))[0] == 0
    code, _, err = run(capsys, "search", "x", "--model", str(naflex_model))
    assert code == 2 and "was indexed with" in err


def test_doctor_reports_each_part(tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "doctor", "--model", "google/siglip2-base-patch16-224")
    assert code == 1
    assert "[ok] SQLite" in out and "sqlite-vec" in out
    assert "[PROBLEM] Model" in out


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "photo_tagger", "index",
                             str(tmp_path / "missing")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "is not a folder" in result.stderr


def test_excluded_photos_stay_out_until_taken_back(tmp_path: Path, fixres_model: Path,
                                                   capsys) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    keep = photos.solid(folder / "keep.png", (10, 200, 10))
    extra = photos.noise(folder / "extra.png", seed=3)
    assert run(capsys, "index", str(folder), "--model", str(fixres_model))[0] == 0

    code, out, _ = run(capsys, "exclusions", "add", str(extra))
    assert code == 0 and "1 removed from the library" in out
    assert extra.exists()
    summary = json.loads(run(capsys, "index", str(folder), "--json")[1])
    assert (summary["indexed"], summary["unchanged"]) == (0, 1)  # not brought back
    listed = json.loads(run(capsys, "exclusions", "list", "--json")[1])
    assert listed == [str(extra.resolve())]

    code, out, _ = run(capsys, "exclusions", "remove", str(extra))
    assert code == 0 and "indexed 1" in out
    assert json.loads(run(capsys, "exclusions", "list", "--json")[1]) == []
    status = json.loads(run(capsys, "status", "--json")[1])
    assert status["indexed"] == 2
    assert run(capsys, "exclusions", "remove", str(keep))[0] == 2  # never excluded
