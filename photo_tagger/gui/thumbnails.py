"""Thumbnails: an on-disk JPEG cache keyed by (path, mtime, size) and pruned at start-up,
decoded on a QThreadPool into QImage, turned into QPixmap on the GUI thread and kept in a
small in-memory LRU. A photo whose folder cannot be reached shows its cached thumbnail, and
is tried again until the folder is back."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

from photo_tagger.config import THUMBNAIL_CACHE_MAX_BYTES
from photo_tagger.core.images import UnreadableImage, load_image
from photo_tagger.core.responsiveness import lower_thread_priority

log = logging.getLogger(__name__)

# Thumbnails are stored at this size and scaled down for smaller grid settings.
STORED_SIZE = 320
PREVIEW_SIZE = 1600
RETRY_INTERVAL_MS = 5000  # how often a photo in an unreachable folder is tried again

UNREACHABLE = "This folder is not reachable"
GONE = "This photo is no longer on disk"
UNREADABLE = "This photo cannot be shown"


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def _path_part(path: str, size: int) -> str:
    return _digest(f"{path}\0{size}")[:20]


def cache_key(path: str, size: int) -> str | None:
    """The cache file's name: the path's part first, so that the newest thumbnail of a
    photo can be found without reading the file (see `last_cached`), then the file's
    mtime and size, so that an edited photo gets a new thumbnail."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    stamp = _digest(f"{path}\0{stat.st_mtime_ns}\0{stat.st_size}\0{size}")[:20]
    return f"{_path_part(path, size)}-{stamp}"


def last_cached(path: str, size: int, cache_dir: Path) -> Path | None:
    """The newest cached thumbnail of `path`, whatever its mtime was: what the grid shows
    while the photo's folder cannot be reached (a drive unplugged, a share offline)."""
    part = _path_part(path, size)
    try:
        found = [entry for entry in os.scandir(cache_dir / part[:2])
                 if entry.name.startswith(part + "-") and entry.name.endswith(".jpg")]
    except OSError:
        return None
    if not found:
        return None
    return Path(max(found, key=lambda entry: entry.stat().st_mtime_ns).path)


def render_thumbnail(path: str, size: int, cache_dir: Path | None) -> QImage:
    """The thumbnail of `path` at most `size` pixels wide and high, from the disk cache when
    the file is unchanged. Runs on a pool thread; raises UnreadableImage on a bad file and
    OSError on one that cannot be read (unless an older thumbnail of it is cached)."""
    key = cache_key(path, size)
    if key is None and cache_dir is not None:
        kept = last_cached(path, size, cache_dir)
        if kept is not None:
            image = QImage(str(kept))
            if not image.isNull():
                return image
    cached = cache_dir / key[:2] / f"{key}.jpg" if cache_dir is not None and key else None
    if cached is not None and cached.is_file():
        image = QImage(str(cached))
        if not image.isNull():
            # The file's mtime is its last use: pruning removes the least recently used.
            with contextlib.suppress(OSError):
                os.utime(cached)
            return image
    loaded = load_image(Path(path), target_size=size)
    picture = loaded.image
    picture.thumbnail((size, size))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=88)
    data = buffer.getvalue()
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            temporary = cached.with_suffix(".part")
            temporary.write_bytes(data)
            os.replace(temporary, cached)
        except OSError as exc:  # a full or read-only disk costs the cache, not the photo
            log.debug("Thumbnail cache write failed: %s", exc)
    image = QImage()
    image.loadFromData(data, "JPEG")
    return image


def prune_cache(cache_dir: Path, max_bytes: int) -> tuple[int, int]:
    """Delete the least recently used cache files (by mtime, which a cache hit renews) until
    the cache holds at most `max_bytes`. Walks every file: run it off the GUI thread.
    Returns (files removed, bytes freed)."""
    files: list[tuple[int, int, str]] = []  # (mtime, size, path)
    total = 0
    for folder, _, names in os.walk(cache_dir):
        for name in names:
            path = os.path.join(folder, name)
            try:
                stat = os.stat(path)
            except OSError:  # removed meanwhile (a finished .part file)
                continue
            files.append((stat.st_mtime_ns, stat.st_size, path))
            total += stat.st_size
    removed = freed = 0
    for _, size, path in sorted(files):
        if total <= max_bytes:
            break
        try:
            os.remove(path)
        except OSError as exc:
            log.debug("Thumbnail cache file not removed: %s", exc)
            continue
        total -= size
        removed += 1
        freed += size
    return removed, freed


class _PruneTask(QRunnable):
    def __init__(self, cache_dir: Path, max_bytes: int) -> None:
        super().__init__()
        self.cache_dir, self.max_bytes = cache_dir, max_bytes

    def run(self) -> None:
        lower_thread_priority()
        try:
            removed, freed = prune_cache(self.cache_dir, self.max_bytes)
        except Exception:  # the cache is a convenience: never let it kill a pool thread
            log.exception("Pruning the thumbnail cache failed")
            return
        if removed:
            log.info("Thumbnail cache: %d old files removed (%.0f MB)", removed, freed / 1e6)


def failure_reason(path: str) -> str:
    """Why a photo shows no thumbnail, in the viewer's words; run off the GUI thread (it
    looks at the folder, which may hang on a dead network share)."""
    folder = os.path.dirname(path)
    if not os.path.isdir(folder) or not os.access(folder, os.R_OK | os.X_OK):
        return UNREACHABLE
    return UNREADABLE if os.path.exists(path) else GONE


