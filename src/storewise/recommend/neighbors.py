"""Shared linear-algebra helpers for neighbourhood models: weighting, similarity, top-k.

Each piece lives here once so the models that use it (EASE, ALS, user-kNN, item-kNN,
content, repurchase) weight, pick neighbours and explain the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from storewise.recommend.base import top_n


def bm25_stats(matrix: sp.csr_matrix) -> tuple[np.ndarray, float]:
    """Corpus statistics for BM25: per-item idf and the mean row length (from training)."""
    csr = sp.csr_matrix(matrix)
    n_rows = max(csr.shape[0], 1)
    df = np.bincount(csr.indices, minlength=csr.shape[1]).astype(np.float64)
    idf = np.maximum(np.log(n_rows) - np.log1p(df), 0.0)
    row_sums = np.asarray(csr.sum(axis=1)).ravel()
    avg = float(row_sums.mean()) if row_sums.size else 1.0
    return idf.astype(np.float32), avg


def bm25_weight(
    matrix: sp.csr_matrix,
    k1: float = 1.2,
    b: float = 0.75,
    stats: tuple[np.ndarray, float] | None = None,
) -> sp.csr_matrix:
    """BM25-weight a customers x items matrix (items are the 'terms', customers 'documents').

    ``stats`` (idf, mean length) come from the training matrix, so a history is weighted
    the same whether it is scored alone or in a batch; without them the matrix is its own
    corpus (training time).
    """
    csr = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    n_rows = csr.shape[0]
    idf, avg = stats if stats is not None else bm25_stats(csr)
    row_sums = np.asarray(csr.sum(axis=1)).ravel()
    length_norm = (1.0 - b) + b * row_sums / max(avg, 1e-9)
    rows = np.repeat(np.arange(n_rows), np.diff(csr.indptr))
    data = csr.data.astype(np.float64)
    weights = data * (k1 + 1.0) / (k1 * length_norm[rows] + data) * idf[csr.indices]
    csr.data = weights.astype(np.float32)
    return csr


@dataclass(frozen=True)
class BM25Weighting:
    """BM25 as a model applies it to its inputs: corpus statistics learned from the training
    matrix, applied alike to it and to every history scored later, or nothing when disabled.

    The statistics are kept (and saved) even when disabled, so bundles have one layout.
    """

    idf: np.ndarray
    avg_length: float
    enabled: bool

    @classmethod
    def learn(cls, matrix: sp.csr_matrix, *, enabled: bool) -> BM25Weighting:
        """Statistics of a training (customers x items) matrix."""
        idf, avg = bm25_stats(matrix)
        return cls(idf, avg, enabled)

    def weigh(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """``matrix`` BM25-weighted with the training statistics (as is when disabled or empty)."""
        if not self.enabled or not matrix.nnz:
            return matrix
        return bm25_weight(matrix, stats=(self.idf, self.avg_length))

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(metadata, arrays) to merge into a model's saved state."""
        return {"bm25_avg": self.avg_length}, {"bm25_idf": self.idf}

    @classmethod
    def from_state(
        cls, meta: dict[str, Any], arrays: dict[str, np.ndarray], *, enabled: bool
    ) -> BM25Weighting:
        """Restore what :meth:`state` returned."""
        return cls(arrays["bm25_idf"], float(meta["bm25_avg"]), enabled)


