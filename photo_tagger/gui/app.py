"""Starting the window: `run_app` for `photo-tagger` with no arguments, `create_main_window`
for the self-test and the tests. Shows the window first; the model loads on the service thread.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import cast

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from photo_tagger.config import requested_model
from photo_tagger.core.responsiveness import hand_over_the_gil_sooner, preload_torch_library
from photo_tagger.gui.bridge import ServiceBridge
from photo_tagger.gui.icons import app_icon
from photo_tagger.gui.main_window import MainWindow
from photo_tagger.gui.style import apply_style
from photo_tagger.paths import APP_NAME, home_dir

log = logging.getLogger(__name__)


def window_settings(home: Path) -> QSettings:
    """The window's own settings (geometry, thumbnail size, threads), kept with the library."""
    return QSettings(str(Path(home) / "window.ini"), QSettings.Format.IniFormat)


def ensure_application() -> QApplication:
    existing = QApplication.instance()
    if existing is not None:
        # This process makes only QApplications (here, the self-test, pytest-qt).
        app = cast(QApplication, existing)
    else:
        app = QApplication(sys.argv[:1])
        app.setApplicationName(APP_NAME)
        app.setApplicationDisplayName("Photo Tagger")
        app.setOrganizationName(APP_NAME)
        app.setDesktopFileName(APP_NAME)
        apply_style(app)
    app.setWindowIcon(app_icon())
    return app


def create_main_window(home: Path, model_id: str | None, **service_options: object
                       ) -> MainWindow:
    """Build the window and start the service, without entering the event loop.
    `window.close()` (or `window.shutdown()`) stops the service and every thread."""
    ensure_application()
    preload_torch_library()  # its 0.4 s pause happens before the window shows, not after
    hand_over_the_gil_sooner()
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    settings = window_settings(home)
    threads = settings.value("threads")
    bridge = ServiceBridge(home, model_id, threads=int(threads) if threads else None,
                           **service_options)  # type: ignore[arg-type]
    window = MainWindow(home, bridge, settings)
    bridge.setParent(window)
    bridge.start()
    return window


def run_app(home: str | Path | None = None, model: str | None = None) -> int:
    """The desktop app's main loop; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = ensure_application()
    window = create_main_window(home_dir(home), requested_model(model))
    window.show()
    # Ctrl-C or SIGTERM closes the window the normal way (the service and watcher stop).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: window.close())
    ticker = QTimer(window)  # lets the interpreter run signal handlers during exec()
    ticker.timeout.connect(lambda: None)
    ticker.start(250)
    code = app.exec()
    window.shutdown()
    return int(code)
