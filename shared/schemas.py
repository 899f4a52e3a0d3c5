"""Typed payloads shared by the gateway, the workers and the tests."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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


class TagHit(BaseModel):
    tag: str
    char: int
    time: float
    emotion: str | None
    valence: float | None
    arousal: float | None


class EmotionPoint(BaseModel):
    """The segment's speech emotion once the tags up to ``time`` have been heard."""

    time: float
    emotion: str
    valence: float
    arousal: float


class Word(BaseModel):
    """One timed word from an engine that times words (seconds; probability in [0, 1])."""

    word: str
    start: float
    end: float
    probability: float = Field(ge=0.0, le=1.0)


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
    # The segment rule applied to the tags heard so far, one point per tag (the Studio's panel).
    emotion_track: list[EmotionPoint] = []
    # Timed words in absolute seconds, inside [start, end], in order; [] from engines that do
    # not time words.
    words: list[Word] = []
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


class SpeakerInfo(BaseModel):
    id: str
    name: str | None = None
    total_speech_s: float


class SpeakerNames(BaseModel):
    """``PATCH /v1/jobs/{id}/speakers``: new names by speaker id (``SPEAKER_00`` → ``Alice``)."""

    names: dict[str, str]


class FaceFrame(BaseModel):
    """One sampled frame: its time, the largest face's label and scores, and how many faces."""

    t: float
    label: str | None
    scores: dict[str, float] | None = None
    faces: int = 0


class FerChunkOutput(BaseModel):
    """One FER chunk's frames, left in storage for the merge step."""

    start: float
    end: float
    frames: list[FaceFrame]
    frames_without_face: int
    model: ModelInfo
    seconds: float
    worker: str | None = None


class FaceFrames(BaseModel):
    """Every sampled frame of a video job, in time order (stored beside the result)."""

    frames: list[FaceFrame]


class FaceChunkInfo(BaseModel):
    """How one FER chunk ran (which worker, how long), echoed in the result."""

    start: float
    end: float
    frames: int
    frames_without_face: int
    worker: str | None = None
    seconds: float


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
    # Per second with a face: the most faces seen in one of its frames (the largest is labelled).
    face_counts: dict[str, int] | None = None
    frames_without_face: int | None = None
    # Every sampled frame, only with ``?detail=frames`` (stored apart from the result).
    face_frames: list[FaceFrame] | None = None
    face_chunks: list[FaceChunkInfo] | None = None
    # Every speaker of the segments, in order of first appearance, with their speech time.
    speakers: list[SpeakerInfo] = []
    models: dict[str, ModelInfo]
    timings: dict[str, float]
    created_at: str
    finished_at: str
    # 1 for the machine output; a correction (PUT /v1/jobs/{id}/result) saves version 2, 3, …
    version: int = 1
    corrected_at: str | None = None


class SegmentCorrection(BaseModel):
    """One segment of a correction: its times, text and speaker (the rest is recomputed).

    The fields the server computes (``emotion``, ``valence``, ``arousal``, ``tags``,
    ``emotion_track``, ``face_emotion``, ``truncated``) may be sent back as GET gave them and
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


class ResultCorrection(BaseModel):
    """The body of ``PUT /v1/jobs/{id}/result``: the corrected segments, in time order."""

    model_config = ConfigDict(extra="forbid")

    segments: list[SegmentCorrection] = Field(max_length=50_000)


class ResultVersion(BaseModel):
    """One saved version of a job's result."""

    version: int
    saved_at: str
    segments: int
    etag: str


class ResultVersions(BaseModel):
    latest: int
    versions: list[ResultVersion]


# --------------------------------------------------------------------------- public shapes


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
    browser_playable: bool | None = None


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
            language=rec.language, media=media,
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


class TagTable(BaseModel):
    """The tag table and one colour per emotion label (speech and face), for every client."""

    tags: list[TagRow]
    colours: dict[str, str]


class Limits(BaseModel):
    max_upload_bytes: int
    max_duration_s: float


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    # "required": every job endpoint needs an API key; "open": anyone who reaches it may call.
    auth: Literal["required", "open"] = "open"
    dependencies: dict[str, dict[str, Any]]


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


# --------------------------------------------------------------------------- events
# Each event is a JSON object with ``type`` and ``job_id`` (the websocket sends them as is).


class _EventBase(BaseModel):
    job_id: str


class StatusEvent(_EventBase):
    type: Literal["status"] = "status"
    status: JobStatus
    stage: str


class ProgressEvent(_EventBase):
    type: Literal["progress"] = "progress"
    stage: str
    progress: float


class SegmentEvent(Segment):
    """A finished speech segment, as in the result."""

    type: Literal["segment"] = "segment"
    job_id: str


class FaceEvent(_EventBase):
    type: Literal["face"] = "face"
    index: int
    start: float
    end: float
    timeline: dict[str, str]
    frames_without_face: int


class DoneEvent(_EventBase):
    type: Literal["done"] = "done"
    result: str


class ErrorEvent(_EventBase):
    type: Literal["error"] = "error"
    code: str
    message: str


JobEvent = Annotated[
    StatusEvent | ProgressEvent | SegmentEvent | FaceEvent | DoneEvent | ErrorEvent,
    Field(discriminator="type"),
]


class EventLog(BaseModel):
    """A job's events after ``after`` (the HTTP twin of the websocket's replay)."""

    events: list[JobEvent]
    last: str | None  # pass as ``after`` to read on from here
