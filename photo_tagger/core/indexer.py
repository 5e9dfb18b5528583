"""From files on disk to rows, vectors and tags: change detection, moves and duplicates by
content hash, the watcher's changes applied, decoding ahead of the model, batched embedding,
short transactions."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from photo_tagger.config import (
    BATCH_SIZE,
    DECODE_AHEAD,
    READ_AHEAD_MAX_BYTES,
    READ_AHEAD_TOTAL_BYTES,
)
from photo_tagger.core import learning, tagger
from photo_tagger.core.embedder import Embedder, ModelUnavailable
from photo_tagger.core.images import (
    LoadedImage,
    UnreadableImage,
    check_structure,
    content_hash,
    load_image,
)
from photo_tagger.core.responsiveness import lower_thread_priority
from photo_tagger.core.scanner import FoundFile, Unreachable, walk_images
from photo_tagger.core.store import Library, Photo
from photo_tagger.core.watcher import Change, Moved, Ready, Removed, RootReturned
from photo_tagger.paths import is_under


@dataclass(frozen=True)
class IndexProgress:
    """A plain progress event; the CLI draws a bar from it, the GUI a status line."""

    phase: str  # "scan", "index" or "done"
    done: int
    total: int
    current: str | None
    rate: float  # photos per second over this run


@dataclass
class IndexSummary:
    indexed: int = 0
    unchanged: int = 0
    moved: int = 0
    reused: int = 0  # identical copies: vector taken from the twin, no model run
    removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # Folders that could not be read this run; the photos known there were kept.
    unreachable: list[Unreachable] = field(default_factory=list)
    cancelled: bool = False

    def add(self, other: IndexSummary) -> None:
        """Count `other` (a run made while applying a change) in this summary too."""
        self.indexed += other.indexed
        self.unchanged += other.unchanged
        self.moved += other.moved
        self.reused += other.reused
        self.removed += other.removed
        self.skipped += other.skipped
        self.unreachable += other.unreachable
        self.cancelled = self.cancelled or other.cancelled

    def as_dict(self) -> dict[str, Any]:
        return {
            "indexed": self.indexed, "unchanged": self.unchanged, "moved": self.moved,
            "reused": self.reused, "removed": self.removed,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "unreachable": [{"path": u.path, "reason": u.reason} for u in self.unreachable],
            "cancelled": self.cancelled,
        }


@dataclass
class _Prepared:
    file: FoundFile
    content_hash: str | None = None
    image: LoadedImage | None = None
    pixels: dict[str, Any] | None = None
    error: str | None = None


EmbedderLoader = Callable[[str], Embedder]


def is_unchanged(row: Photo | None, found: FoundFile) -> bool:
    """Can the file be taken as indexed without reading it? Size and mtime alone miss a
    file replaced with preserved timestamps; ctime and inode catch it. Rows written before
    those were recorded compare on size and mtime (the scan fills them in)."""
    if row is None or row.status == "pending" or row.size != found.size \
            or row.mtime != found.mtime:
        return False
    return row.ctime is None or (row.ctime == found.ctime and row.inode == found.inode)


class KnownHashes:
    """Content hashes of the indexed photos, so decode threads can skip moved and copied
    files without the database. Read once per indexer, then kept up to date with what it
    indexes: before, every watcher batch re-read them all (a full-table read at 500k
    photos). Held as sorted 64-bit prefixes, 8 bytes a photo. A stale entry (a photo deleted
    since) or a prefix collision only sends the file back to be decoded and embedded."""

    MERGE_EVERY = 4096

    def __init__(self, library: Library) -> None:
        prefixes = np.fromiter(
            (self._prefix(row[0]) for row in library.conn.execute(
                "SELECT content_hash FROM photos WHERE status = 'indexed' "
                "AND content_hash IS NOT NULL")), dtype=np.uint64)
        prefixes.sort()
        self._sorted = prefixes
        self._added: set[int] = set()

    @staticmethod
    def _prefix(digest: str) -> int:
        try:
            return int(digest[:16], 16)
        except ValueError:  # not ours (a hand-edited row): still a stable key, no crash
            return int.from_bytes(hashlib.blake2b(digest.encode(), digest_size=8).digest(),
                                  "big")

    def __contains__(self, digest: object) -> bool:
        # Runs on decode threads while `add` runs on the indexer's: `add` publishes a merged
        # array before it clears the set, so checking the set first never misses an entry.
        if not isinstance(digest, str):
            return False
        prefix = self._prefix(digest)
        if prefix in self._added:
            return True
        known = self._sorted
        position = int(np.searchsorted(known, np.uint64(prefix)))
        return position < len(known) and int(known[position]) == prefix

    def add(self, digest: str) -> None:
        self._added.add(self._prefix(digest))
        if len(self._added) >= self.MERGE_EVERY:  # keep it at 8 bytes a photo
            self._sorted = np.union1d(self._sorted,
                                      np.fromiter(self._added, dtype=np.uint64))
            self._added = set()


class Indexer:
    """Indexes files into one library with one model. Runs on the thread that owns the
    library's write connection; decoding runs on helper threads ahead of the model."""

    def __init__(
        self,
        library: Library,
        model_id: str,
        load_embedder: EmbedderLoader = Embedder.load,
        *,
        batch_size: int = BATCH_SIZE,
        decode_workers: int = min(4, os.cpu_count() or 1),
        on_event: Callable[[IndexProgress], None] | None = None,
        stop: threading.Event | None = None,
        between_batches: Callable[[], None] | None = None,
    ) -> None:
        self.library = library
        self.model_id = model_id
        self._load_embedder = load_embedder
        self._embedder: Embedder | None = None
        self._unavailable: str | None = None  # why the model cannot be loaded, once known
        self._labels: tagger.LabelMatrix | None = None
        self.batch_size = batch_size
        self.decode_workers = decode_workers
        self.on_event = on_event or (lambda event: None)
        self.stop = stop or threading.Event()
        self.between_batches = between_batches or (lambda: None)
        self._known_hashes: KnownHashes | None = None  # read on the first run that needs it
        # Starter labels for the model the library uses now; a switch swaps them below.
        tagger.seed_default_labels(library, library.model_id or model_id)

    @property
    def embedder(self) -> Embedder:
        """The model, loaded on first need; a model switch marks the library for re-embedding."""
        if self._embedder is None:
            if self._unavailable is not None:
                raise ModelUnavailable(self._unavailable)
            self.attach_embedder(self._load_embedder(self.model_id))
        assert self._embedder is not None
        return self._embedder

    def attach_embedder(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._unavailable = None
        if self.library.set_model(embedder.model_id, embedder.dim):
            self._known_hashes = None  # a new model dropped every vector
        tagger.seed_default_labels(self.library, embedder.model_id)
        self._labels = None

    def labels(self) -> tagger.LabelMatrix:
        """The label matrix, rebuilt when the labels changed (from the GUI, or from a CLI in
        another process); reading the labels table costs microseconds."""
        current = self.library.labels()
        if self._labels is None or self._labels.labels != current \
                or self._labels.learned.version != self.library.learned_version():
            self._labels = tagger.label_matrix(self.library, self.embedder)
        return self._labels

    def set_model_unavailable(self, reason: str) -> None:
        """The model failed to load: later runs mark their files pending and raise
        `ModelUnavailable(reason)` rather than retry the load every time."""
        self._unavailable = reason

    def invalidate_labels(self) -> None:
        self._labels = None

    def model_switch_pending(self) -> bool:
        return self.library.model_id not in (None, self.model_id) and self._embedder is None

    # -- entry points -------------------------------------------------------------------
    def index_folders(self, folders: Iterable[Path]) -> IndexSummary:
        """Bring the library in line with `folders`: add, update, move and remove photos."""
        summary = IndexSummary()
        todo: list[tuple[FoundFile, int]] = []
        gone: dict[str, Photo] = {}
        backfill: list[tuple[int, float, int]] = []  # rows from before ctime/inode were kept
        if self.model_switch_pending():
            _ = self.embedder  # switches the library to this model before the scan
        excluded = set(self.library.excluded_paths())
        for folder_path in folders:
            folder = self.library.add_folder(Path(folder_path))
            known = self.library.photos_under(folder.path)
            seen: set[str] = set()
            unreachable: list[Unreachable] = []
            for found in walk_images(Path(folder.path), unreachable):
                if found.path in excluded:  # removed by the user, file kept
                    continue
                seen.add(found.path)
                row = known.get(found.path)
                if is_unchanged(row, found):
                    summary.unchanged += 1
                    if row is not None and row.ctime is None:
                        backfill.append((row.id, found.ctime, found.inode))
                else:
                    todo.append((found, folder.id))
                if len(seen) % 500 == 0:
                    self.on_event(IndexProgress("scan", len(seen), 0, found.path, 0.0))
                    self.between_batches()  # a long scan also lets searches through
                if self.stop.is_set():
                    summary.cancelled = True
                    return summary
            if known and not seen and not unreachable:
                # Every photo gone at once is an empty mount point (the drive is not
                # mounted) far more often than a folder emptied on purpose.
                unreachable.append(Unreachable(folder.path, "empty: is its drive connected?"))
            # What could not be looked at is not gone: an unreadable or unmounted folder
            # keeps its photos, vectors and hand-set tags until it can be read again.
            gone.update({path: row for path, row in known.items() if path not in seen
                         and not any(is_under(path, u.path) for u in unreachable)})
            summary.unreachable += unreachable
        if backfill:
            with self.library.transaction():
                self.library.set_file_identity(backfill)
        self._process(todo, gone, summary)
        if not summary.cancelled:
            with self.library.transaction():
                summary.removed += self.library.remove_photos(gone)
            # Labels edited while the model was unavailable: finish their re-tag now.
            tagger.retag_if_needed(self.library, self.labels)
            # Tags that learn were fitted on the old model's vectors: refit them on these.
            learning.refit_stale(self.library, self.labels)
        self.on_event(IndexProgress("done", len(todo), len(todo), None, 0.0))
        return summary

    def index_files(self, paths: Iterable[str]) -> IndexSummary:
        """Index specific files (from the watcher). A file whose content matches a photo
        that is no longer on disk is taken as that photo moved."""
        summary = IndexSummary()
        todo: list[tuple[FoundFile, int | None]] = []
        excluded = set(self.library.excluded_paths())
        for path in paths:
            if path in excluded:
                continue
            folder = self.library.folder_for(path)
            found = _stat(path)
            if found is None:
                continue
            if is_unchanged(self.library.photo_by_path(path), found):
                summary.unchanged += 1
                continue
            todo.append((found, folder.id if folder else None))
        self._process(todo, {}, summary)
        return summary

    def remove_files(self, paths: Iterable[str]) -> int:
        with self.library.transaction():
            return self.library.remove_photos(paths)

    def exclude_files(self, paths: Iterable[str]) -> int:
        """"Remove from Library" that keeps the files: no later scan brings them back."""
        with self.library.transaction():
            return self.library.exclude_photos(paths)

    def include_files(self, paths: Iterable[str]) -> IndexSummary:
        """Undo `exclude_files` and index those files again."""
        paths = list(paths)
        with self.library.transaction():
            self.library.include_again(paths)
        return self.index_files([p for p in paths if os.path.isfile(p)])

    def apply_change(self, change: Change, *,
                     settling: Callable[[str], bool] = lambda path: False,
                     on_indexing: Callable[[list[str]], None] = lambda paths: None
                     ) -> IndexSummary:
        """Apply one change seen by the watcher: the one place where moves (file and
        folder), deletes and new or changed files reach the library.

        Args:
            change: what the watcher handed on.
            settling: whether the watcher still waits for a path to settle (it will hand
                that file on itself, so a move does not index it half-written).
            on_indexing: told which files are about to be read and embedded.
        """
        if isinstance(change, RootReturned):
            # Back after being deleted and made again, or unmounted: what changed while it
            # was away is found by a scan (its photos were kept meanwhile).
            return self.index_folders([Path(change.path)])
        summary = IndexSummary()
        if isinstance(change, Ready):
            self._index_present(change.paths, summary, on_indexing)
        elif isinstance(change, Removed):
            self._apply_removed(change, summary, on_indexing)
        elif change.is_directory:
            self._apply_folder_moved(change, summary, on_indexing)
        else:
            self._apply_file_moved(change, summary, settling, on_indexing)
        return summary

    def _apply_removed(self, change: Removed, summary: IndexSummary,
                       on_indexing: Callable[[list[str]], None]) -> None:
        if change.is_directory:
            paths = list(self.library.photos_under(change.path))
        else:
            paths = [change.path]
        # Editors often save by delete-and-recreate: keep what is on disk again.
        back = [p for p in paths if os.path.isfile(p)]
        gone = [p for p in paths if p not in set(back)]
        if gone:
            summary.removed += self.remove_files(gone)
        self._index_present(back, summary, on_indexing)

    def _apply_file_moved(self, change: Moved, summary: IndexSummary,
                          settling: Callable[[str], bool],
                          on_indexing: Callable[[list[str]], None]) -> None:
        """A move keeps the photo's id, vector and tags; the model does not run."""
        row = self.library.photo_by_path(change.src)
        found = _stat(change.dest)
        if row is not None and found is not None:
            folder = self.library.folder_for(change.dest)
            with self.library.transaction():
                self._move_photo(row.id, found, folder.id if folder else None)
            summary.moved += 1
            if row.status == "indexed":
                return
        # Unknown before (or never indexed): index it now, a hash match still reuses;
        # unless the watcher still waits for it to settle and will hand it on itself.
        if not settling(change.dest):
            self._index_present([change.dest], summary, on_indexing)

    def _apply_folder_moved(self, change: Moved, summary: IndexSummary,
                            on_indexing: Callable[[list[str]], None]) -> None:
        """Every photo under the folder keeps its id, vector and tags, in one transaction."""
        rows = self.library.photos_under(change.src)
        with self.library.transaction():
            for old_path, row in rows.items():
                found = _stat(change.dest + old_path[len(change.src):])
                if found is None:
                    continue
                folder = self.library.folder_for(found.path)
                self._move_photo(row.id, found, folder.id if folder else None)
                summary.moved += 1
        known = {change.dest + p[len(change.src):] for p, r in rows.items()
                 if r.status == "indexed"}
        self._index_present([f.path for f in walk_images(Path(change.dest))
                             if f.path not in known], summary, on_indexing)

    def _index_present(self, paths: Iterable[str], summary: IndexSummary,
                       on_indexing: Callable[[list[str]], None]) -> None:
        present = [p for p in paths if os.path.isfile(p)]
        if present:
            on_indexing(present)
            summary.add(self.index_files(present))

    def _move_photo(self, photo_id: int, found: FoundFile, folder_id: int | None) -> None:
        """Give a photo the path and file identity it has now (called in a transaction)."""
        self.library.move_photo(photo_id, found.path, folder_id, size=found.size,
                                mtime=found.mtime, ctime=found.ctime, inode=found.inode)

    # -- the pipeline -------------------------------------------------------------------
    def _process(self, todo: Sequence[tuple[FoundFile, int | None]], gone: dict[str, Photo],
                 summary: IndexSummary) -> None:
        if not todo:
            return
        # Read before marking: a touched file's own row is about to turn pending, and its
        # hash must still count as known (its vector is kept, nothing re-embedded).
        if self._known_hashes is None:
            self._known_hashes = KnownHashes(self.library)
        with self.library.transaction():
            for found, folder_id in todo:
                self.library.mark_pending(found.path, folder_id)
        embedder = self.embedder  # after marking: a model that fails leaves them pending
        if self._known_hashes is None:  # the load switched models and dropped every vector
            self._known_hashes = KnownHashes(self.library)
        known_hashes = self._known_hashes
        gone_by_hash: dict[str, list[Photo]] = {}
        for row in gone.values():
            if row.content_hash and row.status == "indexed":
                gone_by_hash.setdefault(row.content_hash, []).append(row)
        folder_of = {found.path: folder_id for found, folder_id in todo}

        def read(found: FoundFile) -> tuple[FoundFile, bytes | OSError | None]:
            # I/O only, ahead of decoding: the disk works while the CPU decodes and embeds.
            if found.size > READ_AHEAD_MAX_BYTES:
                return found, None  # a huge file is read by its decoder, not held in memory
            try:
                return found, Path(found.path).read_bytes()
            except OSError as exc:
                return found, exc

        def prepare(read_result: tuple[FoundFile, bytes | OSError | None],
                    reuse_known: bool = True) -> _Prepared:
            # Runs on a decode thread: no database access here.
            found, data = read_result
            item = _Prepared(found)
            try:
                if isinstance(data, OSError):
                    raise data
                source = Path(found.path) if data is None else data
                check_structure(source)  # before the hash: a fake JPEG is rejected at once
                item.content_hash = content_hash(source)
                # Also the rows gone from this scan: another process may have indexed them.
                if reuse_known and (item.content_hash in known_hashes
                                    or item.content_hash in gone_by_hash):
                    return item  # moved or copied: the stored vector will be reused
                item.image = load_image(source, embedder.image_size)
                item.pixels = embedder.preprocess([item.image.image])
                item.image.image = None  # type: ignore[assignment]  # free pixels early
            except UnreadableImage as exc:
                item.error = str(exc)
            except OSError as exc:
                item.error = f"cannot read file: {exc.strerror or exc}"
            except Exception as exc:  # a processor failure must not stop the others
                item.error = f"cannot prepare image: {type(exc).__name__}: {exc}"
            return item

        started = time.monotonic()
        done = 0
        files = iter([found for found, _ in todo])
        reads: deque[Future[tuple[FoundFile, bytes | OSError | None]]] = deque()
        held: deque[FoundFile] = deque()  # the files behind `reads`, in the same order

        def held_bytes(found: FoundFile) -> int:
            return found.size if found.size <= READ_AHEAD_MAX_BYTES else 0
        ahead = max(DECODE_AHEAD, 2 * self.batch_size)
        with ThreadPoolExecutor(1, thread_name_prefix="read",
                                initializer=lower_thread_priority) as reader, \
                ThreadPoolExecutor(self.decode_workers, thread_name_prefix="decode",
                                   initializer=lower_thread_priority) as decoders:

            def refill() -> None:
                # Bounded by count and by bytes: sixteen 60 MB files are not held at once.
                while len(reads) < ahead and (not reads or sum(
                        held_bytes(f) for f in held) < READ_AHEAD_TOTAL_BYTES):
                    found = next(files, None)
                    if found is None:
                        return
                    held.append(found)
                    reads.append(reader.submit(read, found))

            refill()
            while reads:
                taken = min(self.batch_size, len(reads))
                chunk = [reads.popleft().result() for _ in range(taken)]
                for _ in range(taken):
                    held.popleft()
                refill()
                # Decode on every core while the model waits, then embed on every core: on a
                # small CPU this beats running both at once, where they fight over the cores.
                batch: list[_Prepared] = []
                for item in decoders.map(prepare, chunk):
                    done += 1
                    folder_id = folder_of[item.file.path]
                    if item.error is None and item.pixels is None \
                            and not self._reuse(item, folder_id, gone_by_hash, summary):
                        # Its twin is gone after all (deleted since the hashes were read):
                        # decode it here, rare enough not to need the pool.
                        item = prepare((item.file, None), reuse_known=False)
                    if item.error is not None and _deleted(item.file.path):
                        # Deleted since the scan: gone, not skipped.
                        with self.library.transaction():
                            summary.removed += self.library.remove_photos([item.file.path])
                    elif item.error is not None:
                        with self.library.transaction():
                            self.library.save_skipped(item.file.path, folder_id,
                                                      size=item.file.size,
                                                      mtime=item.file.mtime, reason=item.error,
                                                      ctime=item.file.ctime,
                                                      inode=item.file.inode)
                        summary.skipped.append((item.file.path, item.error))
                    elif item.pixels is not None:
                        batch.append(item)
                if batch:
                    self._embed_batch(batch, folder_of, summary)
                rate = summary.indexed / max(time.monotonic() - started, 1e-6)
                self.on_event(IndexProgress("index", done, len(todo), chunk[-1][0].path, rate))
                self.between_batches()
                if self.stop.is_set():
                    summary.cancelled = True
                    for pending in reads:
                        pending.cancel()
                    return

    def _reuse(self, item: _Prepared, folder_id: int | None,
               gone_by_hash: dict[str, list[Photo]], summary: IndexSummary) -> bool:
        """A file whose content is already indexed: a move, an unchanged touch, or a copy.
        False when no indexed photo has that content after all: the caller embeds it."""
        found, digest = item.file, item.content_hash
        assert digest is not None
        same_path = self.library.photo_by_path(found.path)
        candidates = gone_by_hash.get(digest) or []
        with self.library.transaction():
            self.library.require_model(self.embedder.model_id)
            if same_path is not None and same_path.content_hash == digest \
                    and self.library.vector(same_path.id) is not None:
                # Touched, not changed: keep everything, remember the new mtime.
                self.library.mark_indexed(same_path.id, size=found.size, mtime=found.mtime,
                                          ctime=found.ctime, inode=found.inode)
                summary.unchanged += 1
                return True
            if candidates:
                self._move_photo(candidates.pop(0).id, found, folder_id)
                summary.moved += 1
                return True
            twin = self.library.indexed_photo_with_hash(digest)
            if twin is not None and twin.path != found.path and not os.path.exists(twin.path):
                # Its old path is gone: a move the scan of another folder did not see.
                self._move_photo(twin.id, found, folder_id)
                summary.moved += 1
                return True
            vector = self.library.vector(twin.id) if twin is not None else None
            if twin is None or vector is None:
                return False
            summary.reused += 1
            photo_id = self.library.save_indexed(
                found.path, folder_id, size=found.size, mtime=found.mtime, content_hash=digest,
                width=twin.width, height=twin.height, taken_at=twin.taken_at,
                camera=twin.camera, vector=vector, dhash=twin.dhash,
                ctime=found.ctime, inode=found.inode)
            tagger.tag_photos(self.library, self.labels(), [photo_id], vector[None, :])
        if self._known_hashes is not None:
            self._known_hashes.add(digest)
        return True

    def _embed_batch(self, batch: list[_Prepared], folder_of: dict[str, int | None],
                     summary: IndexSummary) -> None:
        embedder = self.embedder
        pixels = [b.pixels for b in batch if b.pixels is not None]
        assert len(pixels) == len(batch)  # only decoded photos are batched
        try:
            vectors = embedder.embed_pixels(Embedder.collate(pixels))
        except Exception as exc:  # one bad batch must not stop the run: try one by one
            if len(batch) > 1:
                for item in batch:
                    self._embed_batch([item], folder_of, summary)
                return
            item = batch[0]
            reason = f"the model failed on this image: {type(exc).__name__}: {exc}"
            with self.library.transaction():
                self.library.save_skipped(item.file.path, folder_of[item.file.path],
                                          size=item.file.size, mtime=item.file.mtime,
                                          reason=reason)
            summary.skipped.append((item.file.path, reason))
            return
        labels = self.labels()
        with self.library.transaction():
            self.library.require_model(embedder.model_id)
            ids = []
            hashes = []
            for item, vector in zip(batch, vectors, strict=True):
                image = item.image
                assert image is not None and item.content_hash is not None
                hashes.append(item.content_hash)
                ids.append(self.library.save_indexed(
                    item.file.path, folder_of[item.file.path], size=item.file.size,
                    mtime=item.file.mtime, content_hash=item.content_hash, width=image.width,
                    height=image.height, taken_at=image.taken_at, camera=image.camera,
                    vector=vector, dhash=image.dhash, ctime=item.file.ctime,
                    inode=item.file.inode))
            tagger.tag_photos(self.library, labels, ids, np.asarray(vectors))
        if self._known_hashes is not None:
            for digest in hashes:
                self._known_hashes.add(digest)
        summary.indexed += len(batch)


def _deleted(path: str) -> bool:
    """The file is gone from a folder that is still there. A file that cannot be reached
    (no permission, its folder gone with an unmounted drive) is not taken as deleted."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return os.path.isdir(os.path.dirname(path))
    except OSError:
        return False
    return False


def _stat(path: str) -> FoundFile | None:
    """The file at `path` as it is now; None when it is gone."""
    try:
        return FoundFile.from_stat(path, os.stat(path))
    except OSError:
        return None
