"""Gateway logic kept out of the routes: accept an upload as a job, read results, delete."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from gateway.auth import Caller, release_job_slot, reserve_job_slot, reserve_storage
from gateway.context import Context
from gateway.errors import ApiError
from gateway.metrics import count_upload
from gateway.upload import Upload, receive_upload
from shared import languages, objects
from shared.celery_app import TASK_PREPARE
from shared.jobs import new_job_id, utcnow
from shared.logs import JOB_ID, job_id_var
from shared.schemas import MAX_SPEAKERS, JobRecord, JobStatus, MediaInfo
from shared.webhooks import CallbackRefused, check_callback_url

log = logging.getLogger("ethos.gateway")



def job_language(c: Context, raw: str | None, task: str | None = None) -> tuple[str, str]:
    """The job's language (``auto`` when omitted where the engines detect) and task, normalised
    and checked against the live STT workers (400 if not)."""
    try:
        supported = languages.from_heartbeats(c.jobs.live_workers())
        fallback = c.settings.gateway.default_language
        if languages.normalise(fallback) == languages.AUTO:
            fallback = languages.default_language(supported)
        language = languages.resolve(raw or fallback, supported)
        return language, languages.resolve_task(task, supported)
    except languages.LanguageRejected as e:
        raise ApiError(400, e.code, e.message) from e


def parse_speaker_count(raw: str, name: str = "num_speakers") -> int:
    """A speaker count from 1 to MAX_SPEAKERS (400 ``invalid_speakers`` otherwise)."""
    if not raw.strip().isdigit() or not 1 <= int(raw) <= MAX_SPEAKERS:
        raise ApiError(400, "invalid_speakers",
                       f"{name} must be a whole number from 1 to {MAX_SPEAKERS}, not {raw!r}")
    return int(raw)


def speaker_options(fields: dict[str, str], num_speakers: int | None = None
                    ) -> tuple[int | None, int | None, int | None]:
    """``num_speakers`` (exact) or ``min_speakers``/``max_speakers`` (bounds) from a form,
    checked against each other (400 ``invalid_speakers``)."""
    got = {k: parse_speaker_count(fields[k], k) for k in ("num_speakers", "min_speakers", "max_speakers")
           if (fields.get(k) or "").strip()}
    num = num_speakers if num_speakers is not None else got.get("num_speakers")
    lo, hi = got.get("min_speakers"), got.get("max_speakers")
    if lo is not None and hi is not None and lo > hi:
        raise ApiError(400, "invalid_speakers", f"min_speakers ({lo}) is above max_speakers ({hi})")
    if num is not None and ((lo is not None and num < lo) or (hi is not None and num > hi)):
        raise ApiError(400, "invalid_speakers",
                       f"num_speakers ({num}) lies outside min_speakers..max_speakers")
    return num, lo, hi


async def accept_job(request: Request, c: Context, who: Caller, file_field: str | tuple[str, ...],
                     num_speakers: int | None = None,
                     on_form: Callable[[Upload], None] | None = None) -> JobRecord:
    """Stream the upload into storage, record the job (owned by the caller's key) and enqueue
    its workflow.

    ``num_speakers`` (from the original /transcribe-diarize query) or the form's
    ``num_speakers``/``min_speakers``/``max_speakers`` are kept on the job for diarization.
    A slot among the caller's unfinished jobs is reserved before the body is read and renewed
    before the job is recorded (429 when the key has none free; refused or failed uploads give
    it back); the upload's bytes count against the key's storage quota before they are
    written (413 past it; a refused upload gives them back). ``on_form`` sees the received form before the job exists:
    it may refuse it (ApiError; the stored upload is removed) or set fields."""
    await run_in_threadpool(c.jobs.ping)  # fail fast (503) before taking the body
    job_id = new_job_id()
    job_id_var.set(job_id)  # this request's log lines carry the new job's id
    await run_in_threadpool(reserve_job_slot, c, who, job_id)
    try:
        up = await receive_upload(
            request,
            file_field=file_field,
            storage=c.storage,
            # Not the uploader's extension: nothing downstream (ffmpeg least of all) may take the
            # uploaded name as a hint of what the bytes are.
            key_for=lambda name: objects.upload(job_id, ""),
            max_bytes=c.settings.limits.max_upload_bytes,
            chunk_bytes=c.settings.gateway.upload_chunk_bytes,
            reserve=lambda total: reserve_storage(c, who, job_id, total),
        )
    except BaseException:
        await run_in_threadpool(_forget, c, job_id, who, False)
        raise
    try:
        if on_form is not None:
            on_form(up)
        await run_in_threadpool(reserve_job_slot, c, who, job_id)  # renewed (it may have lapsed)
        language, task = await run_in_threadpool(job_language, c, up.fields.get("language"),
                                                 up.fields.get("task"))
        num, lo, hi = speaker_options(up.fields, num_speakers)
        callback = up.fields.get("callback_url") or None
        if callback:
            try:
                await run_in_threadpool(check_callback_url, callback, c.settings.webhooks.allow)
            except CallbackRefused as e:
                raise ApiError(400, "invalid_callback_url", str(e)) from e
        rec = JobRecord(
            id=job_id,
            status=JobStatus.queued,
            stage="queued",
            created_at=utcnow(),
            media=MediaInfo(filename=up.filename, size=up.size),
            language=language,
            task=task,
            num_speakers=num,
            min_speakers=lo,
            max_speakers=hi,
            callback_url=callback,
            media_key=up.key,
            # What the bytes are, never what the name says (an uploaded page is not served as one).
            content_type=up.sniffed or "application/octet-stream",
            owner=who.key_id,
        )
        await run_in_threadpool(c.jobs.create, rec)
        count_upload(request, up.size)
        await run_in_threadpool(
            c.celery.send_task, TASK_PREPARE, args=[job_id], queue="cpu",
            retry=True, retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
        )
    except BaseException:
        await run_in_threadpool(_forget, c, job_id, who)
        raise
    return rec


def _forget(c: Context, job_id: str, who: Caller, stored: bool = True) -> None:
    """Undo a half-accepted job: its stored upload and record (when ``stored``), its slot
    reservation and its bytes' count (best effort: the store may be what failed; a reservation
    left lapses, a count left is released by the upkeep sweep)."""
    undo = [lambda: c.storage.delete_prefix(objects.job_prefix(job_id)), lambda: c.jobs.purge(job_id)]
    for fn in [*(undo if stored else []), lambda: release_job_slot(c, who, job_id),
               lambda: c.jobs.release_bytes(job_id)]:
        try:
            fn()
        except Exception:  # noqa: BLE001
            log.warning("cleanup of job %s incomplete", job_id, exc_info=True)


def is_job_id(job_id: str) -> bool:
    """Whether ``job_id`` has the shape of a job id (nothing else reaches a Redis key)."""
    return JOB_ID.fullmatch(job_id) is not None


def get_job(c: Context, job_id: str, who: Caller) -> JobRecord:
    """The job's record; 404 when there is none or another key owns it (the two look alike)."""
    rec = c.jobs.get(job_id) if is_job_id(job_id) else None
    if rec is None or not who.owns(rec):
        raise ApiError(404, "not_found", f"no job {job_id!r}")
    return rec


