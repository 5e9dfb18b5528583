"""The command line answers mistakes and faults with a clear message, never a traceback:
a closed pipe, out-of-range options, a query that starts with '-', and a `watch` whose
indexing service cannot go on (a newer or a damaged library)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from photo_tagger.cli import main
from photo_tagger.core.indexer import Indexer
from photo_tagger.core.store import Library
from photo_tagger.paths import library_path
from photos import solid

REPO = Path(__file__).resolve().parent.parent


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The argparse error for `argv` (exit code 2, usage and one message line)."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def photo_tagger(home: Path, *argv: str, **options: object) -> subprocess.Popen[str]:
    env = dict(os.environ, PHOTO_TAGGER_HOME=str(home), HF_HUB_OFFLINE="1")
    return subprocess.Popen([sys.executable, "-m", "photo_tagger", *argv], cwd=REPO,
                            env=env, text=True, **options)  # type: ignore[call-overload]


@pytest.fixture
def indexed(tmp_path: Path, isolated_home: Path, fixres_model: Path,
            fixres_embedder: object) -> Path:
    """A real library in the isolated home: three photos indexed with the tiny model."""
    folder = tmp_path / "photos"
    folder.mkdir()
    solid(folder / "red.png", (200, 30, 30))
    solid(folder / "blue.png", (30, 30, 200))
    solid(folder / "green.png", (30, 200, 30))
    with Library(library_path(isolated_home)) as library:
        Indexer(library, str(fixres_model), lambda m: fixres_embedder).index_folders([folder])
    return folder


def test_output_into_a_closed_pipe_ends_quietly(isolated_home: Path) -> None:
    # `photo-tagger labels list | head -0`: the reader is gone before anything is written.
    process = photo_tagger(isolated_home, "labels", "list", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=120) == 141  # 128 + SIGPIPE, as a shell reports it
    assert err == ""


@pytest.mark.parametrize("argv", [
    ["search", "x", "--limit", "-5"],
    ["search", "--limit", "0", "x"],
    ["similar", "photo.jpg", "--limit", "-1"],
])
def test_limit_below_one_is_refused(capsys: pytest.CaptureFixture[str],
                                    argv: list[str]) -> None:
    assert "argument --limit: must be 1 or more" in refused(capsys, *argv)


@pytest.mark.parametrize("value", ["-1", "2", "nan", "inf", "1.0001", "many"])
def test_duplicate_threshold_outside_0_to_1_is_refused(capsys: pytest.CaptureFixture[str],
                                                       value: str) -> None:
    assert "argument --threshold:" in refused(capsys, "duplicates", "--threshold", value)


def test_limits_and_thresholds_in_range_work(capsys: pytest.CaptureFixture[str],
                                             indexed: Path) -> None:
    code, out, err = run(capsys, "search", "red", "--limit", "1", "--json", "--all")
    assert code == 0, err
    assert len(json.loads(out)) == 1
    for value in ("0", "1", "0.5"):
        code, out, err = run(capsys, "duplicates", "--threshold", value, "--json")
        assert code == 0, err
        assert isinstance(json.loads(out), list)


def test_query_may_start_with_a_dash(capsys: pytest.CaptureFixture[str],
                                     indexed: Path) -> None:
    def search(*argv: str | Path) -> list[str]:
        # --all: the whole ranking, so a NOT removes nothing and all three come back.
        code, out, err = run(capsys, "search", "--json", "--all", *argv)
        assert code == 0, err
        return [result["path"] for result in json.loads(out)]

    with_marker = search("--", "-x")
    assert len(with_marker) == 3
    assert search("-x") == with_marker
    assert search("--limit", "2", "-x") == with_marker[:2]
    assert search("-x", "--folder", indexed) == with_marker
    assert search("-red circle") == search("--", "-red circle")
    assert search("-hat") == search("--", "-hat")  # not -h with "at"
    # An option's value is never taken for the query.
    assert "argument --limit" in refused(capsys, "search", "--limit", "-5", "x")


def test_search_without_a_query_is_still_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert "required: query" in refused(capsys, "search", "--limit", "3")
    assert "unrecognized arguments: -y" in refused(capsys, "search", "-x", "-y")


def _watch_until_it_exits(home: Path, folder: Path, model: Path) -> tuple[int, str]:
    process = photo_tagger(home, "watch", str(folder), "--model", str(model),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _, err = process.communicate(timeout=90)
    finally:
        if process.poll() is None:  # still running: it sat idle instead of exiting
            process.kill()
            process.communicate()
    return process.returncode, err


def test_watch_exits_with_the_reason_on_a_newer_library(indexed: Path, isolated_home: Path,
                                                        fixres_model: Path) -> None:
    conn = sqlite3.connect(library_path(isolated_home))
    conn.execute("PRAGMA user_version = 99")
    conn.close()

    code, err = _watch_until_it_exits(isolated_home, indexed, fixres_model)
    assert code == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("photo-tagger: The indexing service stopped:")
    assert "written by a newer photo-tagger" in last
    assert "Traceback" not in err


def test_watch_exits_with_the_reason_on_a_damaged_library(indexed: Path, isolated_home: Path,
                                                          fixres_model: Path) -> None:
    path = library_path(isolated_home)
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'photos'").fetchone()[0]
    conn.close()
    with open(path, "r+b") as file:  # overwrite the photos table's first page
        file.seek((root - 1) * page_size)
        file.write(b"\xa5" * page_size)

    code, err = _watch_until_it_exits(isolated_home, indexed, fixres_model)
    assert code == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("photo-tagger: The indexing service stopped:")
    assert "is damaged" in last and str(path) in last
    assert "Traceback" not in err
