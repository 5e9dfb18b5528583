"""`search`, `similar` and `duplicates`: finding photos in the library. No Qt here."""

from __future__ import annotations

import argparse
from pathlib import Path

from photo_tagger.cli.common import (
    CommandError,
    Subcommands,
    add_common_options,
    fraction,
    json_text,
    open_library,
    positive_int,
    print_results,
    searcher_for,
    vector_store_for,
)
from photo_tagger.core.images import UnreadableImage
from photo_tagger.core.milvus_store import search_library
from photo_tagger.core.search import Searcher, parse_query


def cmd_search(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        needs_model = parse_query(args.query).has_text
        searcher = searcher_for(args, library, needs_model)
        store = vector_store_for(args, library) if needs_model else None
        if store is None:
            results = searcher.search(args.query, limit=args.limit, folder=args.folder,
                                      tags=args.tag)
        else:  # tags and folder filter inside Milvus
            parsed = parse_query(args.query)
            tags = [library.tag_for_name(t) for t in parsed.tags + args.tag]
            folder = str(Path(args.folder).resolve()) if args.folder else None
            with store:
                results = search_library(library, store, searcher.query_vector(parsed),
                                         args.limit, tags=tags, folder=folder)
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
        print(json_text([[{"path": r.path, "score": round(r.score, 6)} for r in group]
                         for group in groups]))
        return 0
    if not groups:
        print("No near-duplicates found.")
    for number, group in enumerate(groups, 1):
        print(f"Group {number}:")
        for result in group:
            print(f"  {result.score:6.3f}  {result.path}")
    return 0


def add_search(sub: Subcommands) -> None:
    search = sub.add_parser("search", help="find photos by a text query")
    search.dash_positional = True  # `search "-red circle"` needs no `--`
    add_common_options(search)
    search.add_argument("query", help='e.g. "kids in the snow +sled -adults tag:winter"')
    search.add_argument("--limit", type=positive_int, default=20)
    search.add_argument("--folder", help="only photos under this folder")
    search.add_argument("--tag", action="append", default=[], help="only photos with this tag")
    search.add_argument("--json", action="store_true")
    search.set_defaults(func=cmd_search)


def add_similar(sub: Subcommands) -> None:
    similar = sub.add_parser("similar", help="find photos similar to an image")
    add_common_options(similar)
    similar.add_argument("image")
    similar.add_argument("--limit", type=positive_int, default=20)
    similar.add_argument("--json", action="store_true")
    similar.set_defaults(func=cmd_similar)


def add_duplicates(sub: Subcommands) -> None:
    duplicates = sub.add_parser("duplicates", help="list groups of near-duplicate photos")
    add_common_options(duplicates)
    duplicates.add_argument("--threshold", type=fraction, default=0.95,
                            help="cosine similarity from which photos count as duplicates")
    duplicates.add_argument("--json", action="store_true")
    duplicates.set_defaults(func=cmd_duplicates)
