"""The model manager's core: checkpoints on disk, download with progress and cancel
through a fake hub (a folder served over HTTP on 127.0.0.1: the one fake allowed, the real
hub cannot be reached here), delete, no connection in plain words, measured speed."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from photo_tagger.core import checkpoints
from photo_tagger.core.checkpoints import DownloadCancelled, DownloadFailed

REPO_ID = "google/siglip2-base-patch16-224"
SHA = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """Serves a model folder the way the hub's API does for snapshot_download (as
    huggingface_hub 2.4 asks): `api/models/{repo}/revision/main`, the file list at
    `api/models/{repo}/tree/{sha}`, then `{repo}/resolve/{sha}/{file}`."""

    def __init__(self, folder: Path, repo_id: str = REPO_ID) -> None:
        self.folder, self.repo_id = folder, repo_id
        self.requests: list[str] = []
        self.hold = threading.Event()  # set: big files stall after their first bytes
        self.release = threading.Event()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(body=False)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                hub.requests.append(f"{self.command} {self.path}")
                api = f"/api/models/{hub.repo_id}/revision/main"
                resolve = f"/{hub.repo_id}/resolve/"
                path = self.path.split("?")[0]
                if path == f"/api/models/{hub.repo_id}/tree/{SHA}":
                    files = [{"type": "file", "path": p.name, "size": p.stat().st_size,
                              "oid": hashlib.sha1(p.read_bytes()).hexdigest()}
                             for p in sorted(hub.folder.iterdir()) if p.is_file()]
                    self._send(200, json.dumps(files).encode(),
                               {"Content-Type": "application/json"}, body)
                elif path == api:
                    files = sorted(p.name for p in hub.folder.iterdir() if p.is_file())
                    data = json.dumps({"id": hub.repo_id, "sha": SHA,
                                       "siblings": [{"rfilename": f} for f in files]}).encode()
                    self._send(200, data, {"Content-Type": "application/json"}, body)
                elif path.startswith(resolve):
                    name = path[len(resolve):].split("/", 1)[1]
                    file = hub.folder / name
                    if not file.is_file():
                        self._send(404, b"", {"X-Error-Code": "EntryNotFound"}, body)
                        return
                    data = file.read_bytes()
                    headers = {"X-Repo-Commit": SHA,
                               "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                               "Content-Type": "application/octet-stream"}
                    self._send(200, data, headers, body, slow=hub.hold.is_set()
                               and len(data) > 100_000)
                else:
                    self._send(404, b"", {"X-Error-Code": "RepoNotFound"}, body)

            def _send(self, code: int, data: bytes, headers: dict, body: bool,
                      slow: bool = False) -> None:
                self.send_response(code)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not body:
                    return
                try:
                    if slow:  # the first bytes, then wait for the test to cancel
                        self.wfile.write(data[:65536])
                        self.wfile.flush()
                        hub.release.wait(30)
                        return
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-hub")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub client's offline switch is read once at import; the tests' conftest set it."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


def test_download_with_progress_from_a_fake_hub_then_delete(
        tmp_path: Path, fixres_model: Path, online, monkeypatch) -> None:
    cache = tmp_path / "cache"
    with FakeHub(fixres_model) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        seen: list[tuple[int, int]] = []
        folder = checkpoints.download(REPO_ID, progress=lambda d, t: seen.append((d, t)),
                                      cache_dir=cache)
    assert (folder / "config.json").read_bytes() == (fixres_model / "config.json").read_bytes()
    assert (folder / "model.safetensors").exists()
    assert any(r.startswith(f"GET /api/models/{REPO_ID}/revision/main") for r in hub.requests)
    assert any(f"/{REPO_ID}/resolve/{SHA}/model.safetensors" in r for r in hub.requests)
    weights = (fixres_model / "model.safetensors").stat().st_size
    assert seen and seen[-1][0] == seen[-1][1] >= weights
    rows = {c.model_id: c for c in checkpoints.list_checkpoints(cache_dir=cache)}
    assert rows[REPO_ID].on_disk and rows[REPO_ID].size_bytes >= weights
    assert not rows["google/siglip2-large-patch16-256"].on_disk
    assert "google/siglip2-base-patch16-224@int8" not in rows
    assert checkpoints.delete(REPO_ID, cache_dir=cache) >= weights
    rows = {c.model_id: c for c in checkpoints.list_checkpoints(cache_dir=cache)}
    assert not rows[REPO_ID].on_disk


def test_a_download_can_be_cancelled(tmp_path: Path, fixres_model: Path, online,
                                     monkeypatch) -> None:
    cache = tmp_path / "cache"
    cancel = threading.Event()
    outcome: list[BaseException | Path] = []
    with FakeHub(fixres_model) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        hub.hold.set()
        started = threading.Event()

        def progress(done: int, total: int) -> None:
            if done > 0:
                started.set()

        def run() -> None:
            try:
                outcome.append(checkpoints.download(REPO_ID, progress=progress, cancel=cancel,
                                                    cache_dir=cache))
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=run)
        worker.start()
        assert started.wait(60), "no bytes arrived"
        cancel.set()
        hub.release.set()  # the stalled response ends; the next update sees the cancel
        worker.join(60)
    assert len(outcome) == 1 and isinstance(outcome[0], DownloadCancelled), outcome
    rows = {c.model_id: c for c in checkpoints.list_checkpoints(cache_dir=cache)}
    assert not rows[REPO_ID].on_disk


def test_no_connection_is_said_in_plain_words(tmp_path: Path, online, monkeypatch) -> None:
    import socket

    with socket.socket() as free:  # a port nobody listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(DownloadFailed) as failed:
        checkpoints.download(REPO_ID, cache_dir=tmp_path / "cache")
    message = str(failed.value)
    assert "internet" in message and "demo model" in message
    assert "Error" not in message and "Exception" not in message


def test_speed_is_measured_on_the_users_photos_and_kept(library, tmp_path: Path,
                                                         fixres_model: Path,
                                                         fixres_embedder) -> None:
    from photo_tagger.core.indexer import Indexer
    from photos import noise

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(5):
        noise(folder / f"{i}.png", seed=i)
    Indexer(library, str(fixres_model), lambda _: fixres_embedder).index_folders([folder])
    paths = checkpoints.sample_photos(library, 4)
    assert len(paths) == 4
    speed = checkpoints.measure_speed(fixres_embedder, paths)
    assert speed is not None and speed > 0
    checkpoints.record_speed(library, str(fixres_model), speed)
    rows = checkpoints.list_checkpoints(library, extra_folders=[str(fixres_model)],
                                        cache_dir=tmp_path / "cache")
    assert rows[-1].speed == pytest.approx(speed) and rows[-1].on_disk
    assert checkpoints.int8_agreement(fixres_embedder, fixres_embedder, paths) \
        == pytest.approx(1.0, abs=1e-5)


def test_calibration_measures_fp32_and_int8_on_the_users_photos(library, tmp_path: Path,
                                                                fixres_model: Path) -> None:
    from photo_tagger.core.embedder import Embedder
    from photo_tagger.core.indexer import Indexer
    from photos import noise

    with pytest.raises(checkpoints.CalibrationError, match="index a few photos"):
        checkpoints.calibrate(library, str(fixres_model))
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(6):
        noise(folder / f"{i}.png", seed=i)
    Indexer(library, str(fixres_model)).index_folders([folder])
    loaded: list[str] = []

    def load(model_id: str) -> Embedder:
        loaded.append(model_id)
        return Embedder.load(model_id)

    result = checkpoints.calibrate(library, str(fixres_model), load=load, count=4)
    # The real int8 mode was loaded and measured beside fp32 (quantised Linear layers).
    assert loaded == [str(fixres_model), str(fixres_model) + "@int8"]
    assert result.photos == 4 and result.speed > 0 and result.int8_speed is not None
    assert result.agreement is not None and 0.5 < result.agreement < 1.0 + 1e-6
    row = checkpoints.list_checkpoints(library, extra_folders=[str(fixres_model)],
                                       cache_dir=tmp_path / "cache")[-1]
    assert (row.speed, row.int8_speed, row.agreement) == pytest.approx(
        (result.speed, result.int8_speed, result.agreement))


def test_models_command_lists_and_calibrates(tmp_path: Path, capsys) -> None:
    from photo_tagger.cli import main
    from photo_tagger.config import DEMO_MODEL_NAME
    from photo_tagger.demo.shapes import write_dataset

    home = tmp_path / "home"
    write_dataset(tmp_path / "photos", 12, seed=5)
    assert main(["index", str(tmp_path / "photos"), "--model", DEMO_MODEL_NAME,
                 "--home", str(home)]) == 0
    capsys.readouterr()
    assert main(["models", "calibrate", "--json", "--home", str(home)]) == 0
    measured = json.loads(capsys.readouterr().out)
    assert measured["model"] == DEMO_MODEL_NAME and measured["photos"] == 8
    assert measured["speed"] > 0 and measured["int8_speed"] > 0
    assert 0.9 < measured["int8_agreement"] <= 1.0 + 1e-6
    assert main(["models", "list", "--json", "--home", str(home)]) == 0
    demo = next(r for r in json.loads(capsys.readouterr().out)
                if r["model"] == DEMO_MODEL_NAME)
    assert demo["in_use"] and demo["on_disk"]
    assert (demo["speed"], demo["int8_speed"], demo["int8_agreement"]) == pytest.approx(
        (measured["speed"], measured["int8_speed"], measured["int8_agreement"]))
    assert main(["models", "list", "--home", str(home)]) == 0
    assert "int8" in capsys.readouterr().out
