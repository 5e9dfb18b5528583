"""`photo-tagger watch`: the indexing service in the foreground, until Ctrl-C or SIGTERM,
or until the service stops by itself (a library it cannot open or work on): then it exits
non-zero with the reason. No Qt here."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from photo_tagger.cli.common import CommandError, Subcommands, add_common_options
from photo_tagger.config import POLL_INTERVAL_SECONDS, SETTLE_SECONDS, requested_model
from photo_tagger.paths import home_dir

log = logging.getLogger("photo_tagger.watch")


def cmd_watch(args: argparse.Namespace) -> int:
    from photo_tagger.core.service import (
        ErrorReported,
        IndexingService,
        ModelFailed,
        Progress,
        ServiceEvent,
        StateChanged,
    )
    from photo_tagger.core.store import Library
    from photo_tagger.paths import library_path

    folders = [Path(f) for f in args.folders]
    for folder in folders:
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
    home = home_dir(getattr(args, "home", None))
    if not folders:
        with Library(library_path(home)) as library:
            if not library.folders():
                raise CommandError("The library has no folders yet. Give one: "
                                   "`photo-tagger watch FOLDER`.")
    _configure_logging(args.verbose)
    done = threading.Event()
    asked_to_stop = threading.Event()
    last_error = ""

    def on_event(event: ServiceEvent) -> None:
        nonlocal last_error
        if isinstance(event, StateChanged):
            log.info("State: %s", event.state)
            if event.state == "stopped":
                done.set()
        elif isinstance(event, ModelFailed):
            log.error("%s", event.message)
        elif isinstance(event, ErrorReported):
            log.error("%s", event.message)
            last_error = event.message
        elif isinstance(event, Progress) and args.verbose:
            progress = event.progress
            log.debug("Progress: %s %d/%d", progress.phase, progress.done, progress.total)

    service = IndexingService(home, requested_model(getattr(args, "model", None)),
                              on_event=on_event, settle=args.settle,
                              poll_interval=args.poll_interval)

    def ask_to_stop(signum: int, frame: object) -> None:
        log.info("Stopping (%s)…", signal.Signals(signum).name)
        asked_to_stop.set()
        done.set()

    previous = {sig: signal.signal(sig, ask_to_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        service.start()
        for folder in folders:
            service.add_folder(folder)
        while not done.wait(0.5):
            pass
    finally:
        service.stop(timeout=2.0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("Stopped.")
    if not asked_to_stop.is_set():
        # The service ended on its own: it reported why as its last error.
        raise CommandError(f"The indexing service stopped: {last_error or 'no reason given'}")
    if args.fast_exit and not service.running:
        # Everything is saved and closed; tearing down torch and transformers module by
        # module takes 1–2 s more here, past the 2 s a service manager allows.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


class _BriefFormatter(logging.Formatter):
    """Log lines without tracebacks: the service logs the error's message as well."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return ""

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return ""


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    # Tracebacks are for whoever debugs with -v; a user reads the one-line reason.
    formatter = logging.Formatter if verbose else _BriefFormatter
    handler.setFormatter(formatter(
        "%(asctime)s.%(msecs)03d %(levelname)s %(message)s", "%H:%M:%S"))
    root = logging.getLogger("photo_tagger")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def add_watch(sub: Subcommands) -> None:
    watch = sub.add_parser(
        "watch", help="index and keep watching folders in the foreground (Ctrl-C stops)")
    add_common_options(watch)
    watch.add_argument("folders", nargs="*",
                       help="folders to add and watch (default: the library's folders)")
    watch.add_argument("--settle", type=float, default=SETTLE_SECONDS,
                       help="seconds a new file must stay unchanged before it is indexed")
    watch.add_argument("--poll-interval", type=float, default=POLL_INTERVAL_SECONDS,
                       help="seconds between scans of folders that are polled (network shares)")
    watch.add_argument("--no-fast-exit", dest="fast_exit", action="store_false",
                       help=argparse.SUPPRESS)  # for calling main() in-process
    watch.add_argument("-v", "--verbose", action="store_true", help="log progress too")
    watch.set_defaults(func=cmd_watch)
