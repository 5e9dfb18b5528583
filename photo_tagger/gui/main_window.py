"""The main window: search box, thumbnail grid, sidebar of folders and tags, status bar with
indexing progress, and the first-run welcome page. It displays and calls the core only."""

from __future__ import annotations

import html
import itertools
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QByteArray,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QSettings,
    Qt,
    QTimer,
    QUrl,
)
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
    QComboBox,
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
from photo_tagger.core import albums as album_api
from photo_tagger.core.browse import (
    STATE_TEXT,
    AlbumCounter,
    AlbumRow,
    BrowseController,
    Filters,
    Listing,
    Query,
    SidebarCounts,
    SimilarSearch,
    TextSearch,
    album_query,
    explanation_text,
    plural,
    state_text,
)
from photo_tagger.core.indexer import IndexProgress
from photo_tagger.core.languages import weak_language_warning
from photo_tagger.core.query import SYNTAX
from photo_tagger.core.search import SearchAnswer, SearchResult
from photo_tagger.core.store import Library
from photo_tagger.core.switch import SwitchProgress, needs_background_switch, switch_notice
from photo_tagger.demo.samples import SAMPLE_QUERY, sample_folder, write_samples
from photo_tagger.gui.bridge import ServiceBridge
from photo_tagger.gui.context import WindowContext, int_setting
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
        self._hold_tag_order = False  # True after the user's own edit: see library_edited
        self.setWindowTitle("Photo Tagger")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.thumb_size = int_setting(settings, "thumbnail_size", THUMBNAIL_SIZE)

        self.loader = ThumbnailLoader(thumbnail_dir(home), parent=self)
        self.photos = PhotoListModel(self.loader, self)
        self.folders = SidebarListModel(self)
        self.tags = SidebarListModel(self)
        self.albums = SidebarListModel(self)  # saved searches, with live counts
        self._album_counter = AlbumCounter()  # used on the reading thread only
        self.context = WindowContext(
            reader=self.reader, bridge=bridge, thumbnails=self.loader, settings=settings,
            known_tags=lambda: self.known_tags, thumb_size=lambda: self.thumb_size,
            set_thumb_size=self.set_thumb_size, use_model=self.use_model,
            find_similar=self.find_similar, library_edited=self.library_edited)
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
        self.help_button = QToolButton(top)
        self.help_button.setText("?")
        self.help_button.setToolTip("Search syntax (F1)")
        self.help_button.clicked.connect(self.show_search_help)
        top_layout.addWidget(self.help_button)
        self.sort_box = QComboBox(top)
        self.sort_box.addItem("Relevance", "relevance")
        self.sort_box.addItem("Date", "date")
        self.sort_box.setToolTip("Order of the results (the same as typing sort:date)")
        top_layout.addWidget(self.sort_box)
        self.context_label = QLabel(top)
        self.context_label.setObjectName("mutedText")
        top_layout.addWidget(self.context_label)
        self.weaker_button = QPushButton(top)
        self.weaker_button.setFlat(True)
        self.weaker_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.weaker_button.setToolTip("Show the whole ranking, below where matches end")
        self.weaker_button.hide()
        top_layout.addWidget(self.weaker_button)
        self.top_buttons: list[QToolButton] = []
        for text, slot, tip in (("Labels", self.open_labels, "Edit the tags photos get (Ctrl+L)"),
                                ("Duplicates", self.open_duplicates,
                                 "Find near-duplicates (Ctrl+D)"),
                                ("Settings", self.open_settings,
                                 "Model, threads, folders (Ctrl+,)")):
            button = QToolButton(top)
            button.setText(text)
            button.setToolTip(tip)
            self.top_buttons.append(button)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.clicked.connect(slot)
            top_layout.addWidget(button)
        outer.addWidget(top)
        # Said under the search box when the query is in a language the model is weak at.
        self.language_note = QLabel(central)
        self.language_note.setObjectName("languageNote")
        self.language_note.setWordWrap(True)
        self.language_note.setContentsMargins(14, 0, 14, 6)
        self.language_note.hide()
        outer.addWidget(self.language_note)

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
        side.addSpacing(6)
        side.addWidget(self._section("SAVED SEARCHES", sidebar))
        self.album_view = QListView(sidebar)
        self.album_view.setObjectName("albumList")
        self.album_view.setModel(self.albums)
        self.album_view.setItemDelegate(SidebarDelegate(self.album_view))
        self.album_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        side.addWidget(self.album_view, 2)
        self.save_search_button = QPushButton("+  Save search…", sidebar)
        self.save_search_button.setFlat(True)
        self.save_search_button.setToolTip("Save the query in the search box as a smart album")
        self.save_search_button.clicked.connect(self.ask_save_search)
        side.addWidget(self.save_search_button)
        for view in (self.folder_view, self.tag_view, self.album_view):
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
        # Tab goes search → photos → folders → tags; the top bar's buttons, which have
        # shortcuts, come after the lists instead of between the search box and the grid.
        chain = [self.search, self.grid, self.folder_view, self.tag_view, add_folder,
                 self.album_view, self.save_search_button, *self.top_buttons]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

        status = self.statusBar()
        self.state_label = QLabel(STATE_TEXT["loading-model"], self)
        self.switch_label = QLabel(self)  # a background model switch, while one runs
        self.switch_label.setObjectName("mutedText")
        self.switch_label.hide()
        status.addWidget(self.state_label, 1)
        status.addWidget(self.switch_label)
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
        self.count_label.setTextFormat(Qt.TextFormat.RichText)
        self.count_label.setToolTip("Photos in the library; click “skipped” for why")
        self.count_label.linkActivated.connect(lambda _: self.show_skipped())
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
        """Every action in a menu, each with a shortcut (Help ▸ Keyboard Shortcuts lists
        them from here, so the list cannot go stale)."""
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&Add Folder…", self.choose_folder, "Ctrl+O")
        self._action(file_menu, "&Rescan Folders", self.bridge.service.rescan, "F5")
        self.pause_action = self._action(file_menu, "&Pause or Resume Indexing",
                                         self.pause_button.toggle, "Ctrl+P")
        self._action(file_menu, "S&kipped Files…", self.show_skipped, "Ctrl+K")
        file_menu.addSeparator()
        self.quit_action = self._action(file_menu, "&Quit", self.close, "Ctrl+Q")
        edit_menu = bar.addMenu("&Edit")
        self._action(edit_menu, "&Find", self.focus_search, "Ctrl+F")
        self._action(edit_menu, "Sa&ve Search…", self.ask_save_search, "Ctrl+Shift+F")
        self._action(edit_menu, "Select &All", self.grid.selectAll, "Ctrl+A")
        view_menu = bar.addMenu("&View")
        self._action(view_menu, "&Larger Thumbnails", lambda: self.set_thumb_size(
            self.thumb_size + 40), "Ctrl++")
        self._action(view_menu, "&Smaller Thumbnails", lambda: self.set_thumb_size(
            self.thumb_size - 40), "Ctrl+-")
        self._action(view_menu, "Show &All Photos", self.show_all, "Ctrl+0")
        view_menu.addSeparator()
        self._action(view_menu, "Go to &Photos", self.grid.setFocus, "Ctrl+1")
        self._action(view_menu, "Go to F&olders", self.folder_view.setFocus, "Ctrl+2")
        self._action(view_menu, "Go to &Tags", self.tag_view.setFocus, "Ctrl+3")
        photo_menu = bar.addMenu("&Photo")
        self.photo_actions = {
            name: self._action(photo_menu, name, slot, keys) for name, slot, keys in (
                ("Open", self.open_current, "Return"),
                ("Quick Preview", self.open_current, "Space"),
                ("Open in System Viewer", lambda: self._each_photo(self.open_externally),
                 "Ctrl+Return"),
                ("Show in File Manager", lambda: self._each_photo(self.reveal), "Ctrl+Shift+R"),
                ("Copy Path", self.copy_paths, "Ctrl+Shift+C"),
                ("Find Similar", self.find_similar_to_current, "Ctrl+Shift+S"),
                ("Why This Photo?", self.explain_current, "Ctrl+I"),
                ("Add Tag…", lambda: self.ask_add_tag(self.photo_targets()), "Ctrl+T"),
                ("Remove Tag…", lambda: self.ask_remove_tag(self.photo_targets()),
                 "Ctrl+Shift+T"),
                ("Find More Like These…", lambda: self.ask_find_more(self.photo_targets()),
                 "Ctrl+Shift+M"))}
        for name in ("Open", "Quick Preview"):
            # Enter and Space belong to whatever has focus; on the grid they mean these.
            action = self.photo_actions[name]
            self.removeAction(action)
            self.grid.addAction(action)
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        photo_menu.insertSeparator(self.photo_actions["Find Similar"])
        tools = bar.addMenu("&Tools")
        self._action(tools, "&Labels…", self.open_labels, "Ctrl+L")
        self._action(tools, "&Duplicates…", self.open_duplicates, "Ctrl+D")
        self._action(tools, "&Review a Learning Tag…", self.ask_review, "Ctrl+R")
        # Written out: QKeySequence.Preferences is empty on Linux and Windows.
        self._action(tools, "&Settings…", self.open_settings, "Ctrl+,")
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard Shortcuts", self.show_shortcuts, "Ctrl+/")
        self._action(help_menu, "&Search Syntax", self.show_search_help, "F1")
        self._action(help_menu, "&About Photo Tagger", self.show_about, "Ctrl+Shift+A")
        self.folder_actions = {
            name: self._folder_action(name, slot, keys) for name, slot, keys in (
                ("Show in File Manager", lambda e: QDesktopServices.openUrl(
                    QUrl.fromLocalFile(e.key)), "Ctrl+Shift+R"),
                ("Rescan", lambda e: self.bridge.service.rescan(), "F5"),
                ("Remove from Library…", self.remove_folder, "Delete"))}

    def _action(self, menu: QMenu, text: str, slot: Any, shortcut: str | None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _=False: slot())
        menu.addAction(action)
        self.addAction(action)
        return action

    def _folder_action(self, text: str, slot: Any, shortcut: str) -> QAction:
        """An action on the folder chosen in the sidebar; its keys work there."""
        action = QAction(text, self.folder_view)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)

        def run() -> None:
            index = self.folder_view.currentIndex()
            if index.isValid() and index.data(KeyRole) is not None:
                slot(self.folders.entry(index.row()))

        action.triggered.connect(lambda _=False: run())
        self.folder_view.addAction(action)
        return action

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(keys, what they do) for Help ▸ Keyboard Shortcuts: the menus' actions, then
        the keys that belong to a place rather than to a menu."""
        rows = []
        for menu_action in self.menuBar().actions():
            menu = menu_action.menu()
            for action in menu.actions() if isinstance(menu, QMenu) else []:
                keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                if keys:
                    where = menu_action.text().replace("&", "")
                    rows.append((keys, f"{where} ▸ {action.text().replace('&', '')}"))
        rows += [
            ("Tab / Shift+Tab", "Move between the search box, photos, folders and tags"),
            ("Down", "From the search box to the photos"),
            ("Delete", "Folders: remove the chosen folder from the library"),
            ("Left / Right", "Viewer: previous / next photo"),
            ("Escape / Space", "Viewer: close"),
            ("Escape", "Search box: clear it"),
        ]
        return rows

    def _connect(self) -> None:
        self.search.textEdited.connect(lambda _: self._search_timer.start())
        self.search.returnPressed.connect(self.run_query)
        self.search.textChanged.connect(self._text_changed)
        self.search.image_dropped.connect(self.find_similar_to_file)
        self._search_timer.timeout.connect(self.run_query)
        self.refresh_timer.timeout.connect(self._refresh_after_change)
        self.folder_view.clicked.connect(lambda _: self.apply_filters())
        self.folder_view.selectionModel().selectionChanged.connect(self._folder_chosen)
        self.folder_view.customContextMenuRequested.connect(self._folder_menu)
        self.tag_view.clicked.connect(self._tag_clicked)
        self.album_view.clicked.connect(self._album_clicked)
        self.album_view.customContextMenuRequested.connect(self._album_menu)
        self.weaker_button.clicked.connect(self.show_weaker)
        self.sort_box.currentIndexChanged.connect(lambda _: self.run_query())
        self.grid.activated.connect(self.open_viewer)
        self.grid.quick_preview.connect(self.open_viewer)
        self.grid.customContextMenuRequested.connect(self._photo_menu)
        self.bridge.state_changed.connect(self._state_changed)
        self.bridge.progress.connect(self.show_progress)
        self.bridge.library_changed.connect(self._library_changed)
        self.bridge.model_ready.connect(self._model_ready)
        self.bridge.switch_progress.connect(self._switch_progress)
        self.bridge.model_failed.connect(self.banner.show_failure)
        self.bridge.model_failed.connect(lambda _: self._model_state_changed())
        self.search.leave_down.connect(self._search_to_grid)
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

    def _search_to_grid(self) -> None:
        """Down in the search box: on to the photos, at the current one (or the first)."""
        self.grid.setFocus(Qt.FocusReason.TabFocusReason)
        if not self.grid.currentIndex().isValid() and self.photos.rowCount():
            self.grid.setCurrentIndex(self.photos.index(0, 0))

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def filters(self) -> Filters:
        """What the user chose now: the search box's text, the sidebar's folder and tag."""
        return Filters(self.search.text(), self.current_folder(), self.current_tag(),
                       str(self.sort_box.currentData()))

    def _text_changed(self, text: str) -> None:
        self.browse.text_changed(text)
        warning = weak_language_warning(text, self.bridge.model_id or self.reader.model_id)
        self.language_note.setText(warning or "")
        self.language_note.setVisible(warning is not None)

    @property
    def pending_count(self) -> int:
        """Photos waiting for the model, from the last sidebar counts."""
        return self._pending_count

    def _folder_chosen(self) -> None:
        self._hold_tag_order = False  # another folder's tags: sorted afresh
        self.apply_filters()
        self.refresh_sidebar()  # the tag counts follow the folder

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
        def answered(results: Sequence[SearchResult] | None,
                     error: BaseException | None) -> None:
            self.show_results(query.request, results, error)

        if isinstance(query, SimilarSearch):
            self.bridge.similar(query.target, query.limit, answered)
        elif isinstance(query, TextSearch):
            self.bridge.find(query.text, query.limit, answered, everything=query.everything,
                             folder=query.folder, tags=query.tags)
        elif isinstance(query, Listing):
            self.bridge.read(query.run, answered)

    def show_results(self, request: int,
                     results: Sequence[SearchResult] | SearchAnswer | None,
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
        selected = self.grid.selected_paths()

        def shown() -> None:
            if self._closed:
                return
            self._restore_place(current, anchor, selected)
            self._update_context(len(answer.results))

        self.photos.set_results(answer.results, shown)

    def _restore_place(self, current: str | None, anchor: str | None,
                       selected: list[str]) -> None:
        """After the rows were replaced: the current photo, the selection and the top-left
        photo where they were, as far as the new rows still hold them."""
        rows = self.photos.rows_of_paths([current, anchor, *selected])
        current_row = rows.get(current) if current is not None else None
        if current_row is not None:
            self.grid.setCurrentIndex(self.photos.index(current_row, 0))
        self._reselect_photos([rows[path] for path in selected if path in rows])
        anchor_row = rows.get(anchor) if anchor is not None else None
        if anchor_row is not None:
            self.grid.bring_into_view(anchor_row, QAbstractItemView.ScrollHint.PositionAtTop)
        elif current_row is not None:
            self.grid.bring_into_view(current_row)
        else:
            self.grid.bring_into_view(0, QAbstractItemView.ScrollHint.PositionAtTop)

    def _reselect_photos(self, rows: list[int]) -> None:
        """Select `rows` again after the rows were replaced: tagging a selection refreshes
        the grid, and the selection must survive it."""
        if len(rows) < 2:
            return  # one photo: the current index already is the selection
        selection = QItemSelection()
        for row in rows:
            index = self.photos.index(row, 0)
            selection.select(index, index)
        self.grid.selectionModel().select(selection,
                                          QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def _update_context(self, count: int) -> None:
        filters = self.filters()
        self.context_label.setText(self.browse.heading(filters, count))
        weaker = self.browse.weaker_text()
        self.weaker_button.setText(weaker)
        self.weaker_button.setVisible(bool(weaker))
        if count:
            self.empty_label.hide()
            return
        self.empty_label.setText(self.browse.empty_message(
            filters, pending=self._pending_count, model_error=self.bridge.model_error,
            state=self.bridge.state))
        self.empty_label.resize(self.grid.viewport().size())
        self.empty_label.show()

    def show_weaker(self) -> None:
        """"Show 1,203 weaker matches": the whole ranking, as `search --all` gives."""
        self.browse.show_weaker()
        self.run_query()

    def explain_current(self) -> None:
        index = self.grid.currentIndex()
        if index.isValid():
            self.explain(self.photos.result(index.row()))

    def explain(self, result: SearchResult) -> None:
        """"Why this photo?": the core's breakdown for the shown query, computed on the
        service thread (it may need the query's vectors), shown in a message box."""
        found = self.browse.found
        if found is None:
            return
        query = self.filters()
        folder, tag = query.folder, query.tag

        def job(library: Library, indexer: object) -> str:
            searcher = self.bridge.service.searcher
            assert searcher is not None
            parsed = searcher.expand(query.query)
            if folder is not None:
                parsed.folders.append(folder)
            if tag is not None:
                parsed.tags.append(tag)
            return explanation_text(result.path, searcher.explain(parsed, result.photo_id))

        def show(text: str | None, error: BaseException | None) -> None:
            if self._closed:
                return
            box = QMessageBox(QMessageBox.Icon.NoIcon, "Why this photo?",
                              f"Cannot explain: {error}" if error is not None else text or "",
                              QMessageBox.StandardButton.Close, self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.why_box = box
            box.show()

        self.bridge.submit(job, show)

    def find_similar(self, photo_id: int) -> None:
        self.browse.find_similar(photo_id)
        self.search.clear()
        self.run_query()

    def find_similar_to_file(self, path: Path) -> None:
        self.browse.find_similar(Path(path))
        self.search.clear()
        self.statusBar().showMessage(f"Photos like {path.name}", 5000)
        self.run_query()

    def show_skipped(self) -> None:
        """The files indexing skipped, with why; read on the reading thread."""
        from photo_tagger.gui.lists import SkippedDialog

        dialog = SkippedDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.skipped_dialog = dialog
        self.bridge.read(lambda library: library.skipped(),
                         lambda rows, error: dialog.show_skipped(rows or [])
                         if error is None and not self._closed else None)
        dialog.show()

    def show_shortcuts(self) -> None:
        from photo_tagger.gui.lists import ShortcutsDialog

        self._dialog("shortcuts", lambda: ShortcutsDialog(self.shortcut_rows(), self))

    def show_search_help(self) -> None:
        """The cheat sheet: the syntax table (core/query.py's `SYNTAX`), non-modal so
        the user can type while reading it."""
        rows = "".join(f"<tr><td><code>{html.escape(term)}</code></td>"
                       f"<td>{html.escape(meaning)}</td></tr>" for term, meaning in SYNTAX)
        text = ("<p>Type what you are looking for, in any language. Only the photos that "
                "match are shown; the rest of the ranking is one click away.</p>"
                f"<table cellspacing='6'>{rows}</table>"
                "<p>Filters combine (all must hold) with the folder and tag chosen on the "
                "left. Escape clears the box; <code>tag:</code> and <code>folder:</code> "
                "complete as you type. Drop an image onto the box to find similar photos.</p>")
        existing = getattr(self, "search_help", None)
        if existing is not None and existing.isVisible():
            existing.raise_()
            return
        box = QMessageBox(QMessageBox.Icon.NoIcon, "Search syntax", text,
                          QMessageBox.StandardButton.Close, self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.search_help = box
        box.show()

    def show_about(self) -> None:
        QMessageBox.about(self, "About Photo Tagger", (
            "<h3>Photo Tagger</h3><p>Offline photo search and multilingual tagging with "
            "SigLIP 2. Your photos never leave this computer.</p>"
            f"<p>Library: {self.home}</p>"))

    # -- sidebar ------------------------------------------------------------------------
    def refresh_sidebar(self) -> None:
        """Folder and tag counts, counted on the reading thread: they are GROUP BYs over
        the whole library, too slow for this thread, and need no model. The tags are
        counted within the chosen folder."""
        folder = self.current_folder()
        self.bridge.read(lambda library: SidebarCounts.read(library, folder),
                         lambda counts, error: self._show_sidebar(counts)
                         if error is None and not self._closed else None)
        self.refresh_albums()

    # -- saved searches -----------------------------------------------------------------
    def refresh_albums(self) -> None:
        """The saved searches' live counts, from the stored vectors on the reading thread
        (no model, no re-embedding)."""
        self.bridge.read(self._album_counter.read,
                         lambda rows, error: self._show_albums(rows)
                         if error is None and not self._closed else None)

    def _show_albums(self, rows: list[AlbumRow]) -> None:
        self.albums.set_entries([SidebarEntry(row.name, row.name, row.count, row.query)
                                 for row in rows])

    def _album_clicked(self, index: QModelIndex) -> None:
        """Open a saved search: its `album:` term in the box, searched now."""
        name = index.data(KeyRole)
        if name is None:
            return
        self.search.setText(album_query(name))
        self.browse.text_changed(self.search.text())
        self.run_query()

    def _album_menu(self, point: QPoint) -> None:
        index = self.album_view.indexAt(point)
        if not index.isValid():
            return
        name = index.data(KeyRole)
        menu = QMenu(self)
        menu.addAction("Open", lambda: self._album_clicked(index))
        menu.addSeparator()
        menu.addAction("Remove Saved Search", lambda: self.remove_album(name))
        menu.exec(self.album_view.viewport().mapToGlobal(point))

    def ask_save_search(self) -> None:
        query = self.search.text().strip()
        if not query:
            self.statusBar().showMessage("Type a query first, then save it.", 5000)
            return
        name, ok = QInputDialog.getText(self, "Save search",
                                        f"Name for the saved search “{query}”:")
        if ok and name.strip():
            self.save_search(name.strip(), query)

    def save_search(self, name: str, query: str) -> None:
        """Save on the service thread: a new phrase is embedded once, with the model."""
        def job(library: Library, indexer: object) -> int:
            searcher = self.bridge.service.searcher
            assert searcher is not None
            return searcher.save_album(name, query)

        def saved(count: int | None, error: BaseException | None) -> None:
            if self._closed:
                return
            if error is not None:
                QMessageBox.warning(self, "Search not saved", str(error))
                return
            self.statusBar().showMessage(f"Saved “{name}” ({plural(count or 0, 'photo')})",
                                         5000)
            self.refresh_albums()

        self.bridge.submit(job, saved)

    def remove_album(self, name: str) -> None:
        self.bridge.submit(lambda library, indexer: album_api.remove_album(library, name),
                           lambda _, error: self.refresh_albums()
                           if not self._closed else None)

    def library_edited(self) -> None:
        """The user changed tags or labels: recount, but keep the tag list's order, so
        the row they work on does not jump away under the pointer."""
        self._hold_tag_order = True
        self.refresh_sidebar()

    def _tag_entries(self, counts: SidebarCounts) -> list[SidebarEntry]:
        entries = [SidebarEntry(t, t, c) for t, c in counts.tags]
        if not self._hold_tag_order:
            return entries
        # Held: tags keep their rows, new ones go at the end, gone ones leave.
        place = {self.tags.entry(row).key: row for row in range(self.tags.rowCount())}
        return sorted(entries, key=lambda e: place.get(e.key, len(place)))

    def _show_sidebar(self, counts: SidebarCounts) -> None:
        folder = self.current_folder()
        if counts.folder != folder:
            return  # counted for a folder no longer chosen; a newer count is on its way
        tag = self.current_tag()
        self.folders.set_entries(folder_entries(counts.folders, counts.folder_counts,
                                                counts.status["indexed"]))
        self.tags.set_entries(self._tag_entries(counts))
        if folder is not None and self.folders.row_of(folder) is None:
            # The chosen folder was removed: its grid is stale, go back to all photos.
            self.folder_view.setCurrentIndex(self.folders.index(0, 0))
            return
        self._reselect(self.folder_view, self.folders, folder, default_first=True)
        self._reselect(self.tag_view, self.tags, tag)
        self._pending_count = counts.status["pending"]
        self.known_tags = counts.known_tags
        self.search.set_terms(self.known_tags, [f.path for f in counts.folders])
        if not self.photos.rowCount():
            self._update_context(0)  # the empty grid's message depends on pending photos
        if self.bridge.state in ("idle", "loading-model", "paused"):
            self._show_state()
        text = counts.summary(with_skipped=False)
        if counts.skipped_text:
            text += f' · <a href="skipped">{counts.skipped_text}</a>'
        self.count_label.setText(text)

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
        self.folder_view.setCurrentIndex(index)
        menu = QMenu(self)
        for name, action in self.folder_actions.items():
            if name.startswith("Remove"):
                menu.addSeparator()
            menu.addAction(action)
        menu.exec(self.folder_view.viewport().mapToGlobal(point))

    def remove_folder(self, entry: SidebarEntry) -> None:
        answer = QMessageBox.question(
            self, "Remove folder",
            f"Stop watching {entry.key} and forget its {plural(entry.count or 0, 'photo')}?\n"
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
        if needs_background_switch(self.reader, model_id):
            # Said before it starts: search keeps working, and the disk space it needs.
            self.statusBar().showMessage(switch_notice(self.reader, model_id), 15000)
        self.bridge.set_model(model_id)

    def _switch_progress(self, progress: SwitchProgress | None) -> None:
        if progress is None:
            self.switch_label.hide()
            return
        self.switch_label.setText(
            f"Switching to {os.path.basename(progress.model_id) or progress.model_id}: "
            f"{progress.done} of {progress.total} photos (search uses the current model "
            "until then)")
        self.switch_label.show()

    def _model_state_changed(self) -> None:
        self._show_state()
        if not self.photos.rowCount():
            self._update_context(0)

    def _model_ready(self, model_id: str) -> None:
        self.banner.hide()
        self._model_state_changed()
        self.statusBar().showMessage(f"Model ready: {model_id}", 4000)
        if self.search.text().strip():
            self.run_query()

    def _service_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)

    # -- status bar ---------------------------------------------------------------------
    def _state_changed(self, state: str) -> None:
        if state in ("scanning", "indexing"):
            self._hold_tag_order = False  # the library changes by itself now: re-sort
        self._show_state()
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

    def _show_state(self) -> None:
        """The state in words, with what waits; progress events replace it while indexing."""
        self.state_label.setText(state_text(self.bridge.state, pending=self._pending_count,
                                            model_error=self.bridge.model_error))

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
        if index.isValid():
            self.photo_menu(index).exec(self.grid.viewport().mapToGlobal(point))

    def photo_menu(self, index: QModelIndex) -> QMenu:
        """The actions on a photo (the grid's context menu): the Photo menu's, on the
        selection when the clicked photo is part of it, else on the clicked photo."""
        if not self.grid.selectionModel().isSelected(index):
            self.grid.setCurrentIndex(index)
        targets = self.photo_targets()
        menu = QMenu(self)
        for name, action in self.photo_actions.items():
            if name == "Quick Preview":
                continue
            if name == "Find Similar":
                menu.addSeparator()
            if name == "Why This Photo?" and self.browse.found is None:
                continue  # a listing or a similar search: nothing to explain
            if name == "Remove Tag…":
                remove = menu.addMenu("Remove Tag")
                for tag in self.tags_of_photos(targets):
                    def untag(t: str = tag) -> None:
                        self.set_tag(targets, t, False)
                    remove.addAction(tag, untag)
                remove.setEnabled(not remove.isEmpty())
                continue
            menu.addAction(action)
        return menu

    def photo_targets(self) -> list[str]:
        """The paths photo actions work on: the selection, else the current photo."""
        selected = self.grid.selected_paths()
        current = self.grid.currentIndex()
        if not selected and current.isValid():
            selected = [str(current.data(PathRole))]
        return selected

    def _each_photo(self, act: Any) -> None:
        for path in self.photo_targets()[:20]:  # a stray Ctrl+A must not open thousands
            act(path)

    @staticmethod
    def open_externally(path: str) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    @staticmethod
    def reveal(path: str) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))

    def copy_paths(self) -> None:
        paths = self.photo_targets()
        if paths:
            QGuiApplication.clipboard().setText("\n".join(paths))

    def open_current(self) -> None:
        self.open_viewer(self.grid.currentIndex())

    def find_similar_to_current(self) -> None:
        index = self.grid.currentIndex()
        if index.isValid():
            self.find_similar(int(index.data(PhotoIdRole)))

    def tags_of_photos(self, paths: list[str]) -> list[str]:
        """Every tag on any of these photos, by name: what Remove Tag offers."""
        ids = [self.photos.result(row).photo_id
               for row in self.photos.rows_of_paths(paths).values()]
        return sorted({tag.tag for photo_id in ids for tag in self.reader.tags_of(photo_id)},
                      key=str.casefold)

    def tag_dialog(self, title: str, tags: list[str], *, editable: bool) -> QInputDialog:
        """The tag chooser: starts empty, so Enter alone tags nothing."""
        dialog = QInputDialog(self)
        dialog.setWindowTitle(title)
        dialog.setLabelText("Tag (any language):" if editable else "Tag:")
        dialog.setComboBoxItems(tags)
        dialog.setComboBoxEditable(editable)
        dialog.setTextValue("")
        return dialog

    def ask_add_tag(self, paths: list[str]) -> None:
        if not paths:
            return
        dialog = self.tag_dialog(f"Add a tag to {plural(len(paths), 'photo')}",
                                 self.known_tags, editable=True)
        if dialog.exec() and dialog.textValue().strip():
            self.set_tag(paths, dialog.textValue().strip(), True)

    def ask_remove_tag(self, paths: list[str]) -> None:
        tags = self.tags_of_photos(paths)
        if not tags:
            return
        dialog = self.tag_dialog(f"Remove a tag from {plural(len(paths), 'photo')}", tags,
                                 editable=False)
        dialog.setTextValue(tags[0])
        if dialog.exec() and dialog.textValue():
            self.set_tag(paths, dialog.textValue(), False)

    def ask_find_more(self, paths: list[str]) -> None:
        """Teach a tag by example: the selection is its first photos, the tag learns."""
        if not paths:
            return
        dialog = self.tag_dialog(f"Find more like {plural(len(paths), 'photo')}",
                                 self.known_tags, editable=True)
        dialog.setLabelText("Name for what these photos show (a new or existing tag):")
        if dialog.exec() and dialog.textValue().strip():
            self.context.find_more(paths, dialog.textValue().strip(), parent=self)

    def set_tag(self, paths: list[str], tag: str, present: bool,
                done: Any = None) -> None:
        """Put a tag on photos (or take it off) by hand; the service writes it."""
        self.context.set_tag(paths, tag, present, parent=self, done=done)

    # -- dialogs ------------------------------------------------------------------------
    def open_labels(self) -> None:
        from photo_tagger.gui.labels_dialog import LabelsEditor

        self._dialog("labels", lambda: LabelsEditor(self.context, self))

    def ask_review(self) -> None:
        dialog = self.tag_dialog("Review a tag that learns", self.known_tags, editable=True)
        if dialog.exec() and dialog.textValue().strip():
            self.open_review(dialog.textValue().strip())

    def open_review(self, tag: str) -> None:
        from photo_tagger.gui.review_dialog import ReviewDialog

        self._dialog("review", lambda: ReviewDialog(self.context, tag, self))

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
        for name in ("labels", "duplicates", "settings", "shortcuts", "search_help", "why_box"):
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

