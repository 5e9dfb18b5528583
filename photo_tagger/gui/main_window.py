"""The main window: search box, thumbnail grid, sidebar of folders and tags, status bar with
indexing progress, and the first-run welcome page. It displays and calls the core only."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QModelIndex, QPoint, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from photo_tagger.config import (
    DEMO_MODEL_NAME,
    THUMBNAIL_SIZE,
    THUMBNAIL_SIZE_MAX,
    THUMBNAIL_SIZE_MIN,
)
from photo_tagger.core.browse import (
    BrowseController,
    Filters,
    Listing,
    Query,
    SidebarCounts,
    SimilarSearch,
    TextSearch,
)
from photo_tagger.core.indexer import IndexProgress
from photo_tagger.core.search import SearchResult
from photo_tagger.core.store import Library
from photo_tagger.demo.samples import SAMPLE_QUERY, sample_folder, write_samples
from photo_tagger.gui.bridge import ServiceBridge
from photo_tagger.gui.context import WindowContext
from photo_tagger.gui.icons import app_icon
from photo_tagger.gui.models import (
    KeyRole,
    PathRole,
    PhotoIdRole,
    PhotoListModel,
    SidebarEntry,
    SidebarListModel,
    folder_entries,
)
from photo_tagger.gui.panels import ModelBanner, WelcomePage
from photo_tagger.gui.thumbnails import ThumbnailLoader
from photo_tagger.gui.widgets import PhotoGrid, SearchField, SidebarDelegate, dropped_paths
from photo_tagger.paths import library_path, thumbnail_dir

log = logging.getLogger(__name__)

SEARCH_DEBOUNCE_MS = 300
REFRESH_DEBOUNCE_MS = 700
# While indexing, a big listing refreshes less often: each refresh rebuilds every row.
REFRESH_MS_PER_1000_ROWS = 20

STATE_TEXT = {
    "loading-model": "Loading the model…",
    "scanning": "Looking for new and changed photos…",
    "indexing": "Indexing",
    "idle": "Up to date",
    "paused": "Paused",
    "pausing": "Pausing after this batch…",
    "stopped": "Stopped",
}


def human_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600:.0f} h {(seconds % 3600) // 60:.0f} min"


class MainWindow(QMainWindow):
    """The library browser."""

    def __init__(self, home: Path, bridge: ServiceBridge, settings: QSettings) -> None:
        super().__init__()
        self.home = home
        self.bridge = bridge
        self.settings = settings
        # Small reads only; writes go to the service, and SQLite refuses any on this one.
        self.reader = Library(library_path(home), read_only=True)
        self._closed = False
        self._query_when_idle = False  # a query typed for the user waits for indexing
        self.browse = BrowseController()  # what to list, and which answers still count
        self._pending_count = 0  # from the last sidebar counts: no GROUP BY on this thread
        self.known_tags: list[str] = []  # likewise, for the tag completers
        self.setWindowTitle("Photo Tagger")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.thumb_size = int(settings.value("thumbnail_size", THUMBNAIL_SIZE))

        self.loader = ThumbnailLoader(thumbnail_dir(home), parent=self)
        self.photos = PhotoListModel(self.loader, self)
        self.folders = SidebarListModel(self)
        self.tags = SidebarListModel(self)
        self.context = WindowContext(
            reader=self.reader, bridge=bridge, thumbnails=self.loader, settings=settings,
            known_tags=lambda: self.known_tags, thumb_size=lambda: self.thumb_size,
            set_thumb_size=self.set_thumb_size, use_model=self.use_model,
            find_similar=self.find_similar, library_edited=self.refresh_sidebar)
        self._build()
        self._build_actions()
        self._connect()
        self.restore_geometry()
        self.refresh_sidebar()
        self._show_page()
        self.run_query()

    # -- layout -------------------------------------------------------------------------
    def _build(self) -> None:
        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)

        top = QWidget(central)
        top.setObjectName("topBar")
        top_layout = QHBoxLayout(top)
        top_layout.setContentsMargins(12, 8, 12, 8)
        self.search = SearchField(top)
        self.search.setMinimumHeight(34)
        top_layout.addWidget(self.search, 1)
        self.context_label = QLabel(top)
        self.context_label.setObjectName("mutedText")
        top_layout.addWidget(self.context_label)
        for text, slot, tip in (("Labels", self.open_labels, "Edit the tags photos get"),
                                ("Duplicates", self.open_duplicates, "Find near-duplicates"),
                                ("Settings", self.open_settings, "Model, threads, folders")):
            button = QToolButton(top)
            button.setText(text)
            button.setToolTip(tip)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.clicked.connect(slot)
            top_layout.addWidget(button)
        outer.addWidget(top)

        self.banner = ModelBanner(self)
        self.banner.choose_button.clicked.connect(self.choose_model_folder)
        self.banner.demo_button.clicked.connect(lambda: self.use_model(DEMO_MODEL_NAME))
        outer.addWidget(self.banner)

        self.pages = QStackedWidget(central)
        self.welcome = WelcomePage(self)
        self.welcome.add_button.clicked.connect(self.choose_folder)
        self.welcome.sample_button.clicked.connect(self.try_samples)
        self.pages.addWidget(self.welcome)

        browser = QSplitter(Qt.Orientation.Horizontal, self.pages)
        browser.setObjectName("browser")
        sidebar = QWidget(browser)
        sidebar.setObjectName("sidebar")
        side = QVBoxLayout(sidebar)
        side.setContentsMargins(8, 8, 4, 8)
        side.setSpacing(4)
        side.addWidget(self._section("LIBRARY", sidebar))
        self.folder_view = QListView(sidebar)
        self.folder_view.setObjectName("folderList")
        self.folder_view.setModel(self.folders)
        self.folder_view.setItemDelegate(SidebarDelegate(self.folder_view))
        self.folder_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        side.addWidget(self.folder_view, 2)
        add_folder = QPushButton("+  Add folder…", sidebar)
        add_folder.setFlat(True)
        add_folder.clicked.connect(self.choose_folder)
        side.addWidget(add_folder)
        side.addSpacing(6)
        side.addWidget(self._section("TAGS", sidebar))
        self.tag_view = QListView(sidebar)
        self.tag_view.setObjectName("tagList")
        self.tag_view.setModel(self.tags)
        self.tag_view.setItemDelegate(SidebarDelegate(self.tag_view))
        side.addWidget(self.tag_view, 5)
        for view in (self.folder_view, self.tag_view):
            view.setFrameShape(QFrame.Shape.NoFrame)
            view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            view.setUniformItemSizes(True)
        browser.addWidget(sidebar)

        self.grid = PhotoGrid(browser, self.thumb_size)
        self.grid.setModel(self.photos)
        self.empty_label = QLabel(self.grid)
        self.empty_label.setObjectName("emptyLabel")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        browser.addWidget(self.grid)
        browser.setStretchFactor(0, 0)
        browser.setStretchFactor(1, 1)
        browser.setSizes([230, 900])
        self.browser = browser
        self.pages.addWidget(browser)
        outer.addWidget(self.pages, 1)
        self.setCentralWidget(central)

        status = self.statusBar()
        self.state_label = QLabel(STATE_TEXT["loading-model"], self)
        status.addWidget(self.state_label, 1)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.hide()
        status.addPermanentWidget(self.progress_bar)
        self.pause_button = QToolButton(self)
        self.pause_button.setText("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Pause or resume indexing")
        self.pause_button.toggled.connect(self.set_paused)
        status.addPermanentWidget(self.pause_button)
        self.count_label = QLabel(self)
        status.addPermanentWidget(self.count_label)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setSingleShot(True)
        self.refresh_timer.setInterval(REFRESH_DEBOUNCE_MS)

    def _section(self, text: str, parent: QWidget) -> QLabel:
        label = QLabel(text, parent)
        label.setObjectName("sectionLabel")
        return label

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&Add Folder…", self.choose_folder,
                     QKeySequence.StandardKey.Open)
        self._action(file_menu, "&Rescan Folders", self.bridge.service.rescan, "F5")
        file_menu.addSeparator()
        self.quit_action = self._action(file_menu, "&Quit", self.close,
                                        QKeySequence.StandardKey.Quit)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        edit_menu = bar.addMenu("&Edit")
        self._action(edit_menu, "&Find", self.focus_search, QKeySequence.StandardKey.Find)
        self._action(edit_menu, "Select &All", self.grid.selectAll,
                     QKeySequence.StandardKey.SelectAll)
        view_menu = bar.addMenu("&View")
        self._action(view_menu, "&Larger Thumbnails", lambda: self.set_thumb_size(
            self.thumb_size + 40), QKeySequence.StandardKey.ZoomIn)
        self._action(view_menu, "&Smaller Thumbnails", lambda: self.set_thumb_size(
            self.thumb_size - 40), QKeySequence.StandardKey.ZoomOut)
        self._action(view_menu, "Show &All Photos", self.show_all, "Ctrl+0")
        tools = bar.addMenu("&Tools")
        self._action(tools, "&Labels…", self.open_labels, "Ctrl+L")
        self._action(tools, "&Duplicates…", self.open_duplicates, "Ctrl+D")
        self._action(tools, "&Settings…", self.open_settings, QKeySequence.StandardKey.Preferences)
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Search Syntax", self.show_search_help, "F1")
        self._action(help_menu, "&About Photo Tagger", self.show_about, None)

    def _action(self, menu: QMenu, text: str, slot: Any,
                shortcut: QKeySequence.StandardKey | str | None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _=False: slot())
        menu.addAction(action)
        self.addAction(action)
        return action

    def _connect(self) -> None:
        self.search.textEdited.connect(lambda _: self._search_timer.start())
        self.search.returnPressed.connect(self.run_query)
        self.search.textChanged.connect(self._text_changed)
        self.search.image_dropped.connect(self.find_similar_to_file)
        self._search_timer.timeout.connect(self.run_query)
        self.refresh_timer.timeout.connect(self._refresh_after_change)
        self.folder_view.clicked.connect(lambda _: self.apply_filters())
        self.folder_view.selectionModel().selectionChanged.connect(
            lambda *_: self.apply_filters())
        self.folder_view.customContextMenuRequested.connect(self._folder_menu)
        self.tag_view.clicked.connect(self._tag_clicked)
        self.grid.activated.connect(self.open_viewer)
        self.grid.quick_preview.connect(self.open_viewer)
        self.grid.customContextMenuRequested.connect(self._photo_menu)
        self.bridge.state_changed.connect(self._state_changed)
        self.bridge.progress.connect(self.show_progress)
        self.bridge.library_changed.connect(self._library_changed)
        self.bridge.model_ready.connect(self._model_ready)
        self.bridge.model_failed.connect(self.banner.show_failure)
        self.bridge.download_progress.connect(self.banner.show_download)
        self.bridge.error.connect(self._service_error)

    # -- pages and geometry -------------------------------------------------------------
    def _show_page(self) -> None:
        has_folders = bool(self.reader.folders())
        self.pages.setCurrentIndex(1 if has_folders else 0)

    def restore_geometry(self) -> None:
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 780)
        splitter = self.settings.value("splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.browser.restoreState(splitter)

    def set_thumb_size(self, size: int) -> None:
        self.thumb_size = max(THUMBNAIL_SIZE_MIN, min(THUMBNAIL_SIZE_MAX, int(size)))
        self.grid.set_thumb_size(self.thumb_size)
        self.settings.setValue("thumbnail_size", self.thumb_size)

    # -- queries ------------------------------------------------------------------------
    def current_folder(self) -> str | None:
        indexes = self.folder_view.selectionModel().selectedIndexes()
        return indexes[0].data(KeyRole) if indexes else None

    def current_tag(self) -> str | None:
        indexes = self.tag_view.selectionModel().selectedIndexes()
        return indexes[0].data(KeyRole) if indexes else None

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def filters(self) -> Filters:
        """What the user chose now: the search box's text, the sidebar's folder and tag."""
        return Filters(self.search.text(), self.current_folder(), self.current_tag())

    def _text_changed(self, text: str) -> None:
        self.browse.text_changed(text)

    def _tag_clicked(self, index: QModelIndex) -> None:
        if self.browse.click_tag(index.data(KeyRole)) is None:
            self.tag_view.clearSelection()
        self.apply_filters()

    def apply_filters(self) -> None:
        """List again for the sidebar's folder and tag (a similar search ends)."""
        self.browse.filters_changed()
        self.run_query()

    def show_all(self) -> None:
        self.search.clear()
        self.tag_view.clearSelection()
        self.browse.reset()
        self.folder_view.setCurrentIndex(self.folders.index(0, 0))
        self.apply_filters()

    def run_query(self, *, refresh: bool = False) -> None:
        """Search now with the query box and the sidebar's folder and tag."""
        self._search_timer.stop()
        self._send(self.browse.query(self.filters(), refresh=refresh))

    def _send(self, query: Query) -> None:
        def answered(results: list[SearchResult] | None, error: BaseException | None) -> None:
            self.show_results(query.request, results, error)

        if isinstance(query, SimilarSearch):
            self.bridge.similar(query.target, query.limit, answered)
        elif isinstance(query, TextSearch):
            self.bridge.search(query.text, query.limit, answered, folder=query.folder,
                               tags=query.tags)
        elif isinstance(query, Listing):
            self.bridge.read(query.run, answered)

    def show_results(self, request: int, results: list[SearchResult] | None,
                     error: BaseException | None) -> None:
        """Show the answer to query number `request`, unless a newer query replaced it."""
        answer = self.browse.answer(request, results, error)
        if self._closed or answer is None:
            return
        if answer.error is not None:
            self.statusBar().showMessage(answer.error, 8000)
        current = self.grid.currentIndex().data(PathRole)
        # A refresh while indexing keeps the user's place; a new search starts at the top.
        anchor = self.grid.first_visible_path() if answer.keep_place else None
        self.photos.set_results(answer.results)
        rows = self.photos.rows_of_paths([current, anchor])
        current_row = rows.get(current) if current is not None else None
        if current_row is not None:
            self.grid.setCurrentIndex(self.photos.index(current_row, 0))
        anchor_row = rows.get(anchor) if anchor is not None else None
        if anchor_row is not None:
            self.grid.bring_into_view(anchor_row, QAbstractItemView.ScrollHint.PositionAtTop)
        elif current_row is not None:
            self.grid.bring_into_view(current_row)
        else:
            self.grid.bring_into_view(0, QAbstractItemView.ScrollHint.PositionAtTop)
        self._update_context(len(answer.results))

    def _update_context(self, count: int) -> None:
        filters = self.filters()
        self.context_label.setText(self.browse.heading(filters, count))
        if count:
            self.empty_label.hide()
            return
        self.empty_label.setText(self.browse.empty_message(
            filters, pending=self._pending_count, model_error=self.bridge.model_error))
        self.empty_label.resize(self.grid.viewport().size())
        self.empty_label.show()

    def find_similar(self, photo_id: int) -> None:
        self.browse.find_similar(photo_id)
        self.search.clear()
        self.run_query()

    def find_similar_to_file(self, path: Path) -> None:
        self.browse.find_similar(Path(path))
        self.search.clear()
        self.statusBar().showMessage(f"Photos like {path.name}", 5000)
        self.run_query()

    def show_search_help(self) -> None:
        QMessageBox.information(self, "Search syntax", (
            "<p>Type what you are looking for, in any language: <i>kids in the snow</i>.</p>"
            "<p><b>+phrase</b> pulls towards, <b>-phrase</b> away: <i>beach +dog -people</i>."
            "</p><p><b>tag:name</b> keeps photos with that tag (<i>tag:\"new year\"</i>); "
            "combine with the folder and tag chosen on the left.</p>"
            "<p>Drop an image file onto the search box to find similar photos.</p>"))

    def show_about(self) -> None:
        QMessageBox.about(self, "About Photo Tagger", (
            "<h3>Photo Tagger</h3><p>Offline photo search and multilingual tagging with "
            "SigLIP 2. Your photos never leave this computer.</p>"
            f"<p>Library: {self.home}</p>"))

    # -- sidebar ------------------------------------------------------------------------
    def refresh_sidebar(self) -> None:
        """Folder and tag counts, counted on the reading thread: they are GROUP BYs over
        the whole library, too slow for this thread, and need no model."""
        self.bridge.read(SidebarCounts.read,
                         lambda counts, error: self._show_sidebar(counts)
                         if error is None and not self._closed else None)

    def _show_sidebar(self, counts: SidebarCounts) -> None:
        folder = self.current_folder()
        tag = self.current_tag()
        self.folders.set_entries(folder_entries(counts.folders, counts.folder_counts,
                                                counts.status["indexed"]))
        self.tags.set_entries([SidebarEntry(t, t, c) for t, c in counts.tags])
        self._reselect(self.folder_view, self.folders, folder, default_first=True)
        self._reselect(self.tag_view, self.tags, tag)
        self._pending_count = counts.status["pending"]
        self.known_tags = counts.known_tags
        if not self.photos.rowCount():
            self._update_context(0)  # the empty grid's message depends on pending photos
        self.count_label.setText(counts.summary())

    def _reselect(self, view: QListView, model: SidebarListModel, key: str | None,
                  default_first: bool = False) -> None:
        row = model.row_of(key)
        selected = view.selectionModel().selectedIndexes()
        if row is None and default_first and model.rowCount():
            row = 0
        if row is None:
            return
        if not selected or selected[0].row() != row:
            view.selectionModel().blockSignals(True)
            view.setCurrentIndex(model.index(row, 0))
            view.selectionModel().blockSignals(False)

    def _library_changed(self) -> None:
        """Refresh a while after the first change, not after the last: while indexing,
        changes keep coming, and a timer restarted by each would never fire."""
        if self.refresh_timer.isActive():
            return
        rows = self.photos.rowCount()
        self.refresh_timer.setInterval(
            REFRESH_DEBOUNCE_MS + REFRESH_MS_PER_1000_ROWS * rows // 1000)
        self.refresh_timer.start()

    def _refresh_after_change(self) -> None:
        if self._closed:
            return
        self.refresh_sidebar()
        self._show_page()
        # A typed query keeps its results while indexing; a listing follows the library.
        if self.browse.follows_library(self.filters()):
            self.run_query(refresh=True)
        else:
            self._update_context(self.photos.rowCount())

    def _folder_menu(self, point: QPoint) -> None:
        index = self.folder_view.indexAt(point)
        if not index.isValid() or index.data(KeyRole) is None:
            return
        entry = self.folders.entry(index.row())
        menu = QMenu(self)
        menu.addAction("Show in File Manager",
                       lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(entry.key)))
        menu.addAction("Rescan", self.bridge.service.rescan)
        menu.addSeparator()
        menu.addAction("Remove from Library…", lambda: self.remove_folder(entry))
        menu.exec(self.folder_view.viewport().mapToGlobal(point))

    def remove_folder(self, entry: SidebarEntry) -> None:
        answer = QMessageBox.question(
            self, "Remove folder",
            f"Stop watching {entry.key} and forget its {entry.count or 0:,} photos?\n"
            "The files themselves are not touched.")
        if answer == QMessageBox.StandardButton.Yes and entry.folder_id is not None:
            self.bridge.remove_folder(entry.folder_id)

    # -- folders and model --------------------------------------------------------------
    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a photo folder", str(Path.home()))
        if path:
            self.add_folder(Path(path))

    def add_folder(self, path: Path) -> None:
        self.bridge.add_folder(path)
        self.statusBar().showMessage(f"Adding {path}…", 4000)
        self.pages.setCurrentIndex(1)
        self.state_label.setText(STATE_TEXT["scanning"])

    def try_samples(self) -> None:
        """Write the sample photos (on the service thread), index them with the demo
        model and type the example query; it runs again once indexing is done."""
        folder = sample_folder(self.home)

        def written(result: object, error: BaseException | None) -> None:
            if error is not None:
                self.statusBar().showMessage(f"Could not write sample photos: {error}", 10000)
                return
            if self.reader.model_id != DEMO_MODEL_NAME:
                self.use_model(DEMO_MODEL_NAME)
            self.add_folder(folder)
            self.search.setText(SAMPLE_QUERY)
            self._query_when_idle = True

        self.bridge.submit(lambda library, indexer: write_samples(folder), written)

    def choose_model_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Choose a SigLIP 2 model folder (with config.json and model.safetensors)")
        if path:
            self.use_model(path)

    def use_model(self, model_id: str) -> None:
        self.banner.hide()
        self.bridge.set_model(model_id)

    def _model_ready(self, model_id: str) -> None:
        self.banner.hide()
        self.statusBar().showMessage(f"Model ready: {model_id}", 4000)
        if self.search.text().strip():
            self.run_query()

    def _service_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)

    # -- status bar ---------------------------------------------------------------------
    def _state_changed(self, state: str) -> None:
        self.state_label.setText(STATE_TEXT.get(state, state))
        if state in ("idle", "stopped"):
            self.progress_bar.hide()
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(self.bridge.paused)
        self.pause_button.setText("Resume" if self.bridge.paused else "Pause")
        self.pause_button.blockSignals(False)
        if state == "idle":
            self.refresh_timer.start()
            if self._query_when_idle:  # the sample photos are in: show the example query
                self._query_when_idle = False
                self.run_query()

    def show_progress(self, event: IndexProgress) -> None:
        if event.phase == "done" or event.total <= 0:
            self.progress_bar.hide()
            return
        if event.phase == "scan":
            self.state_label.setText(f"Looking for photos… {event.done:,} found")
            return
        self.progress_bar.show()
        self.progress_bar.setRange(0, event.total)
        self.progress_bar.setValue(event.done)
        self.progress_bar.setFormat(f"{event.done:,} / {event.total:,}")
        parts = ["Paused" if self.bridge.paused else "Indexing"]
        if event.rate > 0:
            parts.append(f"{event.rate:.1f} photos/s")
            left = (event.total - event.done) / event.rate
            parts.append(f"about {human_duration(left)} left")
        if event.current:
            parts.append(os.path.basename(event.current))
        self.state_label.setText(" · ".join(parts))

    def set_paused(self, paused: bool) -> None:
        if paused:
            self.bridge.pause()
        else:
            self.bridge.resume()
        self.pause_button.setText("Resume" if paused else "Pause")

    # -- photos -------------------------------------------------------------------------
    def open_viewer(self, index: QModelIndex) -> None:
        from photo_tagger.gui.viewer import PhotoViewer

        if not index.isValid():
            return
        viewer = PhotoViewer(self.context, self.photos, index.row(), self)
        viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        viewer.show()
        self.viewer = viewer

    def _photo_menu(self, point: QPoint) -> None:
        index = self.grid.indexAt(point)
        if not index.isValid():
            return
        if not self.grid.selectionModel().isSelected(index):
            self.grid.setCurrentIndex(index)
        self.photo_menu(index).exec(self.grid.viewport().mapToGlobal(point))

    def photo_menu(self, index: QModelIndex) -> QMenu:
        """The actions on a photo (the grid's context menu)."""
        path = str(index.data(PathRole))
        photo_id = int(index.data(PhotoIdRole))
        # Tag edits apply to the whole selection when the clicked photo is part of it.
        selected = self.grid.selected_paths()
        targets = selected if path in selected else [path]
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.open_viewer(index))
        menu.addAction("Open in System Viewer",
                       lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(path)))
        menu.addAction("Show in File Manager", lambda: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(Path(path).parent))))
        menu.addAction("Copy Path", lambda: QGuiApplication.clipboard().setText(path))
        menu.addSeparator()
        menu.addAction("Find Similar", lambda: self.find_similar(photo_id))
        menu.addAction("Add Tag…", lambda: self.ask_add_tag(targets))
        remove = menu.addMenu("Remove Tag")
        for tag in self.reader.tags_of(photo_id):
            remove.addAction(tag.tag, lambda t=tag.tag: self.set_tag(targets, t, False))
        remove.setEnabled(not remove.isEmpty())
        return menu

    def ask_add_tag(self, paths: list[str]) -> None:
        tag, ok = QInputDialog.getItem(self, "Add tag", "Tag (any language):", self.known_tags,
                                       0, True)
        if ok and tag.strip():
            self.set_tag(paths, tag.strip(), True)

    def set_tag(self, paths: list[str], tag: str, present: bool,
                done: Any = None) -> None:
        """Put a tag on photos (or take it off) by hand; the service writes it."""
        self.context.set_tag(paths, tag, present, parent=self, done=done)

    # -- dialogs ------------------------------------------------------------------------
    def open_labels(self) -> None:
        from photo_tagger.gui.labels_dialog import LabelsEditor

        self._dialog("labels", lambda: LabelsEditor(self.context, self))

    def open_duplicates(self) -> None:
        from photo_tagger.gui.duplicates import DuplicatesDialog

        self._dialog("duplicates", lambda: DuplicatesDialog(self.context, self))

    def open_settings(self) -> None:
        from photo_tagger.gui.settings_dialog import SettingsDialog

        self._dialog("settings", lambda: SettingsDialog(self.context, self))

    def _dialog(self, name: str, make: Any) -> None:
        existing = getattr(self, f"{name}_dialog", None)
        if existing is not None and existing.isVisible():
            existing.raise_()
            existing.activateWindow()
            return
        dialog = make()
        setattr(self, f"{name}_dialog", dialog)
        dialog.show()

    # -- drag and drop of folders ---------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        if any(p.is_dir() for p in dropped_paths(event)):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        folders = [p for p in dropped_paths(event) if p.is_dir()]
        for folder in folders:
            self.add_folder(folder)
        if folders:
            event.acceptProposedAction()

    # -- shutdown -----------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the service, the watcher and the thumbnail threads; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("splitter", self.browser.saveState())
        self.settings.sync()
        self._search_timer.stop()
        self.refresh_timer.stop()
        for name in ("labels", "duplicates", "settings"):
            dialog = getattr(self, f"{name}_dialog", None)
            if dialog is not None:
                dialog.close()
        self.bridge.stop()
        self.loader.shutdown()
        self.reader.close()
        log.info("Window closed; the service and its threads are stopped.")

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.empty_label.isVisible():
            self.empty_label.resize(self.grid.viewport().size())

