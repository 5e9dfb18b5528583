"""Editing the user's labels, per-folder tagging choices and manual tags: one Qt-free API
that the CLI and the window both call. Every edit re-tags the library from stored vectors."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from photo_tagger.config import DEFAULT_TEMPLATE, DEFAULT_THRESHOLD
from photo_tagger.core import learning, tagger
from photo_tagger.core.embedder import Embedder, ModelUnavailable
from photo_tagger.core.store import Label, Library

# Loads the library's own model when a new label or template must be embedded.
EmbedderLoader = Callable[[], Embedder]

MAX_LABEL_LENGTH = 200


class LabelError(ValueError):
    """A known problem with a label edit (unknown label, bad threshold): shown as a message."""


class UnknownLabel(LabelError):
    """A label name that is not in the library (the CLI adds where to list them)."""


@dataclass(frozen=True)
class LabelInfo:
    name: str
    tag: str
    template: str
    threshold: float  # the effective threshold
    custom_threshold: bool  # False: follows config.DEFAULT_THRESHOLD

    def as_dict(self) -> dict[str, object]:
        return {"label": self.name, "tag": self.tag, "template": self.template,
                "threshold": self.threshold, "custom_threshold": self.custom_threshold}


@dataclass(frozen=True)
class RetagResult:
    """What a label edit did to the tags; `message` explains a re-tag left for later."""

    retagged: bool
    tags_written: int = 0
    message: str | None = None


@dataclass(frozen=True)
class TagChange:
    """A manual tag or untag on photos, and the learning tag it retrained, if any."""

    tag: str
    photos: int
    learned: list[learning.LearnResult] = field(default_factory=list)
    message: str | None = None  # a retraining left for later, and why


@dataclass(frozen=True)
class FolderTagging:
    path: str
    auto_tag: bool
    labels: list[str] | None  # None: every label applies

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "auto_tag": self.auto_tag, "labels": self.labels}


@dataclass
class PhotoTag:
    label: str  # the tag's name (synonym labels share one)
    score: float | None
    source: str  # "auto", "learned" or "manual"

    def as_dict(self) -> dict[str, object]:
        score = None if self.score is None else round(self.score, 6)
        return {"label": self.label, "score": score, "source": self.source}


@dataclass
class PhotoTags:
    path: str
    tags: list[PhotoTag]
    rejected: list[str] = field(default_factory=list)  # tags the user removed by hand
    # (label, tag, score, threshold) for every label, when asked for.
    scores: list[tuple[str, str, float, float]] | None = None


# -- validation ---------------------------------------------------------------------------
def clean_name(name: str, what: str = "label") -> str:
    """A label or tag as typed, in any script; NFC so the same word typed on two keyboards
    is one label. Rejects empty names and control characters."""
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned:
        raise LabelError(f"A {what} cannot be empty.")
    if len(cleaned) > MAX_LABEL_LENGTH:
        raise LabelError(f"A {what} can have at most {MAX_LABEL_LENGTH} characters.")
    if any(unicodedata.category(ch) == "Cc" for ch in cleaned):
        raise LabelError(f"The {what} {cleaned!r} contains control characters.")
    return cleaned


def check_threshold(threshold: float) -> float:
    if not 0.0 <= threshold <= 1.0 or threshold != threshold:
        raise LabelError(f"A threshold is a score between 0 and 1, not {threshold}.")
    return float(threshold)


def check_template(template: str) -> str:
    if "{label}" not in template:
        raise LabelError(
            f"A prompt template must contain {{label}}, e.g. '{DEFAULT_TEMPLATE}'.")
    return template


def _label_or_error(library: Library, name: str) -> Label:
    label = library.label(clean_name(name))
    if label is None:
        raise UnknownLabel(f"There is no label '{name}'.")
    return label


def resolve_tag(library: Library, name: str) -> str:
    """The tag a user means: a label's tag (a synonym stands for its group) or the text
    itself (a tag only set by hand)."""
    return library.tag_for_name(clean_name(name, "tag"))


# -- labels ---------------------------------------------------------------------------
def list_labels(library: Library) -> list[LabelInfo]:
    return [LabelInfo(label.name, label.tag, label.template,
                      DEFAULT_THRESHOLD if label.threshold is None else label.threshold,
                      label.threshold is not None)
            for label in library.labels()]


def add_label(library: Library, name: str, *, synonym_of: str | None = None,
              threshold: float | None = None, template: str | None = None) -> Label:
    """Add a label, or update the given fields of an existing one (others keep theirs).

    `synonym_of` names a label or tag; the new label then scores for that tag too."""
    name = clean_name(name)
    existing = library.label(name)
    tag = name if existing is None else existing.tag
    if synonym_of is not None:
        target = clean_name(synonym_of, "tag")
        known_tags = {label.tag for label in library.labels()}
        if library.label(target) is not None:
            tag = library.label(target).tag  # type: ignore[union-attr]
        elif target in known_tags or target == name:
            tag = target
        else:
            raise LabelError(
                f"There is no label or tag '{target}' to be a synonym of; add it first.")
    if threshold is not None:
        check_threshold(threshold)
    elif existing is not None:
        threshold = existing.threshold
    if template is not None:
        check_template(template)
    elif existing is not None:
        template = existing.template
    return library.add_label(name, tag, template, threshold)


def edit_label(library: Library, name: str, *, new_name: str | None = None,
               tag: str | None = None, template: str | None = None) -> Label:
    """Rename a label, move it to another tag, or change its prompt template."""
    label = _label_or_error(library, name)
    new_name = clean_name(new_name) if new_name is not None else label.name
    if new_name != label.name and library.label(new_name) is not None:
        raise LabelError(f"A label '{new_name}' exists already.")
    new_tag = clean_name(tag, "tag") if tag is not None else label.tag
    new_template = check_template(template) if template is not None else label.template
    with library.transaction():
        # A new name or template means a new prompt: drop the cached text vector.
        stale = new_name != label.name or new_template != label.template
        library.conn.execute(
            "UPDATE labels SET name = ?, tag = ?, template = ?"
            + (", vector = NULL, vector_model = NULL" if stale else "") + " WHERE id = ?",
            (new_name, new_tag, new_template, label.id))
    updated = library.label(new_name)
    assert updated is not None
    return updated


def remove_label(library: Library, name: str) -> None:
    """Forget a label. Tags the user set by hand stay; automatic ones go with the re-tag."""
    label = _label_or_error(library, name)
    library.remove_label(label.name)


def set_threshold(library: Library, name: str, threshold: float | None) -> Label:
    """A label's own threshold; None returns it to the default."""
    label = _label_or_error(library, name)
    library.set_label_threshold(
        label.name, None if threshold is None else check_threshold(threshold))
    updated = library.label(label.name)
    assert updated is not None
    return updated


