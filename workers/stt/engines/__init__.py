"""Speech engines behind one interface, chosen by ``ETHOS_STT__ENGINE``."""

from __future__ import annotations

from shared.settings import SttSettings
from workers.stt.engines.base import SpeechEngine, Transcript


def resolve_engine_name(cfg: SttSettings) -> str:
    """``auto`` means Voxtral when a CUDA GPU is present, else faster-whisper (offline)."""
    if cfg.engine != "auto":
        return cfg.engine
    from workers.stt.engines.base import cuda_available

    return "voxtral" if cuda_available() else "fasterwhisper"


_ENGINES: dict[str, SpeechEngine] = {}


def get_engine(cfg: SttSettings) -> SpeechEngine:
    """The process's engine for these settings (models load lazily on first use)."""
    key = cfg.model_dump_json()
    if key not in _ENGINES:
        _ENGINES[key] = _make_engine(cfg)
    return _ENGINES[key]


def engine_languages(cfg: SttSettings) -> tuple[str, ...] | None:
    """The language codes the configured engine accepts (None: any); loads no model."""
    return _make_engine(cfg).languages


def _make_engine(cfg: SttSettings) -> SpeechEngine:
    name = resolve_engine_name(cfg)
    if name == "vllm":
        from workers.stt.engines.vllm import VllmEngine

        return VllmEngine(cfg)
    if name == "voxtral":
        from workers.stt.engines.voxtral import VoxtralEngine

        return VoxtralEngine(cfg)
    from workers.stt.engines.fasterwhisper import FasterWhisperEngine

    return FasterWhisperEngine(cfg)


__all__ = ["SpeechEngine", "Transcript", "engine_languages", "get_engine", "resolve_engine_name"]
