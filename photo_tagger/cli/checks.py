"""`doctor`: the installation's checks (photo_tagger/doctor.py) as a command. No Qt here."""

from __future__ import annotations

import argparse

from photo_tagger.cli.common import Subcommands, add_common_options
from photo_tagger.config import requested_model
from photo_tagger.paths import home_dir


def cmd_doctor(args: argparse.Namespace) -> int:
    from photo_tagger.doctor import run_checks

    ok = run_checks(home_dir(args.home), requested_model(args.model), download=args.download)
    return 0 if ok else 1


def add_doctor(sub: Subcommands) -> None:
    doctor = sub.add_parser("doctor", help="check SQLite, sqlite-vec, the model and Qt")
    add_common_options(doctor)
    doctor.add_argument("--download", action="store_true",
                        help="download the model now if it is missing")
    doctor.set_defaults(func=cmd_doctor)
