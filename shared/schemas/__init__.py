"""Typed payloads shared by the gateway, the workers and the tests, one module per owner:
``record`` (the stored job), ``result``, ``pipeline`` (what steps leave for the merge),
``requests`` (bodies), ``views`` (public shapes), ``events``, ``health`` and
``original_app`` (the original Ethos app's shapes). Importing from ``shared.schemas`` itself
still works for every name.
"""

from __future__ import annotations

from shared.schemas.events import (
    DoneEvent,
    ErrorEvent,
    EventLog,
    FaceEvent,
    JobEvent,
    ProgressEvent,
    SegmentEvent,
    StatusEvent,
)
from shared.schemas.health import Health, Readiness
from shared.schemas.original_app import CompatAccepted, CompatJob, CompatTranscript, CompatWord
from shared.schemas.pipeline import (
    DiarizeOutput,
    FerChunkOutput,
    SpeakerTurn,
    SttOutput,
    VocalOutput,
)
from shared.schemas.record import (
    MAX_SPEAKERS,
    ErrorInfo,
    JobRecord,
    JobStatus,
    MediaInfo,
    WebhookDelivery,
)
from shared.schemas.requests import ResultCorrection, SegmentCorrection, SpeakerNames
from shared.schemas.result import (
    EmotionPoint,
    FaceChunkInfo,
    FaceFrame,
    FaceFrames,
    ModelInfo,
    Overlap,
    Result,
    Segment,
    SpeakerInfo,
    TagHit,
    VocalEvent,
    Word,
)
from shared.schemas.views import (
    ErrorBody,
    JobAccepted,
    JobLinks,
    JobList,
    JobView,
    Limits,
    PublicMedia,
    ResultVersion,
    ResultVersions,
    TagRow,
    TagTable,
    WebhookSecretView,
    job_links,
)

__all__ = ['CompatAccepted', 'CompatJob', 'CompatTranscript', 'CompatWord', 'DiarizeOutput', 'DoneEvent', 'EmotionPoint', 'ErrorBody', 'ErrorEvent', 'ErrorInfo', 'EventLog', 'FaceChunkInfo', 'FaceEvent', 'FaceFrame', 'FaceFrames', 'FerChunkOutput', 'Health', 'JobAccepted', 'JobEvent', 'JobLinks', 'JobList', 'JobRecord', 'JobStatus', 'JobView', 'Limits', 'MAX_SPEAKERS', 'MediaInfo', 'ModelInfo', 'Overlap', 'ProgressEvent', 'PublicMedia', 'Readiness', 'Result', 'ResultCorrection', 'ResultVersion', 'ResultVersions', 'Segment', 'SegmentCorrection', 'SegmentEvent', 'SpeakerInfo', 'SpeakerNames', 'SpeakerTurn', 'StatusEvent', 'SttOutput', 'TagHit', 'TagRow', 'TagTable', 'VocalEvent', 'VocalOutput', 'WebhookDelivery', 'WebhookSecretView', 'Word', 'job_links']
