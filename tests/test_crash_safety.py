"""Killed with SIGKILL in the middle of indexing, the next start (`photo-tagger watch`)
completes the work: no duplicate rows, no lost manual tags, an intact database; and
`status --json` works from another process while the watcher runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from photo_tagger.core.indexer import Indexer
from photo_tagger.core.store import Library
from photo_tagger.paths import library_path
from photos import noise
from waiting import HANG_SECONDS, wait_until

REPO = Path(__file__).resolve().parent.parent
PHOTOS = 120


def cli(home: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PHOTO_TAGGER_HOME=str(home), HF_HUB_OFFLINE="1",
               PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "photo_tagger", *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_mid_run_then_restart_is_consistent(tmp_path, isolated_home, fixres_model,
                                                    fixres_embedder):
    folder = tmp_path / "photos"
    folder.mkdir()
    first = [noise(folder / f"a{i}.png", seed=i) for i in range(5)]
    with Library(library_path(isolated_home)) as library:
        Indexer(library, str(fixres_model), lambda m: fixres_embedder).index_folders([folder])
        tagged = library.photo_by_path(str(first[0]))
        library.set_manual_tag(tagged.id, "grandma", True)
    for i in range(PHOTOS):
        noise(folder / f"b{i:03d}.png", seed=1000 + i, size=(256, 192))
    total = PHOTOS + 5

    reader = Library(library_path(isolated_home))
    try:
        run = cli(isolated_home, "index", str(folder), "--model", str(fixres_model))
        try:
            wait_until(lambda: reader.status_counts()["indexed"] >= 25 or run.poll() is not None,
                       timeout=120, what="the first photos indexed")
            run.send_signal(signal.SIGKILL)
        finally:
            run.communicate(timeout=30)
        assert run.returncode == -signal.SIGKILL
        assert reader.status_counts()["indexed"] < total, "the run ended before the kill"

        watch = cli(isolated_home, "watch", "--model", str(fixres_model), "--settle", "0.2")
        try:
            wait_until(lambda: reader.status_counts() == {"indexed": total, "pending": 0,
                                                          "skipped": 0} or watch.poll() is not None,
                       timeout=120, what="the restart to finish")
            status = subprocess.run(
                [sys.executable, "-m", "photo_tagger", "status", "--json"], cwd=REPO,
                env=dict(os.environ, PHOTO_TAGGER_HOME=str(isolated_home),
                         PYTHONPATH=str(REPO)),
                capture_output=True, text=True, timeout=60)
            assert status.returncode == 0, status.stderr
            assert json.loads(status.stdout)["indexed"] == total
            assert watch.poll() is None
            watch.send_signal(signal.SIGTERM)
            started = time.monotonic()
            _, log = watch.communicate(timeout=30)
            took = time.monotonic() - started
        finally:
            if watch.poll() is None:
                watch.kill()
                watch.communicate()
        assert watch.returncode == 0, log
        assert "Stopped." in log
        assert took < HANG_SECONDS, f"watch took {took:.1f}s to exit"

        conn = reader.conn
        files = {str(p) for p in folder.iterdir()}
        rows = dict(conn.execute("SELECT path, id FROM photos").fetchall())
        assert set(rows) == files
        assert conn.execute("SELECT count(*) FROM photos").fetchone()[0] == total
        assert reader.vector_count() == total
        vector_ids = [r[0] for r in conn.execute("SELECT photo_id FROM photo_vectors")]
        assert sorted(vector_ids) == sorted(rows.values())  # exactly one vector each
        assert [t.tag for t in reader.tags_of(tagged.id) if t.source == "manual"] == ["grandma"]
        assert rows[str(first[0])] == tagged.id
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        reader.close()
