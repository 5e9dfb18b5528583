"""`photo-tagger --self-test`: one end-to-end check of an installed copy, the same one users
and CI run. It touches only a temporary folder and never the network.

Steps: a temporary library (SQLite with sqlite-vec), a small model (the bundled demo model, or a
tiny one built on the spot), one image embedded and tagged, a text search that finds it, and
the main window opened offscreen. Prints one line per step, then `SELFTEST OK` (exit 0) or
`SELFTEST FAILED: <reason>` (exit 1).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from photo_tagger.config import DEMO_MODEL_NAME
from photo_tagger.paths import demo_model_dir, library_path

QUERY = "a red circle"


class StepFailed(Exception):
    """A self-test step found the app broken; the message says which part."""


@dataclass
class _State:
    """What the steps hand to each other."""

    root: Path
    library: Any = None
    model_id: str = ""
    embedder: Any = None
    photo: Path | None = None
    notes: list[str] = field(default_factory=list)


def _tiny_model(folder: Path) -> Path:
    """A tiny SigLIP model with random weights, for checkouts without the demo model: it
    proves that torch and transformers load and run, not that its answers mean anything."""
    import torch
    from transformers import SiglipConfig, SiglipModel, SiglipProcessor
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil
    from transformers.utils import logging as hf_logging

    from photo_tagger.demo.tokenizer import train_tokenizer

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    tokenizer = train_tokenizer([f"this is a photo of {QUERY}.", "a blue square"],
                                vocab_size=120)
    layers = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2)
    config = SiglipConfig(
        text_config=dict(layers, vocab_size=len(tokenizer), max_position_embeddings=64,
                         pad_token_id=0, eos_token_id=1, bos_token_id=2),
        vision_config=dict(layers, patch_size=16, image_size=32))
    torch.manual_seed(0)
    SiglipModel(config).save_pretrained(folder)
    SiglipProcessor(image_processor=SiglipImageProcessorPil(size={"height": 32, "width": 32}),
                    tokenizer=tokenizer).save_pretrained(folder)
    return folder


def _write_photo(folder: Path) -> Path:
    from PIL import Image, ImageDraw

    folder.mkdir()
    image = Image.new("RGB", (256, 256), "white")
    ImageDraw.Draw(image).ellipse((48, 48, 208, 208), fill=(220, 20, 20))
    path = folder / "red-circle.png"
    image.save(path)
    return path


# -- the steps ------------------------------------------------------------------------
def step_library(state: _State) -> str:
    from photo_tagger.core.db import sqlite_backend_name
    from photo_tagger.core.store import Library

    state.library = Library(library_path(state.root / "home"))
    version = state.library.conn.execute("SELECT vec_version()").fetchone()[0]
    return f"{sqlite_backend_name()}, sqlite-vec {version}"


def step_model(state: _State) -> str:
    from photo_tagger.core.embedder import Embedder

    if (demo_model_dir() / "config.json").is_file():
        state.model_id = DEMO_MODEL_NAME
    else:
        state.model_id = str(_tiny_model(state.root / "tiny-model"))
        state.notes.append("demo model not bundled: used a tiny random model")
    state.embedder = Embedder.load(state.model_id)
    name = DEMO_MODEL_NAME if state.model_id == DEMO_MODEL_NAME else "tiny model"
    # The versions that loaded it: a bundle built from another lock shows here.
    import torch
    import transformers

    return (f"{name}, {state.embedder.dim} dimensions, on {state.embedder.device} "
            f"(transformers {transformers.__version__}, torch {torch.__version__})")


def step_index(state: _State) -> str:
    from photo_tagger.core.indexer import Indexer

    state.photo = _write_photo(state.root / "photos")
    # A label every photo reaches (threshold 0), so the tag rows are written whatever the
    # model scores; the default labels are scored alongside it.
    state.library.add_label(QUERY, threshold=0.0)
    indexer = Indexer(state.library, state.model_id, load_embedder=lambda _: state.embedder)
    summary = indexer.index_folders([state.photo.parent])
    if summary.indexed != 1:
        raise StepFailed(f"expected 1 photo indexed, got {summary.as_dict()}")
    row = state.library.photo_by_path(str(state.photo.resolve()))
    tags = state.library.tags_of(row.id) if row else []
    if QUERY not in {t.tag for t in tags}:
        raise StepFailed(f"the photo was not tagged '{QUERY}' (tags: {tags})")
    labels_scored = state.library.conn.execute(
        "SELECT count(*) FROM labels WHERE vector IS NOT NULL").fetchone()[0]
    return f"1 photo, {len(tags)} tags, {labels_scored} labels scored"


def step_search(state: _State) -> str:
    from photo_tagger.core.search import Searcher

    results = Searcher(state.library, state.embedder).search(QUERY, limit=5)
    assert state.photo is not None
    if not results or Path(results[0].path) != state.photo.resolve():
        raise StepFailed(f"'{QUERY}' did not find the photo (results: {results})")
    return f"'{QUERY}' found it (score {results[0].score:.3f})"


def step_window(state: _State) -> str:
    if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from photo_tagger.gui.app import create_main_window
    except ImportError as exc:
        raise StepFailed(f"GUI: not available ({exc})") from exc
    # The one Qt import outside gui/: the window needs an application object to exist.
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    # The window opens its own connections; release ours first.
    state.library.close()
    state.library = None
    window = create_main_window(state.root / "home", state.model_id)
    try:
        window.show()
        app.processEvents()
        if not window.isVisible():
            raise StepFailed("the main window did not show")
        title = window.windowTitle()
    finally:
        window.close()
        app.processEvents()
    return f"'{title}' on Qt platform '{QApplication.platformName()}'"


STEPS: list[tuple[str, Callable[[_State], str]]] = [
    ("Library", step_library),
    ("Model", step_model),
    ("Index and tag", step_index),
    ("Search", step_search),
    ("Main window", step_window),
]


def run(out: TextIO | None = None,
        steps: list[tuple[str, Callable[[_State], str]]] | None = None) -> int:
    """Run every step in a temporary folder; 0 when all pass, 1 at the first failure."""
    out = out or sys.stdout
    previous_offline = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"  # a self-test never downloads
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="photo-tagger-selftest-") as folder:
            state = _State(Path(folder))
            try:
                for name, step in steps or STEPS:
                    began = time.monotonic()
                    try:
                        detail = step(state)
                    except StepFailed as exc:
                        print(f"SELFTEST FAILED: {name}: {exc}", file=out, flush=True)
                        return 1
                    except Exception as exc:  # any bug or missing piece is a failure
                        print(f"SELFTEST FAILED: {name}: {type(exc).__name__}: {exc}",
                              file=out, flush=True)
                        return 1
                    print(f"[ok] {name}: {detail} ({time.monotonic() - began:.1f} s)",
                          file=out, flush=True)
            finally:
                if state.library is not None:
                    state.library.close()
    finally:
        if previous_offline is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous_offline
    for note in state.notes:
        print(f"note: {note}", file=out)
    print(f"SELFTEST OK ({time.monotonic() - started:.1f} s)", file=out, flush=True)
    return 0
