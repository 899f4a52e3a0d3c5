"""Segmentation rules on synthetic probabilities, and Silero on real speech."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from shared.settings import VadSettings
from workers.stt import vad

FPS = 1 / vad.FRAME_S


def probs_for(spans: list[tuple[float, float]], total: float, quiet_at: list[float] | None = None) -> np.ndarray:
    p = np.full(int(total * FPS), 0.02, dtype=np.float32)
    for a, b in spans:
        p[int(a * FPS): int(b * FPS)] = 0.95
    for t in quiet_at or []:
        p[int(t * FPS) - 1: int(t * FPS) + 2] = 0.4  # dips that don't end speech
    return p


def test_short_pauses_merge_long_ones_split() -> None:
    cfg = VadSettings(merge_gap_s=0.6, pad_s=0.0)
    segs = vad.segment(probs_for([(1, 3), (3.3, 5), (7, 9)], 10), cfg, 10)
    assert len(segs) == 2
    assert abs(segs[0][0] - 1) < 0.05 and abs(segs[0][1] - 5) < 0.05
    assert abs(segs[1][0] - 7) < 0.05


def test_long_speech_split_at_quietest_point_under_max() -> None:
    cfg = VadSettings(max_segment_s=10.0, pad_s=0.0)
    segs = vad.segment(probs_for([(0, 25)], 25, quiet_at=[7.0, 15.5]), cfg, 25)
    assert all(b - a <= 10.0 + 1e-6 for a, b in segs)
    assert abs(segs[0][1] - 7.0) < 0.15  # cut at the dip, not blindly at 10 s
    assert segs[0][1] == segs[1][0]  # contiguous: no audio lost at the cut
    assert abs(segs[-1][1] - 25) < 0.05


def test_min_speech_drops_clicks() -> None:
    cfg = VadSettings(min_speech_s=0.25)
    assert vad.segment(probs_for([(2, 2.1)], 5), cfg, 5) == []


def test_a_short_word_before_a_breath_stays_with_its_sentence() -> None:
    """A 0.1-s "The", a 0.1-s dip, then the sentence: one segment from the word on (the word
    alone is shorter than min_speech_s; it used to be dropped and its start cut off)."""
    cfg = VadSettings(min_speech_s=0.25, pad_s=0.0)
    segs = vad.segment(probs_for([(0.064, 0.16), (0.256, 4.0)], 5), cfg, 5)
    assert len(segs) == 1 and segs[0][0] < 0.1, segs
    # A longer pause still ends speech, and the lone word is dropped as a click.
    assert vad.segment(probs_for([(0.064, 0.16), (0.6, 4.0)], 5), VadSettings(merge_gap_s=0.0, pad_s=0.0), 5)[0][0] > 0.5


def test_padding_stays_inside_gaps() -> None:
    cfg = VadSettings(merge_gap_s=0.0, pad_s=0.5)
    segs = vad.segment(probs_for([(1, 2), (2.4, 3)], 4), cfg, 4)
    assert segs[0][1] <= segs[1][0]


def test_silero_on_real_speech(jfk: Path) -> None:
    pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", str(jfk), "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout
    x = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768
    segs = vad.detect(x, VadSettings())
    assert segs and segs[0][0] < 1.0 and segs[-1][1] > 10.0
    assert vad.detect(np.zeros(16000 * 3, dtype=np.float32), VadSettings()) == []


def _pcm(path: Path) -> np.ndarray:
    pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768


def _frame_by_frame(x: np.ndarray) -> np.ndarray:
    """The shipped graph one 32-ms step at a time, in 60-s rows (the reference)."""
    n = int(np.ceil(len(x) / vad.FRAME))
    per_row = min(int(vad.ROW_S / vad.FRAME_S), n)
    rows = int(np.ceil(n / per_row))
    padded = np.zeros(rows * per_row * vad.FRAME, dtype=np.float32)
    padded[: len(x)] = x
    return vad._stepwise(padded.reshape(rows, per_row, vad.FRAME), 1).reshape(-1)[:n]


def test_split_model_gives_the_frame_by_frame_probabilities(jfk: Path, monkeypatch: Any) -> None:
    """The encoder over every frame at once + the LSTM over the sequence: the same
    probabilities and segments as the shipped graph run frame by frame, on real speech, on a
    recording of several 60-s rows split over encoder calls, and on a partial last frame."""
    assert vad.split_model(1) is not None
    speech = _pcm(jfk)
    monkeypatch.setattr(vad, "ROWS_PER_CALL", 2)
    long = np.concatenate([speech, np.zeros(16000 * 9, dtype=np.float32)] * 9)[: 16000 * 175 + 100]  # 3 rows
    for x in (speech, long, speech[: 16000 * 2 + 300]):
        fast, slow = vad.speech_probs(x), _frame_by_frame(x)
        assert fast.shape == slow.shape == (int(np.ceil(len(x) / vad.FRAME)),)
        assert float(np.abs(fast - slow).max()) < 1e-4
        assert vad.segment(fast, VadSettings(), len(x) / 16000) == vad.segment(slow, VadSettings(), len(x) / 16000)
    assert len(vad.segment(vad.speech_probs(long), VadSettings(), len(long) / 16000)) >= 9  # speech in every row


def test_frame_by_frame_when_the_graph_cannot_be_split(jfk: Path, monkeypatch: Any) -> None:
    """Without the split (no ``onnx`` package), the shipped graph runs frame by frame."""
    monkeypatch.setattr(vad, "split_model", lambda threads=1: None)
    x = _pcm(jfk)
    segs = vad.detect(x, VadSettings())
    assert segs and segs[0][0] < 1.0 and segs[-1][1] > 10.0
