"""The result of a job: segments with tags, emotions, words and speakers, the face timeline,
the models that made it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class TagHit(BaseModel):
    tag: str
    char: int
    time: float
    emotion: str | None
    valence: float | None
    arousal: float | None
    # Who put the tag there: "yamnet" (the vocal-events detector), else the engine's text.
    source: str | None = None


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
    # The language spoken in the segment and, when it was detected, the detection's probability.
    language: str | None = None
    language_probability: float | None = None


class ModelInfo(BaseModel):
    engine: str
    model_id: str
    adapter_id: str | None = None
    version: str | None = None
    device: str | None = None
    extra: dict[str, Any] = {}


class Overlap(BaseModel):
    """A stretch where two people talk at once: the segments' speaker there first, then the
    second voice (README "Speakers", "Overlapping speech")."""

    start: float
    end: float
    speakers: list[str]


class SpeakerInfo(BaseModel):
    id: str
    name: str | None = None
    total_speech_s: float


class FaceFrame(BaseModel):
    """One sampled frame: its time, the largest face's label and scores, and how many faces."""

    t: float
    label: str | None
    scores: dict[str, float] | None = None
    faces: int = 0


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


class VocalEvent(BaseModel):
    """A sound of the voice (laughter, a sigh, crying…) or of the scene (music, applause)."""

    start: float
    end: float
    # The AudioSet class that scored highest over the event ("Laughter", "Music").
    label: str
    # The Ethos tag it stands for ("laughs"); None for a context event, which has no emotion.
    tag: str | None
    score: float
    source: str = "yamnet"
    # The segment whose text carries it as an inline tag; None when it stands on its own.
    segment: int | None = None


class Result(BaseModel):
    job_id: str
    filename: str
    duration: float
    language: str
    # Set when the language was detected (the job gave none or "auto").
    language_probability: float | None = None
    # "translate": ``text`` and segments are English, ``language`` is the one spoken.
    task: Literal["transcribe", "translate"] = "transcribe"
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
    # Where two people talk at once, in time order (the segments keep one speaker each).
    overlaps: list[Overlap] = []
    # Vocal and context events in time order (README, "Vocal events").
    events: list[VocalEvent] = []
    models: dict[str, ModelInfo]
    timings: dict[str, float]
    created_at: str
    finished_at: str
    # 1 for the machine output; a correction (PUT /v1/jobs/{id}/result) saves version 2, 3, …
    version: int = 1
    corrected_at: str | None = None
