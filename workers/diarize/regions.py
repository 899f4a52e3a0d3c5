"""Speech regions for diarization with WebRTC's VAD (``webrtcvad``, C, about a millisecond
per second of audio): 30-ms frames at mode 2 (of 0–3), smoothed over 150 ms, gaps
under 0.3 s closed and blips under 0.25 s dropped. A change of speaker usually falls in a
pause, so regions are kept apart at every pause longer than that (no packing, unlike the
stt room's Silero segments, which are cut for the speech model's 30-s window)."""

from __future__ import annotations

import numpy as np

SR = 16000
FRAME = 480  # 30 ms
FRAME_S = FRAME / SR
SMOOTH = 5
MIN_GAP_S = 0.3
MIN_SPEECH_S = 0.25
PAD_S = 0.05


def speech_flags(samples: np.ndarray, mode: int = 2) -> np.ndarray:
    """One speech flag per 30-ms frame of 16 kHz mono float32 audio."""
    import webrtcvad

    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    n = len(pcm) // FRAME
    vad = webrtcvad.Vad(mode)
    raw = pcm[: n * FRAME].tobytes()
    step = FRAME * 2
    return np.array([vad.is_speech(raw[i * step : (i + 1) * step], SR) for i in range(n)], dtype=bool)


def regions_from_flags(flags: np.ndarray, total_s: float) -> list[tuple[float, float]]:
    """Speech regions (start, end) in seconds from per-frame flags."""
    if not len(flags):
        return []
    smooth = np.convolve(flags.astype(np.float32), np.ones(SMOOTH) / SMOOTH, mode="same") >= 0.5
    edges = np.flatnonzero(np.diff(np.concatenate([[0], smooth.astype(np.int8), [0]])))
    spans = [(a * FRAME_S, b * FRAME_S) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    merged: list[tuple[float, float]] = []
    for a, b in spans:
        if merged and a - merged[-1][1] < MIN_GAP_S:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return [(round(max(0.0, a - PAD_S), 3), round(min(total_s, b + PAD_S), 3))
            for a, b in merged if b - a >= MIN_SPEECH_S]


def speech_regions(samples: np.ndarray) -> list[tuple[float, float]]:
    """Speech regions of 16 kHz mono float32 audio."""
    return regions_from_flags(speech_flags(samples), len(samples) / SR)
