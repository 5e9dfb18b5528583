"""`photo-tagger doctor`: checks what the app needs and says how to fix what is wrong."""

from __future__ import annotations

import tempfile
from pathlib import Path

from photo_tagger.config import DEFAULT_MODEL


def _line(ok: bool, what: str, detail: str) -> None:
    print(f"[{'ok' if ok else 'PROBLEM'}] {what}: {detail}")


def check_sqlite() -> bool:
    from photo_tagger.core.db import DatabaseError, connect, sqlite_backend_name

    try:
        with tempfile.TemporaryDirectory() as folder:
            conn = connect(Path(folder) / "check.db")
            version = conn.execute("SELECT vec_version()").fetchone()[0]
            conn.close()
    except DatabaseError as exc:
        _line(False, "SQLite", f"{exc}. Reinstall with `pip install sqlean.py sqlite-vec`.")
        return False
    _line(True, "SQLite", f"{sqlite_backend_name()}, sqlite-vec {version}")
    return True


def check_model(model_id: str, download: bool) -> bool:
    import os

    from photo_tagger.core.embedder import (
        ModelUnavailable,
        resolve_model_source,
        split_fast_suffix,
    )

    previous = os.environ.get("HF_HUB_OFFLINE")
    if not download:
        os.environ["HF_HUB_OFFLINE"] = "1"  # checking must not start a large download
    try:
        source = resolve_model_source(split_fast_suffix(model_id)[0])
    except ModelUnavailable as exc:
        _line(False, "Model", str(exc))
        return False
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous
    _line(True, "Model", f"{model_id} at {source}")
    return True


def check_torch() -> bool:
    try:
        import torch
    except ImportError as exc:
        _line(False, "torch", f"{exc}. Install it: `pip install torch`.")
        return False
    device = "CUDA " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    _line(True, "torch", f"{torch.__version__} on {device}, {torch.get_num_threads()} threads")
    return True


def check_qt() -> bool:
    try:
        from PySide6 import QtWidgets  # noqa: F401
        from PySide6 import __version__ as qt_version
    except ImportError as exc:
        _line(False, "Qt", f"{exc}. Install PySide6 (`pip install PySide6-Essentials`); on "
              "Linux the xcb libraries (libxcb-cursor0) are needed for a window.")
        return False
    _line(True, "Qt", f"PySide6 {qt_version}")
    return True


def check_heif() -> bool:
    try:
        import pillow_heif
    except ImportError:
        _line(False, "HEIC", "pillow-heif is missing: iPhone photos will be skipped. "
              "`pip install pillow-heif`.")
        return False
    _line(True, "HEIC", f"pillow-heif {pillow_heif.__version__}")
    return True


def run_checks(home: Path, model_id: str | None, download: bool = False) -> bool:
    """Print one line per check; True when the app can run."""
    from photo_tagger.core.store import Library
    from photo_tagger.paths import library_path

    _line(True, "Library folder", str(home))
    results = [check_sqlite(), check_torch(), check_qt(), check_heif()]
    if model_id is None:
        try:
            with Library(library_path(home)) as library:
                model_id = library.model_id
        except Exception:  # a broken library is reported by the SQLite check's advice
            model_id = None
    results.append(check_model(model_id or DEFAULT_MODEL, download))
    return all(results)
