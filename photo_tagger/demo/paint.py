"""A second shape generator that training never sees: the demo model is measured on it.

Different drawing code from `shapes.py` on purpose: PIL's ImageDraw primitives (ellipse,
regular polygon, rectangle, a heart from two circles and a polygon) drawn straight at the
final size, either aliased as in a paint program or at 2× with a Lanczos reduction; named
colours of paint programs and CSS instead of random hues; other sizes (128 to 1024 px) and
backgrounds (white, paper, black, slate, vertical gradients). No torch here.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from photo_tagger.demo.shapes import COLOURS, SHAPES, Item

# Colours a person picks from a palette (MS Paint, CSS names), by the word they would use.
PALETTE: dict[str, tuple[tuple[int, int, int], ...]] = {
    "red": ((255, 0, 0), (237, 28, 36), (220, 20, 60), (178, 34, 34), (200, 16, 46)),
    "orange": ((255, 165, 0), (255, 140, 0), (255, 127, 39), (245, 130, 48)),
    "yellow": ((255, 255, 0), (255, 215, 0), (255, 242, 0), (250, 220, 50)),
    "green": ((0, 128, 0), (34, 177, 76), (50, 205, 50), (0, 200, 80), (46, 139, 87)),
    "blue": ((0, 0, 255), (30, 144, 255), (65, 105, 225), (63, 72, 204), (0, 90, 200)),
    "purple": ((128, 0, 128), (148, 0, 211), (138, 43, 226), (163, 73, 164), (160, 32, 240)),
}
BACKGROUNDS = ((255, 255, 255), (245, 245, 245), (253, 246, 227), (0, 0, 0), (40, 44, 52),
               (128, 128, 128))
SIZES = (128, 200, 256, 300, 400, 512, 640, 800, 1024)


def _star(cx: float, cy: float, r: float, angle: float, inner: float) -> list[tuple]:
    pts = []
    for k in range(10):
        rr = r if k % 2 == 0 else r * inner
        t = -math.pi / 2 + angle + k * math.pi / 5
        pts.append((cx + rr * math.cos(t), cy + rr * math.sin(t)))
    return pts


def _rotate(points: list[tuple], cx: float, cy: float, angle: float) -> list[tuple]:
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + (x - cx) * c - (y - cy) * s, cy + (x - cx) * s + (y - cy) * c)
            for x, y in points]


def _heart(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, angle: float,
           fill, outline, width: int) -> None:
    """Two circles and a V below them, the way a heart is built from primitives."""
    lobe = r * 0.52
    top = cy - r * 0.35
    if angle == 0.0 and not outline:
        for dx in (-lobe * 0.95, lobe * 0.95):
            draw.ellipse((cx + dx - lobe, top - lobe, cx + dx + lobe, top + lobe), fill=fill)
        draw.polygon([(cx - r * 0.97, top + lobe * 0.25), (cx + r * 0.97, top + lobe * 0.25),
                      (cx, cy + r)], fill=fill)
        return
    # Rotated or outlined: the same outline as one polygon (circle arcs and the V).
    pts = []
    for side in (-1, 1):
        ox = cx + side * lobe * 0.95
        arc = np.linspace(math.pi * (0.8 if side < 0 else 1.0),
                          math.pi * (2.0 if side < 0 else 2.2), 24)
        pts += [(ox + lobe * math.cos(t), top + lobe * math.sin(t)) for t in arc]
    pts.append((cx, cy + r))
    pts = _rotate(pts, cx, cy, angle)
    draw.polygon(pts, fill=fill, outline=outline, width=width)


def draw_shape(shape: str, colour: str, rng: np.random.Generator) -> Image.Image:
    """One `colour` `shape` drawn as a person would in a paint program."""
    size = int(rng.choice(SIZES))
    smooth = rng.random() < 0.5
    scale = 2 if smooth else 1
    side = size * scale
    if rng.random() < 0.25:  # a vertical gradient between two neutral tones
        a, b = (np.array(BACKGROUNDS[i], np.float32) for i in rng.choice(len(BACKGROUNDS), 2))
        t = np.linspace(0, 1, side, dtype=np.float32)[:, None, None]
        canvas = Image.fromarray(np.broadcast_to(a * (1 - t) + b * t, (side, side, 3))
                                 .astype(np.uint8), "RGB")
    else:
        canvas = Image.new("RGB", (side, side), BACKGROUNDS[rng.integers(len(BACKGROUNDS))])
    palette = PALETTE[colour]
    fill = palette[rng.integers(len(palette))]
    draw = ImageDraw.Draw(canvas)
    r = rng.uniform(0.15, 0.70) / 2 * side
    cx, cy = (float(v) for v in rng.uniform(r * 1.1, side - r * 1.1, 2))
    angle = math.radians(rng.uniform(-40, 40)) if rng.random() < 0.4 else 0.0
    outline = None
    width = 0
    if rng.random() < 0.35:
        outline = (0, 0, 0) if rng.random() < 0.7 else (255, 255, 255)
        width = max(1, int(rng.uniform(0.01, 0.03) * side))
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill, outline=outline, width=width)
    elif shape == "square":
        h = r * 0.82
        if angle == 0.0:
            draw.rectangle((cx - h, cy - h, cx + h, cy + h), fill=fill, outline=outline,
                           width=width)
        else:
            corners = [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
            draw.polygon(_rotate(corners, cx, cy, angle), fill=fill, outline=outline,
                         width=width)
    elif shape == "triangle":
        draw.regular_polygon((cx, cy + r * 0.15, r), 3, rotation=math.degrees(angle),
                             fill=fill, outline=outline, width=width)
    elif shape == "star":
        draw.polygon(_star(cx, cy, r, angle, rng.uniform(0.38, 0.5)), fill=fill,
                     outline=outline, width=width)
    elif shape == "heart":
        _heart(draw, cx, cy, r, angle, fill, outline, width)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    if smooth:
        canvas = canvas.resize((size, size), Image.Resampling.LANCZOS)
    return canvas


def write_dataset(folder: str | Path, per_combo: int, seed: int) -> list[Item]:
    """`per_combo` drawings of every shape×colour, saved as PNG or JPEG (named like
    `red_circle_0001.png`), so a test knows what each file shows."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    items = []
    combos = list(itertools.product(SHAPES, COLOURS)) * per_combo
    for i, (shape, colour) in enumerate(combos):
        image = draw_shape(shape, colour, rng)
        if rng.random() < 0.5:
            path = folder / f"{colour}_{shape}_{i:04d}.png"
            image.save(path)
        else:
            path = folder / f"{colour}_{shape}_{i:04d}.jpg"
            image.save(path, quality=int(rng.integers(70, 96)))
        items.append(Item(path, shape, colour))
    return items
