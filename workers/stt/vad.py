"""Silero VAD (the ONNX model bundled in the ``silero-vad`` wheel) and segmentation.

Speech probabilities come per 32 ms frame. Regions above the threshold become segments;
segments separated by a short pause are merged, and a segment longer than the maximum is
split at its quietest frame, so every segment fits one 30-s model window.

The model is two parts: a convolutional encoder (STFT and four convolutions) that reads one
frame (with 64 samples of the frame before) into 128 features, and an LSTM cell with a
sigmoid head that carries state from frame to frame. Run as shipped, every 32-ms frame is one
ONNX Runtime call, whose fixed cost is most of the time. ``split_model`` cuts the shipped
graph's 16-kHz branch into the two parts, once per process: the encoder runs over all of a
recording's frames in one call, and the LSTM (ONNX's own ``LSTM`` operator, the same weights)
over the frame sequence in another. The probabilities equal the frame-by-frame ones within
float rounding (``tests/test_vad.py``) at about a third of the time (README, Performance, "the
stt task per phase"); without the ``onnx`` package the frame-by-frame path runs.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from shared.schemas import ModelInfo
from shared.settings import VadSettings
from workers import libs
from workers.libs import cpu_session

SR = 16000
FRAME = 512  # samples per VAD step at 16 kHz (32 ms)
CONTEXT = 64  # samples of left context the v5+ model expects
HIDDEN = 128  # the LSTM's width
FRAME_S = FRAME / SR
ROW_S = 60.0  # audio is cut into rows of this length and run as one batch
DEFAULT_MERGE_GAP_S = 0.6
# A dip shorter than this does not end speech (Silero's own min_silence_duration default): a
# short first word ("The") followed by a breath is kept with its sentence, not dropped as a click.
MIN_SILENCE_S = 0.1
ROWS_PER_CALL = 1  # 60-s rows per encoder call of the split model (more: +100 MB at 4, no faster)

log = logging.getLogger("ethos.stt.vad")


def model_path() -> str:
    """The ONNX file inside the silero-vad wheel, found without importing the package (its
    ``__init__`` imports torch, which the CPU stt image does not have)."""
    from importlib.util import find_spec

    spec = find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("silero-vad is not installed (the stt extra installs it)")
    return os.path.join(next(iter(spec.submodule_search_locations)), "data", "silero_vad.onnx")


@lru_cache
def load_vad(threads: int = 1):  # type: ignore[no-untyped-def]
    """The ONNX session, once per process."""
    return cpu_session(model_path(), threads)


def info(cfg: VadSettings | None = None, merge_gap_s: float | None = None) -> ModelInfo:
    """The VAD model and the segmentation settings that cut this job's audio."""
    extra: dict[str, object] = {}
    if cfg is not None:
        extra = {"threshold": cfg.threshold, "merge_gap_s": merge_gap_s if merge_gap_s is not None else cfg.merge_gap_s,
                 "max_segment_s": cfg.max_segment_s, "min_speech_s": cfg.min_speech_s, "pad_s": cfg.pad_s}
    return ModelInfo(
        engine="silero-vad",
        model_id="silero_vad.onnx",
        version=libs.version("silero-vad"),
        device="cpu",
        extra=extra,
    )


def speech_probs(samples: np.ndarray, threads: int = 1) -> np.ndarray:
    """Speech probability per 512-sample frame of 16 kHz mono float32 audio.

    The audio is cut into 60-s rows run as one batch (state reset per row), so a long file
    costs as many model steps as one row.
    """
    n_frames = int(np.ceil(len(samples) / FRAME))
    if n_frames == 0:
        return np.zeros(0, dtype=np.float32)
    per_row = min(int(ROW_S / FRAME_S), n_frames)
    rows = int(np.ceil(n_frames / per_row))
    padded = np.zeros(rows * per_row * FRAME, dtype=np.float32)
    padded[: len(samples)] = samples
    x = padded.reshape(rows, per_row, FRAME)
    parts = split_model(threads)
    if parts is None:
        return _stepwise(x, threads).reshape(-1)[:n_frames]
    out = np.empty((rows, per_row), dtype=np.float32)
    for first in range(0, rows, ROWS_PER_CALL):  # bounded memory on long recordings
        out[first : first + ROWS_PER_CALL] = _split_run(parts, x[first : first + ROWS_PER_CALL])
    return out.reshape(-1)[:n_frames]


