"""Where two people talk at once: the segmentation model's pairs of local speakers
(``workers.diarize.segmentation``) put onto the job's speakers.

The turns give one speaker per moment. In each 10-s chunk, every local speaker of the model is
matched to one of the job's speakers by how long they agree: the frames where that local
speaker talks alone, counted against the turns' speaker at those frames (one-to-one, largest
agreement first; a local speaker needs ``min_agree_s`` of agreement, and most of its lone
frames, to be matched). Where the model hears two local speakers at once and one of them is
matched to the turns' speaker there, the other is the second voice: the speaker it is matched
to, or, when it never talks alone long enough in the chunk to be matched (a backchannel, a
voice that only ever talks over someone), by elimination the speaker no local speaker of the
chunk took whose turn is nearest in time. Chunks that cover a moment vote; runs of a second
voice shorter than ``min_overlap_s`` are dropped. The result is a list of overlaps (start, end,
the two speakers: the turns' one first), inside the turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shared.schemas import Overlap, SpeakerTurn
from workers.diarize.segmentation import (
    CHUNK_S,
    FRAME_S,
    FRAME_STEP_S,
    FRAMES,
    Segmentation,
    activity,
    frame_times,
)

GRID_S = 0.02  # the votes' time grid


@dataclass(frozen=True)
class OverlapSettings:
    min_agree_s: float = 0.5
    min_share: float = 0.5  # of a local speaker's lone frames, on its matched speaker
    min_overlap_s: float = 0.2
    fill_gap_s: float = 0.1
    # A pair whose other local speaker is unmatched (it never talks alone long enough in the
    # chunk): the second voice is, of the speakers no local speaker of the chunk took, the one
    # whose turn is nearest in time (False: no second voice there).
    eliminate: bool = True
    # ... only a speaker with a turn this close (seconds): in a long recording, a voice heard
    # minutes away is no evidence for who talks over someone now.
    max_eliminate_s: float = 60.0


class _Turns:
    """The turns by speaker, for the distance from a time to a speaker's nearest turn."""

    def __init__(self, turns: Sequence[SpeakerTurn], names: list[str]) -> None:
        self.spans = [np.array([(t.start, t.end) for t in turns if t.speaker == n]).reshape(-1, 2) for n in names]

    def distance(self, g: int, times: np.ndarray) -> np.ndarray:
        a, b = self.spans[g][:, 0], self.spans[g][:, 1]
        gap = np.maximum(np.maximum(a[None, :] - times[:, None], times[:, None] - b[None, :]), 0.0)
        return gap.min(axis=1) if gap.shape[1] else np.full(len(times), np.inf)


def labels_at(times: np.ndarray, turns: Sequence[SpeakerTurn], names: list[str]) -> np.ndarray:
    """The turns' speaker (index into ``names``) at each time, -1 outside every turn."""
    out = np.full(len(times), -1, dtype=np.int64)
    if not turns:
        return out
    ordered = sorted(turns, key=lambda t: t.start)
    starts = np.array([t.start for t in ordered])
    ends = np.array([t.end for t in ordered])
    index = np.array([names.index(t.speaker) for t in ordered], dtype=np.int64)
    k = np.searchsorted(starts, times, side="right") - 1  # the last turn starting at or before
    inside = (k >= 0) & (times < ends[np.maximum(k, 0)])
    out[inside] = index[k[inside]]
    return out


def match_local(act: np.ndarray, primary: np.ndarray, n_speakers: int, cfg: OverlapSettings) -> np.ndarray:
    """Each local speaker's job speaker (index, -1: none) from one chunk's activity
    (frames × local, bool) and the turns' speaker at each frame."""
    local = act.shape[1]
    alone = act.sum(axis=1) == 1
    agree = np.zeros((local, n_speakers), dtype=np.int64)
    for k in range(local):
        lab = primary[alone & act[:, k]]
        lab = lab[lab >= 0]
        agree[k] = np.bincount(lab, minlength=n_speakers)[:n_speakers]
    out = np.full(local, -1, dtype=np.int64)
    need = cfg.min_agree_s / FRAME_STEP_S
    taken: set[int] = set()
    # Largest agreement first, one-to-one.
    for flat in np.argsort(-agree, axis=None, kind="stable"):
        k, g = divmod(int(flat), n_speakers)
        n = agree[k, g]
        if n < need:
            break
        if out[k] >= 0 or g in taken or n < cfg.min_share * agree[k].sum():
            continue
        out[k] = g
        taken.add(g)
    return out


