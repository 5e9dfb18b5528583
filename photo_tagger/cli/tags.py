"""The tagging commands: labels (learn too), retag, tags, tag/untag, review, folders and
export-xmp. No Qt here; each command is a thin layer over core/labels.py and core/xmp.py."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from photo_tagger.cli.common import (
    CommandError,
    Subcommands,
    add_common_options,
    json_text,
    open_library,
)
from photo_tagger.core import labels as api
from photo_tagger.core import learning
from photo_tagger.core.store import Library
from photo_tagger.core.xmp import export_xmp


def _retag_and_report(library: Library) -> None:
    result = api.retag(library, api.library_model_loader(library))
    if result.message:
        print(result.message)
    if not result.retagged:
        print("On the command line, `photo-tagger index` with the library's model does it.")


def _threshold(text: str) -> float | None:
    if text.lower() == "default":
        return None
    try:
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number or 'default'") from exc


def _known(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    # A bad label or path is the user's to fix: one line, exit code 2, no traceback.
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except api.UnknownLabel as exc:
            raise CommandError(f"{exc} `photo-tagger labels list` shows them.") from exc
        except api.LabelError as exc:
            raise CommandError(str(exc)) from exc

    return run


# -- labels -----------------------------------------------------------------------------
def cmd_labels_list(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        from photo_tagger.core.tagger import seed_default_labels

        seed_default_labels(library)
        labels = api.list_labels(library)
    if args.json:
        print(json_text([label.as_dict() for label in labels]))
        return 0
    if not labels:
        print("No labels. Add one with `photo-tagger labels add LABEL`.")
    for label in labels:
        group = f"  (synonym of {label.tag})" if label.tag != label.name else ""
        mark = "" if label.custom_threshold else " (default)"
        template = "" if label.template == api.DEFAULT_TEMPLATE else f"  [{label.template}]"
        print(f"{label.name}{group}  threshold {label.threshold:g}{mark}{template}")
    return 0


def cmd_labels_add(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        from photo_tagger.core.tagger import seed_default_labels

        seed_default_labels(library)  # so a first `labels add` keeps the defaults too
        label = api.add_label(library, args.label, synonym_of=args.synonym_of,
                              threshold=args.threshold, template=args.template)
        group = f" (tag '{label.tag}')" if label.tag != label.name else ""
        print(f"Label '{label.name}'{group} saved.")
        _retag_and_report(library)
    return 0


def cmd_labels_remove(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        api.remove_label(library, args.label)
        print(f"Label '{args.label}' removed.")
        _retag_and_report(library)
    return 0


def cmd_labels_set_threshold(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        label = api.set_threshold(library, args.label, args.threshold)
        shown = "the default" if label.threshold is None else f"{label.threshold:g}"
        print(f"Label '{label.name}' now has threshold {shown}.")
        _retag_and_report(library)
    return 0


def cmd_labels_set_template(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        label = api.set_template(library, args.label, args.template)
        print(f"Label '{label.name}' now reads '{label.template}'.")
        _retag_and_report(library)
    return 0


def cmd_labels_learn(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        result = api.learn_tag(library, args.tag, not args.off, threshold=args.threshold,
                               load_embedder=api.library_model_loader(library))
    if args.json:
        print(json_text(None if result is None else result.as_dict()))
    elif result is None:
        print(f"'{args.tag}' no longer learns; your own tags and untags stay.")
    else:
        print(f"'{result.tag}' now learns from your tags and untags "
              f"({_examples(result)}) and is on {result.tagged} photo(s).")
    return 0


def _examples(result: learning.LearnResult) -> str:
    prior = "with its labels' text" if result.prior else "from examples alone"
    return f"{result.positives} tagged, {result.negatives} untagged, {prior}"


def cmd_review(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        candidates = api.review_candidates(library, args.tag, args.limit)
    if args.json:
        print(json_text([c.as_dict() for c in candidates]))
        return 0
    if not candidates:
        print("Nothing to review: every photo has been decided on.")
    for candidate in candidates:
        print(f"{candidate.probability:6.3f}  {candidate.path}")
    return 0


def cmd_retag(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        result = api.retag(library, api.library_model_loader(library))
    if result.message:
        print(result.message)
    if not result.retagged:
        print("On the command line, `photo-tagger index` with the library's model does it.")
    elif result.retagged:
        print(f"Re-tagged the library: {result.tags_written} automatic tags.")
    else:
        print("Nothing to re-tag yet.")
    return 0


# -- a photo's tags ---------------------------------------------------------------------
def cmd_tags(args: argparse.Namespace) -> int:
    if not Path(args.path).exists():
        raise CommandError(f"{args.path} does not exist.")
    with open_library(args) as library:
        found = api.photo_tags(library, args.path, all_labels=args.all,
                               load_embedder=api.library_model_loader(library))
    if args.json:
        data: dict[str, Any] = {"path": found.path,
                                "tags": [tag.as_dict() for tag in found.tags]}
        if found.scores is not None:
            data["labels"] = [{"label": name, "tag": tag, "score": round(score, 6),
                               "threshold": threshold, "passed": score >= threshold}
                              for name, tag, score, threshold in found.scores]
        print(json_text(data))
        return 0
    print(found.path)
    if not found.tags:
        print("  no tags")
    for photo_tag in found.tags:
        shown = "   —  " if photo_tag.score is None else f"{photo_tag.score:6.3f}"
        mark = {"manual": "  (manual)", "learned": "  (learned)"}.get(photo_tag.source, "")
        print(f"  {shown}  {photo_tag.label}{mark}")
    for tag_name in found.rejected:
        print(f"     ✗    {tag_name}  (removed by hand)")
    if found.scores is not None:
        print("All labels:")
        for name, tag, score, threshold in found.scores:
            group = f" → {tag}" if tag != name else ""
            mark = "≥" if score >= threshold else "<"
            print(f"  {score:8.5f} {mark} {threshold:g}  {name}{group}")
    return 0


def _set_tag(args: argparse.Namespace, present: bool) -> api.TagChange:
    with open_library(args) as library:
        change = api.set_photos_tag(library, args.paths, args.label, present,
                                    api.library_model_loader(library))
    for result in change.learned:
        print(f"'{result.tag}' retrained ({_examples(result)}): on {result.tagged} "
              "photo(s) now.")
    if change.message:
        print(change.message)
    return change


def cmd_tag(args: argparse.Namespace) -> int:
    change = _set_tag(args, True)
    what = args.paths[0] if len(args.paths) == 1 else f"{len(args.paths)} photos"
    print(f"Tagged {what} with '{change.tag}'.")
    return 0


def cmd_untag(args: argparse.Namespace) -> int:
    change = _set_tag(args, False)
    what = args.paths[0] if len(args.paths) == 1 else f"{len(args.paths)} photos"
    print(f"Removed '{change.tag}' from {what}; automatic tagging will not put it back.")
    return 0


# -- folders ----------------------------------------------------------------------------
def cmd_folders_list(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        folders = api.folder_settings(library)
    if args.json:
        print(json_text([folder.as_dict() for folder in folders]))
        return 0
    if not folders:
        print("No folders yet. Add one with `photo-tagger index FOLDER`.")
    for folder in folders:
        state = "auto-tag on" if folder.auto_tag else "auto-tag off"
        chosen = "all labels" if folder.labels is None else ", ".join(folder.labels)
        print(f"{folder.path}  ({state}; {chosen})")
    return 0


def cmd_folders_auto_tag(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        api.set_folder_auto_tag(library, args.folder, args.state == "on")
        print(f"Auto-tagging {args.state} for {args.folder}.")
        _retag_and_report(library)
    return 0


def cmd_folders_labels(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        chosen = api.set_folder_labels(library, args.folder, args.tags)
        print(f"{args.folder}: " + ("all labels apply." if chosen is None
                                    else "only " + ", ".join(chosen) + "."))
        _retag_and_report(library)
    return 0


# -- XMP --------------------------------------------------------------------------------
def cmd_export_xmp(args: argparse.Namespace) -> int:
    folder = Path(args.folder) if args.folder else None
    if folder is not None and not folder.is_dir():
        raise CommandError(f"{folder} is not a folder.")
    with open_library(args) as library:
        summary = export_xmp(library, folder, remove_rejected=args.remove_rejected)
    if args.json:
        print(json_text(summary.as_dict()))
        return 0 if not summary.failed else 1
    print(f"Sidecars written {summary.written}, already up to date {summary.unchanged}, "
          f"failed {len(summary.failed)}.")
    if summary.kept_foreign:
        print(f"Kept {summary.kept_foreign} untagged keyword(s) that another app wrote; "
              "--remove-rejected takes them out as well.")
    for path, reason in summary.failed:
        print(f"  {path}: {reason}")
    return 0 if not summary.failed else 1


# -- the parser -------------------------------------------------------------------------
def add_labels(sub: Subcommands) -> None:
    common = add_common_options
    labels = sub.add_parser("labels", help="the labels photos are tagged with")
    common(labels)
    lsub = labels.add_subparsers(dest="labels_command", required=True)

    add = lsub.add_parser("add", help="add a label (any language), or change one")
    common(add)
    add.add_argument("label")
    add.add_argument("--synonym-of", metavar="TAG",
                     help="score this label for an existing tag (dog = Hund = perro)")
    add.add_argument("--threshold", type=float, help="score from which the tag is given")
    add.add_argument("--template", help="prompt with {label}, e.g. 'a photo of {label}.'")
    add.set_defaults(func=_known(cmd_labels_add))

    listing = lsub.add_parser("list", help="show every label")
    common(listing)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_known(cmd_labels_list))

    remove = lsub.add_parser("remove", help="remove a label (hand-set tags stay)")
    common(remove)
    remove.add_argument("label")
    remove.set_defaults(func=_known(cmd_labels_remove))

    threshold = lsub.add_parser("set-threshold", help="a label's threshold, or 'default'")
    common(threshold)
    threshold.add_argument("label")
    threshold.add_argument("threshold", type=_threshold)
    threshold.set_defaults(func=_known(cmd_labels_set_threshold))

    template = lsub.add_parser("set-template", help="a label's prompt template")
    common(template)
    template.add_argument("label")
    template.add_argument("template")
    template.set_defaults(func=_known(cmd_labels_set_template))

    learn = lsub.add_parser(
        "learn", help="let a tag learn from your tags and untags (--off: stop)",
        description="From now on every `tag` and `untag` of TAG is an example: the tag is "
                    "refitted and the library re-tagged at once. TAG need not be a label.")
    common(learn)
    learn.add_argument("tag")
    learn.add_argument("--off", action="store_true", help="stop learning (examples stay)")
    learn.add_argument("--threshold", type=float,
                       help="probability from which the tag is given (default: its labels' "
                            "threshold, or 0.5 for a tag learned from examples alone)")
    learn.add_argument("--json", action="store_true")
    learn.set_defaults(func=_known(cmd_labels_learn))


def add_retag(sub: Subcommands) -> None:
    retag = sub.add_parser("retag", help="re-tag the library from stored vectors")
    add_common_options(retag)
    retag.set_defaults(func=_known(cmd_retag))


def add_tags(sub: Subcommands) -> None:
    tags = sub.add_parser("tags", help="a photo's tags with their scores")
    add_common_options(tags)
    tags.add_argument("path")
    tags.add_argument("--all", action="store_true", help="every label's score too")
    tags.add_argument("--json", action="store_true")
    tags.set_defaults(func=_known(cmd_tags))


def add_tag(sub: Subcommands) -> None:
    tag = sub.add_parser("tag", help="put a tag on photos by hand")
    add_common_options(tag)
    tag.add_argument("paths", nargs="+", metavar="PATH")
    tag.add_argument("label", metavar="TAG")
    tag.set_defaults(func=_known(cmd_tag))


def add_untag(sub: Subcommands) -> None:
    untag = sub.add_parser("untag", help="take a tag off photos by hand")
    add_common_options(untag)
    untag.add_argument("paths", nargs="+", metavar="PATH")
    untag.add_argument("label", metavar="TAG")
    untag.set_defaults(func=_known(cmd_untag))


def add_review(sub: Subcommands) -> None:
    review = sub.add_parser(
        "review", help="photos a learning tag is least sure about",
        description="The photos TAG's classifier is least sure about, most informative "
                    "first; `tag` or `untag` them to teach it.")
    add_common_options(review)
    review.add_argument("tag")
    review.add_argument("--limit", type=int, default=20)
    review.add_argument("--json", action="store_true")
    review.set_defaults(func=_known(cmd_review))


def add_folders(sub: Subcommands) -> None:
    common = add_common_options
    folders = sub.add_parser("folders", help="per-folder auto-tagging")
    common(folders)
    fsub = folders.add_subparsers(dest="folders_command", required=True)
    flist = fsub.add_parser("list", help="folders with their tagging settings")
    common(flist)
    flist.add_argument("--json", action="store_true")
    flist.set_defaults(func=_known(cmd_folders_list))
    auto = fsub.add_parser("auto-tag", help="switch auto-tagging of a folder on or off")
    common(auto)
    auto.add_argument("folder")
    auto.add_argument("state", choices=["on", "off"])
    auto.set_defaults(func=_known(cmd_folders_auto_tag))
    chosen = fsub.add_parser("labels", help="the tags that apply in a folder (none: all)")
    common(chosen)
    chosen.add_argument("folder")
    chosen.add_argument("tags", nargs="*")
    chosen.set_defaults(func=_known(cmd_folders_labels))


def add_export_xmp(sub: Subcommands) -> None:
    export = sub.add_parser(
        "export-xmp", help="write tags into XMP sidecars (dc:subject)",
        description="Write each photo's tags as dc:subject keywords into its XMP sidecar. "
                    "A tag you untagged is taken out where photo-tagger wrote it; keywords "
                    "darktable, digiKam or Lightroom wrote stay unless --remove-rejected.")
    add_common_options(export)
    export.add_argument("folder", nargs="?", help="only photos under this folder")
    export.add_argument("--remove-rejected", action="store_true",
                        help="also remove the tags you untagged from keywords that other "
                             "apps wrote into the sidecars")
    export.add_argument("--json", action="store_true")
    export.set_defaults(func=_known(cmd_export_xmp))