def _stepwise(x: np.ndarray, threads: int) -> np.ndarray:
    """The shipped graph, one call per frame step (all rows at once): ``[rows, per_row]``."""
    rows, per_row, _ = x.shape
    sess = load_vad(threads)
    state = np.zeros((2, rows, HIDDEN), dtype=np.float32)
    context = np.zeros((rows, CONTEXT), dtype=np.float32)
    sr = np.array(SR, dtype=np.int64)
    out = np.empty((rows, per_row), dtype=np.float32)
    for i in range(per_row):
        frame = x[:, i, :]
        inp = np.concatenate([context, frame], axis=1)
        prob, state = sess.run(None, {"input": inp, "state": state, "sr": sr})
        out[:, i] = prob[:, 0]
        context = frame[:, -CONTEXT:]
    return out


def _split_run(parts: tuple[Any, Any], x: np.ndarray) -> np.ndarray:
    """The two-part model over ``[rows, per_row, FRAME]``: every frame's encoder in one call,
    then the LSTM and head over each row's frames (rows as the batch): ``[rows, per_row]``."""
    encoder, recurrent = parts
    rows, per_row, _ = x.shape
    context = np.zeros((rows, per_row, CONTEXT), dtype=np.float32)
    context[:, 1:] = x[:, :-1, -CONTEXT:]  # each frame's 64 samples before; zeros at a row's start
    inp = np.concatenate([context, x], axis=2).reshape(rows * per_row, CONTEXT + FRAME)
    feats = encoder.run(None, {"input": inp})[0].reshape(rows, per_row, HIDDEN)
    probs = recurrent.run(None, {"x": np.ascontiguousarray(feats.transpose(1, 0, 2))})[0]  # [T, 1, rows, 1]
    return np.asarray(probs[:, 0, :, 0].T, dtype=np.float32)


@lru_cache
def split_model(threads: int = 1) -> tuple[Any, Any] | None:
    """The encoder and recurrent sessions cut from the shipped graph, once per process; None
    (the frame-by-frame path) when ``onnx`` is missing or the graph is not the one expected."""
    try:
        encoder, recurrent = _split_graphs(model_path())
    except Exception as e:  # noqa: BLE001 - the shipped graph still works, one frame at a time
        log.warning("Silero VAD: running frame by frame (cannot split the graph: %s)", e)
        return None
    return cpu_session(encoder, threads), cpu_session(recurrent, threads)


