"""The offline engine: CMU pocketsphinx with the English model inside its wheel.

Real transcripts on any CPU, without paralinguistic tags.
"""

from __future__ import annotations

import logging
import threading
from importlib import metadata

import numpy as np

from shared.schemas import ModelInfo
from shared.settings import SttSettings
from workers.stt.engines.base import SpeechEngine, Transcript

log = logging.getLogger("ethos.stt.sphinx")


class SphinxEngine(SpeechEngine):
    name = "sphinx"
    languages = ("en",)  # the wheel's acoustic model and dictionary are English only

    def __init__(self, cfg: SttSettings) -> None:
        self.cfg = cfg
        self.batch_size = 1
        self._decoder = None
        self._lock = threading.Lock()

    def info(self) -> ModelInfo:
        return ModelInfo(
            engine=self.name,
            model_id="pocketsphinx/en-us",
            version=metadata.version("pocketsphinx"),
            device="cpu",
            extra={"tags": False},
        )

    def load(self) -> None:
        if self._decoder is None:
            import pocketsphinx

            self._decoder = pocketsphinx.Decoder(samprate=16000, loglevel="FATAL")

    def transcribe(self, clips: list[np.ndarray], language: str) -> list[Transcript]:
        if language.split("-")[0].lower() != "en":
            log.warning("pocketsphinx has an English model only; transcribing %r as English", language)
        self.load()
        out = []
        with self._lock:
            for clip in clips:
                pcm = (np.clip(clip, -1.0, 1.0) * 32767).astype("<i2").tobytes()
                d = self._decoder
                d.start_utt()  # type: ignore[attr-defined]
                d.process_raw(pcm, full_utt=True)  # type: ignore[attr-defined]
                d.end_utt()  # type: ignore[attr-defined]
                hyp = d.hyp()  # type: ignore[attr-defined]
                out.append(Transcript(text=hyp.hypstr.strip() if hyp else ""))
        return out
