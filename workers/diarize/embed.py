"""Speaker embeddings: Resemblyzer's voice encoder on 1.6-s windows over the speech regions.

The encoder's weights (``resemblyzer/pretrained.pt``: a 3-layer LSTM over 40 mel bands,
then a linear layer, ReLU and L2 norm: a 256-dim voice embedding) ship inside the wheel,
installed ``--no-deps``. Only that file is used: the network is declared here and the mel
spectrogram (25-ms Hann window, 10-ms hop, 40 Slaney mel bands, power, not log) is computed
with numpy, so neither librosa (whose first call compiles for seconds) nor webrtcvad is
imported. Loaded once per process on first use, on the CPU.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from shared.errors import ModelUnavailable
from shared.schemas import ModelInfo

SR = 16000
WINDOW_S = 1.6  # the encoder's partial utterance (160 mel frames of 10 ms)
FRAMES_PER_S = 100
MIN_WINDOW_S = 0.4  # shorter speech regions carry too little voice to embed
BATCH = 64
TARGET_DBFS = -30.0  # the encoder's training loudness (raised to, never lowered)


@dataclass
class Windows:
    """Embedding windows: their times (seconds) and one L2-normed embedding per row."""

    starts: np.ndarray
    ends: np.ndarray
    embeddings: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)


N_FFT = 400
HOP = 160
N_MELS = 40


def weights_path() -> Path:
    """``pretrained.pt`` inside the installed ``resemblyzer`` package (never downloaded)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable("the speaker encoder needs the resemblyzer wheel: "
                               "pip install --no-deps resemblyzer==0.1.4")
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.exists():
        raise ModelUnavailable(f"the speaker encoder's weights are missing ({path})")
    return path


@lru_cache
def load_encoder(threads: int = 1) -> Any:
    """The voice encoder, once per process (CPU, ``threads`` intra-op threads)."""
    import torch
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(N_MELS, 256, 3, batch_first=True)
            self.linear = nn.Linear(256, 256)

        def forward(self, mels: torch.Tensor) -> torch.Tensor:
            _, (hidden, _) = self.lstm(mels)
            raw = torch.relu(self.linear(hidden[-1]))
            return raw / torch.clamp(torch.norm(raw, dim=1, keepdim=True), min=1e-9)

    torch.set_num_threads(threads)
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)["model_state"]
    enc = Encoder()
    enc.load_state_dict({k: v for k, v in state.items() if k.split(".")[0] in ("lstm", "linear")})
    return enc.eval()


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    lin = 1000 / (200 / 3)
    return np.where(f >= 1000, lin + np.log(np.maximum(f, 1e-10) / 1000) / (np.log(6.4) / 27), f / (200 / 3))


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    lin = 1000 / (200 / 3)
    return np.where(m >= lin, 1000 * np.exp(np.log(6.4) / 27 * (m - lin)), m * 200 / 3)


@lru_cache
def mel_filters() -> np.ndarray:
    """Triangular Slaney-normalised mel filters, (40, 201)."""
    fft_f = np.linspace(0, SR / 2, N_FFT // 2 + 1)
    pts = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(SR / 2)), N_MELS + 2))
    fd = np.diff(pts)
    ramps = pts[:, None] - fft_f[None, :]
    w = np.maximum(0, np.minimum(-ramps[:-2] / fd[:-1, None], ramps[2:] / fd[1:, None]))
    w *= (2.0 / (pts[2:] - pts[:-2]))[:, None]
    return w.astype(np.float32)