@dataclass(frozen=True)
class Failure:
    reason: str  # UNREACHABLE, GONE or UNREADABLE

    @property
    def retried(self) -> bool:
        """A folder or file that may come back is tried again; a broken file is not."""
        return self.reason != UNREADABLE


class _TaskSignals(QObject):
    # Paths travel as Python objects: through a QString, a name that is not UTF-8 (a lone
    # surrogate) would come back changed and match no row.
    finished = Signal(object, int, object, str)  # path, size, QImage or None, failure reason


class _ThumbnailTask(QRunnable):
    def __init__(self, path: str, size: int, cache_dir: Path | None,
                 signals: _TaskSignals) -> None:
        super().__init__()
        self.path, self.size, self.cache_dir, self.signals = path, size, cache_dir, signals

    def run(self) -> None:
        lower_thread_priority()  # decoding must not slow the window it feeds
        reason = ""
        try:
            image: QImage | None = render_thumbnail(self.path, self.size, self.cache_dir)
        except (UnreadableImage, OSError) as exc:
            log.debug("No thumbnail for %s: %s", self.path, exc)
            image, reason = None, failure_reason(self.path)
        except Exception:  # never let one photo kill a pool thread silently
            log.exception("Thumbnail of %s failed", self.path)
            image, reason = None, UNREADABLE
        # The loader may be gone if the window closed while this ran.
        with contextlib.suppress(RuntimeError):
            self.signals.finished.emit(self.path, self.size, image, reason)


class ThumbnailLoader(QObject):
    """Asks for thumbnails without waiting: `pixmap()` answers from memory or queues a
    decode, and `ready` says when it arrived."""

    ready = Signal(object)  # path (str), as asked for
    failed = Signal(object)

    def __init__(self, cache_dir: Path | None, *, capacity: int = 3000,
                 cache_max_bytes: int | None = THUMBNAIL_CACHE_MAX_BYTES,
                 retry_interval_ms: int = RETRY_INTERVAL_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cache_dir = cache_dir
        self.capacity = capacity
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, min(4, (os.cpu_count() or 2))))
        self._memory: OrderedDict[tuple[str, int], QPixmap] = OrderedDict()
        self._pending: set[tuple[str, int]] = set()
        self._failed: dict[tuple[str, int], Failure] = {}
        self._signals = _TaskSignals(self)
        self._signals.finished.connect(self._finished)
        # Photos of a folder that went away are tried again until it is back.
        self._retry_timer = QTimer(self)
        self._retry_timer.setInterval(retry_interval_ms)
        self._retry_timer.timeout.connect(self._retry)
        if cache_dir is not None and cache_max_bytes is not None:
            self.pool.start(_PruneTask(cache_dir, cache_max_bytes))  # never on this thread

    def pixmap(self, path: str, size: int = STORED_SIZE) -> QPixmap | None:
        key = (path, size)
        found = self._memory.get(key)
        if found is not None:
            self._memory.move_to_end(key)
            return found
        if key not in self._pending and key not in self._failed:
            self._queue(key)
        return None

    def _queue(self, key: tuple[str, int]) -> None:
        self._pending.add(key)
        self.pool.start(_ThumbnailTask(key[0], key[1], self.cache_dir, self._signals))

    def asked_count(self) -> int:
        """Thumbnails asked for and not in memory: queued, being decoded, or unreadable."""
        return len(self._pending) + len(self._failed)

    def is_broken(self, path: str, size: int = STORED_SIZE) -> bool:
        """No thumbnail for now: the file is unreadable, or cannot be reached."""
        return (path, size) in self._failed

    def failure(self, path: str, size: int = STORED_SIZE) -> str | None:
        """Why `path` has no thumbnail (UNREACHABLE, GONE, UNREADABLE), or None."""
        found = self._failed.get((path, size))
        return found.reason if found is not None else None

    def drop_queued(self) -> None:
        """Forget decodes not yet started: the rows they were for are gone (a new search)."""
        self.pool.clear()
        self._pending.clear()

    def forget(self, path: str) -> None:
        for key in [k for k in self._memory if k[0] == path]:
            del self._memory[key]
        self._failed = {k: v for k, v in self._failed.items() if k[0] != path}

    def _retry(self) -> None:
        """Try the photos of unreachable folders again; `ready` says when one is back."""
        due = [key for key, failure in self._failed.items()
               if failure.retried and key not in self._pending]
        for key in due:
            del self._failed[key]
            self._queue(key)
        if not due:
            self._retry_timer.stop()

    @Slot(object, int, object, str)
    def _finished(self, path: str, size: int, image: QImage | None, reason: str) -> None:
        # Rows are found again by path, so a result for rows since replaced is still cached.
        key = (path, size)
        self._pending.discard(key)
        if image is None or image.isNull():
            failure = Failure(reason or UNREADABLE)
            self._failed[key] = failure
            if failure.retried and not self._retry_timer.isActive():
                self._retry_timer.start()
            self.failed.emit(path)
            return
        self._memory[key] = QPixmap.fromImage(image)
        while len(self._memory) > self.capacity:
            self._memory.popitem(last=False)
        self.ready.emit(path)

    def shutdown(self) -> None:
        self._retry_timer.stop()
        self.pool.clear()
        self.pool.waitForDone(5000)
