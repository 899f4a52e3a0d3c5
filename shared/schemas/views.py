"""Public shapes of the API: the job view and its links, listings, versions, errors, the tag
table, limits."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from shared.schemas.record import ErrorInfo, JobRecord, JobStatus, WebhookDelivery


class ResultVersion(BaseModel):
    """One saved version of a job's result."""

    version: int
    saved_at: str
    segments: int
    etag: str


class ResultVersions(BaseModel):
    latest: int
    versions: list[ResultVersion]


def job_links(job_id: str) -> JobLinks:
    """Where a job's parts live in the HTTP API."""
    base = f"/v1/jobs/{job_id}"
    return JobLinks(self=base, result=f"{base}/result", events=f"{base}/events", media=f"{base}/media")


class JobLinks(BaseModel):
    self: str
    result: str
    events: str
    media: str
    # The browser-playable rendition (``…/media?rendition=preview``), when the job has one.
    preview: str | None = None


class PublicMedia(BaseModel):
    filename: str
    duration: float | None = None
    has_audio: bool | None = None
    has_video: bool | None = None
    size: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    audio_channels: int | None = None
    browser_playable: bool | None = None


class JobView(BaseModel):
    """A job as clients see it (``GET /v1/jobs/{id}``, listings, callbacks)."""

    id: str
    status: JobStatus
    stage: str
    progress: float
    created_at: str
    started_at: str | None
    finished_at: str | None
    language: str
    task: Literal["transcribe", "translate"] = "transcribe"
    media: PublicMedia
    error: ErrorInfo | None
    deleted: bool
    links: JobLinks
    # Attempts to deliver the job's callback_url (empty without one).
    deliveries: list[WebhookDelivery] = []

    @classmethod
    def of(cls, rec: JobRecord) -> JobView:
        links = job_links(rec.id)
        if rec.preview_key and not rec.deleted:
            links.preview = f"{links.media}?rendition=preview"
        media = PublicMedia.model_validate(
            {k: v for k, v in rec.media.model_dump().items() if k in PublicMedia.model_fields})
        return cls(
            id=rec.id, status=rec.status, stage=rec.stage, progress=round(rec.progress, 4),
            created_at=rec.created_at, started_at=rec.started_at, finished_at=rec.finished_at,
            language=rec.language, task=rec.task, media=media,
            error=rec.error, deleted=rec.deleted, links=links,
        )


class JobAccepted(BaseModel):
    """The answer to an upload: the job exists and is queued."""

    id: str
    status: JobStatus
    links: JobLinks


class JobList(BaseModel):
    jobs: list[JobView]


class ErrorBody(BaseModel):
    """Every JSON error: ``{"error": {"code", "message"}}``."""

    error: ErrorInfo


class TagRow(BaseModel):
    tags: list[str]
    emotion: str
    valence: float
    arousal: float
    # The AudioSet classes the vocal-events detector reports, and the tag it writes for them.
    audioset: list[str] = []
    detector_tag: str | None = None


class TagTable(BaseModel):
    """The tag table and one colour per emotion label (speech and face), for every client."""

    tags: list[TagRow]
    colours: dict[str, str]
    # Context events (no emotion, never inline): their name → the AudioSet classes.
    context: dict[str, list[str]] = {}


class WebhookSecretView(BaseModel):
    """The calling key's webhook signing secret (Standard Webhooks ``whsec_…``)."""

    secret: str
    # After a rotation: until when (ISO 8601, UTC) the previous secret still signs beside it.
    previous_valid_until: str | None = None


class Limits(BaseModel):
    max_upload_bytes: int
    max_duration_s: float
    # Each live STT engine: {"languages": [...] or null (any), "detects": bool, "tasks": [...]}.
    engines: dict[str, dict[str, Any]] = {}