def mel_spectrogram(samples: np.ndarray) -> np.ndarray:
    """Power mel spectrogram, one 40-band row per 10 ms (centred frames), float32."""
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy import fft

    x = np.pad(samples.astype(np.float32), (N_FFT // 2, N_FFT // 2))
    frames = sliding_window_view(x, N_FFT)[::HOP]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    fb = mel_filters().T
    out = np.empty((len(frames), N_MELS), dtype=np.float32)
    for i in range(0, len(frames), 4096):
        spec = fft.rfft(frames[i : i + 4096] * window, axis=1)
        out[i : i + 4096] = (spec.real**2 + spec.imag**2) @ fb
    return out


RES_DIM = 256
FUSED_DIM = 448  # "fused": Resemblyzer's 256 then CAM++'s 192, each half scaled by 1/sqrt(2)


def encoder_weights(encoder: str = "resemblyzer") -> Path:
    """The weights file of ``encoder`` (raises ModelUnavailable when its package is missing;
    "fused": CAM++'s, after checking Resemblyzer's)."""
    if encoder == "fused":
        weights_path()
        encoder = "campplus"
    if encoder == "campplus":
        from workers.diarize.encoders import campplus

        return campplus.weights_path()
    return weights_path()


def encoder_of(w: Windows) -> str:
    """Which encoder made these windows (told by their width: a job's stored windows are
    counted again with that encoder's thresholds even if the setting changed since)."""
    from workers.diarize.encoders import campplus

    dim = w.embeddings.shape[1] if w.embeddings.ndim == 2 else RES_DIM
    return "campplus" if dim == campplus.DIM else "fused" if dim == FUSED_DIM else "resemblyzer"


def halves(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A "fused" embedding's Resemblyzer and CAM++ parts, each L2-normed."""
    res, cam = emb[:, :RES_DIM], emb[:, RES_DIM:]
    return (res / np.maximum(np.linalg.norm(res, axis=1, keepdims=True), 1e-12),
            cam / np.maximum(np.linalg.norm(cam, axis=1, keepdims=True), 1e-12))


def info(encoder: str = "resemblyzer") -> ModelInfo:
    """The encoder that produced a job's embeddings."""
    if encoder == "fused":
        res, cam = info("resemblyzer"), info("campplus")
        return ModelInfo(engine="resemblyzer+campplus", model_id=f"{res.model_id}+{cam.model_id}",
                         version=f"{res.version}+{cam.version}", device="cpu")
    if encoder == "campplus":
        from workers.diarize.encoders import campplus

        return campplus.info()
    return ModelInfo(engine="resemblyzer", model_id="resemblyzer/pretrained.pt",
                     version=metadata.version("resemblyzer"), device="cpu")


def plan_windows(regions: list[tuple[float, float]], step_s: float) -> list[tuple[float, float]]:
    """Windows of 1.6 s every ``step_s`` inside each speech region; a region shorter than a
    window is one window of its own length; the last window of a region ends at its end."""
    out: list[tuple[float, float]] = []
    for a, b in regions:
        if b - a < MIN_WINDOW_S:
            continue
        if b - a <= WINDOW_S:
            out.append((a, b))
            continue
        n = int(np.floor((b - a - WINDOW_S) / step_s)) + 1
        starts = [a + k * step_s for k in range(n)]
        if b - (starts[-1] + WINDOW_S) > step_s / 2:
            starts.append(b - WINDOW_S)
        out += [(round(s, 3), round(s + WINDOW_S, 3)) for s in starts]
    return out


def loudness_gain(samples: np.ndarray, regions: list[tuple[float, float]]) -> float:
    """Gain that brings the speech to the encoder's loudness (never below 1)."""
    parts = [samples[int(a * SR) : int(b * SR)] for a, b in regions]
    speech = np.concatenate(parts) if parts else samples
    rms = float(np.sqrt(np.mean(np.square(speech, dtype=np.float64)))) if len(speech) else 0.0
    if rms <= 1e-6:
        return 1.0
    return max(1.0, 10 ** (TARGET_DBFS / 20) / rms)


def embed_windows(samples: np.ndarray, windows: list[tuple[float, float]], threads: int = 1,
                  on_progress: Any = None, encoder: str = "resemblyzer") -> Windows:
    """One embedding per window (cost linear in the number of windows); ``encoder``:
    "resemblyzer" (here, 256-dim), "campplus" (``encoders/campplus.py``, 192-dim) or "fused"
    (both side by side, each scaled by 1/sqrt(2): the row stays L2-normed and its cosine is the
    mean of the two encoders' cosines)."""
    if encoder == "fused":
        res = embed_windows(samples, windows, threads,
                            (lambda f: on_progress(0.25 * f)) if on_progress else None)
        cam = embed_windows(samples, windows, threads,
                            (lambda f: on_progress(0.25 + 0.75 * f)) if on_progress else None, "campplus")
        both = np.concatenate([res.embeddings, cam.embeddings], axis=1) / np.sqrt(2)
        return Windows(res.starts, res.ends, both.astype(np.float32))
    if encoder == "campplus":
        from workers.diarize.encoders import campplus

        emb = campplus.embed_windows_shared(samples, windows, threads, on_progress)
        return Windows(np.array([a for a, _ in windows]), np.array([b for _, b in windows]), emb)
    if not windows:
        return Windows(np.zeros(0), np.zeros(0), np.zeros((0, 256), dtype=np.float32))
    import torch

    net = load_encoder(threads)
    regions = _spans(windows)
    mel = mel_spectrogram((samples * loudness_gain(samples, regions)).astype(np.float32))
    # Windows of the same length run as one batch (all full windows, then the short ones).
    by_len: dict[int, list[int]] = {}
    for i, (a, b) in enumerate(windows):
        by_len.setdefault(int(round((b - a) * FRAMES_PER_S)), []).append(i)
    out = np.zeros((len(windows), 256), dtype=np.float32)
    done = 0
    for n_frames, idx in by_len.items():
        for k in range(0, len(idx), BATCH):
            chunk = idx[k : k + BATCH]
            batch = np.zeros((len(chunk), n_frames, mel.shape[1]), dtype=np.float32)
            for j, w in enumerate(chunk):
                f0 = int(round(windows[w][0] * FRAMES_PER_S))
                rows = mel[f0 : f0 + n_frames]
                batch[j, : len(rows)] = rows
            with torch.no_grad():
                out[chunk] = net(torch.from_numpy(batch)).numpy()
            done += len(chunk)
            if on_progress:
                on_progress(done / len(windows))
    return Windows(np.array([a for a, _ in windows]), np.array([b for _, b in windows]),
                   np.nan_to_num(out))


def _spans(windows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The time covered by the windows, as disjoint spans."""
    spans: list[tuple[float, float]] = []
    for a, b in sorted(windows):
        if spans and a <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], b))
        else:
            spans.append((a, b))
    return spans
