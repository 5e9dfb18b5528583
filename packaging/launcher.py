"""The frozen app's entry point: the same `main()` as the `photo-tagger` command."""

import multiprocessing
import sys

from photo_tagger.cli import main

if __name__ == "__main__":
    # torch may start helper processes; a frozen app must route them here first.
    multiprocessing.freeze_support()
    sys.exit(main())
