"""Gateway logic kept out of the routes: accept an upload as a job, read results, delete."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from gateway.context import Context
from gateway.errors import ApiError
from gateway.metrics import count_upload
from gateway.sniff import media_type, safe_extension
from gateway.upload import receive_upload
from shared import languages
from shared.celery_app import TASK_PREPARE
from shared.jobs import new_job_id, object_key, utcnow
from shared.logs import job_id_var
from shared.schemas import JobRecord, JobStatus, MediaInfo
from shared.webhooks import CallbackRefused, check_callback_url

log = logging.getLogger("ethos.gateway")



def job_language(c: Context, raw: str) -> str:
    """The job's language, normalised and checked against the live STT workers (400 if not)."""
    try:
        return languages.resolve(raw, languages.from_heartbeats(c.jobs.live_workers()))
    except languages.LanguageRejected as e:
        raise ApiError(400, e.code, e.message) from e


def parse_num_speakers(raw: str) -> int:
    """The expected number of speakers, 1-32 (400 otherwise)."""
    if not raw.strip().isdigit() or not 1 <= int(raw) <= 32:
        raise ApiError(400, "invalid_request", f"num_speakers must be a whole number from 1 to 32, not {raw!r}")
    return int(raw)


async def accept_job(request: Request, c: Context, file_field: str | tuple[str, ...],
                     num_speakers: int | None = None) -> JobRecord:
    """Stream the upload into storage, record the job and enqueue its workflow.

    ``num_speakers`` (from the original /transcribe-diarize query) is kept on the job for the
    diarization step."""
    await run_in_threadpool(c.jobs.ping)  # fail fast (503) before taking the body
    job_id = new_job_id()
    job_id_var.set(job_id)  # this request's log lines carry the new job's id
    up = await receive_upload(
        request,
        file_field=file_field,
        storage=c.storage,
        key_for=lambda name: object_key(job_id, f"input{safe_extension(name)}"),
        max_bytes=c.settings.limits.max_upload_bytes,
        chunk_bytes=c.settings.gateway.upload_chunk_bytes,
    )
    try:
        language = await run_in_threadpool(job_language, c, up.fields.get("language") or "en")
        if num_speakers is None and up.fields.get("num_speakers"):
            num_speakers = parse_num_speakers(up.fields["num_speakers"])
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
            num_speakers=num_speakers,
            callback_url=callback,
            media_key=up.key,
            content_type=media_type(up.filename, up.sniffed),
        )
        await run_in_threadpool(c.jobs.create, rec)
        count_upload(request, up.size)
        await run_in_threadpool(
            c.celery.send_task, TASK_PREPARE, args=[job_id], queue="cpu",
            retry=True, retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
        )
    except BaseException:
        await run_in_threadpool(_forget, c, job_id)
        raise
    return rec


def _forget(c: Context, job_id: str) -> None:
    """Undo a half-accepted job (best effort: the store may be what failed)."""
    for fn in (lambda: c.storage.delete_prefix(object_key(job_id)), lambda: c.jobs.purge(job_id)):
        try:
            fn()
        except Exception:  # noqa: BLE001
            log.warning("cleanup of job %s incomplete", job_id, exc_info=True)


def get_job(c: Context, job_id: str) -> JobRecord:
    rec = c.jobs.get(job_id) if job_id.startswith("job_") else None
    if rec is None:
        raise ApiError(404, "not_found", f"no job {job_id!r}")
    return rec


def load_result(c: Context, rec: JobRecord) -> dict[str, Any]:
    """The stored result; 409 while the job has none."""
    if rec.deleted:
        raise ApiError(410, "gone", f"job {rec.id} was deleted")
    if rec.status != JobStatus.succeeded:
        msg = f"job {rec.id} is {rec.status.value}"
        if rec.error:
            msg += f": {rec.error.message}"
        raise ApiError(409, "not_ready", msg)
    if not rec.result_key:
        raise ApiError(410, "gone", f"the result of job {rec.id} is no longer stored")
    return json.loads(c.storage.get_bytes(rec.result_key))  # type: ignore[no-any-return]


def delete_job(c: Context, rec: JobRecord) -> JobRecord:
    """Cancel if unfinished, then delete the media and result; the record stays as a tombstone."""
    c.jobs.cancel(rec.id)
    c.storage.delete_prefix(object_key(rec.id))
    c.jobs.mark_deleted(rec.id)
    out = c.jobs.get(rec.id)
    assert out is not None
    return out
