"""Reading the 16 kHz mono WAV that the cpu queue extracted."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

SR = 16000


def read_wav(path: Path) -> np.ndarray:
    """Samples as float32 in [-1, 1]."""
    with wave.open(str(path), "rb") as w:
        if w.getframerate() != SR or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path} is not 16 kHz mono 16-bit PCM")
        raw = w.readframes(w.getnframes())
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def cut(samples: np.ndarray, start: float, end: float) -> np.ndarray:
    """The samples of one time range."""
    return samples[int(start * SR) : int(end * SR)]
