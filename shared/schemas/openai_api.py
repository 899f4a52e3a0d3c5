"""The shapes of the OpenAI-compatible audio API (``/v1/audio/…``, ``/v1/models``).

Field for field what OpenAI's API reference and its official SDKs read, plus what Ethos adds
where that schema leaves room (marked "Ethos:"). Clients that do not know the additions
ignore them: the SDKs' models keep unknown fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")
GRANULARITIES = ("word", "segment")


class OpenAIErrorInfo(BaseModel):
    message: str
    # invalid_request_error, authentication_error, not_found_error, rate_limit_error,
    # server_error, timeout
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorBody(BaseModel):
    """Every error of these routes: ``{"error": {"message", "type", "param", "code"}}``."""

    error: OpenAIErrorInfo


class DurationUsage(BaseModel):
    type: Literal["duration"] = "duration"
    seconds: float


class Transcription(BaseModel):
    """``response_format=json`` (the default)."""

    text: str
    usage: DurationUsage | None = None


class TranscriptionWord(BaseModel):
    word: str
    start: float
    end: float


class TagMark(BaseModel):
    """Ethos: an inline paralinguistic tag (``[laughs]``) and where it was heard."""

    tag: str
    time: float
    emotion: str | None = None
    valence: float | None = None
    arousal: float | None = None
    source: str | None = Field(None, description="Who put it there: a detector's name, else the engine's text.")


class VerboseSegment(BaseModel):
    """A segment of ``verbose_json``: OpenAI's fields, then Ethos's."""

    id: int
    seek: int = Field(description="Start in 10-ms frames (Whisper's seek).")
    start: float
    end: float
    text: str
    tokens: list[int] = Field(description="Always empty: the engines' token ids are not kept.")
    temperature: float
    avg_logprob: float = Field(description="Mean log-probability of the segment's timed words "
                                           "(0.0 from an engine that gives none).")
    compression_ratio: float = Field(description="zlib compression ratio of the text.")
    no_speech_prob: float = Field(description="0.0: voice activity detection chose the segment.")
    speaker: str = Field(description="Ethos: the speaker id, or the name given to it.")
    emotion: str = Field(description="Ethos: the segment's speech emotion.")
    valence: float = Field(description="Ethos: valence in [-1, 1].")
    arousal: float = Field(description="Ethos: arousal in [0, 1].")
    tags: list[TagMark] = Field(description="Ethos: inline paralinguistic tags.")
    face_emotion: str | None = Field(None, description="Ethos: the face emotion over the segment (video).")


class VerboseTranscription(BaseModel):
    """``response_format=verbose_json``: OpenAI's fields, then Ethos's additions."""

    task: Literal["transcribe", "translate"]
    language: str = Field(description="The language's English name in lower case, as OpenAI gives it "
                                      "(``english``); a translation's is always ``english``.")
    duration: float
    text: str
    segments: list[VerboseSegment] | None = Field(
        None, description="With timestamp_granularities[] ``segment`` (the default).")
    words: list[TranscriptionWord] | None = Field(
        None, description="With timestamp_granularities[] ``word``.")
    usage: DurationUsage | None = None
    job_id: str = Field(description="Ethos: the job behind this answer (GET /v1/jobs/{job_id}).")
    speakers: list[dict[str, Any]] = Field([], description="Ethos: each speaker and its speech time.")
    events: list[dict[str, Any]] | None = Field(
        None, description="Ethos: the recording's vocal and context events "
                          "(``{start, end, label, tag, score, source, segment}``), when it has any.")
    face_emotion_timeline: dict[str, str] | None = Field(
        None, description="Ethos: per second, the face emotion (video only).")


class DiarizedSegment(BaseModel):
    type: Literal["transcript.text.segment"] = "transcript.text.segment"
    id: str
    start: float
    end: float
    text: str
    speaker: str


class DiarizedTranscription(BaseModel):
    """``response_format=diarized_json``: segments with speakers."""

    task: Literal["transcribe"] = "transcribe"
    duration: float
    text: str
    segments: list[DiarizedSegment]
    usage: DurationUsage | None = None


class TextDeltaEvent(BaseModel):
    """``stream=true``: more text (each segment as it is transcribed)."""

    type: Literal["transcript.text.delta"] = "transcript.text.delta"
    delta: str


class TextDoneEvent(BaseModel):
    """``stream=true``: the whole text, last (equal to the deltas joined)."""

    type: Literal["transcript.text.done"] = "transcript.text.done"
    text: str


class ModelCard(BaseModel):
    """One model of ``GET /v1/models``."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "ethos"
    engine: str | None = Field(None, description="Ethos: the speech engine behind the name.")
    languages: list[str] | None = Field(None, description="Ethos: its language codes (null: any).")
    tasks: list[str] = Field(["transcribe"], description="Ethos: transcribe, and translate where served.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
