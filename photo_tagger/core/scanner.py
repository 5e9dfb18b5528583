"""Walking photo folders: recursive, hidden files skipped, symlink loops cut."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from photo_tagger.core.images import is_candidate


@dataclass(frozen=True)
class FoundFile:
    path: str
    size: int
    mtime: float


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def walk_images(root: Path) -> Iterator[FoundFile]:
    """Every candidate image below `root`. Symlinked folders are followed once: a folder
    whose real path was already visited is not entered again, which cuts loops."""
    visited: set[str] = set()
    stack = [Path(root)]
    while stack:
        folder = stack.pop()
        try:
            real = os.path.realpath(folder)
        except OSError:
            continue
        if real in visited:
            continue
        visited.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        subfolders = []
        for entry in entries:
            if is_hidden(entry.name):
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    subfolders.append(Path(entry.path))
                    continue
                if not entry.is_file(follow_symlinks=True):
                    continue
                stat = entry.stat(follow_symlinks=True)
            except OSError:
                continue
            if is_candidate(Path(entry.path)):
                yield FoundFile(entry.path, stat.st_size, stat.st_mtime)
        stack.extend(reversed(subfolders))
