"""Train a small SigLIP 2 tokenizer offline, for tiny test models and the demo model."""

from __future__ import annotations

import json
from collections.abc import Iterable

SPECIAL_TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]


def train_tokenizer(sentences: Iterable[str], vocab_size: int = 400):
    """Return a `Siglip2Tokenizer` whose BPE vocabulary is learned from `sentences`.

    The real checkpoints ship a 256k Gemma vocabulary; tests and the demo model need the
    same tokenizer class (lower-casing, byte fallback, saved padding side) at a size that
    fits in a few kilobytes.
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers.models.siglip2.tokenization_siglip2 import Siglip2Tokenizer

    texts = [s.lower().replace(" ", "▁") for s in sentences]
    alphabet = sorted({ch for text in texts for ch in text})
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.normalizer = normalizers.Sequence([normalizers.Lowercase()])
    bpe.pre_tokenizer = pre_tokenizers.Split(pattern="▁", behavior="merged_with_previous")
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=alphabet,
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    # transformers annotates `merges` as strings, but its BPE takes (left, right) pairs,
    # which transformers itself passes when it reads a tokenizer.json.
    return Siglip2Tokenizer(vocab=model["vocab"], merges=merges)  # type: ignore[arg-type]
