"""Tasks on the ``cpu`` queue: prepare a job (probe, extract audio, fan out) and merge."""

from __future__ import annotations

import logging
import time

from celery import chord, shared_task, signature

from shared.celery_app import (
    TASK_DIARIZE,
    TASK_FER,
    TASK_MERGE,
    TASK_PREPARE,
    TASK_PREVIEW,
    TASK_STT,
)
from shared.errors import TooLong
from shared.schemas import DiarizeOutput, FerChunkOutput, JobStatus, MediaInfo, SttOutput
from workers import runtime
from workers.cpu import media, preview
from workers.cpu.merge import build_result, frame_log
from workers.runtime import (
    JobTask,
    active_record,
    ensure_active,
    jobs,
    media_key,
    storage,
)

log = logging.getLogger("ethos.cpu")


def plan_fer_chunks(info: MediaInfo, chunk_s: float, fps: float) -> list[tuple[float, float]]:
    """Time ranges of a video for the FER fan-out; empty for audio-only media.

    Chunk borders fall on the 1/fps sampling grid, so no sample is shared or skipped.
    """
    if not info.has_video or not info.duration:
        return []
    chunk_s = max(round(chunk_s * fps), 1) / fps
    spans, start = [], 0.0
    while start < info.duration:
        end = min(start + chunk_s, info.duration)
        spans.append((round(start, 3), round(end, 3)))
        start = end
    return spans


@shared_task(name=TASK_PREPARE, base=JobTask, bind=True)
def prepare(self: JobTask, job_id: str) -> dict[str, object]:
    """Probe the upload, extract 16 kHz mono audio, then start the analysis parts."""
    t0 = time.perf_counter()
    store = jobs()
    rec = store.get(job_id)
    if rec is None or not store.start(job_id, "probing"):
        log.info("job %s is gone or finished; nothing to prepare", job_id)
        return {"skipped": True}
    s = runtime.settings()
    with runtime.scratch(job_id) as tmp:
        src = runtime.local_copy(rec.media_key, tmp, "input")
        info = media.probe(src, rec.media.filename)
        info.size = info.size or rec.media.size
        info.browser_playable, why = preview.playable(info)
        store.set_media(job_id, info)
        if info.duration and info.duration > s.limits.max_duration_s:
            raise TooLong(
                f"the recording lasts {info.duration:.0f} s, over the limit of "
                f"{s.limits.max_duration_s:.0f} s (ETHOS_LIMITS__MAX_DURATION_S)"
            )
        ensure_active(job_id)
        parts: list[str] = []
        header = []
        if info.has_audio:
            store.set_stage(job_id, "extracting_audio", 0.05)
            wav = tmp / "audio.wav"
            media.extract_audio(src, wav, rec.media.filename, info.format, s.limits.max_duration_s)
            storage().upload_file(media_key(job_id, "audio.wav"), wav, "audio/wav")
            parts.append("stt")
            header.append(signature(TASK_STT, args=(job_id,), immutable=True))
            if s.diarize.enabled:  # in parallel with transcription, on its own queue
                parts.append("diarize")
                header.append(signature(TASK_DIARIZE, args=(job_id,), immutable=True))
        if not info.browser_playable and s.preview.enabled:
            log.info("job %s needs a preview: %s", job_id, why)
            parts.append("preview")
            header.append(signature(TASK_PREVIEW, args=(job_id,), immutable=True))
        spans = plan_fer_chunks(info, s.fer.chunk_s, s.fer.fps)
        if spans:
            parts.append("fer")
            header += [
                signature(TASK_FER, args=(job_id, i, a, b), immutable=True)
                for i, (a, b) in enumerate(spans)
            ]
    ensure_active(job_id)
    store.set_plan(job_id, parts, len(spans))
    store.record_timing(job_id, "prepare", time.perf_counter() - t0)
    store.set_stage(job_id, "analyzing", 0.10)
    merge = signature(TASK_MERGE, args=(job_id,), immutable=True)
    if header:
        chord(header)(merge)
    else:
        merge.apply_async()
    return {"parts": parts, "fer_chunks": len(spans)}


@shared_task(name=TASK_PREVIEW, base=JobTask, bind=True)
def make_preview(self: JobTask, job_id: str) -> str | None:
    """Encode the browser-playable preview beside the original (a failure only loses it)."""
    t0 = time.perf_counter()
    store = jobs()
    rec = active_record(job_id)
    name, ctype = preview.preview_name(rec.media)
    cfg = runtime.settings().preview
    store.part_progress(job_id, "preview", 0.0, "preview")
    with runtime.scratch(job_id) as tmp:
        src = runtime.local_copy(rec.media_key, tmp, "input")
        out = tmp / name
        try:
            preview.encode(src, out, rec.media, cfg,
                           lambda f: store.part_progress(job_id, "preview", f, "preview"))
        except preview.PreviewFailed as e:
            log.warning("job %s: no preview: %s", job_id, e)
            store.set_preview(job_id, None, str(e))
            store.part_progress(job_id, "preview", 1.0, "preview")
            return None
        ensure_active(job_id)
        key = media_key(job_id, name)
        storage().upload_file(key, out, ctype)
    store.set_preview(job_id, key)
    store.record_timing(job_id, "preview", time.perf_counter() - t0)
    store.part_progress(job_id, "preview", 1.0, "preview")
    return key


@shared_task(name=TASK_MERGE, base=JobTask, bind=True)
def merge(self: JobTask, job_id: str) -> str | None:
    """Fuse speech and face outputs into the result object and finish the job."""
    t0 = time.perf_counter()
    store = jobs()
    rec = active_record(job_id)
    store.set_stage(job_id, "merging", 0.92)
    st = storage()
    stt = None
    if "stt" in rec.parts:
        stt = SttOutput.model_validate_json(st.get_bytes(media_key(job_id, "stt.json")))
    fer = [
        FerChunkOutput.model_validate_json(st.get_bytes(media_key(job_id, f"fer/{i:05d}.json")))
        for i in range(rec.fer_chunks)
    ]
    diarized = None
    if "diarize" in rec.parts:
        diarized = DiarizeOutput.model_validate_json(st.get_bytes(media_key(job_id, "diarize.json")))
    timings = store.timings(job_id)
    timings["merge"] = round(time.perf_counter() - t0, 4)
    result = build_result(rec, stt, fer, timings, diarized)
    result_key = media_key(job_id, "result.json")
    st.put_bytes(result_key, result.model_dump_json(exclude={"face_frames"}).encode())
    frames_key = None
    if result.has_video:
        frames_key = media_key(job_id, "face_frames.json")
        st.put_bytes(frames_key, frame_log(fer).model_dump_json().encode())
    if not store.succeed(job_id, result_key, frames_key):
        # Canceled or deleted while merging: leave nothing behind.
        if store.status(job_id) != JobStatus.succeeded:
            st.delete_prefix(media_key(job_id))
        return None
    runtime.notify_callback(job_id)
    return result_key
