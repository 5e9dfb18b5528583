"""Reading photos safely: format sniffing, EXIF orientation and dates, RGB conversion,
reduced-size JPEG decoding and a decompression-bomb guard."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from photo_tagger.config import DECODE_PIXEL_BUDGET, MAX_IMAGE_PIXELS

IMAGE_EXTENSIONS = {
    ".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp",
    ".heic", ".heif", ".hif",
}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_heif_registered = False
# Our own check below gives the reason; Pillow's guard stays as a backstop at twice this.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
# Pillow allocates pixels in 16 MB blocks, which glibc serves from a per-thread heap and
# keeps after they are freed: three decode threads each held on to a 196 MP image's worth
# (2.4 GB peak, against 1.3 GB with one thread). Blocks above glibc's largest mmap
# threshold (32 MB) are mapped and unmapped, so freed pixels go back at once.
if "PILLOW_BLOCK_SIZE" not in os.environ:
    Image.core.set_block_size(64 << 20)  # type: ignore[attr-defined]


_TOO_LARGE = (f"image too large to open safely (over {MAX_IMAGE_PIXELS // 1_000_000} "
              "megapixels; possibly a decompression bomb)")


class UnreadableImage(Exception):
    """A file that cannot be indexed; the message is the reason shown to the user."""


class PixelBudget:
    """Bounds the pixels being decoded at full size at once, across threads. A decode
    waits until its pixels fit; one larger than the whole budget waits to run alone."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self.peak = 0  # the most ever reserved at once, for tests and benchmarks
        self._changed = threading.Condition()

    @contextmanager
    def reserve(self, pixels: int) -> Iterator[None]:
        pixels = min(pixels, self.limit)
        with self._changed:
            self._changed.wait_for(lambda: self.in_use + pixels <= self.limit)
            self.in_use += pixels
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._changed:
                self.in_use -= pixels
                self._changed.notify_all()


DECODE_BUDGET = PixelBudget(DECODE_PIXEL_BUDGET)


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        try:
            from pillow_heif import register_heif_opener

            register_heif_opener()
        except ImportError:  # HEIC support is optional at run time
            pass
        _heif_registered = True


def sniff_format(head: bytes) -> str | None:
    """The image format named by a file's first bytes, or None: content decides, not the
    extension."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:2] == b"BM":
        return "BMP"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "HEIF"
    return None


def is_candidate(path: Path) -> bool:
    """Should the indexer look at this file? Image extensions always count (a broken one
    gets a skip reason); other files count when their content is an image."""
    try:
        # Only regular files: opening a FIFO (named pipe) blocks until a writer comes.
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
    except OSError:
        return False
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return True
    try:
        with open(path, "rb") as handle:
            return sniff_format(handle.read(32)) is not None
    except OSError:
        return False


# How far the JPEG check walks for the frame header, and how much junk it skips between
# two segments: real files reach their frame header within a few hundred kB.
_JPEG_WALK_LIMIT = 64 << 20
_JPEG_JUNK_LIMIT = 64 << 10


def check_structure(source: Path | bytes) -> None:
    """Reject a file whose JPEG segments never reach a frame header, in bounded time. A
    file that only starts with JPEG bytes would otherwise be scanned byte by byte by the
    decoder (a 2 GB one took minutes) and hashed whole before that. Other formats pass.

    Raises UnreadableImage with the reason."""
    with (io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")) as stream:
        if sniff_format(stream.read(32)) != "JPEG":
            return
        stream.seek(2)
        while stream.tell() < _JPEG_WALK_LIMIT:
            marker = stream.read(2)
            if len(marker) < 2:
                raise UnreadableImage("damaged or truncated image: no JPEG frame header")
            if marker[0] != 0xFF:  # junk between segments: tolerated, a little
                start = stream.tell() - 2
                junk = marker + stream.read(_JPEG_JUNK_LIMIT)
                found = junk.find(b"\xff")
                if found < 0:
                    raise UnreadableImage("damaged image: JPEG segments give way to "
                                          "data that is not an image")
                stream.seek(start + found)
                continue
            kind = marker[1]
            if kind == 0xFF:  # fill byte
                stream.seek(-1, io.SEEK_CUR)
            elif 0xC0 <= kind <= 0xCF and kind not in (0xC4, 0xC8, 0xCC):
                return  # a frame header (SOF): the decoder takes it from here
            elif not (kind in (0x01, 0xD8) or 0xD0 <= kind <= 0xD7):
                length = int.from_bytes(stream.read(2), "big")
                if length < 2:
                    raise UnreadableImage("damaged image: a JPEG segment with no length")
                stream.seek(length - 2, io.SEEK_CUR)
        raise UnreadableImage(f"damaged image: no JPEG frame header in the first "
                              f"{_JPEG_WALK_LIMIT >> 20} MB")


def content_hash(source: Path | bytes, chunk_size: int = 1 << 20) -> str:
    """BLAKE2b of the whole file: finds moved and duplicate files without the model."""
    digest = hashlib.blake2b(digest_size=20)
    if isinstance(source, bytes):
        digest.update(source)
        return digest.hexdigest()
    with open(source, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class LoadedImage:
    image: Image.Image  # RGB, orientation applied, possibly reduced in size
    width: int  # full-size dimensions after orientation
    height: int
    taken_at: str | None
    camera: str | None
    dhash: int | None = None  # perceptual hash, for near-duplicates


def _to_rgb(image: Image.Image) -> Image.Image:
    """Every mode to RGB: transparency over white, 16-bit scaled down, CMYK converted."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        array = np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(array).convert("RGB")
    if image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        span = (array.max() - array.min()) or 1.0
        array = ((array - array.min()) / span * 255.0).astype(np.uint8)
        return Image.fromarray(array).convert("RGB")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def _reduced(image: Image.Image, target_size: int) -> Image.Image:
    """A large decoded image shrunk by an integer factor while keeping at least twice the
    model's size, before the copies that orientation and RGB conversion make."""
    factor = min(image.size) // (2 * target_size)
    if factor < 2:
        return image
    try:
        if image.mode in ("RGBA", "LA"):
            # reduce() premultiplies alpha through a full-size copy (+0.8 GB at 196 MP);
            # band by band, at most one full-size band is copied at a time.
            return Image.merge(image.mode, [image.getchannel(band).reduce(factor)
                                            for band in image.getbands()])
        return image.reduce(factor)
    except ValueError:  # a mode reduce() does not handle: convert at full size
        return image


