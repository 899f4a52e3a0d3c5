"""The ``fasterwhisper`` engine's entry point (the registry's factory and availability check):
by default two packaged Whisper models, chosen per job; one model when
``ETHOS_STT__WHISPER__MODEL`` names it.

English jobs (``language=en``, task transcribe) go to ``ETHOS_STT__WHISPER__ENGLISH_MODEL``:
by default the multilingual base itself (one model in memory), decoded with
``ETHOS_STT__WHISPER__BEAM_SIZE`` (greedy) rather than the multilingual beam of 5 (so are the
segments detected as English in ``auto`` jobs, from the same short windows): on our
English set half tiny.en's word errors (4.4-4.8 % against 7.0-9.6 %), far fewer on real
recordings, and with short encoder windows about tiny.en's speed (README, "Every language,
offline"). ``tiny.en`` keeps the English-only model. Every other language, ``auto``
(detection) and ``task=translate`` go to the multilingual base with its beam. Without the
base packages installed it is tiny.en alone (English only). Each model loads on first use,
once per process.
"""

from __future__ import annotations

import logging

import numpy as np

from shared import languages
from shared.schemas import ModelInfo
from shared.settings import SttSettings
from workers.stt.engines import packaged
from workers.stt.engines.base import SpeechEngine, Transcript
from workers.stt.engines.fasterwhisper import FasterWhisperEngine, availability

log = logging.getLogger("ethos.stt.whisper_pair")


class WhisperPair(SpeechEngine):
    name = "fasterwhisper"
    default_merge_gap_s = FasterWhisperEngine.default_merge_gap_s

    def __init__(self, cfg: SttSettings) -> None:
        self.cfg = cfg
        self.multi = FasterWhisperEngine(cfg, "base", cfg.whisper.multilingual_beam_size) if packaged.base_installed() else None
        if cfg.whisper.english_model == "base" and self.multi is not None:
            self.english = self.multi
        else:
            self.english = FasterWhisperEngine(cfg, "tiny.en")
        main = self.multi or self.english
        self.languages, self.detects, self.tasks = main.languages, main.detects, main.tasks
        self.batch_size = cfg.whisper.batch_size
        self.last = self.english

    def pick(self, language: str, task: str) -> FasterWhisperEngine:
        """The model for a job: English transcription → the English model, the rest → base."""
        code = languages.normalise(language)
        if self.multi is None or (code == "en" and task == "transcribe"):
            return self.english
        return self.multi

    def load(self) -> None:
        self.english.load()
        if self.multi is not None:
            self.multi.load()

    def info(self) -> ModelInfo:
        return self.last.info()

    def transcribe(self, clips: list[np.ndarray], language: str, task: str = "transcribe",
                   prior: str | None = None) -> list[Transcript]:
        engine = self.pick(language, task)
        self.last = engine
        code = languages.normalise(language)
        english = engine is self.english and code == "en"
        # With detection, English segments are decoded with the English beam (greedy), the
        # others with the multilingual one.
        beams = {"en": self.cfg.whisper.beam_size} if code in ("", "auto") and task == "transcribe" else None
        return engine.transcribe(clips, language, task, prior,
                                 self.cfg.whisper.beam_size if english else None, beams)


def pair_availability(cfg: SttSettings) -> dict[str, object]:
    """/readyz and heartbeat view of both models (no weights load, nothing is assembled)."""
    pair = WhisperPair(cfg)
    out = availability(cfg, "base") if pair.multi is not None else availability(cfg, "tiny.en")
    english = availability(cfg, cfg.whisper.english_model) if pair.multi is not None else out
    out["models"] = {"en": english["model_id"], "other": out["model_id"] if pair.multi is not None else None}
    out["ready"] = bool(out.get("ready")) and bool(english.get("ready"))
    out["detects"], out["tasks"] = pair.detects, list(pair.tasks)
    return out


def make_whisper(cfg: SttSettings) -> SpeechEngine:
    """The registry's factory: the packaged pair, or the one model ETHOS_STT__WHISPER__MODEL names."""
    return WhisperPair(cfg) if cfg.whisper.model is None else FasterWhisperEngine(cfg)


def whisper_availability(cfg: SttSettings) -> dict[str, object]:
    """The registry's availability check, for either form."""
    if cfg.whisper.model is None:
        return pair_availability(cfg)
    return availability(cfg)
