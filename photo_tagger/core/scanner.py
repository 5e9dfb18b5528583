"""Walking photo folders: recursive, hidden files skipped, symlink loops cut, and every
place that could not be listed reported, so its photos are kept rather than taken as deleted."""

from __future__ import annotations

import errno
import os
import stat as stat_module
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from photo_tagger.core.images import is_candidate


@dataclass(frozen=True)
class FoundFile:
    path: str
    size: int
    mtime: float
    # A file replaced with the same size and mtime (`cp --preserve=timestamps`) still gets
    # a new ctime, or a new inode when it was renamed over.
    ctime: float = 0.0
    inode: int = 0

    @classmethod
    def from_stat(cls, path: str, stat: os.stat_result) -> FoundFile:
        return cls(path, stat.st_size, stat.st_mtime, stat.st_ctime, stat.st_ino)


@dataclass(frozen=True)
class Unreachable:
    """A folder (or entry) the walk could not look into: its photos may all still be there."""

    path: str
    reason: str


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENOENT:
        return "not found (is the drive or share connected?)"
    return exc.strerror or str(exc)


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def walk_images(root: Path, unreachable: list[Unreachable] | None = None
                ) -> Iterator[FoundFile]:
    """Every candidate image below `root`. Symlinked folders are followed once: a folder
    whose real path was already visited is not entered again, which cuts loops.

    A folder that cannot be listed (permission, I/O error, the root unmounted) is appended
    to `unreachable` instead of being silently passed over: the caller must keep the photos
    it knew there. A subfolder that vanished during the walk is simply gone."""
    unreachable = unreachable if unreachable is not None else []
    visited: set[str] = set()
    stack = [Path(root)]
    while stack:
        folder = stack.pop()
        try:
            real = os.path.realpath(folder)
        except OSError as exc:
            unreachable.append(Unreachable(str(folder), _reason(exc)))
            continue
        if real in visited:
            continue
        visited.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            if folder == Path(root) or exc.errno != errno.ENOENT:
                unreachable.append(Unreachable(str(folder), _reason(exc)))
            continue
        subfolders = []
        for entry in entries:
            if is_hidden(entry.name):
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    subfolders.append(Path(entry.path))
                    continue
                stat = entry.stat(follow_symlinks=True)
            except FileNotFoundError:
                continue  # deleted during the walk, or a dangling link
            except OSError as exc:  # e.g. a stale network mount: keep what was there
                unreachable.append(Unreachable(entry.path, _reason(exc)))
                continue
            if not stat_module.S_ISREG(stat.st_mode):
                continue  # FIFOs, sockets, devices: opening one could block for ever
            if is_candidate(Path(entry.path)):
                yield FoundFile.from_stat(entry.path, stat)
        stack.extend(reversed(subfolders))