def set_template(library: Library, name: str, template: str) -> Label:
    return edit_label(library, name, template=template)


# -- re-tagging -------------------------------------------------------------------------
def retag(library: Library, load_embedder: EmbedderLoader | None = None) -> RetagResult:
    """Re-tag the library after an edit: from cached label vectors when all are known (no
    model needed), else with the model loaded once. Without the model the edit stays saved
    and the re-tag waits for the next index run."""
    if library.vector_count() == 0:
        with library.transaction():
            library.conn.execute("DELETE FROM meta WHERE key = ?", (tagger.RETAG_NEEDED,))
        return RetagResult(False, message=None)
    try:
        matrix = current_matrix(library, load_embedder)
    except ModelUnavailable as exc:
        tagger.mark_retag_needed(library)
        return RetagResult(False, message=f"Saved, but {exc}")
    if learning.refit_stale(library, lambda: matrix):
        matrix = tagger.cached_label_matrix(library) or matrix
    return RetagResult(True, tagger.retag_library(library, matrix))


def current_matrix(library: Library, load_embedder: EmbedderLoader | None = None
                   ) -> tagger.LabelMatrix:
    """The label matrix for the library's model: from the cached label vectors, else with
    the model loaded. Raises ModelUnavailable (saying when the re-tag will happen)."""
    matrix = tagger.cached_label_matrix(library)
    if matrix is not None:
        return matrix
    try:
        if load_embedder is None:
            raise ModelUnavailable("no model was offered")
        embedder = load_embedder()
    except ModelUnavailable as exc:
        raise ModelUnavailable(
            f"the photos are not re-tagged yet: the model is not available ({exc}). They "
            "are re-tagged the next time photos are indexed with it.") from exc
    if embedder.model_id != library.model_id:
        raise ModelUnavailable(
            f"the library was indexed with '{library.model_id}', so its photos are "
            "re-tagged the next time they are indexed with it.")
    return tagger.label_matrix(library, embedder)


