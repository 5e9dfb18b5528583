"""Shared benchmark material: real-size SigLIP 2 architectures with random weights (the work
is the same as with the real weights) and camera-size JPEGs with EXIF."""

from __future__ import annotations

import hashlib
import os
import platform
import time
from pathlib import Path

import numpy as np
from PIL import Image

CACHE = Path(__file__).parent / ".cache"

# Published SigLIP 2 shapes: (patch size, image size); base towers are 12 × 768, MLP 3072,
# Gemma vocabulary 256k, text length 64.
ARCHITECTURES = {
    "base-patch16-224": (16, 224),
    "base-patch32-256": (32, 256),
}


def build_model(name: str) -> Path:
    """Save a random-weight SigLIP 2 of the published architecture `name`, once."""
    folder = CACHE / "models" / name
    if (folder / "model.safetensors").exists():
        return folder
    import torch
    from transformers import SiglipConfig, SiglipModel, SiglipProcessor
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    from photo_tagger.demo.tokenizer import train_tokenizer

    patch, size = ARCHITECTURES[name]
    tokenizer = train_tokenizer(["a photo of kids playing in the snow", "beach sunset"], 300)
    config = SiglipConfig(
        text_config=dict(vocab_size=256000, hidden_size=768, intermediate_size=3072,
                         num_hidden_layers=12, num_attention_heads=12,
                         max_position_embeddings=64, pad_token_id=0, eos_token_id=1,
                         bos_token_id=2),
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                           num_attention_heads=12, image_size=size, patch_size=patch))
    torch.manual_seed(0)
    model = SiglipModel(config).eval()
    with torch.no_grad():
        model.logit_scale.fill_(float(np.log(112.0)))
        model.logit_bias.fill_(-16.0)
    processor = SiglipProcessor(
        image_processor=SiglipImageProcessorPil(size={"height": size, "width": size}),
        tokenizer=tokenizer)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def camera_jpegs(count: int) -> Path:
    """`count` 4000×3000 JPEGs of 3–5 MB with EXIF (camera, date, orientation), once."""
    folder = CACHE / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    existing = sorted(folder.glob("IMG_*.jpg"))
    if len(existing) >= count:
        return folder
    rng = np.random.default_rng(0)
    base_small = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    for index in range(len(existing), count):
        # A smooth picture with grain: compresses like a real photo (3–5 MB at q92).
        small = np.roll(base_small, index * 7, axis=(0, 1)).astype(np.float32)
        image = Image.fromarray(small.astype(np.uint8)).resize((4000, 3000), Image.BICUBIC)
        grain = rng.normal(0, 6, (3000, 4000, 3)).astype(np.float32)
        pixels = np.clip(np.asarray(image, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
        exif = Image.Exif()
        exif[0x010F] = "Benchmark"
        exif[0x0110] = "Camera 4000"
        exif[0x0112] = 1
        exif.get_ifd(0x8769)[36867] = f"2024:01:{1 + index % 28:02d} 12:00:00"
        Image.fromarray(pixels).save(folder / f"IMG_{index:04d}.jpg", quality=92, exif=exif)
    return folder


def fill_library(library, count: int, dim: int, rng: np.random.Generator, *,
                 model_id: str = "benchmark", root: str = "/bench") -> None:
    """`count` indexed photos with random unit vectors, written the way the indexer does,
    in a folder `root` that is not on disk (the app keeps such photos, as for a drive that
    is not plugged in)."""
    from sqlite_vec import serialize_float32

    library.set_model(model_id, dim)
    folder = library.add_folder(Path(root))
    with library.transaction():
        for start in range(0, count, 5000):
            n = min(5000, count - start)
            vectors = rng.normal(size=(n, dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            library.conn.executemany(
                "INSERT INTO photos(id, path, folder_id, size, mtime, content_hash, status) "
                "VALUES (?, ?, ?, 1, 1, ?, 'indexed')",
                [(start + i + 1, f"{root}/{start + i:07d}.jpg", folder.id,
                  hashlib.sha256(b"%d" % (start + i)).hexdigest()) for i in range(n)])
            library.conn.executemany(
                "INSERT INTO photo_vectors(photo_id, embedding) VALUES (?, ?)",
                [(start + i + 1, serialize_float32(vectors[i])) for i in range(n)])
        library._bump_generation()


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores"


def matmul_peak_gflops(seconds: float = 2.0) -> float:
    """The machine's float32 matrix-multiply rate, the ceiling for the model."""
    import torch

    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)
    torch.mm(a, b)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        torch.mm(a, b)
        count += 1
    return 2 * 2048**3 * count / (time.perf_counter() - started) / 1e9




def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))
