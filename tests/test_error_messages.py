"""Known problems with the library file give one clear sentence, never a traceback: a
read-only file or folder, damaged pages, a full disk, a newer schema."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from photo_tagger.cli import main
from photo_tagger.core import db
from photo_tagger.core.store import Library


def make_library(home: Path, count: int, dim: int = 64) -> Path:
    """A real library of `count` indexed photos with random unit vectors."""
    path = home / "library.db"
    rng = np.random.default_rng(0)
    with Library(path) as library:
        library.set_model("demo:shapes", dim)
        folder = library.add_folder(home)
        with library.transaction():
            for i in range(count):
                vector = rng.standard_normal(dim).astype(np.float32)
                library.save_indexed(
                    f"{home}/p{i}.jpg", folder.id, size=1, mtime=1.0, content_hash=f"h{i}",
                    width=1, height=1, taken_at=None, camera=None,
                    vector=vector / np.linalg.norm(vector))
    return path


def damage_pages(path: Path, name: str) -> None:
    """Overwrite part of every page of the table or index `name`, as a failing disk would."""
    conn = db.sqlite_module().connect(str(path))
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = [r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name = ?", (name,))]
    conn.close()
    assert pages
    with open(path, "r+b") as file:
        for page in pages:
            file.seek((page - 1) * page_size + 8)
            file.write(b"\xde\xad\xbe\xef" * 200)


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`photo-tagger ARGS` in a subprocess that obeys file modes even as root: root's
    capabilities to override them are dropped, as for any user's process."""
    command = [sys.executable, "-m", "photo_tagger", *args]
    if os.geteuid() == 0:
        if shutil.which("capsh") is None:
            pytest.skip("running as root without capsh: file modes cannot be enforced")
        command = ["capsh", "--drop=cap_dac_override,cap_dac_read_search", "--", "-c",
                   shlex.join(command)]
    env = dict(os.environ, PHOTO_TAGGER_HOME=str(home), HF_HUB_OFFLINE="1")
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message.count("\n") == 0 and message.startswith("photo-tagger: "), message
    for phrase in phrases:
        assert phrase in message, message
    assert "delete" not in message.lower()
    assert "not a photo-tagger database" not in message


@pytest.mark.parametrize("what", ["file", "folder", "shm"])
def test_a_read_only_library_says_why_and_how_to_fix_it(tmp_path: Path, what: str) -> None:
    home = tmp_path / "home"
    path = make_library(home, 3)
    photos = tmp_path / "photos"
    photos.mkdir()
    if what == "file":
        path.chmod(0o444)
    elif what == "folder":
        home.chmod(0o555)
    else:  # a working file left read-only by an earlier run under another user
        shm = path.with_name(path.name + "-shm")
        shm.write_bytes(b"")
        shm.chmod(0o444)
    try:
        result = run_cli(home, "index", str(photos), "--model", "demo:shapes")
    finally:
        home.chmod(0o755)
    assert_one_clear_line(result, str(path), "read-only", "permission")
    expected = {"file": "the file library.db", "folder": f"the folder {home}",
                "shm": "the file library.db-shm"}[what]
    assert expected in result.stderr


def test_damaged_pages_are_reported_by_status_and_doctor(tmp_path: Path, capsys) -> None:
    home = tmp_path / "home"
    path = make_library(home, 2000)
    damage_pages(path, "photos_by_status")

    with pytest.raises(db.LibraryDamaged, match="is damaged"), Library(path) as library:
        library.status_counts()

    assert main(["--home", str(home), "status"]) == 2
    err = capsys.readouterr().err
    assert "is damaged" in err and "backup" in err and "Your photos are safe" in err
    assert "delete" not in err.lower()

    assert main(["--home", str(home), "doctor"]) == 1
    out = capsys.readouterr().out
    library_line = next(line for line in out.splitlines() if "Library:" in line)
    assert library_line.startswith("[PROBLEM] Library:") and "is damaged" in library_line
    assert "backup" in library_line and "photo-tagger index" in library_line


def test_doctor_checks_a_sound_library(tmp_path: Path, capsys) -> None:
    home = tmp_path / "home"
    make_library(home, 50)
    main(["--home", str(home), "doctor"])
    assert "[ok] Library:" in capsys.readouterr().out


def test_a_file_that_is_no_database_is_not_called_deletable(tmp_path: Path, capsys) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "library.db").write_bytes(b"definitely not sqlite" * 500)
    with pytest.raises(db.LibraryDamaged) as caught:
        Library(home / "library.db")
    assert "delete" not in str(caught.value).lower() and "backup" in str(caught.value)
    assert main(["--home", str(home), "status"]) == 2
    assert "not a photo-tagger database" in capsys.readouterr().err


def test_a_full_disk_is_a_known_error_and_loses_nothing(tmp_path: Path) -> None:
    path = make_library(tmp_path, 10)
    with pytest.raises(db.DiskFull, match="is full"), Library(path) as library:
        # SQLite's own limit gives the same SQLITE_FULL as a full disk.
        pages = library.conn.execute("PRAGMA page_count").fetchone()[0]
        library.conn.execute(f"PRAGMA max_page_count = {pages + 1}")
        with library.transaction():
            for i in range(2000):
                library.set_meta(f"filler{i}", "x" * 500)
    with Library(path) as library:
        assert library.status_counts()["indexed"] == 10
        assert library.get_meta("filler0") is None


def test_a_newer_library_is_refused_by_the_command_line(tmp_path: Path, capsys) -> None:
    home = tmp_path / "home"
    path = make_library(home, 1)
    conn = db.sqlite_module().connect(str(path))
    conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    assert main(["--home", str(home), "status"]) == 2
    err = capsys.readouterr().err
    assert "newer photo-tagger" in err and "Update photo-tagger" in err


def test_the_windows_reads_get_the_known_error_too(tmp_path: Path) -> None:
    import queue

    from photo_tagger.core.reader import LibraryReader

    path = make_library(tmp_path, 2000)
    damage_pages(path, "photos_by_status")
    reader = LibraryReader(path)
    answers: queue.Queue = queue.Queue()
    try:
        reader.submit(lambda library: library.status_counts(),
                      lambda result, error: answers.put(error))
        error = answers.get(timeout=10)
    finally:
        reader.close()
    assert isinstance(error, db.LibraryDamaged) and "backup" in str(error)
