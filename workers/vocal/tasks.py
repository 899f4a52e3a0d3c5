"""The vocal-events task (``cpu`` queue): laughter, sighs, crying… in one job's audio."""

from __future__ import annotations

import time

from celery import shared_task

from shared import objects
from shared.steps import VOCAL
from workers import runtime
from workers.runtime import JobTask, active_record, ensure_active, jobs
from workers.stt.audio import read_wav
from workers.vocal.pipeline import detect_vocal_events


def describe() -> dict[str, object]:
    """The packaged model this worker runs, for heartbeats and /readyz (nothing is loaded)."""
    from workers.vocal.model import ZIP_NAME, package_dir

    if not runtime.settings().vocal.enabled:
        return {"vocal_events": "off", "ready": True}
    try:
        package_dir()
        return {"vocal_events": ZIP_NAME, "ready": True}
    except Exception as e:  # noqa: BLE001 - reported in /readyz
        return {"ready": False, "message": str(e)}


@shared_task(name=VOCAL.task, base=JobTask, bind=True)
def vocal(self: JobTask, job_id: str) -> str:
    """Vocal and context events of a job's audio; leaves its output (``objects.vocal_json``)."""
    t0 = time.perf_counter()
    active_record(job_id)
    store = jobs()
    store.part_progress(job_id, VOCAL.name, 0.0, "vocal_events")
    with runtime.scratch(job_id) as tmp:
        samples = read_wav(runtime.local_copy(objects.audio_wav(job_id), tmp))

    def progress(f: float) -> None:
        ensure_active(job_id)
        store.part_progress(job_id, VOCAL.name, f, "vocal_events")

    out = detect_vocal_events(samples, runtime.settings().vocal, progress)
    key = objects.vocal_json(job_id)
    runtime.storage().put_bytes(key, out.model_dump_json().encode())
    store.part_progress(job_id, VOCAL.name, 1.0, "vocal_events")
    store.record_timing(job_id, VOCAL.name, time.perf_counter() - t0)
    return key
