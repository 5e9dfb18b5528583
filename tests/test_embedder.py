"""The embedder against transformers' own reference paths, and its offline behaviour."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import photos
from photo_tagger.core.embedder import Embedder, ModelDamaged, ModelUnavailable
from photo_tagger.core.images import load_image


@pytest.fixture(scope="module")
def small_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return photos.solid(tmp_path_factory.mktemp("img") / "red.png", (220, 30, 30), (40, 30))


@pytest.mark.parametrize("which", ["fixres_model", "naflex_model"])
def test_image_embedding_and_scores_match_transformers(which: str, small_png: Path,
                                                       request: pytest.FixtureRequest) -> None:
    from transformers import AutoModel, AutoProcessor, pipeline

    folder = request.getfixturevalue(which)
    embedder = Embedder.load(str(folder))
    assert type(embedder.model).__name__ == ("SiglipModel" if which == "fixres_model"
                                             else "Siglip2Model")
    image = Image.open(small_png).convert("RGB")

    reference_model = AutoModel.from_pretrained(folder).eval()
    processor = AutoProcessor.from_pretrained(folder)
    kwargs = {"max_num_patches": embedder.max_num_patches} if embedder.is_naflex else {}
    with torch.no_grad():
        features = reference_model.get_image_features(
            **processor.image_processor(images=[image], return_tensors="pt", **kwargs))
    expected = features.pooler_output[0].numpy()
    expected /= np.linalg.norm(expected)
    ours = embedder.embed_images([load_image(small_png, embedder.image_size).image])[0]
    assert np.abs(ours - expected).max() < 1e-4
    assert abs(float(np.linalg.norm(ours)) - 1.0) < 1e-5

    labels = ["red circle", "Blue Square", "海滩"]
    classifier = pipeline("zero-shot-image-classification", model=str(folder))
    reference = {r["label"]: r["score"] for r in classifier(
        image, candidate_labels=labels, hypothesis_template="this is a photo of {}.")}
    scores = embedder.sigmoid_scores(
        ours[None, :], embedder.embed_texts([f"this is a photo of {x}." for x in labels]))[0]
    for label, score in zip(labels, scores, strict=True):
        assert abs(score - reference[label]) < 1e-4
    # Sigmoid, not softmax: scores need not sum to one.
    assert abs(float(scores.sum()) - 1.0) > 1e-3


def test_text_is_lowercased_and_independent_of_its_batch(fixres_embedder: Embedder) -> None:
    alone = fixres_embedder.embed_texts(["a red circle"])[0]
    in_batch = fixres_embedder.embed_texts(["kids playing in the snow", "A RED Circle",
                                            "un triangle vert"])[1]
    assert np.abs(alone - in_batch).max() < 1e-5
    tokens = fixres_embedder.tokenize(["x"])["input_ids"]
    assert tokens.shape[1] == 64


def test_cached_query_skips_the_text_encoder(fixres_embedder: Embedder) -> None:
    calls = []
    original = fixres_embedder.embed_texts

    def counting(texts):
        calls.append(list(texts))
        return original(texts)

    fixres_embedder.embed_texts = counting  # type: ignore[method-assign]
    try:
        first = fixres_embedder.embed_text_cached("beach at dusk")
        second = fixres_embedder.embed_text_cached("beach at dusk")
    finally:
        del fixres_embedder.embed_texts
    assert calls == [["beach at dusk"]]
    assert np.array_equal(first, second)


def test_missing_hub_model_offline_gives_advice() -> None:
    with pytest.raises(ModelUnavailable, match="not on this computer") as info:
        Embedder.load("google/siglip2-base-patch16-224")
    # The core's words serve the window too: ways out, but no command-line options.
    assert "demo:shapes" in str(info.value) and "config.json" in str(info.value)
    assert "--model" not in str(info.value) and "photo-tagger doctor" not in str(info.value)


def test_missing_folder_and_folder_without_model(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="does not exist"):
        Embedder.load(str(tmp_path / "nowhere"))
    with pytest.raises(ModelUnavailable, match="no config.json"):
        Embedder.load(str(tmp_path))


def test_truncated_weights_name_the_folder_and_the_problem(fixres_model: Path,
                                                          tmp_path: Path) -> None:
    folder = shutil.copytree(fixres_model, tmp_path / "model")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a cut copy
    with pytest.raises(ModelDamaged, match="cut short or corrupted") as info:
        Embedder.load(str(folder))
    assert str(folder) in str(info.value) and "again" in str(info.value)


def test_config_that_does_not_fit_the_weights_is_named(fixres_model: Path,
                                                      tmp_path: Path) -> None:
    folder = shutil.copytree(fixres_model, tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    config["vision_config"]["hidden_size"] = 48  # the weights hold 32
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelDamaged, match="does not fit together") as info:
        Embedder.load(str(folder))
    assert str(folder) in str(info.value) and "config.json" in str(info.value)


def test_cli_without_model_prints_one_sentence_and_fails(tmp_path: Path) -> None:
    photos.solid(tmp_path / "a.jpg", (1, 2, 3))
    result = subprocess.run(
        [sys.executable, "-m", "photo_tagger", "index", str(tmp_path),
         "--model", "google/siglip2-base-patch16-224"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "not on this computer" in result.stderr
    assert "--model" in result.stderr and "doctor --download" in result.stderr  # the CLI's


def test_hub_download_reports_progress(fixres_model: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub cannot be reached here: a fake `snapshot_download` stands in for the network
    and drives the real progress plumbing the way huggingface_hub does."""
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE")
    target = tmp_path / "snapshot"

    def fake_snapshot_download(repo_id, *, local_files_only=False, tqdm_class=None, **kwargs):
        if local_files_only:
            raise huggingface_hub.errors.LocalEntryNotFoundError("not cached")
        shutil.copytree(fixres_model, target)
        size = (target / "model.safetensors").stat().st_size
        bar = tqdm_class(total=size, unit="B")
        bar.update(size // 2)
        bar.update(size - size // 2)
        bar.close()
        return str(target)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    seen: list[tuple[int, int]] = []
    embedder = Embedder.load("someone/siglip2-tiny", progress=lambda d, t: seen.append((d, t)))
    assert embedder.model_id == "someone/siglip2-tiny"
    assert seen[-1][0] == seen[-1][1] > 0


def test_int8_fast_mode_agrees_with_fp32(fixres_model: Path, fixres_embedder: Embedder,
                                         small_png: Path) -> None:
    fast = Embedder.load(f"{fixres_model}@int8")
    assert fast.model_id == f"{fixres_model.resolve()}@int8"
    assert fast.model_id != fixres_embedder.model_id  # a switch re-embeds, never mixes
    image = load_image(small_png, fast.image_size).image
    exact = fixres_embedder.embed_images([image])[0]
    approx = fast.embed_images([image])[0]
    assert float(exact @ approx) > 0.99
    assert "quantized" in type(fast.model.vision_model.encoder.layers[0].mlp.fc1).__module__
