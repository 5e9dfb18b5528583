"""The on-disk thumbnail cache: a hit marks the file as used, and the least recently used
files go at start-up, on a pool thread, once the cache outgrows its cap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from photo_tagger.gui.thumbnails import (  # noqa: E402
    STORED_SIZE,
    ThumbnailLoader,
    cache_key,
    prune_cache,
    render_thumbnail,
)
from photos import solid  # noqa: E402

DAY = 86_400


def cache_file(cache: Path, name: str, size: int, age_days: float) -> Path:
    path = cache / name[:2] / f"{name}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    when = 1_700_000_000 - age_days * DAY
    os.utime(path, (when, when))
    return path


def left(cache: Path) -> set[str]:
    return {p.stem for p in cache.rglob("*.jpg")}


def test_pruning_removes_the_least_recently_used_until_under_the_cap(tmp_path: Path) -> None:
    cache = tmp_path / "thumbnails"
    for name, age in (("aa-oldest", 30), ("bb-old", 20), ("aa-recent", 2), ("cc-newest", 1)):
        cache_file(cache, name, 1000, age)
    assert prune_cache(cache, 4000) == (0, 0)  # within the cap: nothing goes
    assert len(left(cache)) == 4
    assert prune_cache(cache, 2500) == (2, 2000)
    assert left(cache) == {"aa-recent", "cc-newest"}
    assert prune_cache(tmp_path / "never-made", 0) == (0, 0)


def test_a_cache_hit_marks_the_thumbnail_as_used(qapp, tmp_path: Path) -> None:
    photo = str(solid(tmp_path / "red.png", (220, 30, 30)))
    cache = tmp_path / "thumbnails"
    render_thumbnail(photo, STORED_SIZE, cache)
    key = cache_key(photo, STORED_SIZE)
    assert key is not None
    stored = cache / key[:2] / f"{key}.jpg"
    old = 1_700_000_000 - 90 * DAY
    os.utime(stored, (old, old))
    other = cache_file(cache, "ff-other", stored.stat().st_size, 10)
    assert not render_thumbnail(photo, STORED_SIZE, cache).isNull()  # from the cache
    assert stored.stat().st_mtime > old + DAY
    # Used last, so kept: the other thumbnail goes first.
    prune_cache(cache, stored.stat().st_size)
    assert stored.exists() and not other.exists()


def test_the_loader_prunes_its_cache_at_start_up(qtbot, tmp_path: Path) -> None:
    cache = tmp_path / "thumbnails"
    for day in range(10):
        cache_file(cache, f"{day:02d}-thumb", 1000, age_days=day)
    loader = ThumbnailLoader(cache, cache_max_bytes=3000)
    try:
        qtbot.waitUntil(lambda: len(left(cache)) == 3, timeout=10_000)
        assert left(cache) == {"00-thumb", "01-thumb", "02-thumb"}
    finally:
        loader.shutdown()


def test_a_photo_whose_name_is_not_utf8_gets_its_thumbnail(qtbot, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt

    from photo_tagger.core.search import SearchResult
    from photo_tagger.gui.models import PhotoListModel

    path = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"caf\xe9.png"))
    solid(Path(path), (200, 10, 10))
    loader = ThumbnailLoader(tmp_path / "cache")
    model = PhotoListModel(loader)
    model.set_results([SearchResult(1, path, 1.0)])
    assert model.data(model.index(0, 0)) == "caf\N{REPLACEMENT CHARACTER}.png"
    with qtbot.waitSignal(loader.ready, timeout=20_000) as ready:
        assert model.data(model.index(0, 0), Qt.ItemDataRole.DecorationRole) is None
    assert ready.args == [path]  # the exact path, not one mangled through a QString
    assert model.data(model.index(0, 0), Qt.ItemDataRole.DecorationRole) is not None
    loader.pool.waitForDone(5000)
