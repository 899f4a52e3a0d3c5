"""What the steps leave in storage for the merge (worker to worker)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from shared.schemas.result import FaceFrame, ModelInfo, Overlap, Segment, VocalEvent


class SttOutput(BaseModel):
    """What the STT task leaves in storage for the merge step."""

    segments: list[Segment]
    model: ModelInfo
    vad: ModelInfo
    seconds: float
    language: str
    language_probability: float | None = None
    task: Literal["transcribe", "translate"] = "transcribe"


class VocalOutput(BaseModel):
    """What the vocal-events task leaves in storage (``objects.vocal_json``)."""

    events: list[VocalEvent]
    model: ModelInfo
    hops: int
    seconds: float


class SpeakerTurn(BaseModel):
    """A stretch of speech by one speaker (diarization's label, before the merge renames)."""

    speaker: str
    start: float
    end: float


class DiarizeOutput(BaseModel):
    """What the diarize task leaves in storage for the merge step."""

    turns: list[SpeakerTurn]
    model: ModelInfo
    seconds: float
    # Embedding windows, and how many of them the clustering saw (subsampled past a cap).
    windows: int
    clustered_windows: int
    speakers: int
    # Where a second speaker talks during a turn (speakers: the turn's, then the second).
    overlaps: list[Overlap] = []


class FerChunkOutput(BaseModel):
    """One FER chunk's frames, left in storage for the merge step."""

    start: float
    end: float
    frames: list[FaceFrame]
    frames_without_face: int
    model: ModelInfo
    seconds: float
    worker: str | None = None
