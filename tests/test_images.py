"""Reading every format and mode users have, and refusing broken files with a reason."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import photos
from photo_tagger.core.images import UnreadableImage, is_candidate, load_image, sniff_format
from waiting import HANG_SECONDS


def test_exif_rotation_is_applied_and_details_read(tmp_path: Path) -> None:
    loaded = load_image(photos.jpeg_with_rotation(tmp_path / "r.jpg", orientation=6))
    assert loaded.image.size == (40, 60)
    assert (loaded.width, loaded.height) == (40, 60)
    assert loaded.taken_at == "2024:07:14 10:30:00"
    assert loaded.camera == "Acme TestCam 1"


def test_transparent_areas_become_white(tmp_path: Path) -> None:
    loaded = load_image(photos.png_with_alpha(tmp_path / "a.png"))
    assert loaded.image.mode == "RGB"
    assert loaded.image.getpixel((0, 0)) == (255, 255, 255)
    assert loaded.image.getpixel((20, 20)) == (0, 0, 255)


def test_cmyk_16bit_heic_gif_webp_become_rgb(tmp_path: Path) -> None:
    cmyk = load_image(photos.cmyk_jpeg(tmp_path / "c.jpg")).image
    assert cmyk.mode == "RGB"
    red, green, blue = cmyk.getpixel((5, 5))
    assert red > 200 and green < 100 and blue < 100

    tiff = np.asarray(load_image(photos.tiff_16bit(tmp_path / "t.tif")).image)
    # A full 16-bit gradient keeps its range instead of clipping to white.
    assert tiff.min() < 10 and tiff.max() > 245 and 100 < tiff.mean() < 160

    heic = load_image(photos.heic(tmp_path / "h.heic")).image
    assert heic.mode == "RGB" and heic.size == (64, 48)
    assert load_image(photos.gif(tmp_path / "g.gif")).image.mode == "RGB"
    assert load_image(photos.webp(tmp_path / "w.webp")).image.size == (40, 30)


@pytest.mark.parametrize(("maker", "reason"), [
    (photos.empty, "empty file"),
    (photos.truncated_jpeg, "truncated"),
    (photos.text_as_jpg, "not an image"),
    (photos.decompression_bomb, "too large"),
])
def test_broken_files_raise_with_a_reason(tmp_path: Path, maker, reason: str) -> None:
    path = maker(tmp_path / "broken.jpg")
    started = time.monotonic()
    with pytest.raises(UnreadableImage, match=reason):
        load_image(path)
    assert time.monotonic() - started < HANG_SECONDS  # the bomb is refused from its header


def test_large_jpeg_is_decoded_at_reduced_size(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (10, 120, 200)).save(path, quality=90)
    loaded = load_image(path, target_size=224)
    assert (loaded.width, loaded.height) == (4000, 3000)
    assert 224 <= min(loaded.image.size) < 1000


def test_formats_are_recognised_by_content(tmp_path: Path) -> None:
    disguised = photos.solid(tmp_path / "photo.dat", (10, 200, 10), fmt="PNG")
    assert sniff_format(disguised.read_bytes()[:32]) == "PNG"
    assert is_candidate(disguised)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert not is_candidate(notes)
    assert is_candidate(photos.text_as_jpg(tmp_path / "fake.jpg"))  # gets a skip reason
