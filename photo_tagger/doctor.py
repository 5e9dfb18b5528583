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


_NEW_LIBRARY = " Index again with `photo-tagger index FOLDER…` once the damaged file is moved."


def check_library(path: Path) -> tuple[bool, str | None]:
    """Open the library and run SQLite's `quick_check` over every page: a damaged file can
    still answer `status` from its intact pages. Returns (ok, the library's model)."""
    from photo_tagger.core.db import DAMAGED_ADVICE, DatabaseError, LibraryDamaged
    from photo_tagger.core.store import Library

    if not path.exists():
        _line(True, "Library", f"{path} (not created yet)")
        return True, None
    try:
        with Library(path) as library:
            model_id = library.model_id
            problems = library.quick_check()
    except DatabaseError as exc:
        _line(False, "Library", str(exc) + (_NEW_LIBRARY if isinstance(exc, LibraryDamaged)
                                            else ""))
        return False, None
    if problems:
        shown = "; ".join(problems[:3]) + ("; …" if len(problems) > 3 else "")
        _line(False, "Library", f"{path} is damaged ({shown}). {DAMAGED_ADVICE}{_NEW_LIBRARY}")
        return False, model_id
    _line(True, "Library", f"{path}, every page checked")
    return True, model_id


def run_checks(home: Path, model_id: str | None, download: bool = False) -> bool:
    """Print one line per check; True when the app can run."""
    from photo_tagger.paths import library_path

    _line(True, "Library folder", str(home))
    results = [check_sqlite(), check_torch(), check_qt(), check_heif()]
    library_ok, library_model = check_library(library_path(home))
    results.append(library_ok)
    results.append(check_model(model_id or library_model or DEFAULT_MODEL, download))
    return all(results)
