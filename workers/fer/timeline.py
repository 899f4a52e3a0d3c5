"""Per-second face results from sampled frames.

A second's label is the argmax of the classifier's scores averaged over that second's frames
with a face (several frames per second steady a label that one noisy frame would flip); its
scores are that mean; its face count is the most faces seen in one of its frames.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.faces import majority
from shared.schemas import FaceFrame


@dataclass
class Timeline:
    labels: dict[int, str] = field(default_factory=dict)
    scores: dict[int, dict[str, float]] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)


def second_of(t: float) -> int:
    return int(math.floor(t + 1e-6))


def unique_frames(frames: Iterable[FaceFrame]) -> list[FaceFrame]:
    """Frames in time order, each instant once (a frame at a chunk border counts once)."""
    seen: set[float] = set()
    out = []
    for f in sorted(frames, key=lambda f: f.t):
        if f.t not in seen:
            seen.add(f.t)
            out.append(f)
    return out


def per_second(frames: Iterable[FaceFrame]) -> Timeline:
    """Label, mean scores and face count of each second that had a face."""
    rows: dict[int, list[dict[str, float]]] = defaultdict(list)
    labels: dict[int, list[str]] = defaultdict(list)
    counts: dict[int, int] = {}
    for f in unique_frames(frames):
        if f.label is None:
            continue
        sec = second_of(f.t)
        labels[sec].append(f.label)
        counts[sec] = max(counts.get(sec, 0), f.faces or 1)
        if f.scores:
            rows[sec].append(f.scores)
    out = Timeline(counts=dict(sorted(counts.items())))
    for sec in sorted(labels):
        if rows.get(sec):
            keys = list(rows[sec][0])
            mean = {k: sum(r.get(k, 0.0) for r in rows[sec]) / len(rows[sec]) for k in keys}
            out.scores[sec] = {k: round(v, 4) for k, v in mean.items()}
            # The argmax of the mean as reported (rounded), so a reader can check it; the
            # first of equal scores wins.
            out.labels[sec] = max(keys, key=lambda k: out.scores[sec][k])
        else:  # frames without scores (never written by this worker): the majority label
            lab = majority(labels[sec])
            if lab:
                out.labels[sec] = lab
    return out


def label_changes(labels: dict[int, str]) -> int:
    """How many times the label differs from the previous second's (gaps are skipped)."""
    seq = [labels[s] for s in sorted(labels)]
    return sum(a != b for a, b in zip(seq, seq[1:], strict=False))
