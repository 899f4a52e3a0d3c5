"""The original Ethos app's shapes (``/api/transcribe-diarize``, ``/api/job/{id}``,
``/transcribe``), served by ``gateway/routes/original_app.py``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from shared.schemas.result import Result


class CompatAccepted(BaseModel):
    """The original ``POST /api/transcribe-diarize`` answer."""

    job_id: str


class CompatJob(BaseModel):
    """The original ``GET /api/job/{id}`` answer: pending, done with ``data``, or error."""

    status: Literal["pending", "done", "error"]
    data: Result | None = None
    error: str | None = None


class CompatWord(BaseModel):
    """A word of the original ``/transcribe`` answer: the engine's word times where it gives
    them, else its segment's span."""

    word: str
    start: float
    end: float
    speaker: str | None = None


class CompatTranscript(BaseModel):
    """The original ``POST /transcribe`` answer (``transcription`` and ``text`` alike)."""

    transcription: str
    text: str
    language: str
    model: str
    words: list[CompatWord]