def check_result(rec: JobRecord) -> None:
    """410 for a deleted job, 409 while the job has no result."""
    if rec.deleted:
        raise ApiError(410, "gone", f"job {rec.id} was deleted")
    if rec.status != JobStatus.succeeded:
        msg = f"job {rec.id} is {rec.status.value}"
        if rec.error:
            msg += f": {rec.error.message}"
        raise ApiError(409, "not_ready", msg)
    if not rec.result_key:
        raise ApiError(410, "gone", f"the result of job {rec.id} is no longer stored")


def load_result(c: Context, rec: JobRecord, version: int | None = None) -> dict[str, Any]:
    """The stored result: the latest version, or ``version`` (404 when there is none);
    409 while the job has none."""
    return load_version(c, rec, version)[0]


def load_version(c: Context, rec: JobRecord, version: int | None = None) -> tuple[dict[str, Any], int]:
    """The result at ``version`` (None: the latest) and its version number."""
    check_result(rec)
    latest = c.jobs.result_version(rec.id)
    n = latest if version is None else version
    info = c.jobs.version_info(rec.id, n) if 1 <= n <= latest else None
    if info is None:
        raise ApiError(404, "no_such_version",
                       f"job {rec.id} has result versions 1 to {latest}, not {version}")
    result = json.loads(c.storage.get_bytes(info["key"]))
    result.setdefault("version", n)
    for spk in result.get("speakers", []):  # names given after the job (rename_speakers)
        spk["name"] = rec.speaker_names.get(spk["id"], spk.get("name"))
    return result, n


def load_face_frames(c: Context, rec: JobRecord) -> list[dict[str, Any]] | None:
    """A video job's per-frame face results (``?detail=frames``); None for audio."""
    if not rec.frames_key:
        return None
    return json.loads(c.storage.get_bytes(rec.frames_key))["frames"]  # type: ignore[no-any-return]


MAX_NAME_CHARS = 80


def rename_speakers(c: Context, rec: JobRecord, names: dict[str, str]) -> dict[str, Any]:
    """Store names for a finished job's speakers (merged with earlier ones); the result with
    them. 409 unless succeeded; 400 for an unknown speaker id or an empty or long name."""
    result = load_result(c, rec)
    known = [s["id"] for s in result.get("speakers", [])]
    if not names:
        raise ApiError(400, "invalid_speakers", "names must name at least one speaker")
    for spk, name in names.items():
        if spk not in known:
            raise ApiError(400, "unknown_speaker",
                           f"job {rec.id} has no speaker {spk!r} (its speakers: {', '.join(known) or 'none'})")
        if not name.strip() or len(name.strip()) > MAX_NAME_CHARS:
            raise ApiError(400, "invalid_speaker_name",
                           f"the name of {spk} must be 1 to {MAX_NAME_CHARS} characters, not {name!r}")
    merged = {**rec.speaker_names, **{k: " ".join(v.split()) for k, v in names.items()}}
    c.jobs.set_speaker_names(rec.id, merged)
    for spk in result.get("speakers", []):
        spk["name"] = merged.get(spk["id"], spk.get("name"))
    return result


def delete_job(c: Context, rec: JobRecord) -> JobRecord:
    """Cancel if unfinished, then delete every stored object of the job (media, audio, partial
    results, result); the record stays as a tombstone until retention removes it."""
    c.jobs.cancel(rec.id)
    c.storage.delete_prefix(objects.job_prefix(rec.id))
    c.jobs.mark_deleted(rec.id)
    out = c.jobs.get(rec.id)
    assert out is not None
    return out
