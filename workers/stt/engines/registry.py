"""The speech engines: one entry each (README, "Adding an engine").

An entry names the engine, the class that builds it and its availability check (both
imported only when used, so a worker loads no other engine's libraries), its settings group
in ``SttSettings`` and when ``ETHOS_STT__ENGINE=auto`` picks it. The class's
``languages``, known at construction without loading weights, are the codes it serves.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from shared.settings import SttSettings
from workers.stt.engines.base import SpeechEngine, cuda_available


def _ref(ref: str) -> Callable[..., Any]:
    """What a ``"module:name"`` reference names (the module is imported now)."""
    module, _, name = ref.partition(":")
    found: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return found


@dataclass(frozen=True)
class Engine:
    name: str
    # ``"module:Class"``: built with the SttSettings (it reads its own group).
    factory: str
    # ``"module:function"``: ``function(cfg) -> dict`` with ``ready`` (and a ``message`` when
    # not): whether it can work without a download; for heartbeats and /readyz; loads nothing.
    availability_check: str
    # Its settings group: the SttSettings attribute (``ETHOS_STT__<GROUP>__…``).
    settings: str
    # When ``auto`` picks it: "cuda" (a CUDA device is visible), "always" (the fallback), "never".
    auto: Literal["cuda", "always", "never"] = "never"

    def create(self, cfg: SttSettings) -> SpeechEngine:
        engine: SpeechEngine = _ref(self.factory)(cfg)
        return engine

    def availability(self, cfg: SttSettings) -> dict[str, object]:
        out: dict[str, object] = _ref(self.availability_check)(cfg)
        return out

    def languages(self, cfg: SttSettings) -> tuple[str, ...] | None:
        """The codes it accepts (None: any); loads no model."""
        return self.create(cfg).languages

    def group(self, cfg: SttSettings) -> Any:
        return getattr(cfg, self.settings)


# ``auto`` takes the first entry whose condition holds, in this order.
ENGINES: tuple[Engine, ...] = (
    Engine("voxtral", "workers.stt.engines.voxtral:VoxtralEngine",
           availability_check="workers.stt.engines.voxtral:availability", settings="voxtral", auto="cuda"),
    # The packaged pair (tiny.en for English, the multilingual base for the rest) or one model.
    Engine("fasterwhisper", "workers.stt.engines.whisper_pair:make_whisper",
           availability_check="workers.stt.engines.whisper_pair:whisper_availability", settings="whisper",
           auto="always"),
    # A vLLM server (deploy/docker-compose.vllm.yml): only when named, never by ``auto``.
    Engine("vllm", "workers.stt.engines.vllm:VllmEngine",
           availability_check="workers.stt.engines.vllm:availability", settings="vllm"),
)


def entry(name: str) -> Engine:
    for e in ENGINES:
        if e.name == name:
            return e
    raise KeyError(f"no speech engine {name!r} (known: {', '.join(e.name for e in ENGINES)})")


def resolve(cfg: SttSettings) -> Engine:
    """The configured engine's entry; ``auto``: the first whose condition holds."""
    if cfg.engine != "auto":
        return entry(cfg.engine)
    cuda: bool | None = None
    for e in ENGINES:
        if e.auto == "cuda":
            cuda = cuda_available() if cuda is None else cuda
            if cuda:
                return e
        elif e.auto == "always":
            return e
    raise LookupError("no speech engine is chosen by ETHOS_STT__ENGINE=auto")
