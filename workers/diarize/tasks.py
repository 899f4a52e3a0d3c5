"""The ``diarize`` queue's tasks: who speaks when in one job's audio, and the speakers counted
again on request from the windows it kept (``workers.diarize.recount``)."""

from __future__ import annotations

import time

from celery import shared_task

from shared import objects
from shared.celery_app import TASK_RECOUNT
from shared.steps import DIARIZE
from workers import runtime
from workers.diarize import channels
from workers.diarize import store as windows_store
from workers.diarize.cluster import SpeakerCount
from workers.diarize.pipeline import analyse, label
from workers.diarize.recount import recount
from workers.runtime import JobTask, active_record, ensure_active, jobs
from workers.stt.audio import read_wav


def describe() -> dict[str, object]:
    """The speaker encoder this worker runs, for heartbeats and /readyz (nothing is loaded)."""
    from workers.diarize import segmentation
    from workers.diarize.embed import encoder_weights

    cfg = runtime.settings().diarize
    encoder = cfg.encoder
    try:
        files = [encoder_weights(e).name for e in (("resemblyzer", "campplus") if encoder == "fused" else (encoder,))]
        if cfg.overlap:
            files.append(segmentation.weights_path().name)
        return {"model": "+".join(files), "ready": True}
    except Exception as e:  # noqa: BLE001 - reported in /readyz
        return {"ready": False, "message": str(e)}


@shared_task(name=DIARIZE.task, base=JobTask, bind=True)
def diarize(self: JobTask, job_id: str) -> str:
    """Speaker turns of a job's audio; leaves its output object (``objects.diarize_json``)."""
    t0 = time.perf_counter()
    rec = active_record(job_id)
    store = jobs()
    s = runtime.settings()
    store.part_progress(job_id, "diarize", 0.0, "speakers")
    with runtime.scratch(job_id) as tmp:
        samples = read_wav(runtime.local_copy(objects.audio_wav(job_id), tmp))

    def progress(f: float) -> None:
        ensure_active(job_id)
        store.part_progress(job_id, "diarize", f, "speakers")

    count = SpeakerCount(rec.num_speakers, rec.min_speakers, rec.max_speakers)
    regions, windows, seg = analyse(samples, s.diarize, progress)
    windows_store.save(runtime.storage(), job_id, regions, windows, seg)
    out = label(regions, windows, s.diarize, count, time.perf_counter() - t0, seg)
    if s.diarize.by_channel:
        out = channels.apply(out, channels.load(runtime.storage(), job_id), regions, count, s.diarize)
    key = objects.diarize_json(job_id)
    runtime.storage().put_bytes(key, out.model_dump_json().encode())
    store.part_progress(job_id, "diarize", 1.0, "speakers")
    store.record_timing(job_id, "diarize", time.perf_counter() - t0)
    return key


@shared_task(name=TASK_RECOUNT)
def recount_speakers(job_id: str, expected: int | None, num: int | None, lo: int | None,
                     hi: int | None) -> dict[str, object]:
    """Count a finished job's speakers again (the gateway waits for this answer)."""
    rec = jobs().get(job_id)
    if rec is None:
        return {"error": "gone", "message": f"no job {job_id}", "latest": 0}
    return recount(runtime.storage(), jobs(), rec, runtime.settings().diarize,
                   SpeakerCount(num, lo, hi), expected)
