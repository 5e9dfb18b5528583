"""Photos the tests write: every format and mode the app must read, and broken files."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def solid(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (64, 48),
          fmt: str | None = None, **save: object) -> Path:
    """A flat-colour image with a little deterministic texture, so vectors differ."""
    rng = np.random.default_rng(abs(hash((colour, size))) % 2**32)
    base = np.zeros((size[1], size[0], 3), dtype=np.int16) + np.array(colour, dtype=np.int16)
    noise = rng.integers(-12, 12, size=base.shape)
    Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(path, fmt, **save)
    return path


def noise(path: Path, seed: int, size: tuple[int, int] = (64, 48)) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def jpeg_with_rotation(path: Path, orientation: int = 6) -> Path:
    """A 60×40 JPEG whose EXIF says to rotate it; shown upright it is 40×60."""
    image = Image.new("RGB", (60, 40), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x0110] = "TestCam 1"
    exif[0x010F] = "Acme"
    exif.get_ifd(0x8769)[36867] = "2024:07:14 10:30:00"
    image.save(path, "JPEG", exif=exif)
    return path


def png_with_alpha(path: Path, size: tuple[int, int] = (40, 40)) -> Path:
    width, height = size
    image = Image.new("RGBA", size, (0, 0, 255, 0))
    image.paste((0, 0, 255, 255), (width // 4, height // 4, 3 * width // 4, 3 * height // 4))
    image.save(path)
    return path


def cmyk_jpeg(path: Path) -> Path:
    Image.new("CMYK", (40, 30), (0, 200, 200, 0)).save(path, "JPEG")
    return path


def tiff_16bit(path: Path) -> Path:
    array = (np.linspace(0, 65535, 40 * 30).reshape(30, 40)).astype(np.uint16)
    Image.fromarray(array).save(path, "TIFF")
    return path


def heic(path: Path) -> Path:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    Image.new("RGB", (64, 48), (30, 160, 30)).save(path, "HEIF")
    return path


def gif(path: Path) -> Path:
    frames = [Image.new("P", (32, 32), i * 40) for i in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    return path


def webp(path: Path) -> Path:
    Image.new("RGB", (40, 30), (240, 200, 10)).save(path, "WEBP")
    return path


def empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def truncated_jpeg(path: Path) -> Path:
    buffer = io.BytesIO()
    noise_image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (200, 200, 3),
                                                                    dtype=np.uint8))
    noise_image.save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 3])
    return path


def text_as_jpg(path: Path) -> Path:
    path.write_text("this is not a photo\n")
    return path


def decompression_bomb(path: Path) -> Path:
    """A 100-byte PNG whose header claims 30000×30000 pixels (900 MP)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))
    return path
