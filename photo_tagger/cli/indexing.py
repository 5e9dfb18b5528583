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
    open_library,
    vector_store_for,
)
from photo_tagger.config import DEFAULT_MODEL, requested_model
from photo_tagger.core.embedder import Embedder
from photo_tagger.core.indexer import Indexer, IndexProgress
from photo_tagger.core.milvus_store import sync_library
from photo_tagger.core.store import Library
from photo_tagger.core.switch import (
    ModelSwitch,
    SwitchProgress,
    canonical_model_id,
    needs_background_switch,
    switch_notice,
)
from photo_tagger.core.vector_index import update_saved_index


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
                desc = "Switching model" if event.phase == "switch" else "Indexing"
                self._bar = tqdm(desc=desc, total=event.total, unit=" photos",
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
    switched: dict[str, Any] | None = None  # the switch this run finished, if any
    try:
        with open_library(args) as library:
            model_now, switch_to = _models_for_index(args, library)
            indexer = Indexer(library, model_now, on_event=progress)
            summary = indexer.index_folders(folders)
            if switch_to is not None and not summary.cancelled:
                switched = _switch(library, switch_to, progress)
            if summary.indexed or summary.moved or summary.removed or summary.reused:
                update_saved_index(library)  # the app's next start then maps it at once
            store = vector_store_for(args, library)
            if store is not None:
                # This desktop writes the folders it indexed (one writer per folder).
                with store:
                    for folder in folders:
                        sync_library(library, store, str(folder.resolve()))
    finally:
        progress.close()
    if args.json:
        print(json_text({**summary.as_dict(), "switch": switched}))
        return 0
    print(f"Indexed {summary.indexed}, unchanged {summary.unchanged}, moved {summary.moved}, "
          f"copies reused {summary.reused}, removed {summary.removed}, "
          f"skipped {len(summary.skipped)}.")
    for path, reason in summary.skipped:
        print(f"  skipped {path}: {reason}")
    for place in summary.unreachable:
        print(f"  cannot read {place.path} ({place.reason}): its photos are kept")
    if switched is not None:
        print(f"Switched to {switched['model']}: search and tags now use it"
              + (f"; {switched['pending']} photo(s) could not be read and wait for it."
                 if switched["pending"] else "."))
    return 0


def _models_for_index(args: argparse.Namespace, library: Library) -> tuple[str, str | None]:
    """The model to index with now, and the one to switch to in the background (None for
    no switch): `--model B` on a library that searches with A keeps A for searching and
    indexing and switches to B beside it; a switch left under way (an earlier run killed)
    is resumed, unless another model is asked for."""
    requested = requested_model(args.model)
    current = library.model_id
    if requested is not None and needs_background_switch(library, requested):
        assert current is not None
        target = canonical_model_id(requested)
        if library.next_model_id not in (None, target):
            print(f"The switch to {library.next_model_id} is replaced by one to {target}.",
                  file=sys.stderr)
        if library.next_model_id != target:
            print(switch_notice(library, target), file=sys.stderr)
        return current, target
    model_now = requested or current or DEFAULT_MODEL
    if library.next_model_id is not None and current is not None \
            and canonical_model_id(model_now) == current:
        return current, library.next_model_id
    return model_now, None


def _switch(library: Library, model_id: str,
            progress: ProgressBar) -> dict[str, Any]:
    """Embed the library with `model_id` beside the current vectors, then swap. Killed or
    interrupted, the next run goes on from where it stopped."""
    embedder = Embedder.load(model_id)
    switch = ModelSwitch(library, embedder, on_progress=lambda p: progress(_as_index(p)))
    if not switch.begin():
        done = switch.progress()
        print(f"Resuming the switch to {model_id}: {done.done} of {done.total} photos "
              "embedded with it so far; search uses "
              f"{library.model_id} until it is done.", file=sys.stderr)
    switch.run()  # a single process: only Ctrl-C (KeyboardInterrupt) stops it early
    return {"model": library.model_id, "pending": len(switch.marked_pending)}


def _as_index(progress: SwitchProgress) -> IndexProgress:
    return IndexProgress("switch", progress.done, progress.total, None, 0.0)


def cmd_status(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        counts = library.status_counts()
        info: dict[str, Any] = {
            **counts,
            "model": library.model_id,  # the model that answers searches now
            "dimension": library.dimension,
            # A switch under way: the model embedding the library beside the current one.
            "next_model": library.next_model_id,
            "next_model_done": library.next_vector_count(),
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
    if info["next_model"]:
        print(f"Switching to: {info['next_model']} ({info['next_model_done']} of "
              f"{counts['indexed']} photos embedded with it; search uses the model above "
              "until then)")
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
