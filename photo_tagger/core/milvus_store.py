"""Photo vectors of an archive shared by several desktops, in Milvus (a server, a cluster or
the embedded Milvus Lite). No Qt here; pymilvus is the optional extra `[milvus]`.

Vectors are keyed by the file's content hash, so one photo seen by two desktops under
different mount paths is embedded and stored once. Tags, folder and date are scalar fields,
so filters run inside Milvus. The local SQLite stays the source of file state, labels and
manual decisions: Milvus holds a copy each desktop upserts (idempotent; one writer per
folder, see docs/SCALING.md). One collection per model: a model switch never mixes vectors.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from photo_tagger.core.search import SearchResult
from photo_tagger.core.store import Library

VECTOR_STORE_ENV = "PHOTO_TAGGER_VECTOR_STORE"
# The library meta key holding the chosen store (the setting; `--vector-store` and
# $PHOTO_TAGGER_VECTOR_STORE override it).
VECTOR_STORE_SETTING = "vector_store"
# Taken-at of a photo without a date: before every real date, so ranges exclude it.
NO_DATE = -(2**62)
UPSERT_BATCH = 1000


class VectorStoreError(Exception):
    """A known problem with the chosen vector store: printed as one message."""


@dataclass(frozen=True)
class VectorStoreSpec:
    """`milvus://HOST:PORT` (a Milvus server or cluster) or `milvus-lite:PATH`."""

    uri: str
    lite: bool

    @classmethod
    def parse(cls, text: str) -> VectorStoreSpec:
        if text.startswith("milvus://"):
            address = text[len("milvus://"):].rstrip("/")
            if not address or ":" not in address:
                raise VectorStoreError(
                    f"'{text}' names no port: use milvus://HOST:PORT (Milvus listens on 19530).")
            return cls(f"http://{address}", lite=False)
        if text.startswith("milvus-lite:"):
            path = os.path.abspath(os.path.expanduser(text[len("milvus-lite:"):]))
            if not path.endswith(".db"):
                raise VectorStoreError(f"A Milvus Lite file must end in .db, not '{path}'.")
            return cls(path, lite=True)
        raise VectorStoreError(
            f"Unknown vector store '{text}': use milvus://HOST:PORT or milvus-lite:PATH.")


def requested_vector_store(cli_value: str | None, library: Library | None = None
                           ) -> VectorStoreSpec | None:
    """The store asked for: `--vector-store`, then $PHOTO_TAGGER_VECTOR_STORE, then the
    library's setting; None keeps the vectors in the library alone."""
    text = cli_value or os.environ.get(VECTOR_STORE_ENV) or (
        library.get_meta(VECTOR_STORE_SETTING) if library is not None else None)
    return VectorStoreSpec.parse(text) if text else None


@dataclass(frozen=True)
class StoredPhoto:
    """One row in Milvus: the vector of a content hash and the scalars filters use."""

    content_hash: str
    vector: np.ndarray
    tags: Sequence[str]
    folder: str
    taken_at: int  # seconds since 1970, or NO_DATE


