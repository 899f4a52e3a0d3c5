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


BATCH = 64  # patches per model call (about 31 s of audio)
# A patch between two is scored where a neighbour reaches this share of a vocal threshold
# (0.3: a neighbour half covering a short laugh reaches it; checked on the real set).
WATCH = 0.3


def class_scores(samples: np.ndarray, cfg: VocalSettings, watch: list[Key] | None = None,
                 progress: Callable[[float], None] | None = None) -> np.ndarray:
    """(hops, 521) AudioSet scores, one row per 0.48-s hop.

    With ``watch`` (the vocal keys), the model first scores every other patch (0.96 s apart,
    side by side); a patch between two is scored only where a neighbour comes near a watched
    key (``WATCH`` × its threshold). Elsewhere it takes the lower of its neighbours' scores,
    which can start no vocal run: plain speech costs about half. Without ``watch``, every
    patch is scored.
    """
    sess = model.session(str(cfg.cache_dir), cfg.threads)
    inp = sess.get_inputs()[0]
    batch = BATCH if not isinstance(inp.shape[0], int) else 1
    patches = [quantise(p) for p in features.patches(samples)]
    n = len(patches)
    out = np.zeros((n, len(model.class_names())), np.float32)
    done = 0

    def score(idx: list[int]) -> None:
        nonlocal done
        for i in range(0, len(idx), batch):
            part = idx[i : i + batch]
            out[part] = dequantise(sess.run(None, {inp.name: np.concatenate([patches[j] for j in part])})[0])
            done += len(part)
            if progress and (i // batch) % 4 == 3:
                progress(min(done / max(n, 1), 0.99))

    if not watch:
        score(list(range(n)))
        return out
    coarse = sorted(set(range(0, n, 2)) | ({n - 1} if n else set()))
    score(coarse)
    near = np.zeros(n, dtype=bool)
    for k in watch:
        near |= out[:, list(k.classes)].max(axis=1) >= k.threshold * WATCH
    between = [i for i in range(1, n - 1, 2)]
    refine = [i for i in between if near[i - 1] or near[i + 1]]
    score(refine)
    for i in sorted(set(between) - set(refine)):
        out[i] = np.minimum(out[i - 1], out[i + 1])
    return out


def detect_vocal_events(samples: np.ndarray, cfg: VocalSettings,
                        progress: Callable[[float], None] | None = None) -> VocalOutput:
    """Vocal and context events of 16-kHz mono samples, in time order."""
    t0 = time.perf_counter()
    wanted = keys(cfg.thresholds)
    scores = class_scores(samples, cfg, [k for k in wanted if k.tag is not None], progress)
    duration = len(samples) / features.SR
    events = [
        VocalEvent(start=min(r.start, duration), end=min(r.end, duration), label=r.label,
                   tag=r.key.tag, score=r.score)
        for r in find_runs(scores, wanted, cfg.release)
    ]
    return VocalOutput(events=events, model=model.info(), hops=len(scores),
                       seconds=round(time.perf_counter() - t0, 4))
