"""`photo-tagger --self-test`: the end-to-end check users and CI run on an installed copy."""

from __future__ import annotations

import importlib.util
import io
import os
from pathlib import Path

import pytest

from photo_tagger import selftest
from photo_tagger.cli import main
from photo_tagger.paths import demo_model_dir


def _gui_available() -> bool:
    try:
        return importlib.util.find_spec("photo_tagger.gui.app") is not None
    except ModuleNotFoundError:
        return False


def test_self_test_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--self-test"])
    out = capsys.readouterr().out
    for step in ("Library", "Model", "Index and tag", "Search"):
        assert f"[ok] {step}:" in out, out
    assert "sqlite-vec v" in out
    expected_model = "demo:shapes" if (demo_model_dir() / "config.json").is_file() \
        else "tiny model"
    assert expected_model in out
    assert f"'{selftest.QUERY}' found it" in out
    if _gui_available():
        assert code == 0, out
        assert "[ok] Main window:" in out
        assert out.rstrip().splitlines()[-1].startswith("SELFTEST OK")
    else:
        # Until the window exists the self-test must say so, never pass.
        assert code == 1
        assert "SELFTEST FAILED: Main window: GUI: not available" in out
        assert "SELFTEST OK" not in out


def test_a_failing_step_stops_the_run_and_cleans_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    seen: dict[str, Path] = {}

    def remember(state: selftest._State) -> str:
        seen["root"] = state.root
        return "ok"

    def broken(state: selftest._State) -> str:
        raise ValueError("vec0 missing")

    def never(state: selftest._State) -> str:
        raise AssertionError("a step after a failure ran")

    out = io.StringIO()
    code = selftest.run(out, steps=[("Library", selftest.step_library), ("Folder", remember),
                                    ("Broken", broken), ("Later", never)])
    text = out.getvalue()
    assert code == 1
    assert "[ok] Library:" in text
    assert text.rstrip().splitlines()[-1] == "SELFTEST FAILED: Broken: ValueError: vec0 missing"
    assert "SELFTEST OK" not in text
    # The temporary library is closed and deleted, and the offline switch put back.
    assert not seen["root"].exists()
    assert "HF_HUB_OFFLINE" not in os.environ


def test_a_known_problem_is_reported_without_a_traceback_type() -> None:
    def wrong_result(state: selftest._State) -> str:
        raise selftest.StepFailed("'a red circle' did not find the photo")

    out = io.StringIO()
    assert selftest.run(out, steps=[("Search", wrong_result)]) == 1
    assert out.getvalue().strip() == \
        "SELFTEST FAILED: Search: 'a red circle' did not find the photo"
