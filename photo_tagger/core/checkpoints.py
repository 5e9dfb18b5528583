"""The model manager's data: which SigLIP 2 checkpoints are on this computer and their size
(the Hugging Face cache or a folder), downloading one with progress and cancel, deleting
one, and speed and int8 agreement measured on the user's own photos. No Qt here."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from photo_tagger.config import DEMO_MODEL_NAME, KNOWN_MODELS
from photo_tagger.core.embedder import (
    FAST_SUFFIX,
    MODEL_FILES,
    DownloadProgress,
    Embedder,
    split_fast_suffix,
)
from photo_tagger.core.images import UnreadableImage, load_image
from photo_tagger.core.store import Library
from photo_tagger.paths import demo_model_dir

SPEED_KEY = "speed:"  # meta key prefix: photos per second measured here, per model
# Meta key prefix: mean cosine between a checkpoint's int8 and fp32 vectors, measured here.
AGREEMENT_KEY = "int8-agreement:"
# Photos a calibration embeds: enough to average out one slow decode, a few seconds a model.
CALIBRATION_PHOTOS = 8
NO_CONNECTION = (
    "photo-tagger could not reach the Hugging Face model hub, so {model} was not "
    "downloaded. Check that this computer is connected to the internet and try again. "
    "Meanwhile, the small demo model works without a connection.")


class DownloadCancelled(Exception):
    """The user cancelled a download; the partial files are left for a later resume."""


class DownloadFailed(Exception):
    """A download could not be made; the message is for the user, in plain words."""


class CalibrationError(Exception):
    """A calibration could not run; the message is for the user, in plain words."""


@dataclass(frozen=True)
class Calibration:
    """What a calibration measured on the user's photos: photos/s in fp32 and in the int8
    mode, and how closely the int8 vectors agree with the fp32 ones (mean cosine)."""

    model_id: str
    photos: int
    speed: float
    int8_speed: float | None
    agreement: float | None

    @property
    def int8_gain(self) -> float | None:
        return self.int8_speed / self.speed if self.int8_speed else None


@dataclass(frozen=True)
class Checkpoint:
    """One row of the model manager."""

    model_id: str
    hint: str
    on_disk: bool
    size_bytes: int | None  # on disk; None when not downloaded
    speed: float | None  # photos per second measured on this computer, if measured
    location: str | None  # the folder that holds it
    int8_speed: float | None = None  # the int8 mode's photos per second, if measured
    agreement: float | None = None  # the int8 mode's mean cosine with fp32, if measured


def _cached_repos(cache_dir: Path | None) -> dict[str, tuple[int, str]]:
    """repo id → (bytes on disk, snapshot folder) from the hub cache."""
    from huggingface_hub import scan_cache_dir

    try:
        info = scan_cache_dir(cache_dir)
    except Exception:  # no cache folder yet (CacheNotFound) or an unreadable one
        return {}
    found = {}
    for repo in info.repos:
        if repo.repo_type != "model" or not repo.revisions:
            continue
        revision = max(repo.revisions, key=lambda r: r.last_modified)
        names = {f.file_name for f in revision.files}
        # Complete only with its weights: a cancelled download leaves the small files.
        if "config.json" in names and any(n.endswith(".safetensors") for n in names):
            found[repo.repo_id] = (repo.size_on_disk, str(revision.snapshot_path))
    return found


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def list_checkpoints(library: Library | None = None, *, extra_folders: Sequence[str] = (),
                     cache_dir: Path | None = None) -> list[Checkpoint]:
    """Every known checkpoint (config.KNOWN_MODELS, the int8 modes aside) and the local
    folders added, with whether each is on disk, its size and what was measured of it."""
    cached = _cached_repos(cache_dir)
    speeds = measured_speeds(library) if library is not None else {}
    agreements = measured_agreements(library) if library is not None else {}

    def row(model_id: str, hint: str, size: int | None, location: str | None) -> Checkpoint:
        return Checkpoint(model_id, hint, size is not None, size, speeds.get(model_id),
                          location, speeds.get(model_id + FAST_SUFFIX),
                          agreements.get(model_id))

    rows = []
    for model_id, hint in KNOWN_MODELS.items():
        if split_fast_suffix(model_id)[1]:
            continue  # the int8 mode is a checkbox on its checkpoint's row
        if model_id == DEMO_MODEL_NAME:
            folder: Path | None = demo_model_dir()
            assert folder is not None
            present = (folder / "config.json").exists()
            rows.append(row(model_id, hint, _folder_size(folder) if present else None,
                            str(folder) if present else None))
            continue
        size, location = cached.get(model_id, (None, None))
        rows.append(row(model_id, hint, size, location))
    for path in extra_folders:
        folder = Path(path)
        present = (folder / "config.json").exists()
        rows.append(row(str(folder), "local folder",
                        _folder_size(folder) if present else None, str(folder)))
    return rows


def _cancellable_progress(progress: DownloadProgress | None, cancel: threading.Event) -> type:
    """A tqdm class for snapshot_download: a byte bar's count and total go to `progress`
    (huggingface_hub 2.x keeps one bar for all files and grows its total as it learns the
    sizes), and an update after `cancel` is set stops the download from its own thread."""
    from tqdm.auto import tqdm

    class _Reporter(tqdm):  # type: ignore[misc]  # tqdm ships no type hints: Any
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._counts_bytes = kwargs.get("unit") == "B"
            self._done = int(kwargs.get("initial") or 0)  # a disabled tqdm counts nothing
            kwargs["disable"] = True  # the caller draws the progress
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            if cancel.is_set():
                raise DownloadCancelled("The download was cancelled.")
            if self._counts_bytes and n:
                self._done += int(n)
                if progress is not None:
                    progress(self._done, int(self.total or 0))
            displayed: bool | None = super().update(n)
            return displayed

    return _Reporter


def download(model_id: str, *, progress: DownloadProgress | None = None,
             cancel: threading.Event | None = None, cache_dir: Path | None = None,
             endpoint: str | None = None) -> Path:
    """Download a hub checkpoint's model files (safetensors, configs, tokenizer) into the
    hub cache. Run it off the window's thread.

    Raises:
        DownloadCancelled: `cancel` was set; a later download resumes the partial files.
        DownloadFailed: no connection or no such model, said in plain words.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import RepositoryNotFoundError

    cancel = cancel or threading.Event()
    repo_id, _ = split_fast_suffix(model_id)
    try:
        folder = snapshot_download(
            repo_id, allow_patterns=MODEL_FILES, cache_dir=cache_dir,
            endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None,
            tqdm_class=_cancellable_progress(progress, cancel), max_workers=2)
    except DownloadCancelled:
        raise
    except RepositoryNotFoundError as exc:
        raise DownloadFailed(f"The model hub has no model called {repo_id}.") from exc
    except Exception as exc:  # DNS, refused, timeout, offline mode: all the same to a user
        if cancel.is_set():
            raise DownloadCancelled("The download was cancelled.") from exc
        raise DownloadFailed(NO_CONNECTION.format(model=repo_id)) from exc
    if cancel.is_set():
        raise DownloadCancelled("The download was cancelled.")
    return Path(folder)


