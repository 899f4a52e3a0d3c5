"""The ``stt`` queue's task: VAD + speech engine over one job's audio."""

from __future__ import annotations

import time

from celery import shared_task

from shared import objects
from shared.schemas import Segment, SegmentEvent, SttOutput
from shared.steps import STT
from workers import runtime
from workers.runtime import JobTask, active_record, ensure_active, jobs
from workers.stt import vad
from workers.stt.audio import read_wav
from workers.stt.engines import engine_abilities, get_engine, registry
from workers.stt.engines.base import EngineUnreachable
from workers.stt.transcribe import recording_language, transcribe_audio


def describe() -> dict[str, object]:
    """The engine this worker runs, for heartbeats and /readyz (no model is loaded)."""
    cfg = runtime.settings().stt
    engine = registry.resolve(cfg)
    # The gateway checks each job's language and task against this (shared.languages).
    out: dict[str, object] = {"engine": engine.name, **engine_abilities(cfg)}
    out.update(engine.availability(cfg))
    return out


@shared_task(name=STT.task, base=JobTask, bind=True)
def transcribe(self: JobTask, job_id: str) -> str:
    """Transcribe a job's audio into segments; leaves its output object (``objects.stt_json``)."""
    t0 = time.perf_counter()
    rec = active_record(job_id)
    store = jobs()
    s = runtime.settings()
    engine = get_engine(s.stt)
    store.part_progress(job_id, "stt", 0.0, "transcribing")
    with runtime.scratch(job_id) as tmp:
        samples = read_wav(runtime.local_copy(objects.audio_wav(job_id), tmp))

    def on_batch(new: list[Segment], done: int, total: int) -> None:
        ensure_active(job_id)
        for seg in new:
            store.emit(SegmentEvent(job_id=job_id, **seg.model_dump()), dedupe=f"segment:{seg.id}")
        store.part_progress(job_id, "stt", done / max(total, 1), "transcribing")

    try:
        segments = transcribe_audio(samples, engine, s.vad, rec.language, on_batch, task=rec.task)
    except EngineUnreachable as e:  # a remote engine: try again later, then fail the job with e
        if self.request.retries < e.retries:
            raise self.retry(exc=e, countdown=e.retry_delay_s, max_retries=e.retries) from e
        raise
    language, probability = recording_language(segments, rec.language)
    out = SttOutput(
        segments=segments,
        model=engine.info(),
        vad=vad.info(s.vad, s.vad.merge_gap_s if s.vad.merge_gap_s is not None else engine.default_merge_gap_s),
        seconds=round(time.perf_counter() - t0, 4),
        language=language,
        language_probability=probability,
        task=rec.task,
    )
    key = objects.stt_json(job_id)
    runtime.storage().put_bytes(key, out.model_dump_json().encode())
    store.part_progress(job_id, "stt", 1.0, "transcribing")
    store.record_timing(job_id, "stt", time.perf_counter() - t0)
    return key
