"""The face rules both the merge step and result corrections apply: the majority label."""

from __future__ import annotations

import math
from collections import Counter

from shared.schemas import Segment


def majority(labels: list[str]) -> str | None:
    """Most frequent label; ties go to the label seen first."""
    if not labels:
        return None
    counts = Counter(labels)
    top = max(counts.values())
    return next(lab for lab in labels if counts[lab] == top)


def segment_face(seg: Segment, timeline: dict[int, str]) -> str | None:
    """Majority face label over the seconds a segment covers."""
    first, last = int(math.floor(seg.start)), int(math.ceil(seg.end))
    labs = [timeline[s] for s in range(first, max(last, first + 1)) if s in timeline]
    return majority(labs)
