"""A job's events: each a JSON object with ``type`` and ``job_id`` (the websocket sends them as
they are; ``GET …/events`` returns them as an :class:`EventLog`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from shared.schemas.record import JobStatus
from shared.schemas.result import Segment


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
