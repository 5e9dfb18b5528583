"""Synthetic landscape "photos" for the screenshots: painted with numpy and Pillow, so the
docs need no downloaded images. Each scene kind is drawn from a seed."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

W, H = 720, 540

SKIES = {
    "sunset": [(255, 120, 60), (255, 190, 120), (120, 60, 130)],
    "beach": [(90, 170, 235), (170, 215, 245), (230, 240, 250)],
    "mountain": [(80, 140, 220), (160, 200, 240), (225, 235, 245)],
    "snow": [(150, 180, 215), (200, 215, 235), (235, 240, 248)],
    "forest": [(110, 170, 220), (180, 210, 235), (220, 232, 240)],
    "lake": [(70, 130, 210), (150, 190, 235), (210, 225, 240)],
    "night": [(8, 12, 35), (20, 30, 70), (45, 55, 100)],
    "city": [(250, 150, 90), (250, 200, 150), (150, 120, 170)],
    "flowers": [(100, 170, 240), (170, 210, 245), (225, 238, 250)],
}


def gradient(top: tuple, mid: tuple, bottom: tuple, height: int) -> np.ndarray:
    t = np.linspace(0, 1, height)[:, None]
    a, b, c = (np.array(x, dtype=np.float64) for x in (top, mid, bottom))
    upper = a + (b - a) * np.clip(t * 2, 0, 1)
    lower = b + (c - b) * np.clip(t * 2 - 1, 0, 1)
    rows = np.where(t < 0.5, upper, lower)
    return np.repeat(rows[:, None, :], W, axis=1)


def ridge(rng: np.random.Generator, base: float, rough: float) -> np.ndarray:
    """A mountain skyline by midpoint displacement."""
    points = np.array([base, base], dtype=np.float64)
    scale = rough
    while len(points) < W:
        mids = (points[:-1] + points[1:]) / 2 + rng.normal(0, scale, len(points) - 1)
        merged = np.empty(len(points) * 2 - 1)
        merged[0::2], merged[1::2] = points, mids
        points, scale = merged, scale * 0.55
    return np.interp(np.arange(W), np.linspace(0, W - 1, len(points)), points)


def fill_below(canvas: np.ndarray, line: np.ndarray, colour: tuple) -> None:
    ys = np.arange(H)[:, None]
    mask = ys >= line[None, :]
    canvas[mask] = colour


def glow(canvas: np.ndarray, cx: float, cy: float, radius: float, colour: tuple,
         strength: float = 1.0) -> None:
    ys, xs = np.mgrid[0:H, 0:W]
    d = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)
    halo = np.clip(1 - d / (radius * 5), 0, 1) ** 2 * 0.6 * strength
    disc = (d < radius).astype(np.float64) * strength
    alpha = np.clip(np.maximum(halo, disc), 0, 1)[..., None]
    canvas[:] = canvas * (1 - alpha) + np.array(colour) * alpha


def scene(kind: str, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    sky = [tuple(np.clip(np.array(c) + rng.integers(-18, 18, 3), 0, 255))
           for c in SKIES[kind]]
    canvas = gradient(*sky, H)
    horizon = H * rng.uniform(0.55, 0.7)
    if kind in ("sunset", "city"):
        glow(canvas, rng.uniform(0.25, 0.75) * W, horizon - rng.uniform(10, 60), 28,
             (255, 235, 180))
    elif kind == "night":
        for _ in range(160):
            x, y = rng.integers(0, W), rng.integers(0, int(horizon))
            canvas[y, x] = (255, 255, 240)
        glow(canvas, rng.uniform(0.6, 0.85) * W, H * 0.18, 18, (245, 245, 225), 0.9)
    elif kind in ("beach", "mountain", "lake", "flowers", "forest"):
        glow(canvas, rng.uniform(0.1, 0.9) * W, H * rng.uniform(0.1, 0.25), 20,
             (255, 250, 225), 0.8)
    if kind in ("mountain", "snow", "lake", "forest", "sunset"):
        layers = 3
        for i in range(layers):
            depth = i / layers
            line = ridge(rng, horizon - 140 * (1 - depth) + 40, 90 * (1 - depth) + 20)
            if kind == "sunset":
                colour = tuple(int(v) for v in np.array((90, 50, 90)) * (1 - depth * 0.6))
            elif kind == "snow":
                colour = tuple(int(v) for v in (235 - 30 * depth, 240 - 25 * depth, 250))
            else:
                far = np.array((120, 150, 190))
                near = np.array((50, 85, 60)) if kind != "mountain" else np.array((70, 80, 95))
                colour = tuple(int(v) for v in far + (near - far) * (depth + 0.3))
            fill_below(canvas, line, colour)
            if kind == "mountain" and i == 0:
                peaks = line < line.min() + 35
                ys = np.arange(H)[:, None]
                cap = (ys >= line[None, :]) & (ys < line[None, :] + 22) & peaks[None, :]
                canvas[cap] = (245, 247, 252)
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    h = int(horizon)
    if kind == "beach":
        draw.rectangle((0, h, W, h + 70), fill=(40, 120, 170))
        for y in range(h, h + 70, 6):
            draw.line((0, y, W, y), fill=(70, 150, 195), width=1)
        draw.polygon([(0, h + 60), (W, h + 40), (W, H), (0, H)], fill=(232, 210, 160))
        draw.line((0, h + 60, W, h + 40), fill=(250, 250, 245), width=4)
        if rng.random() < 0.7:
            x = rng.integers(80, W - 120)
            draw.rectangle((x, h + 20, x + 4, h + 120), fill=(80, 60, 40))
            draw.pieslice((x - 70, h - 10, x + 74, h + 60), 180, 360,
                          fill=tuple(int(v) for v in rng.integers(120, 255, 3)))
    elif kind == "lake" or kind == "sunset":
        top = h + 30
        water = np.asarray(image).astype(np.float64)
        mirror = water[max(0, 2 * top - H):top][::-1] * 0.75 + np.array((20, 40, 70)) * 0.25
        rows = min(H - top, len(mirror))
        shimmer = 1 + 0.05 * np.sin(np.arange(rows) * 1.3)[:, None, None]
        water[top:top + rows] = np.clip(mirror[:rows] * shimmer, 0, 255)
        image = Image.fromarray(water.astype(np.uint8))
        draw = ImageDraw.Draw(image)
    elif kind == "forest":
        for _ in range(45):
            x = rng.integers(-20, W + 20)
            base = rng.integers(h, H + 40)
            height = rng.integers(90, 220)
            green = tuple(int(v) for v in (rng.integers(20, 50), rng.integers(60, 110),
                                           rng.integers(35, 60)))
            draw.polygon([(x, base - height), (x - height // 4, base), (x + height // 4, base)],
                         fill=green)
        draw.rectangle((0, H - 30, W, H), fill=(45, 70, 40))
    elif kind == "snow":
        draw.rectangle((0, h + 40, W, H), fill=(240, 244, 250))
        for _ in range(400):
            x, y = rng.integers(0, W), rng.integers(0, H)
            draw.ellipse((x, y, x + 3, y + 3), fill=(255, 255, 255))
    elif kind in ("city", "night"):
        x = 0
        while x < W:
            width = int(rng.integers(35, 90))
            height = int(rng.integers(80, 300))
            shade = int(rng.integers(25, 70)) if kind == "night" else int(rng.integers(60, 110))
            draw.rectangle((x, H - height, x + width, H), fill=(shade, shade, shade + 15))
            for wy in range(H - height + 10, H - 10, 16):
                for wx in range(x + 6, x + width - 8, 12):
                    if rng.random() < (0.45 if kind == "night" else 0.2):
                        draw.rectangle((wx, wy, wx + 5, wy + 8), fill=(255, 220, 130))
            x += width + int(rng.integers(0, 8))
    elif kind == "flowers":
        draw.rectangle((0, h, W, H), fill=(70, 140, 60))
        hue = [(230, 60, 90), (250, 200, 40), (240, 240, 250), (170, 80, 200)][seed % 4]
        for _ in range(260):
            y = rng.integers(h, H)
            size = 3 + (y - h) / (H - h) * 12
            x = rng.integers(0, W)
            colour = tuple(int(np.clip(c + rng.integers(-25, 25), 0, 255)) for c in hue)
            draw.ellipse((x - size, y - size, x + size, y + size), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(0.8))
    array = np.asarray(image).astype(np.int16)
    array += rng.integers(-6, 6, array.shape).astype(np.int16)  # a little sensor grain
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


def write_library(folder: Path, per_kind: int = 7) -> dict[str, list[Path]]:
    """Photos in a few sub-folders, with EXIF dates and cameras; returns kind → paths."""
    trips = {"Holidays 2024": ["beach", "sunset", "lake", "city"],
             "Mountains": ["mountain", "snow", "forest"],
             "Garden & evenings": ["flowers", "night"]}
    written: dict[str, list[Path]] = {}
    for trip, kinds in trips.items():
        for kind in kinds:
            for i in range(per_kind):
                seed = zlib.crc32(f"{kind}{i}".encode()) % 10_000
                path = folder / trip / f"IMG_{2000 + seed:04d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                exif = Image.Exif()
                exif[0x010F] = "Fujifilm"
                exif[0x0110] = "X-T30"
                month = 1 + (seed % 12)
                day = 1 + seed % 28
                exif.get_ifd(0x8769)[36867] = f"2024:{month:02d}:{day:02d} 1{seed % 10}:24:05"
                scene(kind, seed).save(path, "JPEG", quality=90, exif=exif)
                written.setdefault(kind, []).append(path)
    return written