def _split_graphs(path: str) -> tuple[bytes, bytes]:
    """Serialized ONNX graphs: the 16-kHz encoder (``input [N, 576]`` → ``[N, 128, 1]``) and
    the LSTM cell with its head as an ``LSTM`` over a sequence (``x [T, B, 128]`` →
    ``[T, 1, B, 1]``, zero initial state)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(path)
    branch_if = next(n for n in model.graph.node if n.op_type == "If")
    cond = [n for n in model.graph.node if n.op_type == "Constant"]
    if [int(numpy_helper.to_array(n.attribute[0].t)) for n in cond] != [SR]:
        raise ValueError("the graph's branch is not chosen by sr == 16000")
    branch = next(a.g for a in branch_if.attribute if a.name == "then_branch")  # sr == 16000
    produced = {out: node for node in branch.node for out in node.output}
    target = next(out for out in produced if out.endswith("/encoder/3/activation/Relu_output_0"))
    needed: set[str] = set()
    todo = [target]
    while todo:
        name = todo.pop()
        if name in needed or name not in produced:
            continue
        needed.add(name)
        todo += list(produced[name].input)
    nodes = [n for n in branch.node if any(o in needed for o in n.output)]
    encoder = helper.make_graph(
        nodes, "silero_encoder", [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["N", CONTEXT + FRAME])],
        [helper.make_tensor_value_info(target, onnx.TensorProto.FLOAT, None)])
    weights = {n.output[0].rsplit("__", 1)[-1]: numpy_helper.to_array(n.attribute[0].t)
               for n in branch.node if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"}

    def gates(w: np.ndarray) -> np.ndarray:  # PyTorch's LSTMCell order (i, f, g, o) → ONNX's (i, o, f, c)
        i, f, g, o = np.split(w, 4, axis=0)
        return np.concatenate([i, o, f, g], axis=0).astype(np.float32)

    head_w, head_b = weights["decoder.decoder.2.weight"], weights["decoder.decoder.2.bias"]
    if weights["decoder.rnn.weight_ih"].shape != (4 * HIDDEN, HIDDEN) or head_w.shape != (1, HIDDEN, 1):
        raise ValueError("unexpected decoder shapes")
    inits = [
        numpy_helper.from_array(gates(weights["decoder.rnn.weight_ih"])[None], "W"),
        numpy_helper.from_array(gates(weights["decoder.rnn.weight_hh"])[None], "R"),
        numpy_helper.from_array(np.concatenate([gates(weights["decoder.rnn.bias_ih"]),
                                                gates(weights["decoder.rnn.bias_hh"])])[None], "B"),
        numpy_helper.from_array(head_w.reshape(HIDDEN, 1).astype(np.float32), "head_w"),
        numpy_helper.from_array(head_b.reshape(1).astype(np.float32), "head_b"),
    ]
    recurrent = helper.make_graph(
        [helper.make_node("LSTM", ["x", "W", "R", "B"], ["h"], hidden_size=HIDDEN),
         helper.make_node("Relu", ["h"], ["h_relu"]),
         helper.make_node("MatMul", ["h_relu", "head_w"], ["logit"]),
         helper.make_node("Add", ["logit", "head_b"], ["logit_b"]),
         helper.make_node("Sigmoid", ["logit_b"], ["prob"])],
        "silero_recurrent", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["T", "B", HIDDEN])],
        [helper.make_tensor_value_info("prob", onnx.TensorProto.FLOAT, None)], initializer=inits)
    return tuple(helper.make_model(g, opset_imports=model.opset_import, ir_version=model.ir_version)
                 .SerializeToString() for g in (encoder, recurrent))  # type: ignore[return-value]


@dataclass
class Span:
    start: int  # frame index, inclusive
    end: int  # frame index, exclusive


def _raw_regions(probs: np.ndarray, cfg: VadSettings) -> list[Span]:
    """Hysteresis: speech starts above ``threshold``, ends below ``neg_threshold``; regions apart
    by a dip of at most ``MIN_SILENCE_S`` are one region; then shorter than ``min_speech_s``
    are dropped."""
    spans: list[Span] = []
    in_speech, start = False, 0
    for i, p in enumerate(probs):
        if not in_speech and p >= cfg.threshold:
            in_speech, start = True, i
        elif in_speech and p < cfg.neg_threshold:
            in_speech = False
            spans.append(Span(start, i))
    if in_speech:
        spans.append(Span(start, len(probs)))
    dip = int(round(MIN_SILENCE_S / FRAME_S))
    joined: list[Span] = []
    for s in spans:
        if joined and s.start - joined[-1].end <= dip:
            joined[-1].end = s.end
        else:
            joined.append(s)
    spans = joined
    min_frames = max(1, int(round(cfg.min_speech_s / FRAME_S)))
    return [s for s in spans if s.end - s.start >= min_frames]


def _split_long(span: Span, probs: np.ndarray, max_frames: int) -> list[Span]:
    """Split at the quietest frame (smoothed) in the latter half of the allowed window."""
    out: list[Span] = []
    cur = span
    if span.end - span.start <= max_frames:
        return [span]
    # Smooth over the whole span so the window's edges don't look artificially quiet.
    smooth = np.convolve(probs[span.start : span.end], np.ones(5, dtype=np.float32) / 5, mode="same")
    while cur.end - cur.start > max_frames:
        lo = cur.start + max_frames // 2
        hi = cur.start + max_frames
        cut = lo + int(np.argmin(smooth[lo - span.start : hi - span.start]))
        out.append(Span(cur.start, cut))
        cur = Span(cut, cur.end)
    out.append(cur)
    return out


def segment(probs: np.ndarray, cfg: VadSettings, total_s: float) -> list[tuple[float, float]]:
    """Speech segments (start, end) in seconds."""
    max_frames = int(cfg.max_segment_s / FRAME_S)
    gap_frames = int(round((cfg.merge_gap_s if cfg.merge_gap_s is not None else DEFAULT_MERGE_GAP_S) / FRAME_S))
    merged: list[Span] = []
    for s in _raw_regions(probs, cfg):
        if merged and s.start - merged[-1].end <= gap_frames and s.end - merged[-1].start <= max_frames:
            merged[-1].end = s.end
        else:
            merged.append(Span(s.start, s.end))
    spans = [p for s in merged for p in _split_long(s, probs, max_frames)]
    out: list[tuple[float, float]] = []
    for i, s in enumerate(spans):
        start, end = s.start * FRAME_S, s.end * FRAME_S
        # Pad into silence, never past the middle of the gap to a neighbour.
        prev_end = spans[i - 1].end * FRAME_S if i else 0.0
        next_start = spans[i + 1].start * FRAME_S if i + 1 < len(spans) else total_s
        touching_prev = i and spans[i - 1].end == s.start
        touching_next = i + 1 < len(spans) and spans[i + 1].start == s.end
        if not touching_prev:
            start = max(start - cfg.pad_s, (prev_end + start) / 2 if i else 0.0)
        if not touching_next:
            end = min(end + cfg.pad_s, (end + next_start) / 2 if i + 1 < len(spans) else total_s)
        out.append((round(max(start, 0.0), 3), round(min(end, total_s), 3)))
    return out


def detect(samples: np.ndarray, cfg: VadSettings, threads: int = 1) -> list[tuple[float, float]]:
    """Speech segments of 16 kHz mono float32 audio."""
    return segment(speech_probs(samples, threads), cfg, len(samples) / SR)
