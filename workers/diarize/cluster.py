"""Voice embeddings to speakers: an automatic count, then the windows' labels.

The count looks at *stretches* of speech, not single 1.6-s windows (one window's embedding
varies with what is said nearly as much as with who says it): overlapping windows of one
speech region are averaged over up to 5 s, and those stretches are agglomerated (average
linkage, cosine). The recording is one voice when the last merge still joins groups more alike
than ``one_voice_similarity`` *and* no more than ``max(min_speaker_s, 5 %)`` of the speech lies
in stretches less alike than ``far_similarity`` to the recording's mean voice (a minority voice:
four people speaking in turn can keep the last merge high). Otherwise ~3-s stretches are
agglomerated down to ``split_similarity`` and the groups holding at least ``min_speaker_s``
(and 3 %) of the speech are counted (at least two). Thresholds were set on real recordings
(README, "Speakers"), one voice first: a single voice split in two is the worse error.

With the count ``k`` known, the windows agglomerated the same way give the speakers when
that yields ``k`` large groups (:func:`stretch_groups`: their windows keep their group, other
windows join the nearest group's mean voice). Otherwise the windows are labelled by spectral
clustering, refined as in Wang et al. 2018 ("Speaker diarization with LSTM"): each affinity row
keeps its strongest entries (the rest scaled by 0.01), is symmetrised and diffused (A·Aᵀ), then
max-normalised per row; k-means on the first k eigenvectors of the normalised Laplacian.
Spectral clustering favours balanced partitions, so on meetings where one person talks most it
splits that voice; the agglomerated windows keep it whole. Cost: spectral is O(n²) memory and O(n³)
time in the ``n`` clustered windows, so past ``max_windows`` an even subsample is clustered and
every other window joins its nearest cluster centre; the agglomeration is O(m²) in the m
windows, an even subsample of at most ``MAX_STRETCHES``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.schemas import MAX_SPEAKERS

KEEP = 0.3  # share of each affinity row kept as is by the refinement
MAX_STRETCHES = 3000  # the windows agglomerated: an even subsample past this (25 min of speech)


@dataclass(frozen=True)
class CountSettings:
    """The automatic count's thresholds (calibrated on real recordings: README, Diarization)."""

    one_voice_similarity: float = 0.70
    one_voice_span_s: float = 5.0
    far_similarity: float = 0.85
    far_share: float = 0.05
    split_similarity: float = 0.70
    split_span_s: float = 3.0
    min_speaker_s: float = 2.0
    min_speaker_share: float = 0.03
    group_span_s: float = 2.0


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


def chunks(starts: np.ndarray, ends: np.ndarray, span_s: float) -> list[np.ndarray]:
    """Windows grouped into runs of overlapping windows (one speech region) no longer than
    ``span_s``: each group's mean embedding is steadier than one window's."""
    groups: list[list[int]] = []
    for i in range(len(starts)):
        g = groups[-1] if groups else None
        if g is not None and starts[i] <= ends[i - 1] + 1e-6 and ends[i] - starts[g[0]] <= span_s:
            g.append(i)
        else:
            groups.append([i])
    return [np.array(g) for g in groups]


def _mean_rows(emb: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    m = np.stack([emb[g].mean(axis=0) for g in groups])
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)


def merge_similarities(emb: np.ndarray) -> np.ndarray:
    """Average-linkage agglomeration of L2-normed rows: the cosine similarity at each merge,
    first merge first (``len(emb) - 1`` values)."""
    from scipy.cluster.hierarchy import linkage

    return np.asarray(1.0 - linkage(emb, "average", metric="cosine")[:, 2])