def collection_name(model_id: str, dim: int) -> str:
    """One collection per model and dimension (Milvus names: letters, digits, '_')."""
    digest = hashlib.sha1(model_id.encode()).hexdigest()[:16]
    return f"photos_{digest}_{int(dim)}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class MilvusStore:
    """The vectors of one model in one Milvus collection."""

    def __init__(self, spec: VectorStoreSpec, model_id: str, dim: int) -> None:
        try:
            from pymilvus import DataType, MilvusClient
        except ImportError as exc:
            raise VectorStoreError(
                "Milvus needs the optional packages: pip install 'photo-tagger[milvus]'."
            ) from exc
        try:
            self.client = MilvusClient(spec.uri)
        except Exception as exc:  # pymilvus raises its own types for every network fault
            raise VectorStoreError(f"Cannot reach Milvus at {spec.uri}: {exc}") from exc
        self.model_id = model_id
        self.dim = int(dim)
        self.name = collection_name(model_id, dim)
        if not self.client.has_collection(self.name):
            self._create(DataType)

    def _create(self, data_type: Any) -> None:
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False,
                                           description=f"photo-tagger vectors of {self.model_id}")
        schema.add_field("content_hash", data_type.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("vector", data_type.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("tags", data_type.ARRAY, element_type=data_type.VARCHAR,
                         max_capacity=256, max_length=256)
        schema.add_field("folder", data_type.VARCHAR, max_length=4096)
        schema.add_field("taken_at", data_type.INT64)
        index = self.client.prepare_index_params()
        # Unit vectors: inner product is the cosine. HNSW on a server; Lite picks its own.
        index.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
        self.client.create_collection(self.name, schema=schema, index_params=index)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> MilvusStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def upsert(self, photos: Iterable[StoredPhoto]) -> int:
        """Insert or replace by content hash: writing the same photo twice (two desktops, a
        re-run after a crash) leaves one row."""
        count = 0
        batch: list[dict[str, Any]] = []
        for photo in photos:
            batch.append({"content_hash": photo.content_hash,
                          "vector": np.asarray(photo.vector, dtype=np.float32).tolist(),
                          "tags": list(photo.tags), "folder": photo.folder,
                          "taken_at": int(photo.taken_at)})
            if len(batch) >= UPSERT_BATCH:
                count += len(batch)
                self.client.upsert(self.name, batch)
                batch = []
        if batch:
            count += len(batch)
            self.client.upsert(self.name, batch)
        return count

    def delete(self, content_hashes: Sequence[str]) -> None:
        if content_hashes:
            self.client.delete(self.name, ids=list(content_hashes))

    def count(self) -> int:
        rows = self.client.query(self.name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def search(self, vector: np.ndarray, limit: int, *, tags: Sequence[str] = (),
               folder: str | None = None, taken_from: int | None = None,
               taken_to: int | None = None) -> list[tuple[str, float]]:
        """(content hash, cosine) of the nearest photos, filtered inside Milvus: any of
        `tags`, under `folder`, taken in [taken_from, taken_to) (seconds)."""
        terms = []
        if tags:
            terms.append(f"ARRAY_CONTAINS_ANY(tags, [{', '.join(_quote(t) for t in tags)}])")
        if folder is not None:
            prefix = folder.rstrip("/").replace("%", "\\%").replace("_", "\\_")
            terms.append(f"(folder == {_quote(folder.rstrip('/'))} or "
                         f"folder like {_quote(prefix + '/%')})")
        if taken_from is not None:
            terms.append(f"taken_at >= {int(taken_from)}")
        if taken_to is not None:
            terms.append(f"taken_at < {int(taken_to)}")
        hits = self.client.search(
            self.name, data=[np.asarray(vector, dtype=np.float32).tolist()], limit=limit,
            filter=" and ".join(terms), search_params={"metric_type": "IP"},
            output_fields=["content_hash"])[0]
        return [(hit["content_hash"], float(hit["distance"])) for hit in hits]

    def drop(self) -> None:
        """Remove this model's collection (after every desktop moved to another model)."""
        self.client.drop_collection(self.name)


def taken_seconds(taken_at: str | None) -> int:
    """The library's ISO taken-at as seconds, or NO_DATE."""
    if not taken_at:
        return NO_DATE
    try:
        return int(datetime.fromisoformat(taken_at).timestamp())
    except ValueError:
        return NO_DATE


def library_rows(library: Library, folder: str | None = None) -> Iterable[StoredPhoto]:
    """Every indexed photo (under `folder`, this desktop's share of the writing) as a
    Milvus row: its vector, its tags (manual decisions applied), its folder (the file's own
    directory, so a folder filter covers subfolders by prefix) and date."""
    photos = library.indexed_photos(folder)
    by_id = library.photos_by_ids([photo_id for photo_id, _ in photos])
    for start in range(0, len(photos), 500):
        ids = [photo_id for photo_id, _ in photos[start:start + 500]]
        found, vectors = library.vectors_of(ids)
        for photo_id, vector in zip(found.tolist(), vectors, strict=True):
            photo = by_id[photo_id]
            if not photo.content_hash:
                continue
            tags = [t.tag for t in library.tags_of(photo_id)]  # rejected ones left out
            yield StoredPhoto(photo.content_hash, vector, tags, os.path.dirname(photo.path),
                              taken_seconds(photo.taken_at))


def sync_library(library: Library, store: MilvusStore, folder: str | None = None) -> int:
    """Upsert this library's photos (under `folder`) into Milvus; returns rows written."""
    if library.model_id != store.model_id:
        raise VectorStoreError(
            f"The library uses {library.model_id}, the Milvus collection {store.model_id}.")
    return store.upsert(library_rows(library, folder))


def search_library(library: Library, store: MilvusStore, vector: np.ndarray, limit: int, *,
                   tags: Sequence[str] = (), folder: str | None = None) -> list[SearchResult]:
    """Nearest photos from Milvus, as this desktop's files: a hash seen here under several
    paths gives each; one only another desktop holds is left out (its file is not here)."""
    hits = store.search(vector, limit, tags=tags, folder=folder)
    local = library.indexed_photos_with_hashes([h for h, _ in hits])
    return [SearchResult(photo.id, photo.path, score)
            for content_hash, score in hits for photo in local.get(content_hash, [])]
