"""The ``fer`` queue's task: faces over one time range of a job's video."""

from __future__ import annotations

import socket
import time

from celery import shared_task

from shared import objects
from shared.schemas import FaceEvent
from shared.steps import FER
from workers import runtime
from workers.fer.analyze import analyze_range
from workers.fer.models import resolve_model
from workers.fer.timeline import per_second
from workers.runtime import JobTask, active_record, jobs


def describe() -> dict[str, object]:
    """The FER model this worker would run, for heartbeats and /readyz."""
    cfg = runtime.settings().fer
    try:
        if cfg.detector == "blazeface":
            from workers.fer.blazeface import model_path

            model_path()  # the detector's model file is installed
        return {"model": resolve_model(cfg).name, "detector": cfg.detector, "fps": cfg.fps, "ready": True}
    except Exception as e:  # noqa: BLE001 - reported in /readyz
        return {"ready": False, "message": str(e)}


@shared_task(name=FER.task, base=JobTask, bind=True)
def chunk(self: JobTask, job_id: str, index: int, start: float, end: float) -> str:
    """Classify faces in [start, end) of the job's video; leaves its chunk object (``objects.fer_chunk``)."""
    t0 = time.perf_counter()
    rec = active_record(job_id)
    store = jobs()
    s = runtime.settings()
    st = runtime.storage()
    src = st.local_path(rec.media_key)
    source = str(src) if src is not None else st.presigned_url(rec.media_key)
    out = analyze_range(source, start, end, rec.media.video_width or 640, rec.media.video_height or 360, s.fer,
                        format_name=rec.media.format)
    out.worker = f"{self.request.hostname or socket.gethostname()}"
    key = objects.fer_chunk(job_id, index)
    st.put_bytes(key, out.model_dump_json().encode())
    timeline = {str(sec): lab for sec, lab in per_second(out.frames).labels.items()}
    store.emit(FaceEvent(job_id=job_id, index=index, start=start, end=end, timeline=timeline,
                         frames_without_face=out.frames_without_face), dedupe=f"face:{index}")
    done = store.chunk_done(job_id, FER.name, index)
    if done:
        store.part_progress(job_id, FER.name, done / max(rec.chunks.get(FER.name, 0), 1), "faces")
    store.record_timing(job_id, f"fer_{index:05d}", time.perf_counter() - t0)
    return key
