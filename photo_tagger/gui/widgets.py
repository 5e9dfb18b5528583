"""Small reusable widgets: the search field that takes dropped images, the photo grid and
its delegate, the sidebar list delegate, the flow of tag chips."""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    QStringListModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QFont,
    QGuiApplication,
    QKeyEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCompleter,
    QLayout,
    QLayoutItem,
    QLineEdit,
    QListView,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QWidget,
)

from photo_tagger.config import THUMBNAIL_SIZE
from photo_tagger.core.images import is_candidate
from photo_tagger.gui.models import CountRole, PathRole, ProbabilityRole

# The `tag:` or `folder:` word being typed at the cursor: (sign, key, value so far).
_TERM = re.compile(r'(?:^|(?<=\s))(-?)(tag|folder):("[^"]*|[^\s"]*)$', re.IGNORECASE)


def dropped_paths(event: QDragEnterEvent | QDropEvent) -> list[Path]:
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


def fit_to_screen(window: QWidget, width: int, height: int) -> None:
    """Size a window to `width` × `height`, but never larger than the screen it opens on,
    and place it on that screen: at 200% scaling fixed sizes put OK and Close off-screen.
    Call it once the window's layout is built (its minimum size counts)."""
    parent = window.parentWidget()
    screen = (parent.screen() if parent is not None else None) \
        or QGuiApplication.primaryScreen()
    layout = window.layout()
    if layout is not None:
        layout.activate()
    if screen is None:
        window.resize(width, height)
        return
    room = screen.availableGeometry()
    # The frame (title bar, borders) is not known before the window shows: leave room.
    max_width, max_height = room.width() - 16, room.height() - 48
    window.setMaximumSize(max(max_width, 200), max(max_height, 200))
    minimum = window.minimumSizeHint().expandedTo(window.minimumSize())
    window.resize(max(min(width, max_width), min(minimum.width(), max_width)),
                  max(min(height, max_height), min(minimum.height(), max_height)))
    centre = parent.frameGeometry().center() if parent is not None else room.center()
    x = min(centre.x() - window.width() // 2, room.right() - 8 - window.width())
    y = min(centre.y() - window.height() // 2, room.bottom() - 40 - window.height())
    window.move(max(room.left(), x), max(room.top(), y))


class SearchField(QLineEdit):
    """The query box; an image file dropped on it searches by that image. Down moves on
    to the photos, as Tab does; Escape clears it; `tag:` and `folder:` complete as you
    type (`set_terms`)."""

    image_dropped = Signal(Path)
    leave_down = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setClearButtonEnabled(True)
        self.setPlaceholderText(
            "Search photos — e.g. kids in the snow  ·  beach -people  ·  tag:dog  "
            "(drop an image here to find similar)")
        self._terms: dict[str, list[str]] = {"tag": [], "folder": []}
        # Not setCompleter(): that completes the whole text; this completes one word.
        self.term_completer = QCompleter(self)
        self.term_completer.setModel(QStringListModel(self.term_completer))
        self.term_completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.term_completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.term_completer.setWidget(self)
        self.term_completer.activated.connect(self._insert_term)
        self.textEdited.connect(lambda _: self._complete())

    def set_terms(self, tags: list[str], folders: list[str]) -> None:
        """What `tag:` and `folder:` offer: the tags in use and the library's folders."""
        self._terms = {"tag": list(tags), "folder": list(folders)}

    def _popup(self) -> QAbstractItemView:
        popup = self.term_completer.popup()
        assert popup is not None  # QCompleter makes its list on first use (popup mode)
        return popup

    def _term_at_cursor(self) -> re.Match[str] | None:
        return _TERM.search(self.text()[:self.cursorPosition()])

    def _complete(self) -> None:
        term = self._term_at_cursor()
        popup = self._popup()
        if term is None:
            popup.hide()
            return
        model = self.term_completer.model()
        assert isinstance(model, QStringListModel)
        model.setStringList(self._terms[term.group(2).lower()])
        self.term_completer.setCompletionPrefix(term.group(3).lstrip('"'))
        if self.term_completer.completionCount():
            self.term_completer.complete()
        else:
            popup.hide()

    def _insert_term(self, value: str) -> None:
        term = self._term_at_cursor()
        if term is None:
            return
        quoted = f'"{value}"' if re.search(r'\s', value) else value
        before = self.text()[:term.start(3)] + quoted + " "
        after = self.text()[self.cursorPosition():].lstrip()
        self.setText(before + after)
        self.setCursorPosition(len(before))
        self.textEdited.emit(self.text())

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() == Qt.Key.Key_Down and not self.completer() \
                and not self._popup().isVisible():
            self.leave_down.emit()
            return
        if event.key() == Qt.Key.Key_Escape and self.text():
            self.clear()
            self.textEdited.emit("")  # searched again, like any edit
            return
        super().keyPressEvent(event)

    def _image(self, event: QDragEnterEvent | QDropEvent) -> Path | None:
        paths = dropped_paths(event)
        if len(paths) == 1 and paths[0].is_file() and is_candidate(paths[0]):
            return paths[0]
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        if self._image(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()  # folders go on to the window

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        image = self._image(event)
        if image is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.image_dropped.emit(image)


class FittedPixmaps:
    """Thumbnails scaled to the tile and rounded, kept so that a repaint only copies pixels.
    Smooth scaling every tile on every repaint cost the window 30–80 ms per frame while
    indexing added rows and thumbnails arrived. Bounded by the bytes it holds."""

    def __init__(self, max_bytes: int = 48 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._held = 0
        self._fitted: OrderedDict[tuple[int, int, int], QPixmap] = OrderedDict()

    def get(self, pixmap: QPixmap, area: QSize) -> QPixmap:
        key = (pixmap.cacheKey(), area.width(), area.height())
        fitted = self._fitted.get(key)
        if fitted is not None:
            self._fitted.move_to_end(key)
            return fitted
        fitted = self._rounded(pixmap.scaled(area, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation))
        self._fitted[key] = fitted
        self._held += self._bytes(fitted)
        while self._held > self.max_bytes and len(self._fitted) > 1:
            self._held -= self._bytes(self._fitted.popitem(last=False)[1])
        return fitted

    def __len__(self) -> int:
        return len(self._fitted)

    @staticmethod
    def _bytes(pixmap: QPixmap) -> int:
        return pixmap.width() * pixmap.height() * 4

    @staticmethod
    def _rounded(scaled: QPixmap) -> QPixmap:
        rounded = QPixmap(scaled.size())
        rounded.fill(Qt.GlobalColor.transparent)
        painter = QPainter(rounded)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        clip = QPainterPath()
        clip.addRoundedRect(QRect(0, 0, scaled.width(), scaled.height()), 4, 4)
        painter.setClipPath(clip)
        painter.drawPixmap(0, 0, scaled)
        painter.end()
        return rounded


class PhotoDelegate(QStyledItemDelegate):
    """A thumbnail on a rounded tile with the file name under it."""

    def __init__(self, parent: QWidget | None = None, thumb_size: int = THUMBNAIL_SIZE) -> None:
        super().__init__(parent)
        self.thumb_size = thumb_size
        self.fitted = FittedPixmaps()

    def sizeHint(self, option: QStyleOptionViewItem,  # noqa: N802
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(self.thumb_size + 16, self.image_height() + 36)

    def image_height(self) -> int:
        # Tiles are 4:3, the shape of most photos; others are letterboxed inside.
        return round(self.thumb_size * 0.75)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = option.palette
        tile = option.rect.adjusted(4, 4, -4, -4)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected or hovered:
            colour = QColor(palette.color(QPalette.ColorRole.Highlight))
            colour.setAlpha(200 if selected else 60)
            path = QPainterPath()
            path.addRoundedRect(tile, 8, 8)
            painter.fillPath(path, colour)
        image_area = QRect(tile.left() + 4, tile.top() + 4, tile.width() - 8,
                           self.image_height())
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            fitted = self.fitted.get(pixmap, image_area.size())
            x = image_area.left() + (image_area.width() - fitted.width()) // 2
            y = image_area.top() + (image_area.height() - fitted.height()) // 2
            painter.drawPixmap(x, y, fitted)
            shown = QRect(x, y, fitted.width(), fitted.height())
        else:
            placeholder = QColor(palette.color(QPalette.ColorRole.Mid))
            placeholder.setAlpha(60)
            inner = image_area.adjusted(12, 12, -12, -12)
            path = QPainterPath()
            path.addRoundedRect(inner, 6, 6)
            painter.fillPath(path, placeholder)
            shown = inner
        badge = index.data(ProbabilityRole)
        if badge:
            self._paint_badge(painter, shown, badge, option.font)
        if option.state & QStyle.StateFlag.State_HasFocus and option.widget is not None \
                and option.widget.hasFocus():
            # The keyboard's place in the grid: a ring, also around a selected tile.
            ring = QPen(palette.color(QPalette.ColorRole.Highlight), 2)
            if selected:
                ring.setColor(palette.color(QPalette.ColorRole.Text))
            painter.setPen(ring)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(tile.adjusted(1, 1, -1, -1), 8, 8)
        text_rect = QRect(tile.left() + 6, image_area.bottom() + 4, tile.width() - 12, 20)
        role = (QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        painter.setPen(palette.color(role))
        font = QFont(option.font)
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        painter.setFont(font)
        name = painter.fontMetrics().elidedText(
            str(index.data(Qt.ItemDataRole.DisplayRole) or ""), Qt.TextElideMode.ElideMiddle,
            text_rect.width())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                         name)
        painter.restore()


    @staticmethod
    def _paint_badge(painter: QPainter, image: QRect, text: str, base: QFont) -> None:
        """The probability, small, in the thumbnail's top-right corner."""
        font = QFont(base)
        font.setPointSizeF(max(7.0, base.pointSizeF() * 0.8))
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        width, height = metrics.horizontalAdvance(text) + 10, metrics.height() + 2
        badge = QRect(image.right() - width - 3, image.top() + 3, width, height)
        path = QPainterPath()
        path.addRoundedRect(badge, height / 2, height / 2)
        painter.fillPath(path, QColor(0, 0, 0, 160))
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)


class PhotoGrid(QListView):
    """The virtualised thumbnail grid: one view over a model, never a widget per photo."""

    quick_preview = Signal(QModelIndex)

    def __init__(self, parent: QWidget | None = None, thumb_size: int = THUMBNAIL_SIZE) -> None:
        super().__init__(parent)
        self._target: tuple[int, QAbstractItemView.ScrollHint] | None = None
        self._target_tries = 0
        self._target_timer = QTimer(self)
        self._target_timer.setSingleShot(True)
        self._target_timer.setInterval(30)
        self._target_timer.timeout.connect(self._place_target)
        # A wrapping list, not IconMode: IconMode files every item in a spatial tree once
        # the layout ends, one pass over all rows that held the window for 50-90 ms at 1M
        # photos. Looks the same: the delegate paints each tile on the grid size.
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)  # lets the view lay out 100k rows without asking each
        # Laid out in slices between events: 100k rows at once held the window for 0.25 s.
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.setSpacing(2)
        self.setDragEnabled(False)
        self.delegate = PhotoDelegate(self, thumb_size)
        self.setItemDelegate(self.delegate)
        self.set_thumb_size(thumb_size)

    def first_visible_path(self) -> str | None:
        """The photo in the top-left tile: what the user is looking at."""
        index = self._top_left_index()
        return str(index.data(PathRole)) if index.isValid() else None

    def _top_left_index(self) -> QModelIndex:
        return self.indexAt(QPoint(self.spacing() + 8, self.spacing() + 8))

    def doItemsLayout(self) -> None:  # noqa: N802
        """Lay the tiles out again (a resize, a new thumbnail size) and keep the user's
        place: the batched layout starts over from the first rows, and the scroll bar,
        clamped to what is laid out so far, dropped a user deep in a big library back
        near the top. A pending `bring_into_view` (new rows) has the last word."""
        top = self._top_left_index() if self._target is None else QModelIndex()
        super().doItemsLayout()
        if top.isValid() and top.row() > 0:
            self.bring_into_view(top.row(), QAbstractItemView.ScrollHint.PositionAtTop)

    def bring_into_view(self, row: int, hint: QAbstractItemView.ScrollHint =
                        QAbstractItemView.ScrollHint.EnsureVisible) -> None:
        """Scroll to `row` once the batched layout has placed it: right after new rows, only
        the first batch has positions, and scrolling to a later row would do nothing."""
        self._target = (row, hint)
        self._target_tries = 0
        self._place_target()

    def _place_target(self) -> None:
        if self._target is None or self.model() is None:
            return
        row, hint = self._target
        index = self.model().index(row, 0)
        if not index.isValid():
            self._target = None
            return
        if self.visualRect(index).isValid():
            # Placed, but the scroll range may still end short of it: check it got there.
            self.scrollTo(index, hint)
            if self.viewport().rect().intersects(self.visualRect(index)):
                self._target = None
                return
        if self._target_tries < 300:  # ~10 s of layout, far more than 500k rows need
            self._target_tries += 1
            self._target_timer.start()

    def set_thumb_size(self, size: int) -> None:
        self.delegate.thumb_size = size
        self.setGridSize(QSize(size + 20, self.delegate.image_height() + 40))
        self.verticalScrollBar().setSingleStep(max(20, size // 4))
        self.doItemsLayout()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and self.currentIndex().isValid():
            self.quick_preview.emit(self.currentIndex())
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) \
                and self.currentIndex().isValid():
            self.activated.emit(self.currentIndex())
            return
        super().keyPressEvent(event)

    def selected_paths(self) -> list[str]:
        return [str(i.data(PathRole)) for i in self.selectionModel().selectedIndexes()]


class SidebarDelegate(QStyledItemDelegate):
    """A sidebar row: the title, and the count right-aligned in a muted colour."""

    def sizeHint(self, option: QStyleOptionViewItem,  # noqa: N802
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width(), max(size.height(), 26))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        count = index.data(CountRole)
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        painter.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        colour = option.palette.color(QPalette.ColorRole.HighlightedText if selected
                                      else QPalette.ColorRole.Text)
        rect = option.rect.adjusted(10, 0, -10, 0)
        if opt.decorationSize.width() > 0 and index.data(Qt.ItemDataRole.DecorationRole):
            rect.setLeft(rect.left() + opt.decorationSize.width() + 6)
        count_text = f"{count:,}" if isinstance(count, int) else ""
        metrics = painter.fontMetrics()
        count_width = metrics.horizontalAdvance(count_text) + 8 if count_text else 0
        painter.setPen(colour)
        title = metrics.elidedText(text, Qt.TextElideMode.ElideRight, rect.width() - count_width)
        painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, title)
        if count_text:
            muted = QColor(colour)
            muted.setAlpha(150)
            painter.setPen(muted)
            painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                             count_text)
        painter.restore()


class FlowLayout(QLayout):
    """Lays its items out in rows that wrap at the width it gets (Qt's flow layout
    example, trimmed): the viewer's tag chips wrap instead of scrolling sideways."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 (Qt API)
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802
        return self.minimumSize()

    def minimumSize(self) -> QSize:  # noqa: N802
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        return size

    def _arrange(self, rect: QRect, *, move: bool) -> int:
        x, y, line = rect.x(), rect.y(), 0
        for item in self._items:
            hint = item.sizeHint()
            if x > rect.x() and x + hint.width() > rect.right() + 1:
                x, y, line = rect.x(), y + line + self._spacing, 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._spacing
            line = max(line, hint.height())
        return y + line - rect.y()


class TagChips(QWidget):
    """A photo's tags as removable chips, wrapped in rows; manual ones are drawn in the
    accent colour."""

    remove_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = FlowLayout(self)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def set_tags(self, tags: list[tuple[str, str, float | None]]) -> None:
        """(tag, source, score) rows."""
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for tag, source, score in tags:
            chip = QToolButton(self)
            chip.setText(f"{tag}  ✕")
            hint = "set by you" if source == "manual" else f"score {score:.2f}" \
                if score is not None else "automatic"
            chip.setToolTip(f"{tag} ({hint}) — click to remove from this photo")
            chip.setProperty("chip", "manual" if source == "manual" else "auto")
            chip.setCursor(Qt.CursorShape.PointingHandCursor)
            chip.clicked.connect(lambda _=False, t=tag: self.remove_requested.emit(t))
            self._layout.addWidget(chip)
        self.updateGeometry()

    def tags(self) -> list[str]:
        found = []
        for i in range(self._layout.count()):
            item = self._layout.itemAt(i)
            widget = item.widget() if item is not None else None
            if isinstance(widget, QToolButton):
                found.append(widget.text().rsplit("  ✕", 1)[0])
        return found

    def chip_rows(self) -> int:
        """How many rows the chips take now (the viewer's tests look at the wrapping)."""
        tops = set()
        for i in range(self._layout.count()):
            item = self._layout.itemAt(i)
            if item is not None and item.widget() is not None:
                tops.add(item.geometry().top())
        return len(tops)
