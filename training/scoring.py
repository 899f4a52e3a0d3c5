"""How good one completion is against the reference, for rejection sampling.

score = (1 − min(WER, 1)) + tag F1 − hallucination_weight × hallucination

WER is on tag-stripped, normalised text; tag F1 counts tags as multisets; hallucination is
inserted words per reference word (all from ``evaluation.metrics``). A clip whose reference
and completion both have no tags scores tag F1 1.0 here: nothing to find, nothing made up
(this is a per-clip selection score, not the reported micro-F1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from evaluation.metrics import hallucination, tag_counts, tags_of, total, wer


@dataclass
class Score:
    wer: float
    tag_f1: float
    hallucination: float
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def score(reference: str, completion: str, hallucination_weight: float = 1.0) -> Score:
    """The completion's selection score (higher is better; at most 2)."""
    w = wer(reference, completion)
    if not tags_of(reference) and not tags_of(completion):
        f1 = 1.0
    else:
        f1 = total(tag_counts(reference, completion).values()).f1
    h = hallucination(reference, completion)
    return Score(w, f1, h, (1.0 - min(w, 1.0)) + f1 - hallucination_weight * h)
