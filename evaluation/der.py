"""Diarization error rate, frame level, with the optimal speaker mapping and a collar.

``DER = (missed speech + false alarm + speaker confusion) / reference speech``, counted on
10-ms frames. Frames within ``collar`` seconds of a reference turn's start or end are not
scored (0.25 s by default, as NIST's md-eval and pyannote.metrics use it, on each side of a
border). Hypothesis speakers map one-to-one onto reference speakers so that the matched time
is largest (the Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``); frames where a
speaker matches no one count as confusion. Overlapping speech counts per speaker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

STEP_S = 0.01

Turn = tuple[str, float, float]  # (speaker, start, end) in seconds


@dataclass
class DerScore:
    der: float
    missed_s: float
    false_alarm_s: float
    confusion_s: float
    reference_s: float
    mapping: dict[str, str]  # hypothesis speaker → reference speaker


def _activity(turns: Sequence[Turn], n: int) -> tuple[list[str], np.ndarray]:
    """Speakers and a (speakers × frames) boolean activity matrix."""
    names = sorted({t[0] for t in turns})
    act = np.zeros((len(names), n), dtype=bool)
    for spk, a, b in turns:
        act[names.index(spk), int(round(a / STEP_S)) : int(round(b / STEP_S))] = True
    return names, act


def der(reference: Sequence[Turn], hypothesis: Sequence[Turn], collar: float = 0.25) -> DerScore:
    """The DER of ``hypothesis`` against ``reference`` (see the module text)."""
    from scipy.optimize import linear_sum_assignment

    end = max([b for _, _, b in [*reference, *hypothesis]], default=0.0)
    n = int(np.ceil(end / STEP_S)) + 1
    scored = np.ones(n, dtype=bool)
    c = int(round(collar / STEP_S))
    for _, a, b in reference:
        for t in (int(round(a / STEP_S)), int(round(b / STEP_S))):
            scored[max(0, t - c) : t + c] = False
    ref_names, ref = _activity(reference, n)
    hyp_names, hyp = _activity(hypothesis, n)
    ref, hyp = ref[:, scored], hyp[:, scored]
    n_ref, n_hyp = ref.sum(axis=0), hyp.sum(axis=0)
    mapping: dict[str, str] = {}
    correct = np.zeros(ref.shape[1])
    if len(ref_names) and len(hyp_names):
        overlap = ref.astype(np.int64) @ hyp.T.astype(np.int64)
        rows, cols = linear_sum_assignment(-overlap)
        for r, h in zip(rows, cols, strict=True):
            mapping[hyp_names[h]] = ref_names[r]
            correct += ref[r] & hyp[h]
    missed = np.maximum(n_ref - n_hyp, 0).sum()
    false_alarm = np.maximum(n_hyp - n_ref, 0).sum()
    confusion = (np.minimum(n_ref, n_hyp) - correct).sum()
    total = n_ref.sum()
    return DerScore(
        der=float((missed + false_alarm + confusion) / total) if total else 0.0,
        missed_s=round(float(missed) * STEP_S, 3), false_alarm_s=round(float(false_alarm) * STEP_S, 3),
        confusion_s=round(float(confusion) * STEP_S, 3), reference_s=round(float(total) * STEP_S, 3),
        mapping=mapping,
    )
