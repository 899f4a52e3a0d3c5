"""From labelled windows to speaker turns: per-frame labels over the speech regions,
short runs absorbed by their neighbours, ``SPEAKER_00``… in order of first appearance."""

from __future__ import annotations

import numpy as np

from shared.schemas import SpeakerTurn

FRAME_S = 0.1
JOIN_GAP_S = 0.5  # turns of one speaker this close together become one


def speaker_id(i: int) -> str:
    return f"SPEAKER_{i:02d}"


def frame_runs(region: tuple[float, float], centres: np.ndarray, labels: np.ndarray
               ) -> list[tuple[int, float, float]]:
    """Runs ``(label, start, end)`` of a region's frames, each frame labelled by the window
    whose centre is nearest."""
    a, b = region
    n = max(1, int(np.ceil((b - a) / FRAME_S - 1e-9)))
    t = a + (np.arange(n) + 0.5) * FRAME_S
    lab = labels[np.argmin(np.abs(t[:, None] - centres[None, :]), axis=1)]
    runs: list[tuple[int, float, float]] = []
    for i, x in enumerate(lab):
        start = a + i * FRAME_S
        end = min(b, start + FRAME_S)
        if runs and runs[-1][0] == int(x):
            runs[-1] = (int(x), runs[-1][1], end)
        else:
            runs.append((int(x), start, end))
    return runs


def absorb_short(runs: list[tuple[int, float, float]], min_s: float) -> list[tuple[int, float, float]]:
    """Give each run shorter than ``min_s`` to its longer neighbour, shortest first."""
    runs = list(runs)
    while len(runs) > 1:
        i = min(range(len(runs)), key=lambda k: runs[k][2] - runs[k][1])
        if runs[i][2] - runs[i][1] >= min_s:
            break
        left = runs[i - 1] if i > 0 else None
        right = runs[i + 1] if i + 1 < len(runs) else None
        take_left = right is None or (left is not None and left[2] - left[1] >= right[2] - right[1])
        if take_left and left is not None:
            runs[i - 1] = (left[0], left[1], runs[i][2])
        elif right is not None:
            runs[i + 1] = (right[0], runs[i][1], right[2])
        del runs[i]
        # Neighbours now of one speaker become one run.
        merged: list[tuple[int, float, float]] = []
        for r in runs:
            if merged and merged[-1][0] == r[0]:
                merged[-1] = (r[0], merged[-1][1], r[2])
            else:
                merged.append(r)
        runs = merged
    return runs


def make_turns(regions: list[tuple[float, float]], starts: np.ndarray, ends: np.ndarray,
               labels: np.ndarray, min_turn_s: float = 0.4) -> list[SpeakerTurn]:
    """Speaker turns over the speech regions from the windows' labels."""
    if len(labels) == 0:
        return []
    centres = (starts + ends) / 2
    runs: list[tuple[int, float, float]] = []
    for a, b in regions:
        inside = (starts >= a - 1e-6) & (ends <= b + 1e-6)
        if inside.any():
            runs += absorb_short(frame_runs((a, b), centres[inside], labels[inside]), min_turn_s)
        else:  # too short to embed: the nearest window's speaker
            runs.append((int(labels[np.argmin(np.abs(centres - (a + b) / 2))]), a, b))
    joined: list[tuple[int, float, float]] = []
    for r in runs:
        if joined and joined[-1][0] == r[0] and r[1] - joined[-1][2] <= JOIN_GAP_S:
            joined[-1] = (r[0], joined[-1][1], r[2])
        else:
            joined.append(r)
    names: dict[int, str] = {}
    for lab, _, _ in joined:
        names.setdefault(lab, speaker_id(len(names)))
    return [SpeakerTurn(speaker=names[lab], start=round(a, 3), end=round(b, 3)) for lab, a, b in joined]
