"""Tiny SigLIP 2 models with random weights, built from a config and saved with
`save_pretrained`, so tests load them through the production loader."""

from __future__ import annotations

from pathlib import Path

from photo_tagger.demo.tokenizer import train_tokenizer

SENTENCES = [
    "this is a photo of a red circle.", "a blue square", "ein blaues Quadrat",
    "un triangle vert", "一个紫色的星星", "kids playing in the snow", "beach sunset dog cat",
    "people mountain food car document screenshot", "Strand plage 海滩 собака",
]
_TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
             max_position_embeddings=64)
_VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
               patch_size=16)


def _save(folder: Path, seed: int, config_class, model_class, vision: dict,
          make_processor) -> Path:
    """Build a random-weight model of `model_class`, save it with its processor."""
    import torch

    tokenizer = train_tokenizer(SENTENCES, vocab_size=300)
    text = dict(_TEXT, vocab_size=len(tokenizer), pad_token_id=0, eos_token_id=1,
                bos_token_id=2)
    torch.manual_seed(seed)
    model = model_class(config_class(text_config=text, vision_config=vision)).eval()
    with torch.no_grad():  # nonzero scale and bias, so the sigmoid recipe is exercised
        model.logit_scale.fill_(2.0)
        model.logit_bias.fill_(-1.5)
    model.save_pretrained(folder)
    make_processor(tokenizer).save_pretrained(folder)
    return folder


def build_fixres(folder: Path, seed: int = 0) -> Path:
    """A FixRes checkpoint (`SiglipModel`), like google/siglip2-base-patch16-224."""
    from transformers import SiglipConfig, SiglipModel, SiglipProcessor
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    return _save(folder, seed, SiglipConfig, SiglipModel, dict(_VISION, image_size=32),
                 lambda tokenizer: SiglipProcessor(
                     image_processor=SiglipImageProcessorPil(size={"height": 32, "width": 32}),
                     tokenizer=tokenizer))


def build_naflex(folder: Path, seed: int = 0) -> Path:
    """A NaFlex checkpoint (`Siglip2Model`, `max_num_patches`), like siglip2-*-naflex."""
    from transformers import Siglip2Config, Siglip2Model, Siglip2Processor
    from transformers.models.siglip2.image_processing_pil_siglip2 import (
        Siglip2ImageProcessorPil,
    )

    return _save(folder, seed, Siglip2Config, Siglip2Model, dict(_VISION, num_patches=16),
                 lambda tokenizer: Siglip2Processor(
                     image_processor=Siglip2ImageProcessorPil(patch_size=16,
                                                              max_num_patches=16),
                     tokenizer=tokenizer))