def delete(model_id: str, *, cache_dir: Path | None = None) -> int:
    """Remove a downloaded checkpoint from the hub cache. Returns the bytes freed."""
    from huggingface_hub import scan_cache_dir

    repo_id, _ = split_fast_suffix(model_id)
    try:
        info = scan_cache_dir(cache_dir)
    except Exception:
        return 0
    hashes = [revision.commit_hash for repo in info.repos if repo.repo_id == repo_id
              for revision in repo.revisions]
    if not hashes:
        return 0
    strategy = info.delete_revisions(*hashes)
    strategy.execute()
    return int(strategy.expected_freed_size)


# -- measured on this computer, with the user's own photos -------------------------------
def sample_photos(library: Library, count: int = 8) -> list[str]:
    """A few indexed photos to calibrate on, spread over the library."""
    paths = sorted(path for _, path in library.indexed_photos())
    step = max(1, len(paths) // count)
    return paths[::step][:count]


def _pixels(embedder: Embedder, paths: Sequence[str]) -> list[dict[str, Any]]:
    prepared = []
    for path in paths:
        try:
            prepared.append(embedder.preprocess([load_image(Path(path),
                                                            embedder.image_size).image]))
        except (UnreadableImage, OSError):
            continue
    return prepared


def measure_speed(embedder: Embedder, paths: Sequence[str],
                  clock: Callable[[], float] = time.perf_counter) -> float | None:
    """Photos per second the model embeds here (decoding included), from a short run on
    `paths` after one warm-up photo; None without a readable photo."""
    if not paths:
        return None
    _pixels(embedder, paths[:1])  # warm-up: first calls allocate
    started = clock()
    prepared = _pixels(embedder, paths)
    if not prepared:
        return None
    embedder.embed_pixels(Embedder.collate(prepared))
    return len(prepared) / max(clock() - started, 1e-6)


def int8_agreement(fp32: Embedder, int8: Embedder, paths: Sequence[str]) -> float | None:
    """Mean cosine between the fp32 and int8 vectors of the same photos (1.0: identical)."""
    prepared = _pixels(fp32, paths)
    if not prepared:
        return None
    a = fp32.embed_pixels(Embedder.collate(prepared))
    b = int8.embed_pixels(Embedder.collate(prepared))
    return float(np.mean(np.sum(a * b, axis=1)))


def record_speed(library: Library, model_id: str, photos_per_second: float) -> None:
    with library.transaction():
        library.set_meta(SPEED_KEY + model_id, repr(float(photos_per_second)))


def measured_speeds(library: Library) -> dict[str, float]:
    return {model: float(value)
            for model, value in library.meta_with_prefix(SPEED_KEY).items()}


def measured_agreements(library: Library) -> dict[str, float]:
    """Checkpoint → the int8 mode's mean cosine with fp32, where it was measured."""
    return {model: float(value)
            for model, value in library.meta_with_prefix(AGREEMENT_KEY).items()}


def measure(model_id: str, paths: Sequence[str], *, with_int8: bool = True,
            load: Callable[[str], Embedder] = Embedder.load) -> Calibration:
    """Measure `model_id` on `paths` (a few of the user's photos): its speed, and
    (`with_int8`) the int8 mode's speed and its agreement with fp32, so the model manager
    can show what the fast mode costs in quality before the user picks it. Loads the
    model and its int8 mode: run it off the window's and the service's threads."""
    base_id, _ = split_fast_suffix(model_id)
    if not paths:
        raise CalibrationError("Speed is measured on your own photos: index a few photos "
                               "first, then measure again.")
    fp32 = load(base_id)
    speed = measure_speed(fp32, paths)
    if speed is None:
        raise CalibrationError("None of the sample photos could be read; check that the "
                               "library's folders are reachable, then measure again.")
    int8_speed = agreement = None
    if with_int8 and fp32.device == "cpu":  # the int8 mode is a CPU mode
        int8 = load(base_id + FAST_SUFFIX)
        int8_speed = measure_speed(int8, paths)
        agreement = int8_agreement(fp32, int8, paths)
    return Calibration(base_id, len(paths), speed, int8_speed, agreement)


def record_calibration(library: Library, result: Calibration) -> None:
    """Keep what `measure` found, for the model manager's table."""
    record_speed(library, result.model_id, result.speed)
    if result.int8_speed is not None and result.agreement is not None:
        record_speed(library, result.model_id + FAST_SUFFIX, result.int8_speed)
        with library.transaction():
            library.set_meta(AGREEMENT_KEY + result.model_id, repr(result.agreement))


def calibrate(library: Library, model_id: str, *, with_int8: bool = True,
              load: Callable[[str], Embedder] = Embedder.load,
              count: int = CALIBRATION_PHOTOS) -> Calibration:
    """`measure` on a few of the library's photos, then keep the figures."""
    result = measure(model_id, sample_photos(library, count), with_int8=with_int8,
                     load=load)
    record_calibration(library, result)
    return result
