"""The analysis steps of a job: one table that prepare, merge, the Celery app and the worker
bootstrap read (README, "Adding a step").

A job is prepared on the ``cpu`` queue (probe, 16 kHz audio), then every step whose
``when`` holds runs in parallel — one task, or one task per item of its ``fan_out`` — and
the merge task reads each step's output objects and applies the steps' merge parts in table
order. This module is on the ground floor (the gateway imports it for queue names), so the
parts that live in worker code are named as ``"module:function"`` and imported only where
they run (:func:`hook`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from shared import objects
from shared.schemas import DiarizeOutput, FerChunkOutput, MediaInfo, SttOutput, VocalOutput
from shared.settings import Settings


def _always(_: Settings) -> bool:
    return True


@dataclass(frozen=True)
class Step:
    """One analysis step of a job."""

    # The part's name: the job's ``parts``, its progress share, its timing, its heartbeat key.
    name: str
    # The Celery task (sent by name) and the queue it is routed to.
    task: str
    queue: str
    # The worker module that defines the task (the Celery app includes it).
    module: str
    # Whether the step runs for a job, from the probed media and the settings.
    when: Callable[[MediaInfo, Settings], bool]
    # The step's output object: ``output(job_id)``, or ``output(job_id, index)`` when it fans out.
    output: Callable[..., str] | None = None
    # The output's schema (what the merge parses before handing it to the merge part).
    schema: type[BaseModel] | None = None
    # Its part in the merge: ``"module:function"``, called ``function(draft, outputs)`` with
    # the parsed outputs (``[]`` when the step did not run), in table order.
    merge: str | None = None
    # What a worker on this queue runs, for heartbeats and /readyz: ``"module:function"``
    # returning a dict (``ready: False`` with a ``message`` when it cannot work).
    describe: str | None = None
    # Its settings group (an attribute of ``Settings``), for the README and the operators.
    settings: str | None = None
    # ``"module:function"``: ``function(info, settings)`` → one tuple of extra task arguments
    # per task (after the job id and the index); None: one task with the job id only.
    fan_out: str | None = None
    # Whether its queue needs a live worker for the gateway to be ready.
    needed: Callable[[Settings], bool] = _always


STT = Step(
    name="stt", task="ethos.stt.transcribe", queue="stt", module="workers.stt.tasks",
    when=lambda info, s: bool(info.has_audio),
    output=objects.stt_json, schema=SttOutput,
    merge="workers.cpu.merge:merge_speech", describe="workers.stt.tasks:describe", settings="stt",
)
DIARIZE = Step(
    name="diarize", task="ethos.diarize", queue="diarize", module="workers.diarize.tasks",
    # in parallel with transcription, on its own queue
    when=lambda info, s: bool(info.has_audio) and s.diarize.enabled,
    output=objects.diarize_json, schema=DiarizeOutput,
    merge="workers.cpu.merge:merge_speakers", describe="workers.diarize.tasks:describe",
    settings="diarize", needed=lambda s: s.diarize.enabled,
)
VOCAL = Step(
    name="vocal", task="ethos.vocal", queue="cpu", module="workers.vocal.tasks",
    # laughter, sighs, crying… beside transcription; merged after speakers, so the inline
    # tags land in the segments as finally cut
    when=lambda info, s: bool(info.has_audio) and s.vocal.enabled,
    output=objects.vocal_json, schema=VocalOutput,
    merge="workers.vocal.inline:merge_vocal", describe="workers.vocal.tasks:describe",
    settings="vocal",
)
PREVIEW = Step(
    name="preview", task="ethos.preview", queue="cpu", module="workers.cpu.tasks",
    # prepare decided ``browser_playable`` (workers/cpu/preview.py); the task stores the
    # preview and records it on the job itself, so it has no part in the merge
    when=lambda info, s: not info.browser_playable and s.preview.enabled,
    settings="preview",
)
FER = Step(
    name="fer", task="ethos.fer.chunk", queue="fer", module="workers.fer.tasks",
    when=lambda info, s: bool(info.has_video),
    fan_out="workers.fer.plan:chunk_spans",
    output=objects.fer_chunk, schema=FerChunkOutput,
    merge="workers.cpu.merge:merge_faces", describe="workers.fer.tasks:describe", settings="fer",
)

# In merge order: speech first (segments), then speakers (which split segments), then vocal
# events (inline tags in the final segments), then faces (a face label per segment). The order
# of ``parts`` and of the chord follows it too.
STEPS: tuple[Step, ...] = (STT, DIARIZE, VOCAL, PREVIEW, FER)


def by_name(name: str) -> Step:
    for step in STEPS:
        if step.name == name:
            return step
    raise KeyError(name)


def queues() -> tuple[str, ...]:
    """``cpu`` (prepare, merge, upkeep) and every step's queue, each once."""
    return tuple(dict.fromkeys(["cpu", *(s.queue for s in STEPS)]))


def hook(ref: str) -> Callable[..., Any]:
    """The function a ``"module:function"`` reference names (imported now)."""
    module, _, name = ref.partition(":")
    fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return fn
