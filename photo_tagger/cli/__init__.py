"""The `photo-tagger` command line, one module per command group; `command.py` lists them
in their `--help` order and runs them. No Qt here: the window is imported only when asked
for.

`main` is imported on call, so importing one command module does not import them all.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """The `photo-tagger` entry point (pyproject's script and the frozen app's launcher)."""
    from photo_tagger.cli.command import main as run

    return run(argv)


__all__ = ["main"]
