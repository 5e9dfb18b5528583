"""Languages the SigLIP 2 checkpoints retrieve poorly: the published figures, kept here
once with their source, and spotting them in a label or query by Unicode script. No Qt."""

from __future__ import annotations

from dataclasses import dataclass

from photo_tagger.core.embedder import split_fast_suffix

SOURCE = ("SigLIP 2 paper (Tschannen et al., 2025, arXiv:2502.14786), multilingual "
          "retrieval on Crossmodal-3600, mean recall@1 of image→text and text→image")
# Base checkpoints (B/16): strong (82–86) for German, French, Spanish and Russian; weak for
# these, which the larger L/16-256 raises by 6 to 17 points.
STRONG_RECALL_RANGE = (82, 86)
LARGE_GAIN_RANGE = (6, 17)
SUGGESTED_CHECKPOINT = "google/siglip2-large-patch16-256"


@dataclass(frozen=True)
class WeakLanguage:
    language: str
    script: str
    recall: int  # B/16, Crossmodal-3600 mean recall (%)
    ranges: tuple[tuple[int, int], ...]  # code points of the script that tells it apart


# Finnish (40) is weak too, but is written in Latin letters like the strong languages:
# it cannot be told by script, and a word list would misfire on short labels, so it is
# not detected. Han characters alone are left out too: Chinese is not in the figures.
WEAK_LANGUAGES = (
    WeakLanguage("Japanese", "kana", 58, ((0x3040, 0x30FF), (0x31F0, 0x31FF),
                                          (0xFF66, 0xFF9F))),
    WeakLanguage("Hindi", "Devanagari", 28, ((0x0900, 0x097F), (0xA8E0, 0xA8FF))),
    WeakLanguage("Thai", "Thai", 37, ((0x0E00, 0x0E7F),)),
)
UNDETECTED_WEAK = {"Finnish": 40}


def weak_language(text: str) -> WeakLanguage | None:
    """The weak language whose script `text` is written in, if any (the first found)."""
    for char in text:
        code = ord(char)
        for language in WEAK_LANGUAGES:
            if any(low <= code <= high for low, high in language.ranges):
                return language
    return None


LARGER_FAMILIES = ("siglip2-large-", "siglip2-so400m-", "siglip2-giant-")


def is_larger_checkpoint(model_id: str) -> bool:
    """L, So400m or g: already the larger checkpoints the warning would suggest. Every
    other model (B/16, B/32, the demo, a folder of unknown size) gets the warning."""
    base, _ = split_fast_suffix(model_id)
    return any(family in base for family in LARGER_FAMILIES)


def weak_language_warning(text: str, model_id: str | None) -> str | None:
    """What the labels editor and the search box say when `text` is in a language the
    current checkpoint retrieves poorly; None when there is nothing to say."""
    if not model_id or is_larger_checkpoint(model_id):
        return None
    found = weak_language(text)
    if found is None:
        return None
    low, high = LARGE_GAIN_RANGE
    strong_low, strong_high = STRONG_RECALL_RANGE
    return (f"This looks like {found.language} ({found.script} script). The current model "
            f"finds photos from {found.language} words less reliably: about {found.recall}% "
            f"in published tests, against {strong_low}–{strong_high}% for German, French, "
            f"Spanish or Russian. The larger {SUGGESTED_CHECKPOINT.removeprefix('google/')} "
            f"does {low}–{high} points better on such languages (Settings → Model); English "
            "words work best with any model.")