def chunk_second(act: np.ndarray, primary: np.ndarray, n_speakers: int, cfg: OverlapSettings,
                 times: np.ndarray | None = None, turns: _Turns | None = None) -> np.ndarray:
    """Per frame of one chunk, the second voice (speaker index, -1: none): two local speakers
    at once, one of them matched to the turns' speaker there, the other matched to another
    speaker or, unmatched, taken by elimination (``cfg.eliminate``, with the frames' ``times``
    and the ``turns``)."""
    mapped = match_local(act, primary, n_speakers, cfg)
    out = np.full(len(act), -1, dtype=np.int64)
    pairs = np.flatnonzero(act.sum(axis=1) == 2)
    if not len(pairs):
        return out
    g = mapped[np.argmax(act[pairs], axis=1)], mapped[2 - np.argmax(act[pairs][:, ::-1], axis=1)]
    p = primary[pairs]
    first, second = g
    other = np.where(first == p, second, np.where(second == p, first, -2))  # -2: p is neither
    known = (p >= 0) & (other >= 0) & (other != p)
    out[pairs[known]] = other[known]
    free = np.array([k for k in range(n_speakers) if k not in mapped], dtype=np.int64)  # p is mapped
    guess = (p >= 0) & (other == -1)
    if cfg.eliminate and len(free) and guess.any() and times is not None and turns is not None:
        idx = pairs[guess]
        dist = np.stack([turns.distance(int(k), times[idx]) for k in free], axis=1)  # (frames, free)
        best = np.argmin(dist, axis=1)
        ok = dist[np.arange(len(idx)), best] <= cfg.max_eliminate_s  # inf (no turn) is never
        out[idx[ok]] = free[best[ok]]
    return out


def second_voice(seg: Segmentation, turns: Sequence[SpeakerTurn], cfg: OverlapSettings | None = None
                 ) -> list[Overlap]:
    """The overlaps the segmentation finds inside the turns (see the module text)."""
    cfg = cfg or OverlapSettings()
    names = sorted({t.speaker for t in turns})
    if len(seg) == 0 or len(names) < 2:
        return []
    total_s = max(max(t.end for t in turns), float(seg.starts[-1]) + CHUNK_S)
    by_speaker = _Turns(turns, names)
    n_grid = int(np.ceil(total_s / GRID_S)) + 1
    votes = np.zeros((n_grid, len(names)), dtype=np.int32)
    cover = np.zeros(n_grid, dtype=np.int32)
    for start, act in zip(seg.starts, activity(seg.classes), strict=True):
        times = frame_times(float(start))
        extra = chunk_second(act, labels_at(times, turns, names), len(names), cfg, times, by_speaker)
        # Each grid cell inside the chunk takes its nearest frame.
        c0, c1 = int(np.ceil(start / GRID_S)), min(n_grid, int(np.ceil((start + CHUNK_S) / GRID_S)))
        cells = np.arange(c0, c1)
        frame = np.clip(np.round(((cells + 0.5) * GRID_S - start - FRAME_S / 2) / FRAME_STEP_S).astype(np.int64),
                        0, FRAMES - 1)
        cover[cells] += 1
        hit = extra[frame] >= 0
        votes[cells[hit], extra[frame[hit]]] += 1
    best = votes.argmax(axis=1)
    second = np.where((votes.max(axis=1) > 0) & (2 * votes.max(axis=1) >= cover), best, -1)
    primary_grid = labels_at((np.arange(n_grid) + 0.5) * GRID_S, turns, names)
    second[(primary_grid < 0) | (second == primary_grid)] = -1
    return _runs(second, primary_grid, names, cfg)


def _runs(second: np.ndarray, primary: np.ndarray, names: list[str], cfg: OverlapSettings) -> list[Overlap]:
    """Runs of one (turn speaker, second voice) pair on the grid as overlaps; gaps up to
    ``fill_gap_s`` closed, runs under ``min_overlap_s`` dropped."""
    runs: list[list[int]] = []  # [primary, second, first cell, last cell + 1]
    gap = int(round(cfg.fill_gap_s / GRID_S))
    for i in np.flatnonzero(second >= 0):
        key = (int(primary[i]), int(second[i]))
        if runs and (runs[-1][0], runs[-1][1]) == key and i - runs[-1][3] <= gap:
            runs[-1][3] = int(i) + 1
        else:
            runs.append([key[0], key[1], int(i), int(i) + 1])
    return [Overlap(start=round(a * GRID_S, 3), end=round(b * GRID_S, 3), speakers=[names[p], names[s]])
            for p, s, a, b in runs if (b - a) * GRID_S >= cfg.min_overlap_s - 1e-9]
