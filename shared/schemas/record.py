"""The stored job record (the job hash in Redis) and what it holds: status, media facts,
errors, webhook delivery attempts."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

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


# The one bound on num_speakers / min_speakers / max_speakers, on every endpoint.
MAX_SPEAKERS = 8


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
    # Codecs as ffprobe names them, and whether a browser plays the file as it is
    # (``workers/cpu/preview.py`` holds the rule).
    video_codec: str | None = None
    audio_codec: str | None = None
    # Channels of the first audio stream (2: a stereo recording, maybe one party a side).
    audio_channels: int | None = None
    pixel_format: str | None = None
    container: str | None = None
    browser_playable: bool | None = None


class JobRecord(BaseModel):
    """Everything stored about a job (the job hash in Redis; ``shared.jobs`` owns its encoding)."""

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
    # "transcribe", or "translate" (English text of speech in any language).
    task: Literal["transcribe", "translate"] = "transcribe"
    # The caller's speaker count (exact, or bounds) for diarization, if given.
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None
    # Names the user gave speakers after the job (PATCH /v1/jobs/{id}/speakers): id → name.
    speaker_names: dict[str, str] = {}
    callback_url: str | None = None
    media_key: str
    content_type: str | None = None
    deleted: bool = False
    # Set by the workers: the analysis steps running in parallel (shared.steps), the number of
    # tasks of each fanned-out step (``{"fer": 3}``), and the stored result once the job succeeded.
    parts: list[str] = []
    chunks: dict[str, int] = {}
    result_key: str | None = None
    # The browser-playable rendition, when the upload is not (``preview_error`` when making it
    # failed: the job still succeeds and the original stays downloadable).
    preview_key: str | None = None
    preview_error: str | None = None
    # The latest version of the result (1: the machine output; each correction adds one).
    result_version: int = 1
    # The per-frame face results of a video job (``?detail=frames``).
    frames_key: str | None = None
    # The id of the API key that created the job (None when the gateway ran open).
    owner: str | None = None


class WebhookDelivery(BaseModel):
    """One attempt to POST a job's callback."""

    webhook_id: str
    attempt: int
    at: str
    ok: bool
    status_code: int | None = None
    error: str | None = None
    seconds: float
    # Whether another attempt follows (a failure inside the retry window).
    will_retry: bool = False