def library_model_loader(library: Library,
                         load: Callable[[str], Embedder] = Embedder.load) -> EmbedderLoader:
    """A loader for the model the library's vectors were made with."""

    def loader() -> Embedder:
        if library.model_id is None:
            raise ModelUnavailable("the library has no model yet")
        return load(library.model_id)

    return loader


# -- folders ----------------------------------------------------------------------------
def _folder_or_error(library: Library, folder: str | Path) -> int:
    row = library.folder_by_path(str(Path(folder).resolve()))
    if row is None:
        raise LabelError(f"{folder} is not a folder of the library; index it first.")
    return row.id


def folder_settings(library: Library) -> list[FolderTagging]:
    result = []
    for folder in library.folders():
        chosen = sorted(r[0] for r in library.conn.execute(
            "SELECT tag FROM folder_labels WHERE folder_id = ?", (folder.id,)))
        result.append(FolderTagging(folder.path, folder.auto_tag, chosen or None))
    return result


def set_folder_auto_tag(library: Library, folder: str | Path, enabled: bool) -> None:
    """Switch automatic tagging of a watched folder on or off (manual tags stay)."""
    library.set_folder_options(_folder_or_error(library, folder), auto_tag=enabled)


def set_folder_labels(library: Library, folder: str | Path,
                      tags: Sequence[str] | None) -> list[str] | None:
    """The tags that apply in a folder; None or empty: every label applies."""
    folder_id = _folder_or_error(library, folder)
    chosen: list[str] = []
    known = {label.tag for label in library.labels()}
    for name in tags or []:
        tag = resolve_tag(library, name)
        if tag not in known:
            raise LabelError(f"There is no label or tag '{name}'.")
        if tag not in chosen:
            chosen.append(tag)
    with library.transaction():
        library.conn.execute("DELETE FROM folder_labels WHERE folder_id = ?", (folder_id,))
        library.conn.executemany("INSERT INTO folder_labels(folder_id, tag) VALUES (?, ?)",
                                 [(folder_id, tag) for tag in chosen])
    return chosen or None


# -- manual tags and a photo's tags -------------------------------------------------------
def _photo_id(library: Library, path: str | Path) -> int:
    row = library.photo_by_path(str(Path(path).resolve()))
    if row is None:
        raise LabelError(f"{path} is not in the library; index its folder first.")
    return row.id


def tag_photo(library: Library, path: str | Path, name: str,
              load_embedder: EmbedderLoader | None = None) -> str:
    """The user puts a tag on a photo; it stays whatever the scores say. Returns the tag."""
    return set_photos_tag(library, [path], name, True, load_embedder).tag


def untag_photo(library: Library, path: str | Path, name: str,
                load_embedder: EmbedderLoader | None = None) -> str:
    """The user takes a tag off a photo; automatic scoring never puts it back."""
    return set_photos_tag(library, [path], name, False, load_embedder).tag


def set_photos_tag(library: Library, paths: Sequence[str | Path], name: str, present: bool,
                   load_embedder: EmbedderLoader | None = None) -> TagChange:
    """The user tags (or untags) photos by hand: each is a decision that always wins for its
    photo, and an example for the tag if it learns, which is then retrained at once."""
    tag = resolve_tag(library, name)
    ids = [_photo_id(library, path) for path in paths]  # every path checked before writing
    with library.transaction():
        for photo_id in ids:
            library.set_manual_tag(photo_id, tag, present)
    return TagChange(tag, len(ids), *_retrain(library, tag, load_embedder))


