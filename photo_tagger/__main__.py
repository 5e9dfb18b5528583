"""`python -m photo_tagger` runs the same command as `photo-tagger`."""

import sys

from photo_tagger.cli import main

sys.exit(main())
