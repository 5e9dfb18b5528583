"""`search`, `similar` and `duplicates`: finding photos in the library. No Qt here."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

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
from photo_tagger.config import (
    CLI_SEARCH_LIMIT,
    DEMO_DUPLICATE_THRESHOLD,
    DUPLICATE_THRESHOLD,
    requested_model,
)
from photo_tagger.core import search_socket
from photo_tagger.core.images import UnreadableImage
from photo_tagger.core.milvus_store import search_library
from photo_tagger.core.search import (
    QueryError,
    SearchAnswer,
    Searcher,
    SearchResult,
    parse_query,
)
from photo_tagger.core.search_socket import SearchRefused
from photo_tagger.paths import home_dir


def cmd_search(args: argparse.Namespace) -> int:
    if _search_shared_store(args):
        return 0
    try:
        answer = _ask_service(args)
        if answer is None:  # no service running: search here, with the model if needed
            with open_library(args) as library:
                searcher = searcher_for(args, library, need_model=False)
                answer = searcher.find(args.query, limit=args.limit, everything=args.all,
                                       explain=args.explain, folder=args.folder,
                                       tags=args.tag)
    except (QueryError, SearchRefused) as exc:
        raise CommandError(str(exc)) from exc
    if args.json:
        print(json_text([_result_json(r, args.explain) for r in answer.results]))
    else:
        _print_answer(answer, args.all)
    return 0


def _search_shared_store(args: argparse.Namespace) -> bool:
    """With a shared vector store (`--vector-store milvus://…`), text queries rank there,
    tags and folder filtered inside Milvus; False when the library uses none."""
    with open_library(args) as library:
        parsed = parse_query(args.query)
        store = vector_store_for(args, library) if parsed.has_text else None
        if store is None:
            return False
        searcher = searcher_for(args, library, need_model=True)
        tags = [library.tag_for_name(t) for t in parsed.tags + args.tag]
        folder = str(Path(args.folder).resolve()) if args.folder else None
        with store:
            results = search_library(library, store, searcher.query_vector(parsed),
                                     args.limit, tags=tags, folder=folder)
    print_results(results, args.json)
    return True


def _ask_service(args: argparse.Namespace) -> SearchAnswer | None:
    """A running `watch` service or window holds the model: its answer takes
    milliseconds, where loading torch here takes seconds. Not when another model is asked
    for (`--model`) than the service's: `searcher_for` says what is wrong with that."""
    parse_query(args.query)  # a query it cannot read is refused here, without a round trip
    return search_socket.ask(home_dir(args.home), args.query, limit=args.limit,
                             everything=args.all, explain=args.explain, folder=args.folder,
                             tags=args.tag, model=requested_model(args.model))


def _result_json(result: SearchResult, explain: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "path": result.path, "score": round(result.score, 6),
        "probability": None if result.probability is None else round(result.probability, 6)}
    if explain and result.explanation is not None:
        why = result.explanation
        item["explanation"] = {"terms": {t: round(p, 6) for t, p in why.terms},
                               "tags": list(why.tags), "filters": list(why.filters),
                               "date": why.date}
    return item


def _print_answer(answer: SearchAnswer, everything: bool) -> None:
    if not answer.results:
        print("No matching photos.")
    for result in answer.results:
        shown = "      -" if result.probability is None else f"{result.probability:7.1%}"
        print(f"{shown}  {result.score:6.3f}  {result.path}")
        why = result.explanation
        if why is not None:
            for term, p in why.terms:
                print(f"           {p:7.1%}  {term}")
            print(f"           tags: {', '.join(why.tags) or '(none)'}")
            if why.filters:
                print(f"           passed: {' '.join(why.filters)}")
            print(f"           date: {why.date or 'unknown'}")
    # The summary goes to stderr: stdout stays one result per line for scripts.
    summary = f"{answer.matches:,} match{'es' if answer.matches != 1 else ''}"
    if answer.cutoff is not None:
        summary += f" (probability ≥ {answer.cutoff:.1%})"
    if len(answer.results) < (answer.matches + (answer.weaker if everything else 0)):
        summary += f", {len(answer.results):,} shown (--limit)"
    if answer.weaker and not everything:
        summary += f"; {answer.weaker:,} weaker not shown (--all shows them)"
    if answer.removed:
        summary += f"; {answer.removed:,} removed by NOT"
    print(summary + ".", file=sys.stderr)


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
    search.add_argument(
        "query", help='e.g. "kids in the snow +sled -adults tag:winter date:2024 sort:date"; '
                      "docs/SEARCH.md lists the syntax")
    search.add_argument("--limit", type=positive_int, default=CLI_SEARCH_LIMIT)
    search.add_argument("--all", action="store_true",
                        help="the whole ranking, not only the photos that match")
    search.add_argument("--explain", action="store_true",
                        help="why each photo: each term's probability, its tags, the filters")
    search.add_argument("--folder", help="only photos under this folder")
    search.add_argument("--tag", action="append", default=[], help="only photos with this tag")
    search.add_argument("--json", action="store_true")
    search.set_defaults(func=cmd_search)


def add_similar(sub: Subcommands) -> None:
    similar = sub.add_parser("similar", help="find photos similar to an image")
    add_common_options(similar)
    similar.add_argument("image")
    similar.add_argument("--limit", type=positive_int, default=CLI_SEARCH_LIMIT)
    similar.add_argument("--json", action="store_true")
    similar.set_defaults(func=cmd_similar)


def add_duplicates(sub: Subcommands) -> None:
    duplicates = sub.add_parser("duplicates", help="list groups of near-duplicate photos")
    add_common_options(duplicates)
    duplicates.add_argument("--threshold", type=fraction, default=None,
                            help="cosine similarity from which photos count as duplicates "
                                 f"(default: {DUPLICATE_THRESHOLD}, "
                                 f"{DEMO_DUPLICATE_THRESHOLD} with the demo model)")
    duplicates.add_argument("--json", action="store_true")
    duplicates.set_defaults(func=cmd_duplicates)
