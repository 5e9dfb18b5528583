"""Watching photo folders: one watchdog observer for all folders (a polling one for network
shares), events coalesced per path and handed on only once a file has stopped changing.

No Qt and no database here: the watcher turns file-system events into `Change` items and
gives them to a sink (the indexing service's queue), which owns the library.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

from photo_tagger.config import POLL_INTERVAL_SECONDS, SETTLE_SECONDS
from photo_tagger.core.images import is_candidate
from photo_tagger.core.scanner import is_hidden, walk_images
from photo_tagger.paths import is_under

log = logging.getLogger(__name__)

# File systems where inotify (and its kin) miss changes made by other machines.
NETWORK_FS_TYPES = {
    "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph",
    "glusterfs", "lustre", "gpfs", "davfs", "sshfs", "fuse.sshfs", "fuse.rclone", "fuse.s3fs",
    "fuse.davfs2", "fuse.gvfsd-fuse", "fuse.smbnetfs", "fuse.curlftpfs", "fuse.glusterfs",
    "fuse.cephfs", "fuse.juicefs", "fuse.mergerfs",
}


@dataclass(frozen=True)
class Ready:
    """Files that were created or changed and have stopped changing: index them."""

    paths: tuple[str, ...]


@dataclass(frozen=True)
class Moved:
    """A file or folder renamed or moved inside the watched folders."""

    src: str
    dest: str
    is_directory: bool


@dataclass(frozen=True)
class Removed:
    """A file or folder deleted (or moved out of the watched folders)."""

    path: str
    is_directory: bool


@dataclass(frozen=True)
class RootReturned:
    """A watched folder that was away (deleted and made again, a drive unmounted and
    mounted again) is back, watched anew: scan it for what changed meanwhile."""

    path: str


def _listable(path: str) -> bool:
    try:
        with os.scandir(path) as entries:
            next(entries, None)
    except OSError:
        return False
    return True


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of a folder, or None when it is not there: a remount or a folder
    made again under the same name shows as a new identity."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino) if os.path.isdir(path) else None


Change = Ready | Moved | Removed | RootReturned


def filesystem_type(path: str,
                    mounts: Iterable[tuple[str, str]] | None = None) -> str | None:
    """The type of the file system holding `path` (its deepest mount point above it).

    `mounts` are (mount point, type) pairs; by default every mount psutil reports, which
    works on Linux, macOS and Windows alike.
    """
    if mounts is None:
        try:
            mounts = [(p.mountpoint, p.fstype) for p in psutil.disk_partitions(all=True)]
        except OSError:
            return None
    real = os.path.realpath(path)
    best, best_type = "", None
    for mount_point, fstype in mounts:
        # `>=`: a later mount on the same point hides the earlier one.
        if is_under(real, mount_point) and len(mount_point) >= len(best):
            best, best_type = mount_point, fstype
    return best_type


def is_network_filesystem(fstype: str | None) -> bool:
    """Whether native change notification misses changes on this type of file system."""
    return fstype is not None and fstype.lower() in NETWORK_FS_TYPES


def needs_polling(path: str, mounts: Iterable[tuple[str, str]] | None = None) -> bool:
    """True where native change notification cannot be trusted: network file systems."""
    return is_network_filesystem(filesystem_type(path, mounts))


@dataclass
class _Pending:
    event_at: float
    checked_at: float = 0.0
    stat: tuple[int, float] | None = None


@dataclass
class _Watched:
    path: str
    polling: bool
    watch: ObservedWatch
    observer: BaseObserver = field(repr=False)


class FolderWatcher:
    """Watches folders and reports `Change`s to `sink`, on its own threads.

    Created and modified files wait in a per-path table until their size and mtime are the
    same on two checks `settle` seconds apart with no event in between, so a burst of
    events for one file (a copy in progress, a camera import) becomes one `Ready`.
    Moves are reported at once; deletes after a short hold (see `_remove_later`).
    """

    def __init__(self, sink: Callable[[Change], None], *, settle: float = SETTLE_SECONDS,
                 poll_interval: float = POLL_INTERVAL_SECONDS,
                 detect_polling: Callable[[str], bool] = needs_polling,
                 root_check_interval: float = 2.0) -> None:
        self._sink = sink
        self.settle = settle
        self.poll_interval = poll_interval
        # How often the watched folders themselves are checked: an observer says nothing
        # when its folder is deleted and made again, or its drive remounted.
        self.root_check_interval = root_check_interval
        self._roots: dict[str, tuple[bool, tuple[int, int] | None]] = {}
        # Folders a scan could not list (permission, I/O error) → the watched folder to
        # scan again once they can be: a change of permission sends no event to wait for.
        self._unreadable: dict[str, str] = {}
        self._roots_checked = time.monotonic()
        self._detect_polling = detect_polling
        self._lock = threading.Condition()
        self._pending: dict[str, _Pending] = {}
        self._held: list[tuple[float, Removed]] = []
        self._watched: dict[str, _Watched] = {}
        self._native: BaseObserver | None = None
        self._polling: BaseObserver | None = None
        self._handler = _Handler(self)
        self._stopping = False
        self._settler: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._settler = threading.Thread(target=self._settle_loop, name="watcher-settle")
        self._settler.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop every observer thread and the settle thread; pending files are dropped
        (the start-up reconcile scan finds them next time)."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        deadline = time.monotonic() + timeout
        observers = [o for o in (self._native, self._polling) if o is not None]
        for observer in observers:
            observer.stop()
        for observer in observers:
            if observer.is_alive():
                observer.join(max(0.0, deadline - time.monotonic()))
        if self._settler is not None:
            self._settler.join(max(0.0, deadline - time.monotonic()))
        self._watched.clear()

    def threads(self) -> list[threading.Thread]:
        """The threads this watcher runs (for shutdown checks)."""
        found: list[threading.Thread] = [self._settler] if self._settler else []
        for observer in (self._native, self._polling):
            if observer is not None:
                found.append(observer)
                found.extend(getattr(observer, "emitters", ()))
        return found

    # -- folders ------------------------------------------------------------------------
    def watch(self, folder: str | Path, polling: bool = False) -> bool:
        """Start watching `folder` and everything below it; returns whether it polls.

        Polling is used when asked for, when the folder is on a network file system, or
        when the native observer refuses (for example, out of inotify watches)."""
        path = os.path.realpath(folder)
        if path in self._watched:
            return self._watched[path].polling
        # Remembered even when it is not there now: watching starts once it appears.
        self._roots[path] = (polling, _identity(path))
        if not os.path.isdir(path):
            log.warning("%s is not reachable; it will be watched once it is back.", path)
            return polling
        return self._schedule(path, polling)

    def _schedule(self, path: str, polling: bool) -> bool:
        use_polling = polling or self._detect_polling(path)
        if not use_polling:
            try:
                observer = self._observer(native=True)
                watch = observer.schedule(self._handler, path, recursive=True)
            except OSError as exc:
                log.warning("Native watching of %s failed (%s); polling it instead.", path, exc)
                use_polling = True
        if use_polling:
            observer = self._observer(native=False)
            watch = observer.schedule(self._handler, path, recursive=True)
        self._watched[path] = _Watched(path, use_polling, watch, observer)
        log.info("Watching %s%s", path, " (polling)" if use_polling else "")
        return use_polling

    def unwatch(self, folder: str | Path) -> None:
        path = os.path.realpath(folder)
        self._roots.pop(path, None)
        self._unschedule(path)

    def _unschedule(self, path: str) -> None:
        watched = self._watched.pop(path, None)
        if watched is None:
            return
        try:
            watched.observer.unschedule(watched.watch)
        except Exception:  # its folder is gone, and the observer dropped the watch itself
            log.debug("Watch of %s was already gone", path)
        with self._lock:
            for pending in [p for p in self._pending if is_under(p, path)]:
                del self._pending[pending]

    def watched(self) -> dict[str, bool]:
        """Watched folder → whether it is polled."""
        return {path: w.polling for path, w in list(self._watched.items())}

    def _observer(self, native: bool) -> BaseObserver:
        if native:
            if self._native is None:
                self._native = Observer()
                self._native.name = "watcher-native"
                self._native.start()
            return self._native
        if self._polling is None:
            self._polling = PollingObserver(timeout=self.poll_interval)
            self._polling.name = "watcher-polling"
            self._polling.start()
        return self._polling

    # -- events -------------------------------------------------------------------------
    def _ignored(self, path: str) -> bool:
        """Hidden files and anything inside hidden folders (temporary copies, caches)."""
        root = self._root_of(path)
        relative = path[len(root):] if root else os.path.basename(path)
        return any(is_hidden(part) for part in relative.split(os.sep) if part)

    def _root_of(self, path: str) -> str | None:
        best = None
        for root in list(self._watched):  # the service thread may add one meanwhile
            if is_under(path, root) and (best is None or len(root) > len(best)):
                best = root
        return best

    def _touch(self, path: str) -> None:
        with self._lock:
            entry = self._pending.get(path)
            now = time.monotonic()
            if entry is None:
                self._pending[path] = _Pending(now)
            else:
                entry.event_at, entry.stat = now, None
            self._lock.notify_all()

    def _emit(self, change: Change) -> None:
        try:
            self._sink(change)
        except Exception:  # a failing sink must not kill the observer thread
            log.exception("The watcher's sink failed on %s", change)

    def on_event(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        src = os.fsdecode(event.src_path)
        if kind in ("created", "modified", "closed"):
            if self._ignored(src):
                return
            if event.is_directory:
                if kind == "created":
                    # Files may land in a new folder before its watch exists: pick them up.
                    for found in walk_images(Path(src)):
                        self._touch(found.path)
                return
            self._touch(src)
        elif kind == "deleted":
            if src in self._roots:
                # The watched folder itself went away (deleted, unmounted): its photos are
                # kept, and the root check re-arms the watch when it is back. Its identity
                # is forgotten: a folder made again at once may reuse the inode number.
                polling, _ = self._roots[src]
                self._roots[src] = (polling, None)
                self._roots_checked = 0.0
                return
            with self._lock:
                for pending in [p for p in self._pending
                                if p == src or (event.is_directory and is_under(p, src))]:
                    del self._pending[pending]
            if not self._ignored(src):
                self._remove_later(Removed(src, event.is_directory))
        elif kind == "moved":
            self._moved(src, os.fsdecode(event.dest_path), event.is_directory)

    def _remove_later(self, change: Removed) -> None:
        """Deletes wait until files that appeared meanwhile have settled and gone first.

        A file moved into a folder created a moment before can reach us as a delete plus a
        create (the new folder was not watched yet): handed on in that order, the
        library sees the new file while the old row still exists and takes it as a move,
        keeping id, vector and tags. Editors that save by delete-and-recreate benefit too.
        """
        with self._lock:
            self._held.append((time.monotonic(), change))
            self._lock.notify_all()

    def _moved(self, src: str, dest: str, is_directory: bool) -> None:
        src_ignored, dest_ignored = self._ignored(src), self._ignored(dest)
        if dest_ignored or self._root_of(dest) is None:
            # Renamed to a hidden name or moved out: for the library it is gone.
            if not src_ignored:
                self._remove_later(Removed(src, is_directory))
            return
        if src_ignored:
            # A temporary file renamed into place: a new file, complete now.
            if is_directory:
                for found in walk_images(Path(dest)):
                    self._touch(found.path)
            else:
                self._touch(dest)
            return
        with self._lock:
            # A file still settling moves with its pending entry.
            for pending in list(self._pending):
                if pending == src or (is_directory and is_under(pending, src)):
                    entry = self._pending.pop(pending)
                    self._pending[dest + pending[len(src):]] = entry
        self._emit(Moved(src, dest, is_directory))

    # -- settling -----------------------------------------------------------------------
    def is_pending(self, path: str) -> bool:
        """Whether `path` still waits to settle (it will come as `Ready`)."""
        with self._lock:
            return path in self._pending

    def pending_count(self) -> int:
        """Files waiting to settle plus deletes held back."""
        with self._lock:
            return len(self._pending) + len(self._held)

    def check_roots(self) -> None:
        """Re-arm watching of each watched folder that went away and came back, and say
        so with `RootReturned`; called from the settle thread every few seconds."""
        self._roots_checked = time.monotonic()
        for path, (polling, known) in list(self._roots.items()):
            now = _identity(path)
            if now == known or path not in self._roots:
                continue
            self._roots[path] = (polling, now)
            self._unschedule(path)
            if now is None:
                log.warning("%s went away; its photos are kept until it is back.", path)
                continue
            log.info("%s is back; watching it again.", path)
            self._schedule(path, polling)
            self._emit(RootReturned(path))
        for place, root in list(self._unreadable.items()):
            if _listable(place):
                log.info("%s can be read again; scanning %s.", place, root)
                self._unreadable.pop(place, None)
                self._emit(RootReturned(root))

    def retry_when_readable(self, place: str) -> None:
        """`place` (a watched folder or one inside it) could not be listed: once it can,
        its watched folder is scanned again (`RootReturned`), checked with the roots."""
        root = self._root_of(place)
        if root is not None:
            self._unreadable[place] = root

    def _settle_loop(self) -> None:
        with self._lock:
            while not self._stopping:
                if time.monotonic() - self._roots_checked >= self.root_check_interval:
                    self._lock.release()  # stat and schedule outside the lock
                    try:
                        self.check_roots()
                    finally:
                        self._lock.acquire()
                    continue
                if not self._pending and not self._held:
                    self._lock.wait(self.root_check_interval)
                    continue
                ready = self._check_pending()
                # A delete is held for three settle periods: longer than a file that
                # appeared with it needs to be seen stable twice.
                cutoff = time.monotonic() - 3 * self.settle
                expired = [change for at, change in self._held if at <= cutoff]
                self._held = [(at, change) for at, change in self._held if at > cutoff]
                if ready or expired:
                    # Hand on outside the lock: the sink may block on a full queue.
                    self._lock.release()
                    try:
                        # Content decides for files without an image extension.
                        paths = tuple(sorted(p for p in ready if is_candidate(Path(p))))
                        if paths:
                            self._emit(Ready(paths))
                        for change in expired:
                            self._emit(change)
                    finally:
                        self._lock.acquire()
                    continue
                self._lock.wait(self.settle / 4)

    def _check_pending(self) -> list[str]:
        """Paths whose size and mtime held still for `settle` seconds; called locked."""
        now = time.monotonic()
        ready = []
        for path, entry in list(self._pending.items()):
            if now - max(entry.event_at, entry.checked_at) < self.settle:
                continue
            try:
                stat = os.stat(path)
            except OSError:  # gone again; its delete event tells the library
                del self._pending[path]
                continue
            current = (stat.st_size, stat.st_mtime)
            if entry.stat == current:
                del self._pending[path]
                ready.append(path)
            else:
                entry.stat, entry.checked_at = current, now
        return ready


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: FolderWatcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self._watcher.on_event(event)
        except Exception:  # never let one odd event stop watching
            log.exception("Cannot handle %s", event)

