"""Typed payloads shared by the gateway, the workers and the tests."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.succeeded, JobStatus.failed, JobStatus.canceled)


class ErrorInfo(BaseModel):
    code: str
    message: str


class MediaInfo(BaseModel):
    filename: str
    duration: float | None = None
    has_audio: bool | None = None
    has_video: bool | None = None
    size: int | None = None
    format: str | None = None
    video_width: int | None = None
    video_height: int | None = None
    video_fps: float | None = None


class JobRecord(BaseModel):
    id: str
    status: JobStatus
    stage: str
    progress: float = Field(0.0, ge=0.0, le=1.0)
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    media: MediaInfo
    error: ErrorInfo | None = None
    language: str = "en"
    callback_url: str | None = None
    media_key: str
    content_type: str | None = None
    deleted: bool = False


class TagHit(BaseModel):
    tag: str
    char: int
    time: float
    emotion: str | None
    valence: float | None
    arousal: float | None


class Segment(BaseModel):
    id: int
    speaker: str = "SPEAKER_00"
    start: float
    end: float
    text: str
    emotion: str
    valence: float
    arousal: float
    face_emotion: str | None = None
    tags: list[TagHit] = []
    # True when generation hit its token cap: the text may be cut short.
    truncated: bool = False


class ModelInfo(BaseModel):
    engine: str
    model_id: str
    adapter_id: str | None = None
    version: str | None = None
    device: str | None = None
    extra: dict[str, Any] = {}


class SttOutput(BaseModel):
    """What the STT task leaves in storage for the merge step."""

    segments: list[Segment]
    model: ModelInfo
    vad: ModelInfo
    seconds: float
    language: str


class FaceFrame(BaseModel):
    t: float
    label: str | None
    scores: dict[str, float] | None = None


class FerChunkOutput(BaseModel):
    """One FER chunk's frames, left in storage for the merge step."""

    start: float
    end: float
    frames: list[FaceFrame]
    frames_without_face: int
    model: ModelInfo
    seconds: float
    worker: str | None = None


class Result(BaseModel):
    job_id: str
    filename: str
    duration: float
    language: str
    text: str
    segments: list[Segment]
    has_video: bool
    face_emotion_timeline: dict[str, str] | None = None
    face_scores: dict[str, dict[str, float]] | None = None
    frames_without_face: int | None = None
    face_chunks: list[dict[str, Any]] | None = None
    models: dict[str, ModelInfo]
    timings: dict[str, float]
    created_at: str
    finished_at: str


EventType = Literal["status", "progress", "segment", "face", "done", "error"]


class Event(BaseModel):
    type: EventType
    job_id: str
    data: dict[str, Any] = {}

    def flat(self) -> dict[str, Any]:
        """The event as clients see it: ``type``, ``job_id`` and the payload fields."""
        return {"type": self.type, "job_id": self.job_id, **self.data}