def one_voice(emb: np.ndarray, starts: np.ndarray, ends: np.ndarray, cfg: CountSettings) -> bool:
    """Whether ~5-s stretches of speech all sound like one voice: the last merge of their
    agglomeration stays above ``one_voice_similarity`` *and* no more than
    ``max(min_speaker_s, far_share)`` of the speech lies in stretches less alike than
    ``far_similarity`` to the whole recording's mean voice (a minority voice)."""
    long = chunks(starts, ends, cfg.one_voice_span_s)
    if len(long) < 2:
        return True
    rows = _mean_rows(emb, long)
    if merge_similarities(rows)[-1] < cfg.one_voice_similarity:
        return False
    seconds = _seconds(long, starts, ends)
    whole = (rows * seconds[:, None]).sum(axis=0)
    whole /= max(float(np.linalg.norm(whole)), 1e-12)
    far_s = float(seconds[rows @ whole < cfg.far_similarity].sum())
    return far_s < max(cfg.min_speaker_s, cfg.far_share * float(seconds.sum()))


def _seconds(groups: list[np.ndarray], starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    return np.array([ends[g[-1]] - starts[g[0]] for g in groups])


def estimate_count(emb: np.ndarray, starts: np.ndarray, ends: np.ndarray, cfg: CountSettings,
                   lo: int = 1, hi: int = MAX_SPEAKERS) -> int:
    """The number of voices (see the module text), within ``[lo, hi]``."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if one_voice(emb, starts, ends, cfg):
        return max(lo, min(1, hi))
    short = chunks(starts, ends, cfg.split_span_s)
    if len(short) < 2:
        return max(lo, min(2, hi))
    rows = _mean_rows(emb, short)
    labels = fcluster(linkage(rows, "average", metric="cosine"), 1.0 - cfg.split_similarity, "distance")
    seconds = _seconds(short, starts, ends)
    floor = max(cfg.min_speaker_s, cfg.min_speaker_share * float(seconds.sum()))
    k = sum(float(seconds[labels == x].sum()) >= floor for x in np.unique(labels))
    return max(lo, min(hi, max(2, k), len(emb)))


def stretch_groups(emb: np.ndarray, starts: np.ndarray, ends: np.ndarray, k: int, cfg: CountSettings,
                   exact: bool) -> np.ndarray | None:
    """Labels from the windows (runs of a region's windows within ``group_span_s``: at the
    usual steps each window stands alone) agglomerated down to ``split_similarity``, when that
    gives at least ``k`` groups with ``min_speaker_s`` (and 3 %) of the windows' time
    (``exact``: the cut is lowered until it does): the ``k`` largest become the speakers;
    their windows keep their group, every other window joins the nearest speaker's mean voice.
    None when the groups are too few (then spectral clustering labels the windows). Unlike
    spectral clustering, which favours balanced partitions, this keeps one dominant voice whole
    beside short interjections. Past ``MAX_STRETCHES`` an even subsample is agglomerated."""
    from scipy.cluster.hierarchy import fcluster, linkage

    short = chunks(starts, ends, cfg.group_span_s)
    if len(short) < k:
        return None
    scale = 1.0
    if len(short) > MAX_STRETCHES:
        pick = np.unique(np.linspace(0, len(short) - 1, MAX_STRETCHES).round().astype(int))
        scale = len(pick) / len(short)
        short = [short[i] for i in pick]
    rows = _mean_rows(emb, short)
    seconds = _seconds(short, starts, ends)
    floor = max(cfg.min_speaker_s * scale, cfg.min_speaker_share * float(seconds.sum()))
    tree = linkage(rows, "average", metric="cosine")

    def large(groups: np.ndarray) -> list[int]:
        sizes = np.bincount(groups, weights=seconds)
        order = np.argsort(-sizes, kind="stable")
        return [int(x) for x in order if sizes[x] >= floor]

    groups = fcluster(tree, 1.0 - cfg.split_similarity, "distance")
    big = large(groups)
    cut = k
    while exact and len(big) < k and cut <= len(short):  # finer cuts, in steps of about 10 %
        groups = fcluster(tree, cut, "maxclust")
        big = large(groups)
        cut += max(1, cut // 10)
    if len(big) < k:
        return None
    big = big[:k]
    members = [np.concatenate([short[j] for j in np.flatnonzero(groups == x)]) for x in big]
    voices = np.stack([emb[g].mean(axis=0) for g in members])
    voices /= np.maximum(np.linalg.norm(voices, axis=1, keepdims=True), 1e-12)
    labels = np.argmax(emb @ voices.T, axis=1)
    for i, g in enumerate(members):
        labels[g] = i
    return np.asarray(labels)


def cluster(emb: np.ndarray, count: SpeakerCount, cfg: CountSettings | None = None,
            max_windows: int = 500, starts: np.ndarray | None = None,
            ends: np.ndarray | None = None) -> np.ndarray:
    """A speaker label (0..k-1) per embedding row; ``starts``/``ends`` (the windows' times)
    group neighbouring windows for the count (without them each window stands alone)."""
    n = len(emb)
    lo, hi = count.bounds()
    if n == 0:
        return np.zeros(0, dtype=int)
    if n <= 2 or hi <= 1:
        return np.zeros(n, dtype=int)
    if starts is None or ends is None:
        starts = np.arange(n, dtype=float) * 10.0
        ends = starts + 1.0
    cfg = cfg or CountSettings()
    k = count.num if count.num is not None else estimate_count(emb, starts, ends, cfg, lo, hi)
    if k <= 1:
        return np.zeros(n, dtype=int)
    grouped = stretch_groups(emb, starts, ends, k, cfg, exact=count.num is not None)
    if grouped is not None:
        return _compact(grouped)
    idx = np.unique(np.linspace(0, n - 1, min(n, max_windows)).round().astype(int))
    sub = emb[idx]
    k = min(k, len(idx))
    sub_labels = _compact(spectral_labels(refine(sub @ sub.T), k))
    if len(idx) == n:
        return sub_labels
    labels = np.asarray(np.argmax(emb @ centres(sub, sub_labels).T, axis=1))
    labels[idx] = sub_labels
    return _compact(labels)


def cluster_fused(res: np.ndarray, cam: np.ndarray, count: SpeakerCount, res_cfg: CountSettings,
                  cam_cfg: CountSettings, max_windows: int = 500, starts: np.ndarray | None = None,
                  ends: np.ndarray | None = None) -> np.ndarray:
    """Labels from both encoders' embeddings of the same windows (``res``: Resemblyzer's,
    ``cam``: CAM++'s, each L2-normed, each with its own thresholds). Resemblyzer alone decides
    one voice or more (CAM++ split a far-field single voice on the real set); past that the
    count is the larger of the two encoders' counts (CAM++ separates people far better, so it
    finds the short voices Resemblyzer merges; Resemblyzer keeps the ones CAM++ merges); the
    windows are then agglomerated on both embeddings side by side (their cosine is the mean of
    the two, cut first at the mean of the two split thresholds, lowered until there are ``k``
    groups), spectral clustering as in :func:`cluster` when they are too few."""
    n = len(res)
    lo, hi = count.bounds()
    if n <= 2 or hi <= 1:
        return np.zeros(n, dtype=int)
    if starts is None or ends is None:
        starts = np.arange(n, dtype=float) * 10.0
        ends = starts + 1.0
    k = count.num
    if k is None:
        if one_voice(res, starts, ends, res_cfg):
            k = max(lo, min(1, hi))
        else:
            k = max(estimate_count(res, starts, ends, res_cfg, lo, hi), estimate_count(cam, starts, ends, cam_cfg, lo, hi))
    if k <= 1:
        return np.zeros(n, dtype=int)
    both = np.concatenate([res, cam], axis=1) / np.sqrt(2)
    split = (res_cfg.split_similarity + cam_cfg.split_similarity) / 2
    fused = CountSettings(split_similarity=split, min_speaker_s=res_cfg.min_speaker_s,
                          min_speaker_share=res_cfg.min_speaker_share, group_span_s=res_cfg.group_span_s)
    return cluster(both, SpeakerCount(num=k), fused, max_windows, starts, ends)


def _compact(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..k-1 in order of first appearance."""
    order: dict[int, int] = {}
    for x in labels:
        order.setdefault(int(x), len(order))
    return np.array([order[int(x)] for x in labels], dtype=int)