def keep_top_k(matrix: sp.csr_matrix, k: int, *, block: int = 2048) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each row (ties by lower column), drop the rest."""
    csr = sp.csr_matrix(matrix)
    csr.sort_indices()
    n_rows, n_cols = csr.shape
    indptr = [0]
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    total = 0
    for start in range(0, n_rows, block):
        stop = min(start + block, n_rows)
        for row in range(start, stop):
            lo, hi = csr.indptr[row], csr.indptr[row + 1]
            cols = csr.indices[lo:hi]
            vals = csr.data[lo:hi]
            if cols.size > k:
                order = np.lexsort((cols, -vals))[:k]
                cols, vals = cols[order], vals[order]
                sort = np.argsort(cols)
                cols, vals = cols[sort], vals[sort]
            indices.append(cols)
            data.append(vals)
            total += cols.size
            indptr.append(total)
    return sp.csr_matrix(
        (
            np.concatenate(data) if data else np.empty(0, np.float32),
            np.concatenate(indices) if indices else np.empty(0, np.int32),
            np.asarray(indptr, dtype=np.int64),
        ),
        shape=(n_rows, n_cols),
    )


def cosine_item_similarity(
    matrix: sp.csr_matrix, *, shrink: float = 0.0, alpha: float = 0.5, k: int = 100
) -> sp.csr_matrix:
    """Item x item (asymmetric) cosine similarity with shrinkage, top-k per row.

    ``s_ij = <x_i, x_j> / (|x_i|^(2*alpha) |x_j|^(2*(1-alpha)) + shrink)``; alpha = 0.5 is
    the plain cosine. Row i holds item i's neighbours; the diagonal is removed.
    """
    csc = sp.csc_matrix(matrix, dtype=np.float32)
    gram = (csc.T @ csc).tocsr()
    gram.setdiag(0)
    gram.eliminate_zeros()
    squares = np.asarray(csc.multiply(csc).sum(axis=0)).ravel().astype(np.float64)
    norm_left = np.power(squares, alpha)
    norm_right = np.power(squares, 1.0 - alpha)
    rows = np.repeat(np.arange(gram.shape[0]), np.diff(gram.indptr))
    denom = norm_left[rows] * norm_right[gram.indices] + shrink + 1e-9
    gram.data = (gram.data / denom).astype(np.float32)
    return keep_top_k(gram, k)


def row_normalise(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Scale each row to unit L2 norm (rows of zeros stay zero)."""
    csr = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    norms = np.sqrt(np.asarray(csr.multiply(csr).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ csr, dtype=np.float32)


def nearest_neighbours(
    similarity: sp.csr_matrix, k: int, own: Sequence[int | None]
) -> sp.csr_matrix:
    """The ``k`` most similar columns of each row of ``similarity`` (queries x customers),
    the rest dropped; ``own[row]`` (the customer asking, if known) is zeroed first, so no
    one is their own neighbour. Ties at the k-th place are cut by ``np.argpartition``."""
    rows = []
    for row, customer in enumerate(own):
        lo, hi = similarity.indptr[row], similarity.indptr[row + 1]
        cols, vals = similarity.indices[lo:hi], similarity.data[lo:hi].copy()
        if customer is not None:
            vals[cols == customer] = 0.0
        if cols.size > k:
            best = np.argpartition(-vals, k - 1)[:k]
            cols, vals = cols[best], vals[best]
        rows.append(
            sp.csr_matrix((vals, (np.zeros_like(cols), cols)), shape=(1, similarity.shape[1]))
        )
    return sp.vstack(rows).tocsr() if rows else sp.csr_matrix((0, similarity.shape[1]))


def most_similar(scores: np.ndarray, n: int, item_idx: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` items with the best positive scores, never ``item_idx`` itself."""
    values = scores.astype(np.float64)
    values[values <= 0] = -np.inf
    return top_n(values, n, exclude=np.asarray([item_idx]))


def co_bought(
    by_item: sp.csc_matrix, rows: sp.csr_matrix, item_idx: int, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Items most present in the ``rows`` (customer vectors; ``by_item`` is the same matrix
    by column) of the customers who have ``item_idx``, weighted by how much they have it."""
    buyers = by_item[:, item_idx]
    scores = np.asarray((buyers.T @ rows).toarray()).ravel()
    return most_similar(scores, n, item_idx)


def strongest_sources(
    similarity: np.ndarray, weights: np.ndarray, sources: np.ndarray
) -> list[int | None]:
    """For each column of ``similarity`` (sources x targets), the source contributing most
    to that target's score (``similarity * weights`` per source), or None when none adds
    anything: the "because you bought" of a recommendation."""
    if sources.size == 0:
        return [None] * similarity.shape[1]
    contribution = similarity * weights[:, None]
    best = np.argmax(contribution, axis=0)
    return [
        int(sources[row]) if contribution[row, column] > 0 else None
        for column, row in enumerate(best)
    ]


def feature_similarity(model: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """Pairwise product-feature similarity of candidate items (for diversity re-ranking), from
    a content model or a hybrid holding one; None when the model has no product features."""
    content = getattr(model, "parts", {}).get("content")
    features = getattr(content or model, "features", None)
    if features is None:
        return None

    def similarity(items: np.ndarray) -> np.ndarray:
        block = features[items]
        return np.asarray((block @ block.T).toarray(), dtype=np.float64)

    return similarity
