"""The folder watcher with a real watchdog observer on a temporary folder: coalescing,
settling, moves, deletes, new sub-folders, hidden files, polling and shutdown."""

from __future__ import annotations

import os
import queue
import shutil
import threading
import time
from collections import Counter

import psutil
import pytest

from photo_tagger.core.watcher import (
    Change,
    FolderWatcher,
    Moved,
    Ready,
    Removed,
    RootReturned,
    filesystem_type,
    is_network_filesystem,
    needs_polling,
)
from waiting import HANG_SECONDS

SETTLE = 0.2


@pytest.fixture
def changes():
    return queue.Queue()


@pytest.fixture
def watcher(changes: queue.Queue[Change]):
    w = FolderWatcher(changes.put, settle=SETTLE, poll_interval=0.1)
    w.start()
    yield w
    w.stop()
    assert not [t for t in w.threads() if t.is_alive()]


def next_change(changes: queue.Queue[Change], kind: type, timeout: float = 10) -> Change:
    """The next change of `kind`, skipping others (directory events vary by platform)."""
    deadline = time.monotonic() + timeout
    while True:
        change = changes.get(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(change, kind):
            return change


def ready_paths(changes: queue.Queue[Change], expected: set[str],
                timeout: float = 20) -> Counter[str]:
    """Collect Ready paths until every expected one came, counting repeats."""
    seen: Counter[str] = Counter()
    deadline = time.monotonic() + timeout
    while not expected <= set(seen):
        change = changes.get(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(change, Ready):
            seen.update(change.paths)
    return seen


def drain_when_settled(w: FolderWatcher, changes: queue.Queue[Change]) -> list[Change]:
    """Everything still to come once the watcher has nothing pending."""
    deadline = time.monotonic() + 10
    while w.pending_count() and time.monotonic() < deadline:
        time.sleep(0.02)
    left = []
    while True:
        try:
            left.append(changes.get_nowait())
        except queue.Empty:
            return left


def test_burst_of_200_files_is_reported_once_each(tmp_path, watcher, changes):
    watcher.watch(tmp_path)
    expected = set()
    for number in range(200):
        path = tmp_path / f"IMG_{number:04d}.jpg"
        path.write_bytes(b"\xff\xd8\xff" + bytes(200))
        with path.open("ab") as handle:  # a second write: more events for the same file
            handle.write(b"\x00" * 10)
        expected.add(str(path))
    seen = ready_paths(changes, expected)
    later = [p for c in drain_when_settled(watcher, changes) if isinstance(c, Ready)
             for p in c.paths]
    seen.update(later)
    assert set(seen) == expected
    assert max(seen.values()) == 1


def test_slowly_written_file_is_reported_once_when_complete(tmp_path, watcher, changes):
    watcher.watch(tmp_path)
    target = tmp_path / "slow.jpg"
    sizes: list[int] = []

    def sink(change: Change) -> None:
        if isinstance(change, Ready):
            sizes.extend(os.path.getsize(p) for p in change.paths)
        changes.put(change)

    watcher._sink = sink
    chunk = b"\xff" * 1000
    with target.open("wb") as handle:
        for _ in range(8):  # the copy takes longer than the settle delay
            handle.write(chunk)
            handle.flush()
            time.sleep(SETTLE * 0.6)  # the writer's pace, not a wait for the watcher
    change = next_change(changes, Ready)
    assert change.paths == (str(target),)
    assert sizes == [8000]
    assert not [c for c in drain_when_settled(watcher, changes) if isinstance(c, Ready)]


def test_move_rename_and_delete_are_reported_without_reindexing(tmp_path, watcher, changes):
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + bytes(50))
    (tmp_path / "sub").mkdir()
    watcher.watch(tmp_path)
    photo.rename(tmp_path / "b.jpg")
    assert next_change(changes, Moved) == Moved(str(photo), str(tmp_path / "b.jpg"), False)
    (tmp_path / "b.jpg").rename(tmp_path / "sub" / "b.jpg")
    assert next_change(changes, Moved) == Moved(str(tmp_path / "b.jpg"),
                                                str(tmp_path / "sub" / "b.jpg"), False)
    (tmp_path / "sub").rename(tmp_path / "renamed")
    assert next_change(changes, Moved) == Moved(str(tmp_path / "sub"),
                                                str(tmp_path / "renamed"), True)
    (tmp_path / "renamed" / "b.jpg").unlink()
    assert next_change(changes, Removed) == Removed(str(tmp_path / "renamed" / "b.jpg"), False)
    assert not [c for c in drain_when_settled(watcher, changes) if isinstance(c, Ready)]


# watchdog's own race when `mkdir -p` makes nested folders faster than it adds watches.
@pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")
def test_new_subfolder_hidden_files_and_temp_renames(tmp_path, watcher, changes):
    watcher.watch(tmp_path)
    nested = tmp_path / "2024" / "july"
    nested.mkdir(parents=True)
    (nested / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(50))
    (tmp_path / ".hidden.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "notes.txt").write_text("not a photo")
    temp = tmp_path / ".download.tmp"
    temp.write_bytes(b"\xff\xd8\xff" + bytes(50))
    temp.rename(tmp_path / "d.jpg")
    seen = ready_paths(changes, {str(nested / "c.png"), str(tmp_path / "d.jpg")})
    seen.update(p for c in drain_when_settled(watcher, changes) if isinstance(c, Ready)
                for p in c.paths)
    assert set(seen) == {str(nested / "c.png"), str(tmp_path / "d.jpg")}
    # A file created in the new sub-folder later is seen too: the folder is watched.
    (nested / "e.jpg").write_bytes(b"\xff\xd8\xff" + bytes(50))
    assert set(ready_paths(changes, {str(nested / "e.jpg")})) == {str(nested / "e.jpg")}


def test_polling_folder_sees_changes(tmp_path, watcher, changes):
    assert watcher.watch(tmp_path, polling=True) is True
    assert watcher.watched() == {str(tmp_path.resolve()): True}
    (tmp_path / "p.jpg").write_bytes(b"\xff\xd8\xff" + bytes(10))
    assert next_change(changes, Ready).paths == (str(tmp_path / "p.jpg"),)
    (tmp_path / "p.jpg").unlink()
    assert next_change(changes, Removed).path == str(tmp_path / "p.jpg")


def test_network_shares_are_detected_from_mounts(tmp_path, changes):
    # (mount point, type) as psutil.disk_partitions reports them (it undoes /proc/mounts'
    # octal escapes such as My\040Share).
    mounts = [("/", "ext4"), ("/mnt/nas", "nfs4"), ("/mnt/My Share", "cifs"),
              ("/mnt/ssh", "fuse.sshfs")]
    assert filesystem_type("/home/me/Pictures", mounts) == "ext4"
    assert not needs_polling("/home/me/Pictures", mounts)
    assert needs_polling("/mnt/nas/2024", mounts)
    assert needs_polling("/mnt/My Share/x", mounts)
    assert needs_polling("/mnt/ssh", mounts)
    assert not needs_polling("/mnt/nasty", mounts)
    assert needs_polling("/Volumes/nas/x", [("/", "apfs"), ("/Volumes/nas", "smbfs")])  # macOS
    # Detection drives the choice of observer, per folder.
    w = FolderWatcher(changes.put, settle=SETTLE, poll_interval=0.1,
                      detect_polling=lambda path: path.endswith("share"))
    w.start()
    try:
        (tmp_path / "local").mkdir()
        (tmp_path / "share").mkdir()
        assert w.watch(tmp_path / "local") is False
        assert w.watch(tmp_path / "share") is True
    finally:
        w.stop()


def test_this_machines_mounts_are_read_through_psutil(tmp_path):
    """Without given mounts, every mount psutil lists is considered (on any OS)."""
    fstype = filesystem_type(str(tmp_path))
    assert fstype in {p.fstype for p in psutil.disk_partitions(all=True)}
    assert needs_polling(str(tmp_path)) is is_network_filesystem(fstype)
    assert is_network_filesystem("NFS4") and is_network_filesystem("smbfs")
    assert not is_network_filesystem("ext4") and not is_network_filesystem(None)


def test_stop_leaves_no_threads(tmp_path, changes):
    before = set(threading.enumerate())
    w = FolderWatcher(changes.put, settle=SETTLE, poll_interval=0.1)
    w.start()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    w.watch(tmp_path / "a")
    w.watch(tmp_path / "b", polling=True)
    (tmp_path / "a" / "x.jpg").write_bytes(b"\xff\xd8\xff")
    started = time.monotonic()
    w.stop()
    assert time.monotonic() - started < HANG_SECONDS  # stop() joins within its own 2 s
    assert not [t for t in threading.enumerate() if t not in before and t.is_alive()]


def test_a_delete_is_handed_on_after_files_that_appeared_with_it(tmp_path, watcher, changes):
    old = tmp_path / "old.jpg"
    old.write_bytes(b"\xff\xd8\xff" + bytes(50))
    watcher.watch(tmp_path)
    old.unlink()
    (tmp_path / "new.jpg").write_bytes(b"\xff\xd8\xff" + bytes(50))
    kinds = []
    while len(kinds) < 2:
        change = changes.get(timeout=10)
        if isinstance(change, (Ready, Removed)):
            kinds.append(change)
    assert kinds == [Ready((str(tmp_path / "new.jpg"),)), Removed(str(old), False)]


def test_watching_resumes_when_the_folder_is_deleted_and_made_again(tmp_path) -> None:
    changes: queue.Queue[Change] = queue.Queue()
    w = FolderWatcher(changes.put, settle=SETTLE, root_check_interval=0.2)
    w.start()
    try:
        root = tmp_path / "card"
        root.mkdir()
        w.watch(root)
        (root / "a.jpg").write_bytes(b"x")
        ready_paths(changes, {str(root / "a.jpg")})
        shutil.rmtree(root)
        root.mkdir()  # a new folder under the same name: the old watch saw nothing of it
        back = next_change(changes, RootReturned)
        assert back.path == str(root)
        (root / "b.jpg").write_bytes(b"y")
        ready_paths(changes, {str(root / "b.jpg")})
    finally:
        w.stop()
    seen = []
    while not changes.empty():
        seen.append(changes.get())
    # The folder's own delete is not a delete of its photos: they are kept until it is back.
    assert not [c for c in seen if isinstance(c, Removed) and c.path == str(root)]


def test_a_folder_missing_at_start_is_watched_once_it_appears(tmp_path) -> None:
    changes: queue.Queue[Change] = queue.Queue()
    w = FolderWatcher(changes.put, settle=SETTLE, root_check_interval=0.2)
    w.start()
    try:
        drive = tmp_path / "drive"
        w.watch(drive)  # not mounted yet
        drive.mkdir()
        assert next_change(changes, RootReturned).path == str(drive)
        (drive / "c.png").write_bytes(b"z")
        ready_paths(changes, {str(drive / "c.png")})
    finally:
        w.stop()


def test_a_folder_that_could_not_be_read_is_scanned_again_once_it_can(tmp_path) -> None:
    changes: queue.Queue[Change] = queue.Queue()
    w = FolderWatcher(changes.put, settle=SETTLE, root_check_interval=0.2)
    w.start()
    try:
        root = tmp_path / "photos"
        root.mkdir()
        w.watch(root)
        blocked = root / "sub"  # as a scan met it: not listable (here: not there yet)
        w.retry_when_readable(str(blocked))
        time.sleep(0.6)  # a few root checks: nothing to say while it cannot be listed
        assert not [c for c in drain(changes) if isinstance(c, RootReturned)]
        blocked.mkdir()
        assert next_change(changes, RootReturned).path == str(root.resolve())
    finally:
        w.stop()


def drain(changes: queue.Queue[Change]) -> list[Change]:
    found = []
    while not changes.empty():
        found.append(changes.get())
    return found
