"""`photo-tagger watch`: the indexing service in the foreground, until Ctrl-C or SIGTERM.
No Qt here."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from photo_tagger.config import requested_model
from photo_tagger.paths import home_dir

log = logging.getLogger("photo_tagger.watch")


def cmd_watch(args: argparse.Namespace) -> int:
    from photo_tagger.cli import CommandError
    from photo_tagger.core.service import IndexingService, ServiceEvent
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

    def on_event(event: ServiceEvent) -> None:
        if event.kind == "state":
            log.info("State: %s", event.data)
        elif event.kind == "model-failed" or event.kind == "error":
            log.error("%s", event.data)
        elif event.kind == "progress" and args.verbose:
            progress: Any = event.data
            log.debug("Progress: %s %d/%d", progress.phase, progress.done, progress.total)
        if event.kind == "state" and event.data == "stopped":
            done.set()

    service = IndexingService(home, requested_model(getattr(args, "model", None)),
                              on_event=on_event, settle=args.settle,
                              poll_interval=args.poll_interval)

    def ask_to_stop(signum: int, frame: object) -> None:
        log.info("Stopping (%s)…", signal.Signals(signum).name)
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
    if args.fast_exit and not service.running:
        # Everything is saved and closed; tearing down torch and transformers module by
        # module takes 1–2 s more here, past the 2 s a service manager allows.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        "%(asctime)s.%(msecs)03d %(levelname)s %(message)s", "%H:%M:%S"))
    root = logging.getLogger("photo_tagger")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `watch` to the `photo-tagger` command (see cli._EXTRA_COMMANDS)."""
    watch = sub.add_parser(
        "watch", help="index and keep watching folders in the foreground (Ctrl-C stops)")
    common(watch)
    watch.add_argument("folders", nargs="*",
                       help="folders to add and watch (default: the library's folders)")
    watch.add_argument("--settle", type=float, default=0.75,
                       help="seconds a new file must stay unchanged before it is indexed")
    watch.add_argument("--poll-interval", type=float, default=5.0,
                       help="seconds between scans of folders that are polled (network shares)")
    watch.add_argument("--no-fast-exit", dest="fast_exit", action="store_false",
                       help=argparse.SUPPRESS)  # for calling main() in-process
    watch.add_argument("-v", "--verbose", action="store_true", help="log progress too")
    watch.set_defaults(func=cmd_watch)


# Imported by cli.py at its end (like cli_tags), which adds `watch` to the parser.
from photo_tagger import cli  # noqa: E402

cli._EXTRA_COMMANDS.append(register)
