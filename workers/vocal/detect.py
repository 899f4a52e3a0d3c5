"""Per-hop class scores → vocal events: runs above a threshold, with hysteresis.

Each key of the tag table's AudioSet map (a vocal tag such as ``laughs``, or a context label
such as ``music``) scores, at each 0.48-s hop, the highest of its classes. A run starts
where that score reaches the key's threshold, continues while it stays above ``release`` ×
threshold, and becomes an event if it lasts ``min_hops`` hops. A hop counts for a vocal key
only where no other vocal key scores higher, so one sound is not reported twice (a sob that
is also a bit of a sigh is crying), and a one-hop run touching a longer run of another vocal
tag is dropped (a laugh's tail that scores as a wail for a moment). Times are the middle half of each patch: a run of
patches ``i..j`` covers ``[i·hop + hop/2, j·hop + patch − hop/2]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from workers.vocal.features import HOP_S, PATCH_S


@dataclass(frozen=True)
class Key:
    """One detectable thing: its classes (indices into the model's output) and threshold."""

    name: str
    tag: str | None  # the Ethos tag; None for a context event (music, applause)
    classes: tuple[int, ...]
    labels: tuple[str, ...]
    threshold: float
    min_hops: int = 1


@dataclass(frozen=True)
class Run:
    key: Key
    first: int  # hop index
    last: int
    score: float  # the run's peak
    label: str  # the AudioSet class that scored highest over the run

    @property
    def start(self) -> float:
        return round(self.first * HOP_S + HOP_S / 2, 3)

    @property
    def end(self) -> float:
        return round(self.last * HOP_S + PATCH_S - HOP_S / 2, 3)


def key_scores(scores: np.ndarray, keys: list[Key]) -> dict[str, np.ndarray]:
    """Per key, the highest of its classes at each hop; vocal keys lose hops they do not win."""
    out = {k.name: scores[:, list(k.classes)].max(axis=1) for k in keys}
    vocal = [k.name for k in keys if k.tag is not None]
    if len(vocal) > 1:
        stack = np.stack([out[n] for n in vocal])
        best = stack.max(axis=0)
        for n in vocal:
            out[n] = np.where(out[n] >= best, out[n], 0.0)
    return out


def runs(values: np.ndarray, on: float, off: float) -> list[tuple[int, int]]:
    """Inclusive hop ranges that reach ``on`` and stay at or above ``off`` (hysteresis)."""
    found: list[tuple[int, int]] = []
    i, n = 0, len(values)
    while i < n:
        if values[i] < on:
            i += 1
            continue
        a = i
        while a > 0 and values[a - 1] >= off and (not found or a - 1 > found[-1][1]):
            a -= 1
        b = i
        while b + 1 < n and values[b + 1] >= off:
            b += 1
        found.append((a, b))
        i = b + 1
    return found


def find_runs(scores: np.ndarray, keys: list[Key], release: float,
              overrides: Mapping[str, float] | None = None) -> list[Run]:
    """Every event in a (hops, classes) score matrix, in time order."""
    per_key = key_scores(scores, keys)
    found: list[Run] = []
    for k in keys:
        on = (overrides or {}).get(k.name, k.threshold)
        values = per_key[k.name]
        for a, b in runs(values, on, on * release):
            if b - a + 1 < k.min_hops:
                continue
            sub = scores[a : b + 1][:, list(k.classes)].mean(axis=0)
            label = k.labels[int(np.argmax(sub))]
            found.append(Run(k, a, b, round(float(values[a : b + 1].max()), 3), label))
    found.sort(key=lambda r: (r.first, r.key.name))
    return absorb_flickers(found)


def absorb_flickers(found: list[Run], gap: int = 1) -> list[Run]:
    """Drop a one-hop vocal run that touches a longer run of another vocal tag.

    The tail of a laugh often scores as a wail for one hop; one sound, one event.
    """
    vocal = [r for r in found if r.key.tag is not None]

    def flicker(r: Run) -> bool:
        return r.first == r.last and any(
            o is not r and o.key.tag != r.key.tag and o.last - o.first >= 1
            and o.first - gap - 1 <= r.first and r.last <= o.last + gap + 1
            for o in vocal)

    return [r for r in found if r.key.tag is None or not flicker(r)]
