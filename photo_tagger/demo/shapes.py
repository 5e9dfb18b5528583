"""Synthetic shape photos with known content, and their captions in five languages.

No torch here: tests import this module to make fresh images for behaviour checks, and
the demo model is trained on its output (see docs/DEMO-MODEL.md).
"""

from __future__ import annotations

import colorsys
import itertools
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "heart")
COLOURS: tuple[str, ...] = ("red", "orange", "yellow", "green", "blue", "purple")
LANGS: tuple[str, ...] = ("en", "de", "fr", "es", "zh")

# Hue (0..1) of each colour; the jitter below stays well inside the gaps between them.
_HUES = {"red": 0.0, "orange": 0.075, "yellow": 0.155, "green": 0.34, "blue": 0.62,
         "purple": 0.78}
_HUE_JITTER = 0.018

# Bare words a user would type. The first entry is the canonical label used in evaluation.
SHAPE_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {"circle": ("circle",), "square": ("square",), "triangle": ("triangle",),
           "star": ("star",), "heart": ("heart",)},
    "de": {"circle": ("Kreis",), "square": ("Quadrat",), "triangle": ("Dreieck",),
           "star": ("Stern",), "heart": ("Herz",)},
    "fr": {"circle": ("cercle",), "square": ("carré",), "triangle": ("triangle",),
           "star": ("étoile",), "heart": ("cœur", "coeur")},
    "es": {"circle": ("círculo",), "square": ("cuadrado",), "triangle": ("triángulo",),
           "star": ("estrella",), "heart": ("corazón",)},
    "zh": {"circle": ("圆", "圆形"), "square": ("正方形", "方形"), "triangle": ("三角形", "三角"),
           "star": ("星星", "五角星"), "heart": ("心形", "爱心")},
}
COLOUR_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {c: (c,) for c in COLOURS},
    "de": {"red": ("rot",), "orange": ("orange",), "yellow": ("gelb",), "green": ("grün",),
           "blue": ("blau",), "purple": ("lila", "violett")},
    "fr": {"red": ("rouge",), "orange": ("orange",), "yellow": ("jaune",), "green": ("vert",),
           "blue": ("bleu",), "purple": ("violet",)},
    "es": {"red": ("rojo",), "orange": ("naranja",), "yellow": ("amarillo",),
           "green": ("verde",), "blue": ("azul",), "purple": ("morado",)},
    "zh": {"red": ("红色",), "orange": ("橙色",), "yellow": ("黄色",), "green": ("绿色",),
           "blue": ("蓝色",), "purple": ("紫色",)},
}

# Grammar tables. German: gender decides the adjective ending; "lila"/"orange" do not
# decline in standard German, so the declined forms use "violett"/"orangefarben".
_DE_GENDER = {"circle": "m", "square": "n", "triangle": "n", "star": "m", "heart": "n"}
_DE_DATIVE = {"circle": "Kreis", "square": "Quadrat", "triangle": "Dreieck", "star": "Stern",
              "heart": "Herzen"}
_DE_STEM = {"red": "rot", "orange": "orangefarben", "yellow": "gelb", "green": "grün",
            "blue": "blau", "purple": "violett"}
# French and Spanish: adjective after the noun, agreeing in gender; "orange"/"naranja" are
# invariable.
_FR_FEM = {"star"}
_FR_ADJ = {"red": ("rouge", "rouge"), "orange": ("orange", "orange"),
           "yellow": ("jaune", "jaune"), "green": ("vert", "verte"),
           "blue": ("bleu", "bleue"), "purple": ("violet", "violette")}
_ES_FEM = {"star"}
_ES_ADJ = {"red": ("rojo", "roja"), "orange": ("naranja", "naranja"),
           "yellow": ("amarillo", "amarilla"), "green": ("verde", "verde"),
           "blue": ("azul", "azul"), "purple": ("morado", "morada")}


class Item(NamedTuple):
    """One written image and what it shows."""

    path: Path
    shape: str
    colour: str