def _exif_details(image: Image.Image) -> tuple[str | None, str | None]:
    try:
        exif = image.getexif()
    except Exception:  # broken EXIF blocks must not cost the photo
        return None, None
    taken = None
    try:
        taken = exif.get_ifd(0x8769).get(36867) or exif.get(306)
    except Exception:
        taken = exif.get(306)
    make = str(exif.get(271) or "").strip("\x00 ")
    model = str(exif.get(272) or "").strip("\x00 ")
    camera = model if model.lower().startswith(make.lower()) else f"{make} {model}".strip()
    taken_text = str(taken).strip("\x00 ") if taken else None
    return taken_text or None, camera or None


def load_image(path: Path | bytes, target_size: int | None = None) -> LoadedImage:
    """Open a photo (a path, or its bytes already read) for the model. With `target_size`,
    JPEGs are decoded at a reduced scale that still covers target_size×target_size
    (Pillow's draft mode: ~5× faster on 12 MP).

    Raises UnreadableImage with the reason shown to the user.
    """
    _register_heif()
    try:
        size = len(path) if isinstance(path, bytes) else os.path.getsize(path)
    except OSError as exc:
        raise UnreadableImage(f"cannot read file: {exc.strerror or exc}") from exc
    if size == 0:
        raise UnreadableImage("empty file")
    try:
        check_structure(path)
    except OSError as exc:
        raise UnreadableImage(f"cannot read file: {exc.strerror or exc}") from exc
    try:
        image = Image.open(io.BytesIO(path) if isinstance(path, bytes) else path)
    except UnidentifiedImageError as exc:
        raise UnreadableImage("not an image, or a format this app cannot read") from exc
    except Image.DecompressionBombError as exc:
        raise UnreadableImage(_TOO_LARGE) from exc
    except OSError as exc:
        raise UnreadableImage(f"cannot read image: {exc}") from exc
    try:
        full_w, full_h = image.size
        if full_w * full_h > MAX_IMAGE_PIXELS:
            raise UnreadableImage(f"{_TOO_LARGE} ({full_w}×{full_h} pixels)")
        if target_size and image.format == "JPEG":
            image.draft("RGB", (target_size, target_size))
        # Reserved before reading EXIF: a PNG's getexif() decodes the whole image.
        with DECODE_BUDGET.reserve(image.size[0] * image.size[1]):
            taken_at, camera = _exif_details(image)
            orientation = image.getexif().get(0x0112, 1) if hasattr(image, "getexif") else 1
            # Orientation 5–8 swap width and height.
            if orientation in (5, 6, 7, 8):
                full_w, full_h = full_h, full_w
            image.load()
            decoded: Image.Image = image
            if target_size:
                decoded = _reduced(decoded, target_size)
            decoded = ImageOps.exif_transpose(decoded)
            if getattr(decoded, "n_frames", 1) > 1:
                decoded.seek(0)
            rgb = _to_rgb(decoded)
    except UnreadableImage:
        raise
    except Image.DecompressionBombError as exc:
        raise UnreadableImage(_TOO_LARGE) from exc
    except (OSError, SyntaxError, ValueError, MemoryError) as exc:
        raise UnreadableImage(f"damaged or truncated image: {exc}") from exc
    return LoadedImage(rgb, full_w, full_h, taken_at, camera, perceptual_hash(rgb))


def perceptual_hash(image: Image.Image) -> int:
    """64-bit difference hash (dHash): the brightness gradient of a 9×8 thumbnail. Resized
    and recompressed copies keep it within a few bits; photos that merely look alike (the
    same scene from a step aside) do not. Signed, to fit an SQLite integer."""
    small = np.asarray(image.convert("L").resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    value = int(np.packbits(bits).view(">u8")[0])
    return value - (1 << 64) if value >= 1 << 63 else value


def hash_distance(a: int, b: int) -> int:
    """Number of differing bits between two perceptual hashes."""
    return ((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count()
