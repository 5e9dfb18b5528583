"""`index` and `status`: adding folders to the library and saying what it holds, with a
progress bar (tqdm) on a terminal. No Qt here."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from photo_tagger.cli.common import (
    CommandError,
    Subcommands,
    add_common_options,
    json_text,
    model_for,
    open_library,
    vector_store_for,
)
from photo_tagger.core.indexer import Indexer, IndexProgress
from photo_tagger.core.milvus_store import sync_library


class ProgressBar:
    """The indexer's events as tqdm bars on stderr: files found while scanning, then
    photos done of the total with their rate and the time left. Silent when stderr is
    not a terminal (a log file, a pipe)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._bar: tqdm[Any] | None = None
        self._phase = ""

    def __call__(self, event: IndexProgress) -> None:
        if not self.enabled:
            return
        if event.phase == "done":
            if self._bar is not None and self._phase == "index":
                self._bar.update(event.done - self._bar.n)
            self.close()
            return
        if event.phase != self._phase or self._bar is None:
            self.close()
            self._phase = event.phase
            if event.phase == "scan":  # the total is not known yet: a count, then gone
                self._bar = tqdm(desc="Scanning", unit=" files", file=self.stream,
                                 leave=False)
            else:
                self._bar = tqdm(desc="Indexing", total=event.total, unit=" photos",
                                 file=self.stream)
        self._bar.update(event.done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar = None
        self._phase = ""


def cmd_index(args: argparse.Namespace) -> int:
    folders = [Path(f) for f in args.folders]
    for folder in folders:
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
    progress = ProgressBar()
    try:
        with open_library(args) as library:
            indexer = Indexer(library, model_for(args, library), on_event=progress)
            summary = indexer.index_folders(folders)
            store = vector_store_for(args, library)
            if store is not None:
                # This desktop writes the folders it indexed (one writer per folder).
                with store:
                    for folder in folders:
                        sync_library(library, store, str(folder.resolve()))
    finally:
        progress.close()
    if args.json:
        print(json_text(summary.as_dict()))
        return 0
    print(f"Indexed {summary.indexed}, unchanged {summary.unchanged}, moved {summary.moved}, "
          f"copies reused {summary.reused}, removed {summary.removed}, "
          f"skipped {len(summary.skipped)}.")
    for path, reason in summary.skipped:
        print(f"  skipped {path}: {reason}")
    for place in summary.unreachable:
        print(f"  cannot read {place.path} ({place.reason}): its photos are kept")
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
        print(json_text(info))
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


def add_index(sub: Subcommands) -> None:
    index = sub.add_parser("index", help="add folders to the library and index them")
    add_common_options(index)
    index.add_argument("folders", nargs="+")
    index.add_argument("--json", action="store_true", help="print the summary as JSON")
    index.set_defaults(func=cmd_index)


def add_status(sub: Subcommands) -> None:
    status = sub.add_parser("status", help="photos by status, model, database size")
    add_common_options(status)
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
