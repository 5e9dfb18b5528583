"""SigLIP 2 image and text embeddings. The only module that imports torch and
transformers, and only inside functions, so a window can appear before the model loads."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from photo_tagger.config import DEMO_MODEL_NAME
from photo_tagger.paths import demo_model_dir

TEXT_MAX_LENGTH = 64
MODEL_FILES = ["*.json", "*.safetensors", "*.model", "*.txt"]

# (downloaded bytes, total bytes) while a model is fetched from the hub.
DownloadProgress = Callable[[int, int], None]


class ModelUnavailable(Exception):
    """The model is neither on disk nor downloadable; the message says what to do."""


class ModelDamaged(ModelUnavailable):
    """The model's folder is there but its files are cut short or do not fit together."""


def _damaged_model(source: Path, exc: Exception) -> ModelDamaged | None:
    """The known problem behind a failed `from_pretrained`, naming the folder; None for
    other errors. Checked by the error's type and text: transformers has no classes for
    these (a truncated file is safetensors' own error, a size mismatch a RuntimeError)."""
    from safetensors import SafetensorError

    if isinstance(exc, SafetensorError):
        return ModelDamaged(
            f"The model in {source} is damaged: its weights (model.safetensors) are cut "
            f"short or corrupted ({exc}). An interrupted download or copy leaves such a file: "
            "download or copy the model into that folder again.")
    if isinstance(exc, RuntimeError) and "mismatch" in str(exc).lower():
        return ModelDamaged(
            f"The model in {source} does not fit together: the sizes of the weights in "
            "model.safetensors differ from those its config.json declares. The two files come "
            "from different models, or one was edited: put the config.json and "
            "model.safetensors of one and the same model in that folder.")
    return None


def _unavailable_message(model_id: str, detail: str) -> str:
    return (
        f"The model '{model_id}' is not on this computer and could not be downloaded "
        f"({detail}). Connect to the internet once so photo-tagger can download it, or "
        f"download it on another computer and choose the folder that holds its config.json "
        f"and model.safetensors; the small offline demo model ({DEMO_MODEL_NAME}) works "
        f"without it."
    )


def _download_progress_class(progress: DownloadProgress) -> type:
    """A tqdm class that reports the total bytes of all files to `progress`."""
    from tqdm.auto import tqdm

    totals = {"done": 0, "total": 0}
    lock = threading.Lock()

    class _Reporter(tqdm):  # type: ignore[misc]  # tqdm ships no type hints: Any
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._counts_bytes = kwargs.get("unit") == "B"
            kwargs["disable"] = True  # no terminal output: the caller draws progress
            super().__init__(*args, **kwargs)
            total = kwargs.get("total")
            if self._counts_bytes and total:
                with lock:
                    totals["total"] += int(total)
                    progress(totals["done"], totals["total"])

        def update(self, n: float | None = 1) -> bool | None:
            if self._counts_bytes and n:
                with lock:
                    totals["done"] += int(n)
                    progress(totals["done"], totals["total"])
            displayed: bool | None = super().update(n)
            return displayed

    return _Reporter


def resolve_model_source(model_id: str, progress: DownloadProgress | None = None) -> Path:
    """The local folder holding `model_id`: the demo model, a folder, or a hub snapshot
    (downloaded with progress when not cached and the network allows)."""
    if model_id == DEMO_MODEL_NAME:
        folder = demo_model_dir()
        if not (folder / "config.json").exists():
            raise ModelUnavailable(f"The demo model is missing from {folder}.")
        return folder
    candidate = Path(model_id).expanduser()
    if candidate.is_dir():
        if not (candidate / "config.json").exists():
            raise ModelUnavailable(
                f"The folder {candidate} does not hold a model (no config.json). Point "
                "--model at the folder that holds config.json and model.safetensors.")
        return candidate.resolve()
    looks_like_path = model_id.startswith((".", "/", "~")) or "\\" in model_id \
        or model_id.count("/") != 1
    if looks_like_path:
        raise ModelUnavailable(f"The model folder {model_id} does not exist.")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(model_id, allow_patterns=MODEL_FILES,
                                      local_files_only=True))
    except Exception:  # not cached: try the network below
        pass
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        raise ModelUnavailable(_unavailable_message(model_id, "offline mode is on"))
    try:
        kwargs: dict[str, Any] = {"allow_patterns": MODEL_FILES}
        if progress is not None:
            kwargs["tqdm_class"] = _download_progress_class(progress)
        return Path(snapshot_download(model_id, **kwargs))
    except Exception as exc:  # network, DNS, missing repo: all end in the same advice
        detail = type(exc).__name__
        raise ModelUnavailable(_unavailable_message(model_id, f"no connection: {detail}")) \
            from exc


FAST_SUFFIX = "@int8"


def split_fast_suffix(model_id: str) -> tuple[str, bool]:
    """('google/…-224', True) for 'google/…-224@int8'."""
    if model_id.endswith(FAST_SUFFIX):
        return model_id[: -len(FAST_SUFFIX)], True
    return model_id, False


def _quantise_int8(model: Any) -> Any:
    import warnings

    import torch

    with warnings.catch_warnings():  # torch points eager quantisation users to torchao
        warnings.simplefilter("ignore")
        # In place: a quantised copy beside the fp32 model would double the peak memory.
        # torch leaves quantize_dynamic unannotated.
        return torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