def _retrain(library: Library, tag: str, load_embedder: EmbedderLoader | None
             ) -> tuple[list[learning.LearnResult], str | None]:
    try:
        return learning.after_decision(
            library, {tag}, lambda: current_matrix(library, load_embedder)), None
    except ModelUnavailable as exc:
        tagger.mark_retag_needed(library)
        return [], f"'{tag}' learns from this, but {exc}"


def learn_tag(library: Library, name: str, on: bool = True, *,
              threshold: float | None = None,
              load_embedder: EmbedderLoader | None = None) -> learning.LearnResult | None:
    """Turn learning from the user's decisions on (or off) for a tag; on, the tag is fitted
    and the library re-tagged with it at once. A tag need not have a label: one the model
    cannot read ("Rex") learns from its examples alone."""
    tag = resolve_tag(library, name)
    if not on:
        if library.learned_tag(tag) is None:
            raise LabelError(f"'{tag}' is not learning.")
        learning.disable(library, tag)
        retag(library, load_embedder)
        return None
    if threshold is not None:
        check_threshold(threshold)
    if library.model_id is None:
        raise LabelError("The library has no photos yet; index a folder first.")
    return learning.enable(library, tag, current_matrix(library, load_embedder), threshold)


def review_candidates(library: Library, name: str, limit: int = 50
                      ) -> list[learning.Candidate]:
    """The photos a learning tag is least sure about, most informative first."""
    try:
        return learning.review(library, resolve_tag(library, name), limit)
    except learning.LearningError as exc:
        raise LabelError(str(exc)) from exc


def reset_photo_tag(library: Library, path: str | Path, name: str) -> str:
    """Forget the user's decision on a tag, handing it back to the automatic score."""
    tag = resolve_tag(library, name)
    photo_id = _photo_id(library, path)
    matrix = tagger.cached_label_matrix(library)
    vector = library.vector(photo_id)
    with library.transaction():
        library.conn.execute("DELETE FROM tags WHERE photo_id = ? AND tag = ?",
                             (photo_id, tag))
        if matrix is not None and vector is not None:
            tagger.tag_photos(library, matrix, [photo_id], vector[None, :])
    if matrix is None and vector is not None:
        tagger.mark_retag_needed(library)
    _retrain(library, tag, None)  # one example fewer
    return tag


def photo_tags(library: Library, path: str | Path, *, all_labels: bool = False,
               load_embedder: EmbedderLoader | None = None) -> PhotoTags:
    """A photo's tags with scores; with `all_labels`, every label's score as well (from
    cached label vectors, or the model when some label is new)."""
    photo_id = _photo_id(library, path)
    photo = library.photo(photo_id)
    assert photo is not None
    rows = library.conn.execute(
        "SELECT tag, score, source, rejected FROM tags WHERE photo_id = ? "
        "ORDER BY score IS NULL, score DESC, tag", (photo_id,)).fetchall()
    result = PhotoTags(photo.path, [PhotoTag(t, s, src) for t, s, src, rej in rows if not rej],
                       [t for t, _, _, rej in rows if rej])
    if all_labels:
        vector = library.vector(photo_id)
        if vector is None:
            raise LabelError(f"{path} is not indexed yet, so it has no scores.")
        matrix = tagger.cached_label_matrix(library)
        if matrix is None:
            if load_embedder is None:
                raise ModelUnavailable("label scores need the model")
            matrix = tagger.label_matrix(library, load_embedder())
        thresholds = dict(zip((label.id for label in matrix.labels),
                              np.asarray(matrix.thresholds).tolist(), strict=True))
        result.scores = [(label.name, label.tag, score, thresholds[label.id])
                         for label, score in tagger.label_scores(matrix, vector)]
    return result
