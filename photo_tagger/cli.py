"""The `photo-tagger` command: a thin layer over the core. No Qt here; the window is
imported only when asked for."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from photo_tagger import __version__
from photo_tagger.config import DEFAULT_MODEL, requested_model
from photo_tagger.core.db import DatabaseError
from photo_tagger.core.embedder import Embedder, ModelUnavailable
from photo_tagger.core.images import UnreadableImage
from photo_tagger.core.indexer import Indexer, IndexProgress
from photo_tagger.core.search import Searcher, SearchResult
from photo_tagger.core.store import Library
from photo_tagger.paths import home_dir, library_path


class CommandError(Exception):
    """A known problem: printed as one message, exit code 2, no traceback."""


# -- shared helpers ---------------------------------------------------------------------
def open_library(args: argparse.Namespace) -> Library:
    return Library(library_path(home_dir(args.home)))


def model_for(args: argparse.Namespace, library: Library) -> str:
    """The model to use: the one asked for now, else the library's, else the default."""
    return requested_model(args.model) or library.model_id or DEFAULT_MODEL


def searcher_for(args: argparse.Namespace, library: Library, need_model: bool) -> Searcher:
    model_id = model_for(args, library)
    if library.model_id and model_id != library.model_id:
        raise CommandError(
            f"This library was indexed with '{library.model_id}', not '{model_id}'. Run "
            f"`photo-tagger index --model {model_id}` to re-embed it with the new model, or "
            "search without --model.")
    embedder = Embedder.load(model_id) if need_model else None
    return Searcher(library, embedder)


def print_results(results: Sequence[SearchResult], as_json: bool) -> None:
    if as_json:
        print(json.dumps([{"path": r.path, "score": round(r.score, 6)} for r in results],
                         ensure_ascii=False))
        return
    if not results:
        print("No matching photos.")
    for result in results:
        print(f"{result.score:6.3f}  {result.path}")


