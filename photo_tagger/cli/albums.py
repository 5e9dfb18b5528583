"""`albums save|list|remove`: saved searches (smart albums). No Qt here."""

from __future__ import annotations

import argparse

from photo_tagger.cli.common import (
    CommandError,
    Subcommands,
    add_common_options,
    json_text,
    open_library,
    searcher_for,
)
from photo_tagger.core.albums import remove_album
from photo_tagger.core.search import QueryError


def cmd_albums_save(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        try:
            count = searcher_for(args, library, need_model=False).save_album(
                args.name, args.query)
        except QueryError as exc:
            raise CommandError(str(exc)) from exc
    print(f"Saved '{args.name.strip()}': {count:,} photo{'s' if count != 1 else ''} now.")
    return 0


def cmd_albums_list(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        try:
            rows = searcher_for(args, library, need_model=False).album_counts()
        except QueryError as exc:
            raise CommandError(str(exc)) from exc
    if args.json:
        print(json_text([{"name": n, "query": q, "count": c} for n, q, c in rows]))
        return 0
    if not rows:
        print('No saved searches. Save one: photo-tagger albums save NAME "QUERY"')
    for name, query, count in rows:
        print(f"{count:7,}  {name}  ({query})")
    return 0


def cmd_albums_remove(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        if not remove_album(library, args.name):
            raise CommandError(f"There is no saved search named '{args.name}'.")
    print(f"Removed '{args.name}'.")
    return 0


def add_albums(sub: Subcommands) -> None:
    albums = sub.add_parser("albums", help="saved searches (smart albums) with live counts")
    add_common_options(albums)
    actions = albums.add_subparsers(dest="action", required=True)
    save = actions.add_parser("save", help='save a query: albums save Summer "beach date:2024"')
    add_common_options(save)
    save.add_argument("name")
    save.add_argument("query")
    save.set_defaults(func=cmd_albums_save)
    listing = actions.add_parser("list", help="every saved search with its count now")
    add_common_options(listing)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_albums_list)
    remove = actions.add_parser("remove", help="forget a saved search (no photo is touched)")
    add_common_options(remove)
    remove.add_argument("name")
    remove.set_defaults(func=cmd_albums_remove)
