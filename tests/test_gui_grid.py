"""The photo grid's painting path: fitted thumbnails kept between repaints, thumbnails that
arrive finding their row after the rows were replaced, and only visible rows asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QSize, Qt  # noqa: E402
from PySide6.QtGui import QColor, QPixmap  # noqa: E402

from photo_tagger.core.search import SearchResult  # noqa: E402
from photo_tagger.gui.models import PathRole, PhotoIdRole, PhotoListModel  # noqa: E402
from photo_tagger.gui.thumbnails import ThumbnailLoader  # noqa: E402
from photo_tagger.gui.widgets import FittedPixmaps, PhotoGrid  # noqa: E402
from photos import solid  # noqa: E402


def pixmap(width: int, height: int) -> QPixmap:
    picture = QPixmap(width, height)
    picture.fill(QColor(200, 40, 40))
    return picture


def shown_grid(qtbot, loader: ThumbnailLoader, width: int, height: int
               ) -> tuple[PhotoGrid, PhotoListModel]:
    model = PhotoListModel(loader)
    grid = PhotoGrid(thumb_size=120)
    qtbot.addWidget(grid)
    grid.setModel(model)
    grid.resize(width, height)
    grid.show()
    return grid, model


def test_a_listing_shows_from_its_columns_and_keeps_the_users_place(qapp) -> None:
    from array import array

    from photo_tagger.core.browse import PhotoRows

    model = PhotoListModel()
    paths = [f"/photos/{n:06d}.jpg" for n in range(50_000)]
    model.set_results(PhotoRows(array("q", range(1, 50_001)), paths))
    assert model.rowCount() == 50_000
    assert model.index(49_999, 0).data(PathRole) == paths[-1]
    assert model.index(7, 0).data(PhotoIdRole) == 8
    assert model.result(3) == SearchResult(4, paths[3], 1.0)
    assert model.rows_of_paths([paths[40_000], None, "/gone.jpg"]) == {paths[40_000]: 40_000}
    many = paths[100:120]  # a selection: found in one scan
    assert model.rows_of_paths(many) == {path: 100 + i for i, path in enumerate(many)}


def test_a_long_row_list_is_counted_in_over_turns_and_newer_rows_win(qtbot) -> None:
    """Handing Qt a million row strings at once held the window for 60-90 ms: a long list
    is built beside the shown rows a slice per turn, then swapped in."""
    model = PhotoListModel()
    model.BUILD_SLICE = 1000
    calls: list[str] = []
    model.set_results([SearchResult(1, "/a.jpg", 0.5)], lambda: calls.append("small"))
    assert calls == ["small"] and model.rowCount() == 1  # short: at once
    long_rows = [SearchResult(n, f"/p/{n}.jpg", 0.1) for n in range(5500)]
    model.set_results(long_rows, lambda: calls.append("long"))
    assert model.is_building() and model.rowCount() == 1  # the old row stays meanwhile
    assert model.index(0, 0).data(PathRole) == "/a.jpg"
    qtbot.waitUntil(lambda: not model.is_building(), timeout=10_000)
    assert calls == ["small", "long"] and model.rowCount() == 5500
    assert model.index(5499, 0).data(PathRole) == "/p/5499.jpg"
    # Replaced while it is being built: the newer rows are shown, the older never.
    model.set_results(long_rows[:3000], lambda: calls.append("replaced"))
    model.set_results(long_rows[:2], lambda: calls.append("newest"))
    qtbot.waitUntil(lambda: not model.is_building(), timeout=10_000)
    qtbot.wait(50)
    assert calls[2:] == ["newest"] and model.rowCount() == 2


def test_the_grid_lays_tiles_out_in_rows_that_wrap(qtbot, tmp_path: Path) -> None:
    loader = ThumbnailLoader(tmp_path / "thumbs")
    grid, model = shown_grid(qtbot, loader, 800, 600)
    try:
        model.set_results([SearchResult(i, f"/nowhere/{i}.jpg", 0.0) for i in range(40)])
        qtbot.waitUntil(lambda: grid.visualRect(model.index(39, 0)).isValid())
        first, second = (grid.visualRect(model.index(row, 0)) for row in (0, 1))
        assert second.top() == first.top() and second.left() > first.right()
        per_row = sum(1 for row in range(40)
                      if grid.visualRect(model.index(row, 0)).top() == first.top())
        below = grid.visualRect(model.index(per_row, 0))
        assert 3 <= per_row < 40 and below.left() == first.left() and below.top() > first.top()
    finally:
        loader.shutdown()


def test_resizing_the_grid_keeps_the_users_place(qtbot, tmp_path: Path) -> None:
    """The layout starts over on a resize, and the scroll bar, clamped to the rows laid out
    so far, put a user deep in a big library back near the top."""
    loader = ThumbnailLoader(tmp_path / "thumbs")
    grid, model = shown_grid(qtbot, loader, 900, 600)
    try:
        model.set_results([SearchResult(i, f"/nowhere/{i:06d}.jpg", 0.0)
                           for i in range(20_000)])
        grid.bring_into_view(12_000, grid.ScrollHint.PositionAtTop)
        qtbot.waitUntil(lambda: grid.first_visible_path() == "/nowhere/012000.jpg")
        target = model.index(12_000, 0)

        def near_the_top() -> bool:  # the top-left photo's line is kept: it may rewrap
            rect = grid.visualRect(target)
            return rect.isValid() and 0 <= rect.top() < 2 * grid.gridSize().height()

        for width in (910, 1300, 700):  # the same columns, more, fewer
            grid.resize(width, 600)
            qtbot.wait(300)
            qtbot.waitUntil(near_the_top)
    finally:
        loader.shutdown()


def test_a_fitted_thumbnail_is_made_once_per_size(qapp) -> None:
    fitted = FittedPixmaps()
    source = pixmap(320, 240)
    first = fitted.get(source, QSize(160, 160))
    assert (first.width(), first.height()) == (160, 120)  # aspect kept
    assert fitted.get(source, QSize(160, 160)).cacheKey() == first.cacheKey()
    larger = fitted.get(source, QSize(240, 240))
    assert (larger.width(), larger.height()) == (240, 180)
    assert len(fitted) == 2


def test_fitted_thumbnails_stay_within_their_byte_budget(qapp) -> None:
    tile_bytes = 100 * 75 * 4
    fitted = FittedPixmaps(max_bytes=10 * tile_bytes)
    sources = [pixmap(400, 300) for _ in range(25)]
    for source in sources:
        fitted.get(source, QSize(100, 100))
    assert len(fitted) == 10
    # The most recent ones are those kept.
    kept = fitted.get(sources[-1], QSize(100, 100))
    assert len(fitted) == 10 and not kept.isNull()


def test_a_thumbnail_finds_its_row_after_the_rows_were_replaced(qtbot, tmp_path: Path
                                                                ) -> None:
    photo = solid(tmp_path / "red.png", (220, 30, 30))
    loader = ThumbnailLoader(tmp_path / "thumbs")
    grid, model = shown_grid(qtbot, loader, 600, 400)
    try:
        changed_rows: list[int] = []
        model.dataChanged.connect(lambda first, last, roles: changed_rows.append(first.row()))
        model.set_results([SearchResult(1, "/nowhere/a.jpg", 0.0)])
        model.set_results([SearchResult(9, "/nowhere/b.jpg", 0.0),
                           SearchResult(2, str(photo), 0.0)])
        grid.viewport().update()
        # The broken file's row and the good one's each hear of their thumbnail.
        qtbot.waitUntil(lambda: {0, 1} <= set(changed_rows), timeout=10_000)
        assert isinstance(model.index(1, 0).data(Qt.ItemDataRole.DecorationRole), QPixmap)
        assert loader.is_broken("/nowhere/b.jpg")
        assert model.row_of_path(str(photo)) == 1
        assert model.row_of_path("/nowhere/a.jpg") is None
    finally:
        loader.shutdown()


def test_the_grid_only_asks_for_visible_thumbnails(qtbot, isolated_home: Path) -> None:
    loader = ThumbnailLoader(isolated_home / "thumbs")
    grid, model = shown_grid(qtbot, loader, 800, 600)
    try:
        model.set_results([SearchResult(i, f"/nowhere/{i:06d}.jpg", 0.0)
                           for i in range(100_000)])
        qtbot.waitUntil(lambda: not model.is_building())
        qtbot.waitExposed(grid)
        qtbot.waitUntil(lambda: loader.asked_count() > 0)
        asked = loader.asked_count()
        assert asked < 200  # a screenful, not 100k
        # The layout goes on in slices between events; the last row gets a place in time.
        last = model.index(99_999, 0)
        qtbot.waitUntil(lambda: grid.visualRect(last).isValid(), timeout=10_000)
        grid.scrollToBottom()
        qtbot.waitUntil(lambda: loader.is_broken("/nowhere/099999.jpg", 320), timeout=10_000)
        assert loader.asked_count() < 400
    finally:
        loader.shutdown()


def test_a_row_far_down_is_brought_into_view_once_the_layout_reaches_it(qtbot, tmp_path: Path
                                                                        ) -> None:
    loader = ThumbnailLoader(tmp_path / "thumbs")
    grid, model = shown_grid(qtbot, loader, 800, 600)
    try:
        model.set_results([SearchResult(i, f"/nowhere/{i:06d}.jpg", 0.0)
                           for i in range(100_000)])
        qtbot.waitUntil(lambda: not model.is_building())
        target = model.index(60_000, 0)
        assert not grid.visualRect(target).isValid()  # not laid out yet
        grid.bring_into_view(60_000, grid.ScrollHint.PositionAtTop)
        qtbot.waitUntil(lambda: grid.first_visible_path() == "/nowhere/060000.jpg",
                        timeout=10_000)
    finally:
        loader.shutdown()