class ProgressBar:
    """A one-line progress bar on stderr, drawn from the indexer's events."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._last = 0.0

    def __call__(self, event: IndexProgress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if event.phase != "done" and now - self._last < 0.1:
            return
        self._last = now
        if event.phase == "scan":
            line = f"Scanning… {event.done} files"
        elif event.total:
            width = 30
            filled = int(width * event.done / event.total)
            remaining = (event.total - event.done) / event.rate if event.rate > 0 else 0
            eta = f" {int(remaining // 60)}:{int(remaining % 60):02d} left" if remaining else ""
            line = (f"[{'#' * filled}{'.' * (width - filled)}] {event.done}/{event.total} "
                    f"{event.rate:.1f} photos/s{eta}")
        else:
            line = ""
        self.stream.write("\r" + line[:120].ljust(120) + ("\n" if event.phase == "done" else ""))
        self.stream.flush()


# -- commands ---------------------------------------------------------------------------
def cmd_index(args: argparse.Namespace) -> int:
    folders = [Path(f) for f in args.folders]
    for folder in folders:
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
    with open_library(args) as library:
        indexer = Indexer(library, model_for(args, library), on_event=ProgressBar())
        summary = indexer.index_folders(folders)
    if args.json:
        print(json.dumps(summary.as_dict(), ensure_ascii=False))
        return 0
    print(f"Indexed {summary.indexed}, unchanged {summary.unchanged}, moved {summary.moved}, "
          f"copies reused {summary.reused}, removed {summary.removed}, "
          f"skipped {len(summary.skipped)}.")
    for path, reason in summary.skipped:
        print(f"  skipped {path}: {reason}")
    for place in summary.unreachable:
        print(f"  cannot read {place.path} ({place.reason}): its photos are kept")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from photo_tagger.core.search import parse_query

    with open_library(args) as library:
        needs_model = parse_query(args.query).has_text
        searcher = searcher_for(args, library, needs_model)
        results = searcher.search(args.query, limit=args.limit, folder=args.folder,
                                  tags=args.tag)
    print_results(results, args.json)
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    image = Path(args.image)
    if not image.is_file():
        raise CommandError(f"{image} is not a file.")
    with open_library(args) as library:
        row = library.photo_by_path(str(image.resolve()))
        indexed = row is not None and row.status == "indexed"
        searcher = searcher_for(args, library, need_model=not indexed)
        try:
            results = searcher.similar_to_file(image, limit=args.limit)
        except UnreadableImage as exc:
            raise CommandError(f"Cannot read {image}: {exc}.") from exc
    print_results(results, args.json)
    return 0


def cmd_duplicates(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        groups = Searcher(library).duplicate_groups(args.threshold)
    if args.json:
        print(json.dumps([[{"path": r.path, "score": round(r.score, 6)} for r in group]
                          for group in groups], ensure_ascii=False))
        return 0
    if not groups:
        print("No near-duplicates found.")
    for number, group in enumerate(groups, 1):
        print(f"Group {number}:")
        for result in group:
            print(f"  {result.score:6.3f}  {result.path}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        counts = library.status_counts()
        info: dict[str, Any] = {
            **counts,
            "model": library.model_id,
            "dimension": library.dimension,
            "folders": [f.path for f in library.folders()],
            "db_path": str(library.path),
            "db_size_bytes": library.db_size_bytes(),
            "skipped_files": [{"path": p, "reason": r} for p, r in library.skipped()],
        }
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
        return 0
    print(f"Library: {info['db_path']} ({info['db_size_bytes'] / 1e6:.1f} MB)")
    print(f"Model: {info['model'] or 'none yet'}"
          + (f" ({info['dimension']} dimensions)" if info["dimension"] else ""))
    print(f"Photos: {counts['indexed']} indexed, {counts['pending']} pending, "
          f"{counts['skipped']} skipped")
    for folder in info["folders"]:
        print(f"Folder: {folder}")
    for item in info["skipped_files"][:20]:
        print(f"  skipped {item['path']}: {item['reason']}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from photo_tagger.doctor import run_checks

    ok = run_checks(home_dir(args.home), requested_model(args.model), download=args.download)
    return 0 if ok else 1


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        from photo_tagger.gui.app import run_app
    except ImportError as exc:
        raise CommandError(
            f"The desktop window cannot start ({exc}). Use the subcommands meanwhile: "
            "`photo-tagger --help`.") from exc
    return run_app(home=args.home, model=args.model)


# -- the parser -------------------------------------------------------------------------
def _common(parser: argparse.ArgumentParser, top_level: bool = False) -> None:
    # Sub-commands must not reset a value given before the command name.
    default = None if top_level else argparse.SUPPRESS
    parser.add_argument(
        "--home", default=default,
        help="library folder (default: $PHOTO_TAGGER_HOME or the platform data folder)")
    parser.add_argument(
        "--model", default=default,
        help="SigLIP 2 hub id, model folder, or 'demo:shapes' (default: $PHOTO_TAGGER_MODEL, "
             f"the library's model, or {DEFAULT_MODEL})")


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photo-tagger",
        description="Search and tag your photos offline with SigLIP 2. Without a command, "
                    "opens the window.")
    parser.add_argument("--version", action="version", version=f"photo-tagger {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation end to end in a temporary folder")
    _common(parser, top_level=True)
    sub = parser.add_subparsers(dest="command")

    index = sub.add_parser("index", help="add folders to the library and index them")
    _common(index)
    index.add_argument("folders", nargs="+")
    index.add_argument("--json", action="store_true", help="print the summary as JSON")
    index.set_defaults(func=cmd_index)

    search = sub.add_parser("search", help="find photos by a text query")
    _common(search)
    search.add_argument("query", help='e.g. "kids in the snow +sled -adults tag:winter"')
    search.add_argument("--limit", type=int, default=20)
    search.add_argument("--folder", help="only photos under this folder")
    search.add_argument("--tag", action="append", default=[], help="only photos with this tag")
    search.add_argument("--json", action="store_true")
    search.set_defaults(func=cmd_search)

    similar = sub.add_parser("similar", help="find photos similar to an image")
    _common(similar)
    similar.add_argument("image")
    similar.add_argument("--limit", type=int, default=20)
    similar.add_argument("--json", action="store_true")
    similar.set_defaults(func=cmd_similar)

    duplicates = sub.add_parser("duplicates", help="list groups of near-duplicate photos")
    _common(duplicates)
    duplicates.add_argument("--threshold", type=float, default=0.95,
                            help="cosine similarity from which photos count as duplicates")
    duplicates.add_argument("--json", action="store_true")
    duplicates.set_defaults(func=cmd_duplicates)

    status = sub.add_parser("status", help="photos by status, model, database size")
    _common(status)
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    doctor = sub.add_parser("doctor", help="check SQLite, sqlite-vec, the model and Qt")
    _common(doctor)
    doctor.add_argument("--download", action="store_true",
                        help="download the model now if it is missing")
    doctor.set_defaults(func=cmd_doctor)

    for register in _EXTRA_COMMANDS:
        register(sub, _common)
    return parser


# Other modules add their subcommands here: register(subparsers, add_common_options).
_EXTRA_COMMANDS: list[Callable[[Any, Callable[[argparse.ArgumentParser], None]], None]] = []
import photo_tagger.cli_tags  # noqa: E402, F401  (registers its commands above)
import photo_tagger.cli_watch  # noqa: E402, F401  (registers `watch`)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.self_test:
        from photo_tagger.selftest import run

        return run()
    func = getattr(args, "func", cmd_gui)
    try:
        return func(args)
    except (CommandError, ModelUnavailable, DatabaseError) as exc:
        print(f"photo-tagger: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("photo-tagger: interrupted; run the same command again to finish.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
