"""`models`: the model manager from the command line. Lists the SigLIP 2 checkpoints with
what is on disk and what was measured here, and measures one on the user's own photos
(`models calibrate`: photos/s in fp32 and int8, and the int8 mode's agreement with fp32).
No Qt here."""

from __future__ import annotations

import argparse

from photo_tagger.cli.common import (
    CommandError,
    Subcommands,
    add_common_options,
    json_text,
    model_for,
    open_library,
)
from photo_tagger.core import checkpoints
from photo_tagger.core.switch import human_bytes


def cmd_models(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        rows = checkpoints.list_checkpoints(library, extra_folders=args.folder or ())
        current = library.model_id
    if args.json:
        print(json_text([{"model": r.model_id, "on_disk": r.on_disk, "bytes": r.size_bytes,
                          "speed": r.speed, "int8_speed": r.int8_speed,
                          "int8_agreement": r.agreement, "location": r.location,
                          "in_use": current in (r.model_id, r.model_id + "@int8")}
                         for r in rows]))
        return 0
    for r in rows:
        mark = "*" if current in (r.model_id, r.model_id + "@int8") else " "
        size = human_bytes(r.size_bytes) if r.size_bytes else "not on disk"
        measured = f"{r.speed:.1f} photos/s" if r.speed else "speed not measured"
        if r.int8_speed and r.agreement is not None:
            measured += f"; int8 {r.int8_speed:.1f} photos/s, agreement {r.agreement:.4f}"
        print(f"{mark} {r.model_id:<42} {size:>12}  {measured}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        model_id = args.checkpoint or model_for(args, library)
        try:
            result = checkpoints.calibrate(library, model_id, with_int8=not args.no_int8)
        except checkpoints.CalibrationError as exc:
            raise CommandError(str(exc)) from exc
    if args.json:
        print(json_text({"model": result.model_id, "photos": result.photos,
                         "speed": result.speed, "int8_speed": result.int8_speed,
                         "int8_agreement": result.agreement}))
        return 0
    print(f"{result.model_id}: {result.speed:.1f} photos/s on {result.photos} of your photos")
    if result.int8_speed is not None and result.agreement is not None:
        gain = result.int8_gain or 0.0
        print(f"int8 mode: {result.int8_speed:.1f} photos/s ({gain:.1f}× fp32), vectors "
              f"agree with fp32 at mean cosine {result.agreement:.4f}")
    return 0


def add_models(sub: Subcommands) -> None:
    models = sub.add_parser("models", help="checkpoints on disk and their measured speed")
    add_common_options(models)
    actions = models.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="every checkpoint: on disk, size, speed here")
    add_common_options(listing)
    listing.add_argument("--folder", action="append",
                         help="also list a model folder (repeatable)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_models)
    calibrate = actions.add_parser(
        "calibrate", help="measure a checkpoint's speed and its int8 mode on your photos")
    add_common_options(calibrate)
    calibrate.add_argument("checkpoint", nargs="?",
                           help="hub id or folder (default: the library's model)")
    calibrate.add_argument("--no-int8", action="store_true", help="measure fp32 only")
    calibrate.add_argument("--json", action="store_true")
    calibrate.set_defaults(func=cmd_calibrate)
