"""Weak-language warnings: the script of a label or query tells a language the model
retrieves poorly; the labels editor and the search box say so."""

from __future__ import annotations

from photo_tagger.core.languages import (
    SOURCE,
    SUGGESTED_CHECKPOINT,
    weak_language,
    weak_language_warning,
)

BASE = "google/siglip2-base-patch16-224"


def test_scripts_of_weak_languages_are_detected() -> None:
    assert weak_language("ねこ").language == "Japanese"  # hiragana
    assert weak_language("カメラ").language == "Japanese"  # katakana
    assert weak_language("कुत्ता").language == "Hindi"
    assert weak_language("แมว").language == "Thai"
    for strong in ("dog", "Hund", "chien", "perro", "собака", "koira", "狗"):
        assert weak_language(strong) is None, strong


def test_the_warning_suggests_the_larger_checkpoint_with_the_figures() -> None:
    text = weak_language_warning("ชายหาด", BASE)
    assert text is not None
    assert "Thai" in text and "37%" in text and "82–86%" in text
    assert SUGGESTED_CHECKPOINT.removeprefix("google/") in text
    assert "Error" not in text and "Exception" not in text
    assert weak_language_warning("beach", BASE) is None
    assert weak_language_warning("ชายหาด", "google/siglip2-large-patch16-256") is None
    assert weak_language_warning("ชายหาด", BASE + "@int8") is not None
    assert weak_language_warning("ชายหาด", None) is None
    assert "Crossmodal-3600" in SOURCE
