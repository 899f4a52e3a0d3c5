"""The speech-engine interface: a batch of clips in, one transcript per clip out."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from shared.errors import ModelUnavailable
from shared.schemas import ModelInfo, Word
from workers.stt.vad import DEFAULT_MERGE_GAP_S


@dataclass
class Transcript:
    text: str
    # The engine stopped at its token cap: the text may be cut short.
    truncated: bool = False
    # Timed words, seconds from the start of the clip; [] from engines that do not time words.
    words: list[Word] = field(default_factory=list)
    # The language the text is in (the spoken one for translate), and the detection's
    # probability (None when the caller named the language).
    language: str | None = None
    language_probability: float | None = None


class EngineUnreachable(ModelUnavailable):
    """A remote engine could not be reached or failed (5xx): the stt task retries ``retries``
    times, ``retry_delay_s`` apart, then the job fails with this message."""

    def __init__(self, message: str, retries: int = 0, retry_delay_s: float = 0.0) -> None:
        super().__init__(message)
        self.retries = retries
        self.retry_delay_s = retry_delay_s


class SpeechEngine(ABC):
    """Transcribes 16 kHz mono float32 clips, each at most one 30-s window."""

    name: str
    batch_size: int = 1
    languages: tuple[str, ...] | None = None  # None: any language
    # Whether ``language="auto"`` is detected, and the tasks beside "transcribe" it can do.
    detects: bool = False
    tasks: tuple[str, ...] = ("transcribe",)
    # Pauses shorter than this join segments unless ETHOS_VAD__MERGE_GAP_S says otherwise.
    default_merge_gap_s: float = DEFAULT_MERGE_GAP_S

    @property
    def segments_per_call(self) -> int:
        """Segments handed to ``transcribe`` at once; an engine may regroup them into its own
        batches (by length, or all in flight), always answering in order."""
        return self.batch_size

    @abstractmethod
    def info(self) -> ModelInfo:
        """What produced the text (echoed in every result)."""

    @abstractmethod
    def load(self) -> None:
        """Load the model now (otherwise it loads on first use). Raises ModelUnavailable."""

    @abstractmethod
    def transcribe(self, clips: list[np.ndarray], language: str, task: str = "transcribe",
                   prior: str | None = None) -> list[Transcript]:
        """One transcript per clip, in order. ``language`` "auto": detect (engines that
        ``detects``); ``prior``: the recording's language so far, for unsure segments."""


def cuda_available() -> bool:
    """True when torch sees a CUDA device, checked without creating a CUDA context."""
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())
