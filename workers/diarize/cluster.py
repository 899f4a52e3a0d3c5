"""Spectral clustering of voice embeddings with an automatic speaker count.

The affinity is the cosine similarity of the windows' embeddings, refined as in
Wang et al. 2018 ("Speaker diarization with LSTM"): each row keeps its strongest
entries (the rest scaled by 0.01), is symmetrised and diffused (A·Aᵀ), then max-normalised
per row. Without a given count, the count is the largest eigengap of that matrix within
``[max(lo, 2), hi]``, and clusters whose centres are more alike than ``merge_similarity``
then merge down to ``lo`` (what keeps a one-voice recording at one speaker). Cost: O(n²) memory and O(n³) time in
the ``n`` clustered windows, so past ``max_windows`` an even subsample is clustered and every
other window joins its nearest cluster centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.schemas import MAX_SPEAKERS

KEEP = 0.3  # share of each affinity row kept as is by the refinement


@dataclass(frozen=True)
class SpeakerCount:
    """What the caller said about the number of speakers (exact, or bounds)."""

    num: int | None = None
    lo: int | None = None
    hi: int | None = None

    def bounds(self) -> tuple[int, int]:
        if self.num is not None:
            return self.num, self.num
        lo = self.lo or 1
        return lo, max(lo, self.hi or MAX_SPEAKERS)


def refine(sim: np.ndarray) -> np.ndarray:
    """The refined affinity of a cosine-similarity matrix (see the module text)."""
    a = np.clip(sim, 0.0, 1.0).astype(np.float64)
    n = len(a)
    keep = max(2, int(np.ceil(KEEP * n)))
    if keep < n:
        thresh = -np.partition(-a, keep - 1, axis=1)[:, keep - 1 : keep]
        a = np.where(a >= thresh, a, a * 0.01)
    a = np.maximum(a, a.T)
    a = a @ a.T
    return a / np.maximum(a.max(axis=1, keepdims=True), 1e-12)


def eigengap_count(a: np.ndarray, lo: int, hi: int) -> int:
    """The number of clusters with the largest eigenvalue ratio λ_k / λ_{k+1}, k in [lo, hi]."""
    vals = np.sort(np.linalg.eigvalsh((a + a.T) / 2))[::-1]
    hi = min(hi, len(vals) - 1)
    if hi <= lo:
        return max(1, min(lo, len(vals)))
    ratios = [vals[k - 1] / max(vals[k], 1e-9) for k in range(lo, hi + 1)]
    return lo + int(np.argmax(ratios))


def spectral_labels(a: np.ndarray, k: int) -> np.ndarray:
    """k-means on the first k eigenvectors of the normalised Laplacian."""
    from scipy.linalg import eigh
    from sklearn.cluster import KMeans

    if k <= 1:
        return np.zeros(len(a), dtype=int)
    d = 1.0 / np.sqrt(np.maximum(a.sum(axis=1), 1e-12))
    lap = np.eye(len(a)) - d[:, None] * a * d[None, :]
    _, vecs = eigh((lap + lap.T) / 2, subset_by_index=[0, k - 1])
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    return np.asarray(KMeans(k, n_init=10, random_state=0).fit_predict(vecs))


def centres(emb: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each cluster's L2-normed mean embedding (labels 0..k-1)."""
    k = int(labels.max()) + 1 if len(labels) else 0
    c = np.stack([emb[labels == i].mean(axis=0) for i in range(k)]) if k else np.zeros((0, emb.shape[1]))
    return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)


def merge_similar(emb: np.ndarray, labels: np.ndarray, lo: int, threshold: float) -> np.ndarray:
    """Merge the two most alike clusters while their centres' cosine exceeds ``threshold``."""
    labels = labels.copy()
    while labels.max() + 1 > lo:
        c = centres(emb, labels)
        sim = c @ c.T
        np.fill_diagonal(sim, -1.0)
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[i, j] <= threshold:
            break
        a, b = min(i, j), max(i, j)
        labels[labels == b] = a
        labels[labels > b] -= 1
    return labels


def cluster(emb: np.ndarray, count: SpeakerCount, merge_similarity: float = 0.86,
            max_windows: int = 500) -> np.ndarray:
    """A speaker label (0..k-1) per embedding row."""
    n = len(emb)
    lo, hi = count.bounds()
    if n == 0:
        return np.zeros(0, dtype=int)
    if n <= 2 or hi <= 1:
        return np.zeros(n, dtype=int)
    idx = np.unique(np.linspace(0, n - 1, min(n, max_windows)).round().astype(int))
    sub = emb[idx]
    a = refine(sub @ sub.T)
    # Without a given count the eigengap looks from two up and similar clusters merge after:
    # the ratio λ1/λ2 says little about whether there is one voice or two.
    k = count.num if count.num is not None else eigengap_count(a, max(lo, 2), hi)
    k = min(k, len(idx))
    sub_labels = spectral_labels(a, k)
    if count.num is None:
        sub_labels = merge_similar(sub, sub_labels, lo, merge_similarity)
    sub_labels = _compact(sub_labels)
    if len(idx) == n:
        return sub_labels
    labels = np.asarray(np.argmax(emb @ centres(sub, sub_labels).T, axis=1))
    labels[idx] = sub_labels
    return labels


def _compact(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..k-1 in order of first appearance."""
    order: dict[int, int] = {}
    for x in labels:
        order.setdefault(int(x), len(order))
    return np.array([order[int(x)] for x in labels], dtype=int)