def _an(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _en(shape: str | None, colour: str | None) -> list[str]:
    if shape and colour:
        article = _an(colour).split()[0]
        np_ = f"{article} {colour} {shape}"
        return [np_, f"{colour} {shape}", f"a photo of {np_}", f"this is a photo of {np_}.",
                f"a picture of {np_} on a plain background"]
    if shape:
        return [shape, _an(shape), f"a photo of {_an(shape)}",
                f"this is a photo of {_an(shape)}.", f"a {shape} shape"]
    assert colour
    return [colour, f"something {colour}", f"{_an(colour)} object", f"the colour {colour}",
            f"this is a photo of something {colour}."]


def _de(shape: str | None, colour: str | None) -> list[str]:
    if shape and colour:
        noun = SHAPE_WORDS["de"][shape][0]
        masc = _DE_GENDER[shape] == "m"
        adj = _DE_STEM[colour] + ("er" if masc else "es")
        dat = f"einem {_DE_STEM[colour]}en {_DE_DATIVE[shape]}"
        return [f"ein {adj} {noun}", f"{adj} {noun}", f"ein Foto mit {dat}",
                f"dies ist ein Foto mit {dat}.", f"ein Bild mit {dat}"]
    if shape:
        noun = SHAPE_WORDS["de"][shape][0]
        return [noun, f"ein {noun}", f"ein Foto mit einem {_DE_DATIVE[shape]}",
                f"dies ist ein Foto mit einem {_DE_DATIVE[shape]}.", f"eine Form: {noun}"]
    assert colour
    words = COLOUR_WORDS["de"][colour]
    nominal = _DE_STEM[colour].capitalize()
    return [*words, f"etwas {nominal}es", f"die Farbe {words[0]}",
            f"dies ist ein Foto von etwas {nominal}em."]


def _fr(shape: str | None, colour: str | None) -> list[str]:
    if shape:
        noun = SHAPE_WORDS["fr"][shape][0]
        art = "une" if shape in _FR_FEM else "un"
        of = "d'une" if shape in _FR_FEM else "d'un"
    if shape and colour:
        adj = _FR_ADJ[colour][shape in _FR_FEM]
        return [f"{art} {noun} {adj}", f"{noun} {adj}", f"une photo {of} {noun} {adj}",
                f"ceci est une photo {of} {noun} {adj}.", f"une image {of} {noun} {adj}"]
    if shape:
        words = SHAPE_WORDS["fr"][shape]
        return [*words, f"{art} {noun}", f"une photo {of} {noun}",
                f"ceci est une photo {of} {noun}."]
    assert colour
    adj = _FR_ADJ[colour][0]
    de = "d'" if adj[0] in "aeiou" else "de "
    return [adj, f"quelque chose {de}{adj}", f"la couleur {adj}",
            f"ceci est une photo de quelque chose {de}{adj}."]


def _es(shape: str | None, colour: str | None) -> list[str]:
    if shape:
        noun = SHAPE_WORDS["es"][shape][0]
        art = "una" if shape in _ES_FEM else "un"
    if shape and colour:
        adj = _ES_ADJ[colour][shape in _ES_FEM]
        return [f"{art} {noun} {adj}", f"{noun} {adj}", f"una foto de {art} {noun} {adj}",
                f"esta es una foto de {art} {noun} {adj}.", f"una imagen de {art} {noun} {adj}"]
    if shape:
        return [noun, f"{art} {noun}", f"una foto de {art} {noun}",
                f"esta es una foto de {art} {noun}.", f"la forma de {art} {noun}"]
    assert colour
    adj = _ES_ADJ[colour][0]
    return [adj, f"algo {adj}", f"el color {adj}", f"esta es una foto de algo {adj}."]


def _zh(shape: str | None, colour: str | None) -> list[str]:
    if shape and colour:
        noun, alt = SHAPE_WORDS["zh"][shape]
        col = COLOUR_WORDS["zh"][colour][0]
        return [f"一个{col}的{noun}", f"{col}{alt}", f"{col}的{alt}",
                f"这是一张{col}{alt}的照片。", f"一张{col}的{noun}的图片"]
    if shape:
        noun, alt = SHAPE_WORDS["zh"][shape]
        return [noun, alt, f"一个{noun}", f"这是一张{alt}的照片。", f"{alt}的图片"]
    assert colour
    col = COLOUR_WORDS["zh"][colour][0]
    return [col, f"{col}的东西", f"一个{col}的物体", f"这是一张{col}东西的照片。"]


_BUILDERS = {"en": _en, "de": _de, "fr": _fr, "es": _es, "zh": _zh}


def prompt(label: str) -> str:
    """The template the app wraps around a tag label before scoring it."""
    return f"this is a photo of {label}."


def label(shape: str | None, colour: str | None, lang: str) -> str:
    """The short search phrase for a shape and/or colour: "red circle", "roter Kreis"...

    Used as the canonical query in evaluation and tests.
    """
    return captions(shape, colour, lang)[1 if (shape and colour) else 0]


def captions(shape: str | None, colour: str | None, lang: str) -> list[str]:
    """Captions in `lang` that are true of an image of a `colour` `shape`.

    Pass `colour=None` for shape-only captions ("a circle", "ein Kreis") or `shape=None`
    for colour-only ones ("something red"). Besides the native sentences, every bare label
    also appears inside the app's English prompt template, because the app scores tag
    labels of any language with `prompt(label)`.
    """
    if shape is None and colour is None:
        raise ValueError("need a shape, a colour or both")
    if shape is not None and shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}")
    if colour is not None and colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}")
    native = _BUILDERS[lang](shape, colour)
    if shape and colour:
        bare = native[1:2]
    elif shape:
        bare = list(SHAPE_WORDS[lang][shape])
    else:
        bare = list(COLOUR_WORDS[lang][colour])  # type: ignore[index]
    templated = [prompt(b) for b in bare if prompt(b) not in native]
    return native + templated


