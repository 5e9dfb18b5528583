"""The Qt binding itself. PySide6 6.12.0 dropped a reference to None on every call that
returns nothing; on Python 3.11 the window then aborted with "deallocating None" after some
thousands of paint calls. pyproject.toml excludes that release; this test catches another."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt
from PySide6.QtGui import QPainter, QPixmap

pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="None is immortal from Python 3.12: the fault is harmless")

CALLS = 300  # few enough that a faulty binding fails the test rather than aborting


class _EmptyModel(QAbstractListModel):
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 1

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        return None


def test_calls_returning_nothing_leave_none_referenced(qapp) -> None:
    pixmap = QPixmap(8, 8)
    painter = QPainter(pixmap)
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        painter.save()
        painter.restore()
    after = sys.getrefcount(None)
    painter.end()
    assert after >= before - 10, f"None lost {before - after} references"


def test_model_data_returning_none_leaves_none_referenced(qapp) -> None:
    model = _EmptyModel()
    index = model.index(0, 0)
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        index.data(Qt.ItemDataRole.DecorationRole)
    after = sys.getrefcount(None)
    assert after >= before - 10, f"None lost {before - after} references"
