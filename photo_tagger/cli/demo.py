"""`demo`: try the app offline in seconds. Writes sample shape photos (with a few
near-duplicates), indexes them with the demo model and runs an example search. No Qt here."""

from __future__ import annotations

import argparse
from pathlib import Path

from photo_tagger.cli.common import (
    CommandError,
    Subcommands,
    add_common_options,
    json_text,
    open_library,
    print_results,
)
from photo_tagger.config import CLI_SEARCH_LIMIT, DEMO_MODEL_NAME
from photo_tagger.core.embedder import Embedder
from photo_tagger.core.indexer import Indexer
from photo_tagger.core.search import Searcher
from photo_tagger.demo.samples import SAMPLE_QUERY, sample_folder, write_samples
from photo_tagger.paths import home_dir


def cmd_demo(args: argparse.Namespace) -> int:
    folder = Path(args.folder) if args.folder else sample_folder(home_dir(args.home))
    with open_library(args) as library:
        if library.model_id not in (None, DEMO_MODEL_NAME) and library.status_counts().get(
                "indexed"):
            raise CommandError(
                f"This library uses '{library.model_id}'; the sample photos need the demo "
                "model, which would re-embed it. Try them in a library of their own: "
                "`photo-tagger demo --home SOME_FOLDER`.")
        written = write_samples(folder)
        indexer = Indexer(library, DEMO_MODEL_NAME)
        summary = indexer.index_folders([folder])
        results = Searcher(library, Embedder.load(DEMO_MODEL_NAME)).search(
            SAMPLE_QUERY, limit=args.limit)
    if args.json:
        print(json_text({"folder": str(folder.resolve()), "written": len(written),
                         "indexed": summary.indexed, "query": SAMPLE_QUERY,
                         "results": [{"path": r.path, "score": round(r.score, 6)}
                                     for r in results]}))
        return 0
    print(f"Wrote {len(written)} sample photos to {folder} and indexed them with the demo "
          "model.")
    print(f"Example search: photo-tagger search \"{SAMPLE_QUERY}\"")
    print_results(results, False)
    print("Try also: `photo-tagger search blau`, `photo-tagger search tag:star`, "
          "`photo-tagger labels list`, `photo-tagger duplicates`.")
    return 0


def add_demo(sub: Subcommands) -> None:
    demo = sub.add_parser("demo", help="try the app offline on sample photos")
    add_common_options(demo)
    demo.add_argument("folder", nargs="?",
                      help="where to write the sample photos (default: 'Sample photos' in "
                           "the data folder)")
    demo.add_argument("--limit", type=int, default=CLI_SEARCH_LIMIT // 2)
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(func=cmd_demo)
