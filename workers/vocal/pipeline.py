"""A job's vocal events as a plain function: 16-kHz samples in, ``VocalOutput`` out.

Thresholds were calibrated on real recordings (evaluation/sets/vocal: README, "Vocal
events"). The model's int8 output moves in steps (0.32, 0.50, 0.68, 0.82, 0.91, 0.95…), so
a threshold stands for the step at or above it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from shared.schemas import VocalEvent, VocalOutput
from shared.settings import VocalSettings
from shared.tags import AUDIOSET_CONTEXT, AUDIOSET_TAGS
from workers.vocal import features, model
from workers.vocal.detect import Key, find_runs

DEFAULT_THRESHOLDS: dict[str, float] = {
    "laughs": 0.3,
    "crying": 0.6,
    "sighs": 0.75,
    "gasps": 0.93,
    "screams": 0.45,
    "shouts": 0.6,
    "whispers": 0.6,
    "coughs": 0.75,
    "sneezes": 0.85,
    "clears throat": 0.6,
    "music": 0.6,
    "applause": 0.6,
    "cheering": 0.6,
}


def keys(overrides: dict[str, float] | None = None) -> list[Key]:
    """What the detector looks for: every tag and context entry of the tag table's map."""
    names = model.class_names()
    index = {n: i for i, n in enumerate(names)}
    out = []
    for table, is_tag in ((AUDIOSET_TAGS, True), (AUDIOSET_CONTEXT, False)):
        for name, labels in table.items():
            present = tuple(lab for lab in labels if lab in index)
            if not present:
                continue
            threshold = (overrides or {}).get(name, DEFAULT_THRESHOLDS.get(name, 0.6))
            out.append(Key(name, name if is_tag else None, tuple(index[lab] for lab in present),
                           present, threshold))
    return out


def dequantise(q: np.ndarray) -> np.ndarray:
    """The model's uint8 output → probabilities."""
    x = model.OUT_SCALE * (q.astype(np.float32) - model.OUT_ZERO)
    return (1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))).astype(np.float32)


def quantise(patch: np.ndarray) -> np.ndarray:
    """A log-mel patch → the model's uint8 input, shaped ``[1, 1, 96, 64]``."""
    q = np.clip(np.round(patch / model.IN_SCALE + model.IN_ZERO), 0, 255).astype(np.uint8)
    return q[None, None]


def class_scores(samples: np.ndarray, cfg: VocalSettings,
                 progress: Callable[[float], None] | None = None) -> np.ndarray:
    """(hops, 521) AudioSet scores, one row per 0.48-s hop."""
    sess = model.session(str(cfg.cache_dir), cfg.threads)
    name = sess.get_inputs()[0].name
    total = max(1, int(len(samples) / features.SR / features.HOP_S))
    rows = []
    for i, patch in enumerate(features.patches(samples)):
        rows.append(sess.run(None, {name: quantise(patch)})[0][0])
        if progress and i % 250 == 249:
            progress(min(i / total, 0.99))
    return dequantise(np.stack(rows)) if rows else np.zeros((0, len(model.class_names())), np.float32)


def detect_vocal_events(samples: np.ndarray, cfg: VocalSettings,
                        progress: Callable[[float], None] | None = None) -> VocalOutput:
    """Vocal and context events of 16-kHz mono samples, in time order."""
    t0 = time.perf_counter()
    scores = class_scores(samples, cfg, progress)
    duration = len(samples) / features.SR
    events = [
        VocalEvent(start=min(r.start, duration), end=min(r.end, duration), label=r.label,
                   tag=r.key.tag, score=r.score)
        for r in find_runs(scores, keys(cfg.thresholds), cfg.release)
    ]
    return VocalOutput(events=events, model=model.info(), hops=len(scores),
                       seconds=round(time.perf_counter() - t0, 4))
