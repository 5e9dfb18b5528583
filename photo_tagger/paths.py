"""Where the library, thumbnails and bundled resources live. No Qt here."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HOME_ENV = "PHOTO_TAGGER_HOME"
APP_NAME = "photo-tagger"


def home_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: `--home`, else `$PHOTO_TAGGER_HOME`, else the platform data dir."""
    if override:
        path = Path(override)
    elif os.environ.get(HOME_ENV):
        path = Path(os.environ[HOME_ENV])
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_under(path: str, folder: str) -> bool:
    """Is `path` the folder itself or inside it? Either separator counts, so a library
    made on Windows answers the same; `/photos2` is not under `/photos`."""
    return path in (folder, folder.rstrip("/\\")) or path.startswith(folder_prefixes(folder))


def folder_prefixes(folder: str) -> tuple[str, str]:
    """The two prefixes (`/` and `\\` ended, equally long) a path inside `folder` starts
    with: what `is_under` checks, for SQL filters that compare `substr(path, 1, n)`."""
    prefix = folder.rstrip("/\\")
    return prefix + "/", prefix + "\\"


def shown(path: str) -> str:
    """A path as text for a person: bytes that are not UTF-8 (kept as lone surrogates so
    the file can still be opened) show as U+FFFD instead of vanishing in the display."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def library_path(home: Path) -> Path:
    return home / "library.db"


def thumbnail_dir(home: Path) -> Path:
    return home / "thumbnails"


def resources_dir() -> Path:
    """The top-level `resources/` folder, from a checkout or from a PyInstaller bundle."""
    bundle_root = getattr(sys, "_MEIPASS", None)
    if bundle_root:
        return Path(bundle_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def demo_model_dir() -> Path:
    """The small shapes model trained here (see docs/DEMO-MODEL.md)."""
    return resources_dir() / "models" / "siglip2-shapes-demo"
