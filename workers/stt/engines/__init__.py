"""Speech engines behind one interface, chosen by ``ETHOS_STT__ENGINE`` from the registry
(``registry.py``)."""

from __future__ import annotations

from shared.settings import SttSettings
from workers.stt.engines import registry
from workers.stt.engines.base import SpeechEngine, Transcript


def resolve_engine_name(cfg: SttSettings) -> str:
    """``auto`` means Voxtral when a CUDA GPU is present, else faster-whisper (offline)."""
    return registry.resolve(cfg).name


_ENGINES: dict[str, SpeechEngine] = {}


def get_engine(cfg: SttSettings) -> SpeechEngine:
    """The process's engine for these settings (models load lazily on first use)."""
    key = cfg.model_dump_json()
    if key not in _ENGINES:
        _ENGINES[key] = registry.resolve(cfg).create(cfg)
    return _ENGINES[key]


def engine_languages(cfg: SttSettings) -> tuple[str, ...] | None:
    """The language codes the configured engine accepts (None: any); loads no model."""
    return registry.resolve(cfg).languages(cfg)


def engine_abilities(cfg: SttSettings) -> dict[str, object]:
    """What the gateway checks jobs against: languages, ``auto`` detection, tasks; loads no model."""
    engine = registry.resolve(cfg).create(cfg)
    return {"languages": list(engine.languages) if engine.languages is not None else None,
            "detects": engine.detects, "tasks": list(engine.tasks)}


__all__ = ["SpeechEngine", "Transcript", "engine_abilities", "engine_languages", "get_engine", "registry", "resolve_engine_name"]
