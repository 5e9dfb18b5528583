"""Every setting declared once, with its default. No Qt here."""

from __future__ import annotations

import os

DEFAULT_MODEL = "google/siglip2-base-patch16-224"
MODEL_ENV = "PHOTO_TAGGER_MODEL"
DEMO_MODEL_NAME = "demo:shapes"

# Reference prompt of SigLIP 2; a label may override it.
DEFAULT_TEMPLATE = "this is a photo of {label}."
# Sigmoid score at or above which a label becomes a tag (see docs/TAGGING.md).
DEFAULT_THRESHOLD = 0.1
# A tag learned from examples alone (no text prior): its scores are the classifier's own
# odds, so the even point is its threshold (docs/TAGGING.md, "Tags that learn").
LEARNED_THRESHOLD = 0.5
# The demo model's scores sit near 0 or 1; its starter labels use this threshold, measured
# on both shape generators (docs/DEMO-MODEL.md).
DEMO_TAG_THRESHOLD = 0.5

# Images larger than this many pixels are skipped (decompression-bomb guard).
MAX_IMAGE_PIXELS = 200_000_000
BATCH_SIZE = 8
# Files read ahead of decoding; bounds memory while keeping the disk busy.
DECODE_AHEAD = 16
# Larger files are not read ahead into memory (their decoder reads them).
READ_AHEAD_MAX_BYTES = 64 * 1024 * 1024
# Bytes held by the read-ahead at once, whatever the files' sizes.
READ_AHEAD_TOTAL_BYTES = 256 * 1024 * 1024
# Pixels decoded at full size at once, across every decoding thread: one image near
# MAX_IMAGE_PIXELS (~0.8 GB as RGBA) decodes alone, so peak memory stays bounded whatever
# the folder holds (three 196 MP PNGs at once reached 5.8 GB).
DECODE_PIXEL_BUDGET = 250_000_000
# The window's on-disk thumbnail cache; the least recently used files go at start-up
# beyond this (a 320 px thumbnail is ~20 KB: room for about 100k photos and some previews).
THUMBNAIL_CACHE_MAX_BYTES = 2 * 1024 * 1024 * 1024
# The window's grid: thumbnail width in pixels, and the range the settings allow.
THUMBNAIL_SIZE = 180
THUMBNAIL_SIZE_MIN = 100
THUMBNAIL_SIZE_MAX = 320

# Results a search returns: the window lists many, the command line prints a screenful,
# and the Python API (`Searcher`) gives this many when the caller names no limit.
SEARCH_LIMIT = 1000
CLI_SEARCH_LIMIT = 20
API_SEARCH_LIMIT = 50
# Cosine similarity from which photos count as near-duplicates (their perceptual hashes
# must agree too: core/search.py). Set per model kind by measurement: a real SigLIP 2 keeps
# a resized, recompressed copy above 0.95; the 48 px demo model moves it further
# (docs/DEMO-MODEL.md, "Near-duplicates").
DUPLICATE_THRESHOLD = 0.95
DEMO_DUPLICATE_THRESHOLD = 0.85


def duplicate_threshold(model_id: str | None) -> float:
    """The default near-duplicate cosine for a library on `model_id`."""
    return DEMO_DUPLICATE_THRESHOLD if model_id == DEMO_MODEL_NAME else DUPLICATE_THRESHOLD

# Seconds a new or changed file must stay the same before it is indexed, and between
# scans of folders that are polled (network shares).
SETTLE_SECONDS = 0.75
POLL_INTERVAL_SECONDS = 5.0

# The SigLIP 2 checkpoints offered in the settings, with rough size and CPU speed hints.
KNOWN_MODELS: dict[str, str] = {
    "google/siglip2-base-patch16-224": "375M params, ~4 photos/s on 2 CPU cores (default)",
    "google/siglip2-base-patch16-256": "375M params, ~3 photos/s",
    "google/siglip2-base-patch16-384": "375M params, ~1.3 photos/s",
    "google/siglip2-base-patch16-512": "375M params, ~0.6 photos/s",
    "google/siglip2-base-patch32-256": "375M params, ~14 photos/s (fastest)",
    "google/siglip2-base-patch16-224@int8": "fast mode: int8 on the CPU, ~1.5× faster, "
                                            "vectors within cosine 0.999 of fp32",
    "google/siglip2-base-patch16-naflex": "375M params, keeps aspect ratio, ~2.7 photos/s",
    "google/siglip2-large-patch16-256": "880M params, ~1 photo/s",
    "google/siglip2-large-patch16-384": "880M params, ~0.4 photos/s",
    "google/siglip2-large-patch16-512": "880M params, ~0.2 photos/s",
    "google/siglip2-so400m-patch14-224": "1.1B params, ~0.5 photos/s",
    "google/siglip2-so400m-patch14-384": "1.1B params, ~0.2 photos/s (best, GPU advised)",
    "google/siglip2-so400m-patch16-256": "1.1B params, ~0.4 photos/s",
    "google/siglip2-so400m-patch16-384": "1.1B params, ~0.2 photos/s",
    "google/siglip2-so400m-patch16-512": "1.1B params, ~0.1 photos/s (GPU advised)",
    DEMO_MODEL_NAME: "demo model trained on coloured shapes only; works offline",
}


def requested_model(cli_value: str | None) -> str | None:
    """The model the user asked for now (`--model`, then `$PHOTO_TAGGER_MODEL`), if any."""
    return cli_value or os.environ.get(MODEL_ENV) or None
