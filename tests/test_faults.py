"""A hostile file system loses nothing: unreadable or unmounted folders keep their photos
and hand-set tags, and FIFOs never block the scan or the watcher."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import photos
from photo_tagger.core.indexer import Indexer
from photo_tagger.core.store import Library, LibraryModelChanged
from photo_tagger.core.watcher import FolderWatcher, Ready
from photo_tagger.paths import library_path

REPO = Path(__file__).resolve().parent.parent


def as_normal_user(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI with file permissions enforced: root (CI) drops the capabilities that
    let it read anything, as a normal user would be refused."""
    env = dict(os.environ, PHOTO_TAGGER_HOME=str(home), HF_HUB_OFFLINE="1",
               PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "photo_tagger", *args]
    if os.geteuid() == 0:
        command = ["capsh", "--drop=cap_dac_override,cap_dac_read_search", "--",
                   "-c", 'exec "$0" "$@"', *command]
    return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def tag_names(library: Library, path: Path) -> set[str]:
    row = library.photo_by_path(str(path))
    assert row is not None, f"{path} lost its row"
    return {t.tag for t in library.tags_of(row.id)}


def test_an_unreadable_folder_keeps_its_photos_and_hand_set_tags(
        tmp_path: Path, isolated_home: Path, fixres_model: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    kept = photos.solid(folder / "sub" / "a.jpg", (200, 30, 30))
    photos.solid(folder / "b.jpg", (30, 30, 200))
    first = as_normal_user(["index", str(folder), "--model", str(fixres_model)], isolated_home)
    assert first.returncode == 0, first.stderr
    with Library(library_path(isolated_home)) as library:
        library.set_manual_tag(library.photo_by_path(str(kept)).id, "keep", True)

    (folder / "sub").chmod(0)
    try:
        blocked = as_normal_user(["index", str(folder), "--json"], isolated_home)
    finally:
        (folder / "sub").chmod(0o755)
    assert blocked.returncode == 0, blocked.stderr
    summary = json.loads(blocked.stdout)
    assert summary["removed"] == 0
    assert summary["unreachable"] == [{"path": str(folder / "sub"),
                                       "reason": "permission denied"}]
    with Library(library_path(isolated_home)) as library:
        assert "keep" in tag_names(library, kept)
        assert library.vector(library.photo_by_path(str(kept)).id) is not None

    # Readable again: the next run finds everything as it was, nothing re-embedded.
    again = as_normal_user(["index", str(folder), "--json"], isolated_home)
    summary = json.loads(again.stdout)
    assert (summary["unchanged"], summary["removed"], summary["unreachable"]) == (2, 0, [])


def test_an_unreadable_root_keeps_every_photo(tmp_path: Path, isolated_home: Path,
                                              fixres_model: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        photos.noise(folder / f"{i}.png", seed=i)
    as_normal_user(["index", str(folder), "--model", str(fixres_model)], isolated_home)
    folder.chmod(0)
    try:
        blocked = as_normal_user(["index", str(folder)], isolated_home)
    finally:
        folder.chmod(0o755)
    assert blocked.returncode == 0, blocked.stderr
    assert "removed 0" in blocked.stdout
    assert f"cannot read {folder} (permission denied): its photos are kept" in blocked.stdout
    with Library(library_path(isolated_home)) as library:
        assert library.status_counts()["indexed"] == 3


def test_an_unmounted_folder_keeps_its_photos(library: Library, tmp_path: Path,
                                              fixres_model: Path, fixres_embedder) -> None:
    mount = tmp_path / "drive"
    mount.mkdir()
    photo = photos.solid(mount / "a.jpg", (10, 200, 10))
    indexer = Indexer(library, str(fixres_model), lambda _: fixres_embedder)
    indexer.index_folders([mount])
    library.set_manual_tag(library.photo_by_path(str(photo)).id, "holiday", True)
    hidden = tmp_path / "away"
    mount.rename(hidden)  # the drive is gone, its mount point with it

    summary = indexer.index_folders([mount])
    assert summary.removed == 0
    assert [u.path for u in summary.unreachable] == [str(mount)]
    assert "not found" in summary.unreachable[0].reason
    assert "holiday" in tag_names(library, photo)

    hidden.rename(mount)
    back = indexer.index_folders([mount])
    assert (back.unchanged, back.removed, back.unreachable) == (1, 0, [])


def test_a_deleted_subfolder_is_still_removed(library: Library, tmp_path: Path,
                                              fixres_model: Path, fixres_embedder) -> None:
    folder = tmp_path / "photos"
    (folder / "old").mkdir(parents=True)
    photos.solid(folder / "old" / "a.jpg", (1, 2, 3))
    photos.solid(folder / "b.jpg", (3, 2, 1))
    indexer = Indexer(library, str(fixres_model), lambda _: fixres_embedder)
    indexer.index_folders([folder])
    (folder / "old" / "a.jpg").unlink()
    (folder / "old").rmdir()
    summary = indexer.index_folders([folder])
    assert (summary.removed, summary.unreachable) == (1, [])


def test_an_empty_mount_point_keeps_its_photos(library: Library, tmp_path: Path,
                                               fixres_model: Path, fixres_embedder) -> None:
    """Unmounted with its mount point left behind, a drive looks like an empty folder."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    photo = photos.solid(mount / "a.jpg", (10, 20, 30))
    indexer = Indexer(library, str(fixres_model), lambda _: fixres_embedder)
    indexer.index_folders([mount])
    photo.rename(tmp_path / "a.jpg")  # the drive's files are elsewhere now
    summary = indexer.index_folders([mount])
    assert summary.removed == 0
    assert [(u.path, u.reason) for u in summary.unreachable] == [
        (str(mount.resolve()), "empty: is its drive connected?")]
    assert library.photo_by_path(str(photo)) is not None


def test_a_fifo_never_blocks_the_scan(tmp_path: Path, fixres_model: Path,
                                      fixres_embedder) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    os.mkfifo(folder / "pipe")  # content sniffing would open it and wait for a writer
    os.mkfifo(folder / "pipe.jpg")  # an image name: the reader would wait the same
    photo = photos.solid(folder / "real.jpg", (5, 5, 250))
    result = {}

    def index() -> None:  # on a thread of its own, so a hang fails instead of blocking
        with Library(tmp_path / "lib.db") as library:
            summary = Indexer(library, str(fixres_model),
                              lambda _: fixres_embedder).index_folders([folder])
            result.update(summary=summary, row=library.photo_by_path(str(photo)))

    run = threading.Thread(target=index, daemon=True)
    run.start()
    run.join(timeout=120)
    assert not run.is_alive(), "the scan blocked on a FIFO"
    assert result["summary"].indexed == 1 and result["summary"].skipped == []
    assert result["row"] is not None


def test_a_fifo_never_blocks_the_watcher(tmp_path: Path) -> None:
    changes: queue.Queue = queue.Queue()
    watcher = FolderWatcher(changes.put, settle=0.2)
    watcher.start()
    try:
        watcher.watch(tmp_path)
        os.mkfifo(tmp_path / "pipe")
        os.mkfifo(tmp_path / "pipe.png")
        photo = photos.solid(tmp_path / "after.jpg", (9, 9, 9))
        seen: set[str] = set()
        while str(photo) not in seen:
            change = changes.get(timeout=20)  # raises Empty if the settle thread hung
            if isinstance(change, Ready):
                seen |= set(change.paths)
        assert not {str(tmp_path / "pipe"), str(tmp_path / "pipe.png")} & seen
    finally:
        watcher.stop()


def test_a_writer_with_another_model_never_mixes_vectors(tmp_path: Path, fixres_model: Path,
                                                         fixres_embedder,
                                                         naflex_model: Path) -> None:
    """`watch` with model A keeps running while `index --model B` switches the library:
    A must not write its vectors into B's set."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photos.solid(folder / "a.png", (200, 0, 0))
    with Library(tmp_path / "lib.db") as watching, Library(tmp_path / "lib.db") as other:
        old = Indexer(watching, str(fixres_model), lambda _: fixres_embedder)
        old.index_folders([folder])
        assert watching.vector_count() == 1
        Indexer(other, str(naflex_model)).index_folders([folder])  # the other process
        new_model = other.model_id
        dimension = other.dimension

        late = photos.noise(folder / "late.png", seed=4)
        with pytest.raises(LibraryModelChanged, match="switched by another program"):
            old.index_files([str(late)])
        # Nothing of model A was written: the late photo waits for model B.
        assert other.model_id == new_model
        assert other.photo_by_path(str(late)).status == "pending"
        assert other.vector_count() == 1
        stored = other.vector(other.photo_by_path(str(folder / "a.png")).id)
        assert stored.shape == (dimension,)


def test_a_file_replaced_with_the_same_size_and_mtime_is_re_embedded(
        library: Library, tmp_path: Path, fixres_model: Path, fixres_embedder) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    path = photos.noise(folder / "a.bmp", seed=1)
    indexer = Indexer(library, str(fixres_model), lambda _: fixres_embedder)
    indexer.index_folders([folder])
    before = library.photo_by_path(str(path))
    old_vector = library.vector(before.id)

    # `cp --preserve=timestamps other.bmp a.bmp`: same size, same mtime, other pixels.
    other = photos.noise(tmp_path / "other.bmp", seed=2)
    assert other.stat().st_size == path.stat().st_size
    os.utime(other, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))
    subprocess.run(["cp", "--preserve=timestamps", str(other), str(path)], check=True)
    assert path.stat().st_mtime == before.mtime

    summary = indexer.index_folders([folder])
    assert summary.indexed == 1
    after = library.photo_by_path(str(path))
    assert after.id == before.id and after.content_hash != before.content_hash
    assert not np.allclose(library.vector(after.id), old_vector)
    # Untouched since: nothing is read again.
    assert indexer.index_folders([folder]).unchanged == 1


def test_rows_from_before_ctime_was_kept_are_filled_in_not_re_read(
        library: Library, tmp_path: Path, fixres_model: Path, fixres_embedder) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    path = photos.noise(folder / "a.png", seed=1)
    indexer = Indexer(library, str(fixres_model), lambda _: fixres_embedder)
    indexer.index_folders([folder])
    with library.transaction():  # as an older version left it
        library.conn.execute("UPDATE photos SET ctime = NULL, inode = NULL")
    summary = indexer.index_folders([folder])
    assert (summary.unchanged, summary.indexed) == (1, 0)
    row = library.photo_by_path(str(path))
    assert (row.ctime, row.inode) == (path.stat().st_ctime, path.stat().st_ino)


def fake_jpeg(path: Path, size: int, header: bytes) -> Path:
    """JPEG bytes at the start, then `size` bytes of nothing (a sparse file: no disk used)."""
    with open(path, "wb") as handle:
        handle.write(header)
        handle.truncate(size)
    return path


def test_a_huge_file_that_only_starts_like_a_jpeg_is_skipped_without_reading_it(
        library: Library, tmp_path: Path, fixres_model: Path, fixres_embedder) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    app0 = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    fake_jpeg(folder / "huge.jpg", 2 << 30, app0)
    fake_jpeg(folder / "zero-length-segment.jpg", 1 << 20, b"\xff\xd8\xff\xe0")
    real = photos.noise(folder / "real.jpg", seed=3)
    indexer = Indexer(library, str(fixres_model), lambda _: fixres_embedder)
    summary = indexer.index_folders([folder])
    reasons = dict(summary.skipped)
    # Rejected by the segment walk, before the 2 GB hash and the byte-by-byte decoder.
    assert "data that is not an image" in reasons[str(folder / "huge.jpg")]
    assert "no length" in reasons[str(folder / "zero-length-segment.jpg")]
    assert summary.indexed == 1 and library.photo_by_path(str(real)).status == "indexed"


def test_a_jpeg_with_junk_between_segments_still_loads(tmp_path: Path) -> None:
    from photo_tagger.core.images import load_image

    data = photos.noise(tmp_path / "a.jpg", seed=5).read_bytes()
    # Some writers leave padding between segments; decoders skip it, so must the check.
    end_of_app0 = 4 + int.from_bytes(data[4:6], "big")
    padded = data[:end_of_app0] + b"\x00" * 100 + data[end_of_app0:]
    assert load_image(padded, 224).width == 64


def test_large_decodes_share_one_pixel_budget(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Several big non-JPEGs decode at full size; together they must stay within the
    budget (three 196 MP PNGs at once reached 5.8 GB), each still loaded."""
    from photo_tagger.core import images

    budget = images.PixelBudget(5_000_000)
    monkeypatch.setattr(images, "DECODE_BUDGET", budget)
    paths = [photos.noise(tmp_path / f"{i}.png", seed=i, size=(2000, 1500)) for i in range(3)]
    loaded: list[images.LoadedImage] = []
    threads = [threading.Thread(target=lambda p=p: loaded.append(images.load_image(p, 224)))
               for p in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(loaded) == 3
    assert 3_000_000 <= budget.peak <= 5_000_000  # one at a time: two would need 6 MP
    assert budget.in_use == 0


def test_a_big_image_is_reduced_before_it_is_copied(tmp_path: Path) -> None:
    from photo_tagger.core.images import load_image

    big = photos.png_with_alpha(tmp_path / "big.png", size=(4000, 3000))
    loaded = load_image(big, 224)
    assert (loaded.width, loaded.height) == (4000, 3000)  # the photo's own size is kept
    assert min(loaded.image.size) >= 448 and max(loaded.image.size) < 1000


def test_a_file_name_that_is_not_utf8_is_indexed_and_round_trips(
        tmp_path: Path, isolated_home: Path, fixres_model: Path, capsys) -> None:
    from photo_tagger.cli import main

    folder = tmp_path / "card"
    folder.mkdir()
    latin1 = os.path.join(os.fsencode(folder), b"caf\xe9.jpg")  # an old Samba share's name
    photos.solid(Path(os.fsdecode(latin1)), (200, 10, 10))
    photos.solid(folder / "plain.jpg", (10, 10, 200))

    assert main(["index", str(folder), "--model", str(fixres_model)]) == 0
    assert "Indexed 2" in capsys.readouterr().out
    with Library(library_path(isolated_home)) as library:
        row = library.photo_by_path(os.fsdecode(latin1))
        assert row is not None and row.status == "indexed"
        assert os.fsencode(row.path) == latin1  # the same bytes on disk
        assert os.fsdecode(latin1) in library.photos_under(str(folder))
        library.set_manual_tag(row.id, "café", True)
        assert {t.tag for t in library.tags_of(row.id)} >= {"café"}

    # Nothing changed: the second run finds both (prefix queries see the odd name).
    assert main(["index", str(folder), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["unchanged"], summary["removed"]) == (2, 0)
    # JSON stays valid UTF-8, and gives the exact path back.
    assert main(["search", "red", "--json", "--limit", "5", "--all"]) == 0
    out = capsys.readouterr().out
    out.encode("utf-8")
    assert os.fsdecode(latin1) in {r["path"] for r in json.loads(out)}


def test_the_cli_prints_a_non_utf8_path_as_its_bytes(tmp_path: Path, isolated_home: Path,
                                                     fixres_model: Path) -> None:
    folder = tmp_path / "card"
    folder.mkdir()
    latin1 = os.path.join(os.fsencode(folder), b"caf\xe9.jpg")
    photos.solid(Path(os.fsdecode(latin1)), (200, 10, 10))
    env = dict(os.environ, PHOTO_TAGGER_HOME=str(isolated_home), HF_HUB_OFFLINE="1",
               PYTHONPATH=str(REPO), LC_ALL="C.UTF-8", PYTHONUTF8="0",
               PYTHONIOENCODING="utf-8:strict")  # what a UTF-8 desktop terminal gets
    run = subprocess.run([sys.executable, "-m", "photo_tagger", "index", str(folder),
                          "--model", str(fixres_model)], env=env, cwd=REPO,
                         capture_output=True, timeout=300)
    assert run.returncode == 0, run.stderr
    listing = subprocess.run([sys.executable, "-m", "photo_tagger", "search", "red", "--all"],
                             env=env, cwd=REPO, capture_output=True, timeout=300)
    assert listing.returncode == 0, listing.stderr
    assert latin1 in listing.stdout