class Embedder:
    """A loaded SigLIP 2 model: images and texts to L2-normalised float32 vectors.

    Use from one thread at a time (the indexing service owns it).
    """

    def __init__(self, model: Any, processor: Any, model_id: str, device: str) -> None:
        import torch

        self._torch = torch
        self.model = model
        self.processor = processor
        self.model_id = model_id
        self.device = device
        self.is_naflex = type(model).__name__ == "Siglip2Model"
        vision = model.config.vision_config
        self.max_num_patches = getattr(vision, "num_patches", None) if self.is_naflex else None
        self.image_size: int | None = None if self.is_naflex else int(vision.image_size)
        self.dim = int(model.config.text_config.projection_size
                       if getattr(model.config.text_config, "projection_size", None)
                       else model.config.text_config.hidden_size)
        self.logit_scale = float(model.logit_scale.detach().exp().item())
        self.logit_bias = float(model.logit_bias.detach().item())
        self._text_cache: OrderedDict[str, np.ndarray] = OrderedDict()

    @classmethod
    def load(cls, model_id: str, *, device: str | None = None, threads: int | None = None,
             progress: DownloadProgress | None = None) -> Embedder:
        """Load `model_id` (hub id, local folder, or 'demo:shapes'); safetensors only, never
        remote code. Raises ModelUnavailable with advice when it cannot be had.

        A trailing `@int8` (e.g. `google/siglip2-base-patch16-224@int8`) is the opt-in fast
        mode: Linear layers quantised dynamically to int8 on the CPU, ~1.5× faster, vectors
        within cosine 0.999 of fp32 (docs/PERFORMANCE.md). It is recorded as its own model,
        so switching re-embeds the library instead of mixing the two kinds of vectors.
        """
        base_id, fast = split_fast_suffix(model_id)
        source = resolve_model_source(base_id, progress)
        import torch
        from transformers import AutoModel, AutoProcessor
        from transformers.utils import logging as hf_logging

        # transformers leaves these two and AutoProcessor.from_pretrained unannotated.
        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        if threads:
            torch.set_num_threads(threads)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            model = AutoModel.from_pretrained(source, use_safetensors=True,
                                              trust_remote_code=False)
            processor = AutoProcessor.from_pretrained(  # type: ignore[no-untyped-call]
                source, trust_remote_code=False)
        except Exception as exc:
            damaged = _damaged_model(source, exc)
            if damaged is not None:
                raise damaged from exc
            if not isinstance(exc, (OSError, ValueError)):
                raise
            raise ModelUnavailable(
                f"The model at {source} could not be loaded ({exc}). It must be a SigLIP 2 "
                "checkpoint saved with safetensors.") from exc
        if not hasattr(model, "get_image_features") or not hasattr(model, "logit_bias"):
            raise ModelUnavailable(f"{model_id} is not a SigLIP / SigLIP 2 model.")
        model.eval().to(device)
        if fast and device == "cpu":
            model = _quantise_int8(model)
        recorded = base_id if base_id == DEMO_MODEL_NAME or not Path(base_id).is_dir() \
            else str(source)
        return cls(model, processor, recorded + (FAST_SUFFIX if fast else ""), device)

    # -- images -------------------------------------------------------------------------
    def preprocess(self, images: Sequence[Image.Image]) -> dict[str, Any]:
        """Pixel tensors for `images`; safe to run in decode threads ahead of the model."""
        kwargs: dict[str, Any] = {"return_tensors": "pt"}
        if self.is_naflex and self.max_num_patches:
            kwargs["max_num_patches"] = self.max_num_patches
        return dict(self.processor.image_processor(images=list(images), **kwargs))

    @staticmethod
    def collate(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import torch

        return {key: torch.cat([p[key] for p in parts]) for key in parts[0]}

    def embed_pixels(self, pixels: dict[str, Any]) -> np.ndarray:
        torch = self._torch
        inputs = {k: v.to(self.device) for k, v in pixels.items()}
        with torch.inference_mode():
            output = self.model.get_image_features(**inputs)
        return self._normalise(output)

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.embed_pixels(self.preprocess(images))

    # -- text ---------------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str]) -> dict[str, Any]:
        """SigLIP 2 text recipe: lower-cased, padded to 64 tokens with the checkpoint's own
        padding side (the text tower pools the last position)."""
        tokenizer = self.processor.tokenizer
        return dict(tokenizer([t.lower() for t in texts], padding="max_length",
                              max_length=TEXT_MAX_LENGTH, truncation=True,
                              return_tensors="pt"))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        inputs = {k: v.to(self.device) for k, v in self.tokenize(texts).items()}
        with torch.inference_mode():
            output = self.model.get_text_features(**inputs)
        return self._normalise(output)

    def embed_text_cached(self, text: str, cache_size: int = 256) -> np.ndarray:
        """One query's vector; a repeated or recently typed query skips the text encoder."""
        if text in self._text_cache:
            self._text_cache.move_to_end(text)
            return self._text_cache[text]
        vector: np.ndarray = self.embed_texts([text])[0]
        self._text_cache[text] = vector
        while len(self._text_cache) > cache_size:
            self._text_cache.popitem(last=False)
        return vector

    # -- scores -------------------------------------------------------------------------
    def sigmoid_scores(self, image_vectors: np.ndarray, text_vectors: np.ndarray) -> np.ndarray:
        """SigLIP probabilities per (image, text), multi-label: `tagger.probability`."""
        from photo_tagger.core.tagger import probability  # tagger imports this module

        return probability(image_vectors @ text_vectors.T, self.logit_scale, self.logit_bias)

    @staticmethod
    def _normalise(output: Any) -> np.ndarray:
        tensor = getattr(output, "pooler_output", output)
        array = tensor.detach().float().cpu().numpy()
        norms = np.linalg.norm(array, axis=1, keepdims=True)
        unit: np.ndarray = (array / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit
