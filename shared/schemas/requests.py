"""Request bodies of the API: speaker names and result corrections."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.schemas.result import Word


class SpeakerNames(BaseModel):
    """``PATCH /v1/jobs/{id}/speakers``: new names by speaker id (``SPEAKER_00`` → ``Alice``)."""

    names: dict[str, str]


class SegmentCorrection(BaseModel):
    """One segment of a correction: its times, text, speaker and language (the rest is recomputed).

    The fields the server computes (``emotion``, ``valence``, ``arousal``, ``tags``,
    ``emotion_track``, ``face_emotion``, ``truncated``, ``language_probability``) may be sent back as GET gave them and
    are ignored; any other unknown field is refused.
    """

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    start: float = Field(ge=0.0)
    end: float = Field(ge=0.0)
    text: str = Field(max_length=20_000)
    speaker: str = Field("SPEAKER_00", min_length=1, max_length=100)
    words: list[Word] = []
    emotion: Any = None
    valence: Any = None
    arousal: Any = None
    tags: Any = None
    emotion_track: Any = None
    face_emotion: Any = None
    truncated: Any = None
    # The segment's language is kept as sent; its detection probability is ignored (not measured
    # on corrected text).
    language: str | None = Field(None, max_length=16)
    language_probability: Any = None


class ResultCorrection(BaseModel):
    """The body of ``PUT /v1/jobs/{id}/result``: the corrected segments, in time order."""

    model_config = ConfigDict(extra="forbid")

    segments: list[SegmentCorrection] = Field(max_length=50_000)
