"""Tasks on the ``cpu`` queue: prepare a job (probe, extract audio, fan out) and merge."""

from __future__ import annotations

import logging
import time

from celery import Signature, chord, shared_task, signature

from shared import objects, steps
from shared.celery_app import TASK_MERGE, TASK_PREPARE
from shared.errors import TooLong, UnsupportedMedia
from shared.schemas import JobStatus
from workers import runtime
from workers.cpu import media, preview
from workers.cpu.merge import compose, read_outputs
from workers.runtime import JobTask, active_record, ensure_active, jobs, storage

log = logging.getLogger("ethos.cpu")


def step_tasks(job_id: str, step: steps.Step, args: list[tuple[object, ...]] | None) -> list[Signature]:
    """The step's tasks for a job: one with the job id, or one per fan-out item."""
    if args is None:
        return [signature(step.task, args=(job_id,), immutable=True)]
    return [signature(step.task, args=(job_id, i, *a), immutable=True) for i, a in enumerate(args)]


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
        if info.has_audio:
            store.set_stage(job_id, "extracting_audio", 0.05)
            wav = tmp / "extracted.wav"
            # Two channels: their levels too, for speakers by channel (workers/diarize/channels.py).
            by_channel = info.audio_channels == 2 and s.diarize.enabled and s.diarize.by_channel
            stereo = tmp / "stereo.wav" if by_channel else None
            try:
                media.extract_audio(src, wav, rec.media.filename, info.format, s.limits.max_duration_s, stereo)
            except UnsupportedMedia:
                if stereo is None:
                    raise
                log.warning("job %s: the two channels apart did not decode; mixed only", job_id)
                stereo = None
                media.extract_audio(src, wav, rec.media.filename, info.format, s.limits.max_duration_s)
            storage().upload_file(objects.audio_wav(job_id), wav, "audio/wav")
            if stereo is not None:
                try:  # optional: without it the voices alone say who speaks
                    storage().put_bytes(objects.channel_levels(job_id), media.levels_npy(stereo),
                                        "application/octet-stream")
                except Exception:  # noqa: BLE001 - never lose the job for it
                    log.warning("job %s: no channel levels", job_id, exc_info=True)
        if not info.browser_playable:
            log.info("job %s: the upload does not play in a browser: %s", job_id, why)
        parts: list[str] = []
        chunks: dict[str, int] = {}
        header: list[Signature] = []
        for step in steps.STEPS:  # the step table decides what runs (shared.steps)
            if not step.when(info, s):
                continue
            args = list(steps.hook(step.fan_out)(info, s)) if step.fan_out else None
            if args is not None:
                if not args:
                    continue
                chunks[step.name] = len(args)
            parts.append(step.name)
            header += step_tasks(job_id, step, args)
    ensure_active(job_id)
    store.set_plan(job_id, parts, chunks)
    store.record_timing(job_id, "prepare", time.perf_counter() - t0)
    store.set_stage(job_id, "analyzing", 0.10)
    merge = signature(TASK_MERGE, args=(job_id,), immutable=True)
    if header:
        chord(header)(merge)
    else:
        merge.apply_async()
    return {"parts": parts, "chunks": chunks}


@shared_task(name=steps.PREVIEW.task, base=JobTask, bind=True)
def make_preview(self: JobTask, job_id: str) -> str | None:
    """Encode the browser-playable preview beside the original (a failure only loses it)."""
    t0 = time.perf_counter()
    store = jobs()
    rec = active_record(job_id)
    key, ctype = objects.preview(job_id, bool(rec.media.has_video))
    cfg = runtime.settings().preview
    store.part_progress(job_id, "preview", 0.0, "preview")
    with runtime.scratch(job_id) as tmp:
        src = runtime.local_copy(rec.media_key, tmp, "input")
        out = tmp / objects.basename(key)
        try:
            preview.encode(src, out, rec.media, cfg,
                           lambda f: store.part_progress(job_id, "preview", f, "preview"))
        except preview.PreviewFailed as e:
            log.warning("job %s: no preview: %s", job_id, e)
            store.set_preview(job_id, None, str(e))
            store.part_progress(job_id, "preview", 1.0, "preview")
            return None
        ensure_active(job_id)
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
    outputs = read_outputs(st, rec)
    timings = store.timings(job_id)
    timings["merge"] = round(time.perf_counter() - t0, 4)
    draft = compose(rec, outputs, timings)
    result = draft.result
    result_key = objects.result(job_id)
    st.put_bytes(result_key, result.model_dump_json(exclude={"face_frames"}).encode())
    frames_key = None
    if draft.frames is not None:
        frames_key = objects.face_frames(job_id)
        st.put_bytes(frames_key, draft.frames.model_dump_json().encode())
    if not store.succeed(job_id, result_key, frames_key):
        # Canceled or deleted while merging: leave nothing behind.
        if store.status(job_id) != JobStatus.succeeded:
            st.delete_prefix(objects.job_prefix(job_id))
        return None
    runtime.notify_callback(job_id)
    return result_key
