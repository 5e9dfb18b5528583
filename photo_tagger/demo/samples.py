"""Sample photos for a first offline run: coloured shapes the demo model knows, and a few
near-duplicates (resized and recompressed copies), so search, tags, labels and duplicates
all show something real. No torch and no Qt here: the CLI and the window both use it."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from PIL import Image

from photo_tagger.demo import paint, shapes

SAMPLE_FOLDER_NAME = "Sample photos"
# The query typed for the user once the samples are indexed: colour is what the committed
# demo model gets right on drawings it never saw (docs/DEMO-MODEL.md, "Second generator").
SAMPLE_QUERY = "red"
SAMPLE_SEED = 2718
# Sample photo index -> (scale, JPEG quality) of its near-duplicate copy.
_COPIES = {0: (0.5, 60), 7: (0.7, 75), 13: (0.5, 85), 22: (0.6, 50), 29: (0.8, 70)}


def sample_folder(home: Path) -> Path:
    """Where the sample photos go: a folder in the user's data folder."""
    return home / SAMPLE_FOLDER_NAME


def write_samples(folder: str | Path, seed: int = SAMPLE_SEED) -> list[Path]:
    """Write one drawing of every shape×colour (as a paint program would), one more in
    the training style, and resized, recompressed copies of a few. Returns the files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = []
    combos = list(itertools.product(shapes.SHAPES, shapes.COLOURS))
    for i, (shape, colour) in enumerate(combos):
        drawn = paint.draw_shape(shape, colour, rng)
        path = folder / f"{colour} {shape}.png"
        drawn.save(path)
        written.append(path)
        if i in _COPIES:
            scale, quality = _COPIES[i]
            small = drawn.resize((max(1, round(drawn.width * scale)),
                                  max(1, round(drawn.height * scale))),
                                 Image.Resampling.BILINEAR)
            copy = folder / f"{colour} {shape} (copy).jpg"
            small.save(copy, quality=quality)
            written.append(copy)
    for shape, colour in combos:
        image = shapes.render_shape(shape, colour, rng, int(rng.choice([256, 384, 512])),
                                    "wide")
        path = folder / f"{colour} {shape} 2.jpg"
        image.save(path, quality=90)
        written.append(path)
    return written
