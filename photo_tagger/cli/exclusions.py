"""`photo-tagger exclusions`: photos removed from the library whose files stay on disk.
No Qt here."""

from __future__ import annotations

import argparse
from pathlib import Path

from photo_tagger.cli.common import (
    CommandError,
    Subcommands,
    add_common_options,
    json_text,
    model_for,
    open_library,
)
from photo_tagger.core.indexer import Indexer


def _absolute(paths: list[str]) -> list[str]:
    return [str(Path(path).expanduser().resolve()) for path in paths]


def cmd_list(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        paths = library.excluded_paths()
    if args.json:
        print(json_text(paths))
    elif not paths:
        print("No photos are excluded.")
    for path in [] if args.json else paths:
        print(path)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    paths = _absolute(args.paths)
    with open_library(args) as library:
        removed = Indexer(library, model_for(args, library)).exclude_files(paths)
    print(f"Excluded {len(paths)} file(s); {removed} removed from the library, files kept. "
          "Undo with `photo-tagger exclusions remove PATH`.")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    paths = _absolute(args.paths)
    with open_library(args) as library:
        unknown = sorted(set(paths) - set(library.excluded_paths()))
        if unknown:
            raise CommandError(f"Not excluded: {', '.join(unknown)}")
        summary = Indexer(library, model_for(args, library)).include_files(paths)
    print(f"Included again {len(paths)} file(s): indexed {summary.indexed}, "
          f"copies reused {summary.reused}, skipped {len(summary.skipped)}.")
    return 0


def add_exclusions(sub: Subcommands) -> None:
    exclusions = sub.add_parser(
        "exclusions", help="photos removed from the library but kept on disk",
        description="A photo removed from the library with its file kept (the duplicates "
                    "view's Remove, or `exclusions add`) is passed by on every later scan, "
                    "until `exclusions remove` takes it back.")
    add_common_options(exclusions)
    esub = exclusions.add_subparsers(dest="exclusions_command", required=True)
    listing = esub.add_parser("list", help="the excluded files")
    add_common_options(listing)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)
    add = esub.add_parser("add", help="remove photos from the library, keep the files")
    add_common_options(add)
    add.add_argument("paths", nargs="+")
    add.set_defaults(func=cmd_add)
    remove = esub.add_parser("remove", help="take excluded files back and index them")
    add_common_options(remove)
    remove.add_argument("paths", nargs="+")
    remove.set_defaults(func=cmd_remove)