def all_captions() -> list[tuple[str, str | None, str | None, str]]:
    """Every caption as (text, shape or None, colour or None, lang), for training."""
    out = []
    for lang in LANGS:
        for shape, colour in itertools.product((*SHAPES, None), (*COLOURS, None)):
            if shape is None and colour is None:
                continue
            out += [(text, shape, colour, lang) for text in captions(shape, colour, lang)]
    return out


# --- rendering -------------------------------------------------------------------------

def _outline(shape: str, points: int = 64) -> np.ndarray:
    """Polygon of the shape around (0, 0) with radius about 1."""
    if shape == "circle":
        t = np.linspace(0, 2 * np.pi, points, endpoint=False)
        return np.stack([np.cos(t), np.sin(t)], 1)
    if shape == "square":
        return np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) * 0.8
    if shape == "triangle":
        t = np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        return np.stack([np.cos(t), -np.sin(t)], 1) * 1.05
    if shape == "star":
        t = np.pi / 2 + np.arange(10) * np.pi / 5
        r = np.where(np.arange(10) % 2 == 0, 1.05, 0.45)
        return np.stack([r * np.cos(t), -r * np.sin(t)], 1)
    if shape == "heart":
        t = np.linspace(0, 2 * np.pi, points, endpoint=False)
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        xy = np.stack([x, y + 2.5], 1) / 16.5
        return xy
    raise ValueError(f"unknown shape {shape!r}")


def _grey(rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    """A desaturated background colour, so that "red" always means the shape."""
    v = rng.uniform(lo, hi)
    tint = rng.normal(0, 6, 3)
    return np.clip(v + tint, 0, 255)


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    kind = rng.choice(["plain", "plain", "gradient", "radial"])
    if kind == "plain":
        return np.broadcast_to(_grey(rng, 15, 240), (size, size, 3)).astype(np.float32)
    a, b = _grey(rng, 15, 240), _grey(rng, 15, 240)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    if kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        t = (xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle) + 0.5
    else:
        cx, cy = rng.uniform(0.2, 0.8, 2)
        t = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) * 1.4
    t = np.clip(t, 0, 1)[..., None]
    image: np.ndarray = (a * (1 - t) + b * t).astype(np.float32)
    return image


