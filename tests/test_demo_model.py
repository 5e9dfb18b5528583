"""The committed demo SigLIP 2 behaves as documented on shape photos it has never seen."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from photo_tagger.demo import shapes

MODEL_DIR = Path(__file__).resolve().parents[1] / "resources/models/siglip2-shapes-demo"
TEST_SEED = 777  # neither the training seed nor the evaluation seed


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def loaded():
    pytest.importorskip("torch")
    if not (MODEL_DIR / "model.safetensors").is_file():
        pytest.skip("demo model not trained yet: see docs/DEMO-MODEL.md")
    from photo_tagger.demo import evaluate

    return evaluate.load(MODEL_DIR)


@pytest.fixture(scope="module")
def photos(loaded, tmp_path_factory):
    """Fresh JPEG files from write_dataset, read back from disk as the app would."""
    from PIL import Image

    from photo_tagger.demo import evaluate

    folder = tmp_path_factory.mktemp("shapes")
    items = shapes.write_dataset(folder, n=5 * 30, seed=TEST_SEED)
    images = [Image.open(item.path).convert("RGB") for item in items]
    emb = evaluate.embed_images(*loaded, images)
    return items, emb


def test_weights_are_small_safetensors(loaded):
    weights = MODEL_DIR / "model.safetensors"
    assert weights.is_file()
    assert weights.stat().st_size < 5 * 1024 * 1024
    assert not (MODEL_DIR / "pytorch_model.bin").exists()


def test_loads_through_auto_classes(loaded):
    model, processor = loaded
    assert model.config.model_type == "siglip"
    assert type(processor.tokenizer).__name__ == "Siglip2Tokenizer"
    enc = processor(text=["a red circle"], padding="max_length", max_length=64)
    assert len(enc["input_ids"][0]) == 64


def test_write_dataset_names_files_by_content(tmp_path):
    items = shapes.write_dataset(tmp_path, n=3, seed=1)
    assert [p.path.name for p in items] == [
        "red_circle_0000.jpg", "orange_circle_0001.jpg", "yellow_circle_0002.jpg"]
    assert all(item.path.is_file() for item in items)


def test_render_is_reproducible():
    a = shapes.render_shape("star", "blue", np.random.default_rng(3))
    b = shapes.render_shape("star", "blue", np.random.default_rng(3))
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("lang", shapes.LANGS)
def test_colour_shape_queries_rank_matching_photos_first(loaded, photos, lang):
    from photo_tagger.demo import evaluate

    items, emb = photos
    combos = list(itertools.product(shapes.SHAPES, shapes.COLOURS))
    queries = evaluate.embed_texts(*loaded, [shapes.label(s, c, lang) for s, c in combos])
    top = np.argsort(-(queries @ emb.T), axis=1)[:, :5]  # 5 photos of each combination
    hits = [[(items[j].shape, items[j].colour) == combo for j in row]
            for row, combo in zip(top, combos, strict=True)]
    assert np.mean(hits) >= 0.9


@pytest.mark.parametrize("lang", shapes.LANGS)
def test_bare_shape_labels_tag_photos(loaded, photos, lang):
    from photo_tagger.demo import evaluate

    model, _ = loaded
    items, emb = photos
    prompts = [shapes.prompt(shapes.SHAPE_WORDS[lang][s][0]) for s in shapes.SHAPES]
    scores = evaluate.tag_scores(model, evaluate.embed_texts(*loaded, prompts) @ emb.T)
    truth = np.array([[item.shape == s for item in items] for s in shapes.SHAPES])
    tagged = scores >= evaluate.DEFAULT_THRESHOLD
    precision = (tagged & truth).sum() / max(1, tagged.sum())
    recall = (tagged & truth).sum() / truth.sum()
    assert precision >= 0.9
    assert recall >= 0.9


# The 32 px demo model moves a half-size JPEG copy further than a real SigLIP does, so its
# duplicate search needs a lower cosine; the perceptual hash keeps look-alikes out.
DUPLICATE_COSINE = 0.75


def test_near_duplicate_is_told_from_look_alikes(loaded):
    """The app pairs near-duplicates by embedding and perceptual hash together
    (`Searcher.duplicate_groups`): a resized, recompressed copy matches its own original and
    no other green heart. The 32 px embedding alone cannot always tell them apart
    (docs/DEMO-MODEL.md), the pixels' hash can."""
    from photo_tagger.core.images import hash_distance, perceptual_hash
    from photo_tagger.core.search import DUPLICATE_HASH_DISTANCE
    from photo_tagger.demo import evaluate
    from photo_tagger.demo.train import degrade

    rng = np.random.default_rng(TEST_SEED)
    originals = [shapes.render_shape("heart", "green", rng) for _ in range(6)]
    copies = [degrade(im, rng, quality=60) for im in originals]
    cos = evaluate.embed_images(*loaded, copies) @ evaluate.embed_images(*loaded, originals).T
    original_hashes = [perceptual_hash(im.convert("RGB")) for im in originals]
    own_only = 0
    for i, copy in enumerate(copies):
        copy_hash = perceptual_hash(copy.convert("RGB"))
        matches = [j for j in range(len(originals)) if cos[i, j] >= DUPLICATE_COSINE
                   and hash_distance(copy_hash, original_hashes[j]) <= DUPLICATE_HASH_DISTANCE]
        own_only += matches == [i]
    assert own_only >= 5


def test_training_is_reproducible_and_matches_full_padding():
    """Two short runs from one seed give identical weights; the cropped text input used in
    training equals the 64-token padded input of the app."""
    torch = pytest.importorskip("torch")
    from photo_tagger.demo import train

    settings = train.Settings(steps=3, batch=16, dupes=4, pool=60, warmup=1)
    quiet = lambda *_: None  # noqa: E731
    m1, processor = train.train(seed=5, settings=settings, log=quiet)
    m2, _ = train.train(seed=5, settings=settings, log=quiet)
    for (name, p1), p2 in zip(m1.state_dict().items(), m2.state_dict().values(), strict=True):
        assert torch.equal(p1, p2), name

    enc = processor(text=["ein gelber stern"], padding="max_length", max_length=64,
                    return_tensors="pt")
    keep = int(enc["attention_mask"].sum())
    with torch.no_grad():
        full = m1.text_model(**enc).pooler_output
        cropped = m1.text_model(input_ids=enc["input_ids"][:, -keep:],
                                attention_mask=enc["attention_mask"][:, -keep:],
                                position_ids=torch.arange(64)[None, -keep:]).pooler_output
    assert torch.allclose(full, cropped, atol=1e-5)


@pytest.mark.parametrize("measure", ["evaluate", "evaluate_paint"])
def test_evaluation_without_a_model_says_what_it_needs(measure):
    from photo_tagger.demo import evaluate

    with pytest.raises(ValueError, match="model directory or a loaded model"):
        getattr(evaluate, measure)()
