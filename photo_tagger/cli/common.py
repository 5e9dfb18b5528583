"""What every command module shares: the known-error type, the common options, argument
checks, opening the library and printing results. No Qt here; imports no command module."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, overload

from photo_tagger.config import DEFAULT_MODEL, requested_model
from photo_tagger.core.embedder import Embedder
from photo_tagger.core.milvus_store import MilvusStore, VectorStoreError, requested_vector_store
from photo_tagger.core.search import Searcher, SearchResult
from photo_tagger.core.store import Library
from photo_tagger.core.switch import canonical_model_id
from photo_tagger.paths import home_dir, library_path

# argparse's subparsers object (`add_subparsers()`); its class is private to argparse.
Subcommands = Any
# A command module's registration function: adds its subcommand(s) to the parser.
AddCommand = Callable[[Subcommands], None]
_N = TypeVar("_N")


class CommandError(Exception):
    """A known problem: printed as one message, exit code 2, no traceback."""


class CommandParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose one positional may start with '-' when `dash_positional`
    is set (`search "-red circle"`): argparse alone reads such a word as an unknown option
    and asks for `--`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.dash_positional = False
        # Option → whether it takes a value, so a value is never mistaken for the word.
        self.takes_value: dict[str, bool] = {}
        super().__init__(*args, **kwargs)  # adds -h/--help through add_argument

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        for option in action.option_strings:
            self.takes_value[option] = action.nargs != 0
        return action

    # The same overloads as ArgumentParser's: the namespace given is the one returned.
    @overload
    def parse_known_args(self, args: Iterable[str] | None = None, namespace: None = None,
                         ) -> tuple[argparse.Namespace, list[str]]: ...
    @overload
    def parse_known_args(self, args: Iterable[str] | None, namespace: _N,
                         ) -> tuple[_N, list[str]]: ...
    @overload
    def parse_known_args(self, *, namespace: _N) -> tuple[_N, list[str]]: ...

    def parse_known_args(self, args: Iterable[str] | None = None, namespace: Any = None,
                         ) -> tuple[Any, list[str]]:
        # A subcommand's parser is called with the words after the command's name.
        if self.dash_positional and args is not None:
            args = self._quote_dash_word(list(args))
        return super().parse_known_args(args, namespace)

    def _quote_dash_word(self, args: list[str]) -> list[str]:
        """Move the first word that starts with one '-' and is no option behind `--`."""
        index = 0
        while index < len(args):
            word = args[index]
            if word == "--":
                return args  # the user already said where options end
            name, has_value, _ = word.partition("=")
            if name in self.takes_value:
                index += 2 if self.takes_value[name] and not has_value else 1
                continue
            if word.startswith("-") and not word.startswith("--") and len(word) > 1:
                return args[:index] + args[index + 1:] + ["--", word]
            index += 1
        return args


def add_common_options(parser: argparse.ArgumentParser, top_level: bool = False) -> None:
    """`--home`, `--model` and `--vector-store`, accepted before and after the command's
    name."""
    # Sub-commands must not reset a value given before the command name.
    default = None if top_level else argparse.SUPPRESS
    parser.add_argument(
        "--home", default=default,
        help="library folder (default: $PHOTO_TAGGER_HOME or the platform data folder)")
    parser.add_argument(
        "--model", default=default,
        help="SigLIP 2 hub id, model folder, or 'demo:shapes' (default: $PHOTO_TAGGER_MODEL, "
             f"the library's model, or {DEFAULT_MODEL})")
    parser.add_argument(
        "--vector-store", default=default, metavar="STORE",
        help="keep vectors also in Milvus: milvus://HOST:PORT or milvus-lite:PATH (default: "
             "$PHOTO_TAGGER_VECTOR_STORE or the library's setting; none: the library alone)")


def positive_int(text: str) -> int:
    """An argparse type: a whole number of 1 or more (`--limit`)."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def fraction(text: str) -> float:
    """An argparse type: a finite number from 0 to 1 (a cosine threshold)."""
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from exc
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, not {text}")
    return value


def open_library(args: argparse.Namespace) -> Library:
    return Library(library_path(home_dir(args.home)))


def model_for(args: argparse.Namespace, library: Library) -> str:
    """The model to use: the one asked for now, else the library's, else the default."""
    return requested_model(args.model) or library.model_id or DEFAULT_MODEL


def vector_store_for(args: argparse.Namespace, library: Library) -> MilvusStore | None:
    """The Milvus store asked for (option, environment, setting), opened for the library's
    model; None when the vectors live in the library alone."""
    try:
        spec = requested_vector_store(getattr(args, "vector_store", None), library)
        if spec is None or not library.model_id or not library.dimension:
            return None
        return MilvusStore(spec, library.model_id, library.dimension)
    except VectorStoreError as exc:
        raise CommandError(str(exc)) from exc


def searcher_for(args: argparse.Namespace, library: Library, need_model: bool) -> Searcher:
    """A searcher for the library's model; with `need_model` False the model is loaded
    only when a query phrase is new (`Searcher.texts`)."""
    model_id = model_for(args, library)
    if library.model_id and model_id != library.model_id \
            and library.next_model_id is not None \
            and canonical_model_id(model_id) == library.next_model_id:
        raise CommandError(
            f"The library is switching to '{model_id}', and searches use "
            f"'{library.model_id}' until every photo is embedded with the new one "
            f"({library.next_vector_count()} so far). Search without --model meanwhile; "
            "`photo-tagger index` finishes the switch.")
    if library.model_id and model_id != library.model_id:
        raise CommandError(
            f"This library was indexed with '{library.model_id}', not '{model_id}'. Run "
            f"`photo-tagger index --model {model_id}` to switch it to the new model (search "
            "keeps working meanwhile), or search without --model.")
    if need_model:
        return Searcher(library, Embedder.load(model_id))
    # The model (and torch) only if a query phrase is not in the library's cache.
    return Searcher(library, load_model=lambda: Embedder.load(model_id))


def json_text(data: object) -> str:
    """JSON for stdout: UTF-8 as it is, except when a path holds bytes that are not UTF-8
    (lone surrogates): then every non-ASCII character is escaped, so the output stays
    valid UTF-8 and `json.loads` gives back the exact path."""
    text = json.dumps(data, ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(data)
    return text


def print_results(results: Sequence[SearchResult], as_json: bool) -> None:
    if as_json:
        print(json_text([{"path": r.path, "score": round(r.score, 6)} for r in results]))
        return
    if not results:
        print("No matching photos.")
    for result in results:
        print(f"{result.score:6.3f}  {result.path}")