def shape_rgb(colour: str, rng: np.random.Generator) -> tuple[int, int, int]:
    """A random shade of `colour`: hue jittered a little, always saturated."""
    hue = (_HUES[colour] + rng.uniform(-_HUE_JITTER, _HUE_JITTER)) % 1.0
    sat = rng.uniform(0.7, 1.0)
    val = rng.uniform(0.8, 1.0) if colour in ("yellow", "orange") else rng.uniform(0.6, 1.0)
    r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
    return round(r * 255), round(g * 255), round(b * 255)


def render_shape(shape: str, colour: str, rng: np.random.Generator, size: int = 128,
                 style: str = "classic") -> Image.Image:
    """Draw one `colour` `shape` as an RGB image of `size` px.

    `style="classic"`: large shapes on a greyish background (the tests' images).
    `style="wide"`: the ways people draw shapes (see `_render_wide`); training mixes both.
    Every choice is drawn from `rng`, so a seed fixes the image exactly.
    """
    if colour not in _HUES:
        raise ValueError(f"unknown colour {colour!r}")
    if style == "wide":
        return _render_wide(shape, colour, rng, size)
    if style != "classic":
        raise ValueError(f"unknown style {style!r}")
    ss = 4  # the outline is drawn 4× larger and scaled down, for smooth photo-like edges
    big = size * ss
    image = Image.fromarray(_background(size, rng).astype(np.uint8), "RGB")
    # Large shapes (about 55-90 % of the side), a little off centre and tilted at most
    # 25 degrees: a tiny ViT reading a 32 px input can then tell the outlines apart.
    radius = rng.uniform(0.28, 0.45) * big
    margin = radius * 1.05
    cx, cy = rng.uniform(margin, big - margin, 2)
    angle = rng.uniform(-1, 1) * math.radians(25)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    pts = _outline(shape) @ rot.T * radius + (cx, cy)
    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).polygon([tuple(p) for p in pts], fill=255)
    mask = mask.resize((size, size), Image.Resampling.BOX)
    image.paste(shape_rgb(colour, rng), (0, 0, size, size), mask)
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    sigma = rng.choice([0.0, rng.uniform(2, 10)])
    if sigma:
        arr = np.asarray(image, np.float32) + rng.normal(0, sigma, (size, size, 1))
        image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    return image


# Hue ranges (0..1) of what people call each colour, wider than the classic jitter:
# pure blue (0.667), dodger blue (0.58), gold (0.14) and dark violet (0.78) all count.
_HUE_RANGES = {"red": (-0.045, 0.03), "orange": (0.05, 0.115), "yellow": (0.128, 0.18),
               "green": (0.25, 0.45), "blue": (0.545, 0.69), "purple": (0.72, 0.86)}


def paint_rgb(colour: str, rng: np.random.Generator) -> tuple[float, float, float]:
    """Any shade a person would still call `colour` (0..1 floats): saturated, not too dark."""
    lo, hi = _HUE_RANGES[colour]
    hue = rng.uniform(lo, hi) % 1.0
    sat = rng.uniform(0.55, 1.0)
    val = rng.uniform(0.8, 1.0) if colour in ("yellow", "orange") else rng.uniform(0.5, 1.0)
    return colorsys.hsv_to_rgb(hue, sat, val)


def _wide_background(size: int, rng: np.random.Generator) -> np.ndarray:
    """Plain light, plain dark, mid grey or a gradient, all near-neutral, float 0..255."""
    kind = rng.choice(["light", "light", "dark", "mid", "gradient", "gradient"])
    if kind == "light":
        return np.broadcast_to(_grey(rng, 205, 255), (size, size, 3)).astype(np.float32)
    if kind == "dark":
        return np.broadcast_to(_grey(rng, 0, 60), (size, size, 3)).astype(np.float32)
    if kind == "mid":
        return np.broadcast_to(_grey(rng, 60, 205), (size, size, 3)).astype(np.float32)
    return _background(size, rng) if rng.random() < 0.3 else _gradient(size, rng)


