"""The `photo-tagger` command: its parser, built from the explicit list of commands below,
and `main`, which turns known problems into one-line messages. No Qt here; the window is
imported only when asked for."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Sequence

from photo_tagger import __version__
from photo_tagger.cli import (
    albums,
    checks,
    demo,
    exclusions,
    indexing,
    models,
    search,
    tags,
    watch,
)
from photo_tagger.cli.common import AddCommand, CommandError, CommandParser, add_common_options
from photo_tagger.config import DEMO_MODEL_NAME
from photo_tagger.core.db import DatabaseError
from photo_tagger.core.embedder import ModelUnavailable

# Every command, in the order `--help` lists them.
COMMANDS: list[AddCommand] = [
    indexing.add_index,
    search.add_search,
    search.add_similar,
    search.add_duplicates,
    albums.add_albums,
    indexing.add_status,
    checks.add_doctor,
    models.add_models,
    tags.add_labels,
    tags.add_retag,
    tags.add_tags,
    tags.add_tag,
    tags.add_untag,
    tags.add_review,
    tags.add_folders,
    tags.add_export_xmp,
    exclusions.add_exclusions,
    watch.add_watch,
    demo.add_demo,
]

# What a shell reports for a program killed by SIGPIPE (`photo-tagger search x | head`).
BROKEN_PIPE_EXIT = 128 + getattr(signal, "SIGPIPE", 13)


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        from photo_tagger.gui.app import run_app
    except ImportError as exc:
        raise CommandError(
            f"The desktop window cannot start ({exc}). Use the subcommands meanwhile: "
            "`photo-tagger --help`.") from exc
    return run_app(home=args.home, model=args.model)


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="photo-tagger",
        description="Search and tag your photos offline with SigLIP 2. Without a command, "
                    "opens the window.")
    parser.add_argument("--version", action="version", version=f"photo-tagger {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation end to end in a temporary folder")
    add_common_options(parser, top_level=True)
    sub = parser.add_subparsers(dest="command")
    for add_command in COMMANDS:
        add_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _run(argv)
        sys.stdout.flush()  # a closed pipe shows here, not at exit as a traceback
        return code
    except BrokenPipeError:
        # The reader left (`| head`): stop quietly, and keep Python's final flush of the
        # unwritten rest from failing again.
        with contextlib.suppress(OSError, ValueError):  # no file: captured in-process
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE_EXIT


def _run(argv: Sequence[str] | None) -> int:
    # Paths that are not UTF-8 print as the bytes they are on disk, not as a traceback.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.self_test:
        from photo_tagger.selftest import run

        return run()
    func = getattr(args, "func", cmd_gui)
    try:
        return func(args)
    except ModelUnavailable as exc:
        # The core's message serves the window too; the command line's own ways out:
        print(f"photo-tagger: {exc} On the command line: `photo-tagger doctor --download` "
              "fetches it, `--model FOLDER` (or PHOTO_TAGGER_MODEL) uses a downloaded copy, "
              f"`--model {DEMO_MODEL_NAME}` runs the demo model.", file=sys.stderr)
        return 2
    except (CommandError, DatabaseError) as exc:
        print(f"photo-tagger: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("photo-tagger: interrupted; run the same command again to finish.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
