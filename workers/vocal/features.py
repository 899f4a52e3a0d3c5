"""YAMNet's input: log-mel patches of 16-kHz mono audio, in numpy.

Magnitude spectrum of 25-ms periodic-Hann frames every 10 ms (512-point FFT), 64 HTK mel
bands from 125 to 7500 Hz, ``log(mel + 0.001)``; 96-frame patches (0.96 s) every 48 frames
(0.48 s). The audio is zero-padded at the end so its last stretch still fills a patch.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np

SR = 16000
WIN = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512
N_MELS = 64
FMIN, FMAX = 125.0, 7500.0
PATCH = 96  # frames: 0.96 s
PATCH_HOP = 48  # frames: 0.48 s
HOP_S = PATCH_HOP * HOP / SR
PATCH_S = PATCH * HOP / SR
LOG_OFFSET = 0.001
BLOCK_FRAMES = 6000  # spectrum computed a minute at a time (bounded memory)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(hz / 700.0)


@lru_cache
def mel_matrix() -> np.ndarray:
    """(257, 64) HTK mel weights, triangles in mel space; the DC bin gets no weight."""
    bins = N_FFT // 2 + 1
    freqs = np.linspace(0.0, SR / 2, bins)
    mels = _hz_to_mel(freqs)
    edges = np.linspace(_hz_to_mel(np.array(FMIN)), _hz_to_mel(np.array(FMAX)), N_MELS + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    up = (mels[:, None] - lower) / (centre - lower)
    down = (upper - mels[:, None]) / (upper - centre)
    w = np.maximum(0.0, np.minimum(up, down))
    w[0, :] = 0.0
    return w.astype(np.float32)


@lru_cache
def _window() -> np.ndarray:
    n = np.arange(WIN)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / WIN)).astype(np.float32)  # periodic Hann


def padded(samples: np.ndarray) -> np.ndarray:
    """The samples padded with zeros to fill a whole number of patch hops (≥ one patch)."""
    n_frames = max(PATCH, 1 + max(len(samples) - WIN, 0) // HOP + (1 if len(samples) > WIN else 0))
    extra = (-(n_frames - PATCH)) % PATCH_HOP
    n_frames += extra
    need = WIN + (n_frames - 1) * HOP
    out = np.zeros(max(need, len(samples)), dtype=np.float32)
    out[: len(samples)] = samples
    return out


def log_mel(samples: np.ndarray) -> np.ndarray:
    """(frames, 64) log-mel of float samples in [-1, 1] (already padded)."""
    n_frames = 1 + (len(samples) - WIN) // HOP
    out = np.empty((max(n_frames, 0), N_MELS), dtype=np.float32)
    win, mel = _window(), mel_matrix()
    for a in range(0, n_frames, BLOCK_FRAMES):
        b = min(a + BLOCK_FRAMES, n_frames)
        seg = samples[a * HOP : (b - 1) * HOP + WIN]
        frames = np.lib.stride_tricks.sliding_window_view(seg, WIN)[::HOP]
        spec = np.abs(np.fft.rfft(frames * win, n=N_FFT)).astype(np.float32)
        out[a:b] = np.log(spec @ mel + LOG_OFFSET)
    return out


def patches(samples: np.ndarray) -> Iterator[np.ndarray]:
    """(96, 64) log-mel patches every 0.48 s, the first starting at 0."""
    spec = log_mel(padded(samples))
    for start in range(0, len(spec) - PATCH + 1, PATCH_HOP):
        yield spec[start : start + PATCH]