def _gradient(size: int, rng: np.random.Generator) -> np.ndarray:
    a, b = _grey(rng, 0, 255), _grey(rng, 0, 255)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    angle = rng.uniform(0, 2 * np.pi)
    t = np.clip((xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle) + 0.5, 0, 1)
    image: np.ndarray = (a * (1 - t[..., None]) + b * t[..., None]).astype(np.float32)
    return image


def _render_wide(shape: str, colour: str, rng: np.random.Generator, size: int
                 ) -> Image.Image:
    """A shape as people draw it: 15-70 % of the side, anywhere, flat or lightly shaded,
    optionally outlined or rotated, on a light, dark or gradient background."""
    ss = 4
    big = size * ss
    background = _wide_background(size, rng)
    extent = rng.uniform(0.15, 0.70)  # the shape's width as a fraction of the side
    radius = extent / 2 * big
    margin = radius * 1.08
    cx, cy = rng.uniform(margin, big - margin, 2)
    angle = math.radians(rng.uniform(-45, 45)) if rng.random() < 0.5 else 0.0
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    pts = [tuple(p) for p in _outline(shape, 96) @ rot.T * radius + (cx, cy)]
    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).polygon(pts, fill=255)
    fill = np.asarray(paint_rgb(colour, rng), np.float32) * 255
    colour_img = np.broadcast_to(fill, (size, size, 3)).astype(np.float32)
    if rng.random() < 0.4:  # lightly shaded: brightness varies by up to ±18 % across it
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
        a = rng.uniform(0, 2 * np.pi)
        t = (xx - cx / big) * np.cos(a) + (yy - cy / big) * np.sin(a)
        shade = 1 + rng.uniform(0.05, 0.18) * t / max(extent / 2, 1e-3)
        colour_img = np.clip(colour_img * np.clip(shade, 0.8, 1.2)[..., None], 0, 255)
    alpha = np.asarray(mask.resize((size, size), Image.Resampling.BOX), np.float32) / 255
    out = background * (1 - alpha[..., None]) + colour_img * alpha[..., None]
    if rng.random() < 0.3:  # an outline, dark, white or a darker shade of the fill
        line = Image.new("L", (big, big), 0)
        width = max(ss, int(rng.uniform(0.01, 0.035) * big))
        ImageDraw.Draw(line).line([*pts, pts[0], pts[1]], fill=255, width=width,
                                  joint="curve")
        line_alpha = np.asarray(line.resize((size, size), Image.Resampling.BOX),
                                np.float32)[..., None] / 255
        kind = rng.integers(3)
        ink = (np.full(3, rng.uniform(0, 50)) if kind == 0 else
               np.full(3, rng.uniform(225, 255)) if kind == 1 else fill * 0.55)
        out = out * (1 - line_alpha) + ink * line_alpha
    image = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.15:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
    if rng.random() < 0.2:
        arr = np.asarray(image, np.float32) + rng.normal(0, rng.uniform(1, 5), (size, size, 1))
        image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    return image


def write_dataset(folder: str | Path, n: int, seed: int, size: int = 128,
                  suffix: str = ".jpg", style: str = "classic") -> list[Item]:
    """Write `n` images cycling over every shape×colour, named `red_circle_0001.jpg`.

    Returns what each file shows, so a test can check search and tagging results.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    combos = list(itertools.product(SHAPES, COLOURS))
    items = []
    for i in range(n):
        shape, colour = combos[i % len(combos)]
        path = folder / f"{colour}_{shape}_{i:04d}{suffix}"
        image = render_shape(shape, colour, rng, size, style)
        if suffix.lower() in (".jpg", ".jpeg"):
            image.save(path, quality=92)
        else:
            image.save(path)
        items.append(Item(path, shape, colour))
    return items
