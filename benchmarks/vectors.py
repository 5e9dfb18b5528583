"""Synthetic photo embeddings: uniform random unit vectors (the worst case for any
approximate index: every neighbour is about as far as every other) and clustered ones, a
mixture of directions of uneven sizes, as photo libraries are (many near one theme, few near
another, bursts of near-identical shots)."""

from __future__ import annotations

import numpy as np


def uniform_vectors(count: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    vectors = rng.normal(size=(count, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


class ClusteredVectors:
    """Unit vectors around `count // 500` random directions with Zipf-like sizes; each
    vector's cosine to its centre is about 0.5–0.9 (its own spread), so clusters overlap
    the way themes in a library do. `sample` draws in batches, so 1M × 768 is generated
    without a second copy."""

    def __init__(self, dim: int, rng: np.random.Generator, clusters: int) -> None:
        self.dim = dim
        self.rng = rng
        self.centres = uniform_vectors(clusters, dim, rng)
        weights = 1.0 / np.arange(1, clusters + 1) ** 0.8
        self.weights = weights / weights.sum()

    def sample(self, count: int) -> np.ndarray:
        labels = self.rng.choice(len(self.centres), size=count, p=self.weights)
        spread = self.rng.uniform(0.6, 1.6, size=(count, 1)).astype(np.float32)
        noise = self.rng.normal(size=(count, self.dim)).astype(np.float32)
        vectors = self.centres[labels] + noise * (spread / np.sqrt(self.dim))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors


def clustered_vectors(count: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    return ClusteredVectors(dim, rng, max(20, count // 500)).sample(count)


def queries_near(vectors: np.ndarray, count: int, rng: np.random.Generator,
                 noise: float = 0.02) -> np.ndarray:
    """Queries close to stored vectors (a search lands among photos of its theme)."""
    picks = vectors[rng.integers(0, len(vectors), count)]
    queries = picks + rng.normal(scale=noise, size=picks.shape).astype(np.float32)
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)
