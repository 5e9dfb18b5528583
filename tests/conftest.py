"""Shared fixtures: tiny real models built once per session, an isolated home, offline hub,
offscreen Qt, and a check that no test leaves a thread running."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("PHOTO_TAGGER_HOME", str(home))
    monkeypatch.delenv("PHOTO_TAGGER_MODEL", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


@pytest.fixture(autouse=True)
def no_thread_leaks():
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        leaked = [t for t in threading.enumerate()
                  if t not in before and t.is_alive() and not t.daemon]
        if not leaked:
            return
        time.sleep(0.05)
    pytest.fail(f"threads left running: {[t.name for t in leaked]}")


@pytest.fixture
def library():
    """The library in the isolated home, without the default labels, so each test sees
    only its own (modules that need another library define their own `library`)."""
    from photo_tagger.core.store import Library
    from photo_tagger.paths import home_dir, library_path

    with Library(library_path(home_dir())) as lib:
        with lib.transaction():
            lib.set_meta("labels_seeded", "1")
        yield lib


@pytest.fixture(scope="session")
def fixres_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_models import build_fixres

    return build_fixres(tmp_path_factory.mktemp("fixres"))


@pytest.fixture(scope="session")
def naflex_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_models import build_naflex

    return build_naflex(tmp_path_factory.mktemp("naflex"))


@pytest.fixture(scope="session")
def fixres_embedder(fixres_model: Path):
    from photo_tagger.core.embedder import Embedder

    return Embedder.load(str(fixres_model))
