"""Peak memory while indexing a folder of huge non-JPEG images (issue #14, item 4).

    python -m benchmarks.bench_memory [--images 3] [--megapixels 196] [--workers 3]
                                      [--model demo:shapes | base-patch16-224]

Writes the images once into benchmarks/.cache/huge/ (RGBA PNGs just under the 200 MP guard,
each a gradient so the decoder does real work), then indexes them with the demo model (or
a base-size SigLIP 2 with random weights) in a fresh process with that many decode threads
and prints its peak RSS. Goal: <= 2.5 GB
whatever the folder holds (three 196 MP PNGs at once reached 5.8 GB before the pixel budget).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import CACHE, build_model


def make_images(count: int, megapixels: int) -> Path:
    folder = CACHE / "huge" / f"{count}x{megapixels}mp"
    folder.mkdir(parents=True, exist_ok=True)
    side = int((megapixels * 1_000_000) ** 0.5)
    for index in range(count):
        path = folder / f"huge-{index}.png"
        if path.exists():
            continue
        row = np.linspace(0, 255, side, dtype=np.uint8)
        pixels = np.empty((side, side, 4), dtype=np.uint8)
        pixels[..., 0] = row[None, :]
        pixels[..., 1] = row[:, None]
        pixels[..., 2] = (index * 60) % 256
        pixels[..., 3] = 255
        Image.fromarray(pixels, "RGBA").save(path, compress_level=1)
        del pixels
    return folder


CHILD = """
import json, resource, sys, time
from pathlib import Path
from photo_tagger.core.indexer import Indexer
from photo_tagger.core.store import Library
folder, library_file, workers = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
model = sys.argv[4]
started = time.monotonic()
with Library(library_file) as library:
    summary = Indexer(library, model, decode_workers=workers).index_folders([folder])
print(json.dumps({"indexed": summary.indexed, "skipped": len(summary.skipped),
                  "seconds": round(time.monotonic() - started, 1),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--megapixels", type=int, default=196)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--model", default="demo:shapes",
                        help="demo:shapes, or an architecture of benchmarks/common.py")
    args = parser.parse_args()
    model = args.model if args.model.startswith("demo:") else str(build_model(args.model))
    started = time.monotonic()
    folder = make_images(args.images, args.megapixels)
    print(f"images ready in {time.monotonic() - started:.0f} s: {folder}")
    with tempfile.TemporaryDirectory() as home:
        result = subprocess.run([sys.executable, "-c", CHILD, str(folder),
                                 str(Path(home) / "library.db"), str(args.workers), model],
                                capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"{args.images} x {args.megapixels} MP RGBA PNG, {args.workers} decode threads, "
          f"{args.model}: "
          f"indexed {figures['indexed']} in {figures['seconds']} s, "
          f"peak RSS {figures['peak_rss_mb']} MB (goal <= 2500 MB)")


if __name__ == "__main__":
    main()
