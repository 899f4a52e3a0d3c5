"""The original Ethos Studio endpoints, with their original shapes.

The proxy's async face (``/api/transcribe-diarize`` + ``/api/job/{id}``) and the model layer's
synchronous and streaming endpoints (``/transcribe-diarize``, ``/transcribe``,
``/transcribe/stream``), all thin adapters over the job pipeline. Errors here take the
original shape ``{"detail": "..."}``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from gateway import service
from gateway.auth import Caller, caller
from gateway.context import Context, ctx
from gateway.errors import ERROR_RESPONSES, ApiError
from gateway.waiting import WaitTimedOut, follow
from shared.schemas import (
    MAX_SPEAKERS,
    CompatAccepted,
    CompatJob,
    CompatTranscript,
    JobRecord,
    JobStatus,
    Result,
)

router = APIRouter(tags=["compat"], responses=ERROR_RESPONSES, dependencies=[Depends(caller)])

_DETAIL = {"content": {"application/json": {"schema": {
    "type": "object", "properties": {"detail": {"type": "string"}, "job_id": {"type": "string"}}}}}}
_SYNC_RESPONSES: dict[int | str, dict[str, Any]] = {
    s: {"description": d, **_DETAIL} for s, d in [
        (400, "Bad request"), (413, "Too large"), (415, "Not media"), (500, "The job failed"),
        (503, "Redis or storage unavailable"), (504, "Still running: poll /v1/jobs/{job_id}")]
}


@router.post("/api/transcribe-diarize", status_code=202, response_model=CompatAccepted)
async def transcribe_diarize(request: Request, c: Context = Depends(ctx),
                             who: Caller = Depends(caller)) -> CompatAccepted:
    """Original upload endpoint (multipart field ``audio``) → ``{"job_id"}``."""
    rec = await service.accept_job(request, c, who, "audio")
    return CompatAccepted(job_id=rec.id)


@router.get("/api/job/{job_id}", response_model=CompatJob, response_model_exclude_none=True)
def job(job_id: str, c: Context = Depends(ctx), who: Caller = Depends(caller)) -> dict[str, Any]:
    """Original polling endpoint: pending, done with data, or error."""
    rec = service.get_job(c, job_id, who)
    if rec.status == JobStatus.succeeded and not rec.deleted:
        try:
            return {"status": "done", "data": service.load_result(c, rec)}
        except ApiError as e:
            return {"status": "error", "error": e.message}
    if rec.status in (JobStatus.failed, JobStatus.canceled) or rec.deleted:
        msg = rec.error.message if rec.error else f"job {rec.status.value}"
        return {"status": "error", "error": msg}
    return {"status": "pending"}


def _detail(status: int, detail: str, job_id: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if job_id:
        body["job_id"] = job_id
    return JSONResponse(body, status_code=status)


async def _finished_result(c: Context, rec: JobRecord) -> dict[str, Any] | JSONResponse:
    """Wait for the job, then its result; a ``{"detail"}`` response when there is none."""
    wait_s = c.settings.gateway.sync_wait_s
    try:
        async for _ in follow(c, rec.id, wait_s):
            pass
    except WaitTimedOut:
        return _detail(504, f"job {rec.id} is still running after {wait_s:g} s; "
                            f"poll /v1/jobs/{rec.id}", rec.id)
    return _result_or_detail(c, rec.id)


def _result_or_detail(c: Context, job_id: str) -> dict[str, Any] | JSONResponse:
    done = c.jobs.get(job_id)  # the caller's own job, just accepted
    if done is None:
        return _detail(410, f"job {job_id} is no longer stored", job_id)
    if done.status != JobStatus.succeeded:
        msg = done.error.message if done.error else f"job {done.status.value}"
        return _detail(500 if done.status == JobStatus.failed else 409, msg, job_id)
    return service.load_result(c, done)


def _transcript(result: dict[str, Any]) -> CompatTranscript:
    stt = result.get("models", {}).get("stt", {})
    words = []
    for seg in result.get("segments", []):
        if seg.get("words"):  # the engine timed its words
            words += [{"word": w["word"].strip(), "start": w["start"], "end": w["end"],
                       "speaker": seg.get("speaker")} for w in seg["words"] if w["word"].strip()]
        else:  # segment times only: each word carries its segment's span
            words += [{"word": w, "start": seg["start"], "end": seg["end"], "speaker": seg.get("speaker")}
                      for w in str(seg.get("text", "")).split()]
    return CompatTranscript(transcription=result["text"], text=result["text"],
                            language=result["language"], model=stt.get("model_id", ""), words=words)


@router.post("/transcribe-diarize", response_model=Result, response_model_exclude_none=True,
             responses=_SYNC_RESPONSES)
async def transcribe_diarize_sync(
    request: Request,
    num_speakers: str | None = Query(None, description=f"Expected number of speakers (1-{MAX_SPEAKERS})"),
    c: Context = Depends(ctx),
    who: Caller = Depends(caller),
) -> Any:
    """Original model-layer endpoint (field ``audio``): waits, then the result JSON (200)."""
    try:
        speakers = service.parse_speaker_count(num_speakers) if num_speakers else None
        rec = await service.accept_job(request, c, who, "audio", num_speakers=speakers)
        return await _finished_result(c, rec)
    except ApiError as e:
        return _detail(e.status, e.message)


@router.post("/transcribe", response_model=CompatTranscript, responses=_SYNC_RESPONSES)
async def transcribe(request: Request, c: Context = Depends(ctx), who: Caller = Depends(caller)) -> Any:
    """Original transcription endpoint (field ``file`` or ``audio``; form ``language``)."""
    try:
        rec = await service.accept_job(request, c, who, ("file", "audio"))
        result = await _finished_result(c, rec)
    except ApiError as e:
        return _detail(e.status, e.message)
    return result if isinstance(result, JSONResponse) else _transcript(result)


def _sse(obj: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode()


@router.post("/transcribe/stream", response_class=StreamingResponse, responses={
    200: {"description": "Server-sent events: ``{token}`` per segment, then ``{done: true, …}``",
          "content": {"text/event-stream": {"schema": {"type": "string"}}}}, **_SYNC_RESPONSES})
async def transcribe_stream(request: Request, c: Context = Depends(ctx),
                            who: Caller = Depends(caller)) -> Any:
    """Original streaming endpoint: ``data: {"token"}`` events, then ``data: {"done": true}``."""
    try:
        rec = await service.accept_job(request, c, who, ("file", "audio"))
    except ApiError as e:
        return _detail(e.status, e.message)

    async def events() -> AsyncIterator[bytes]:
        wait_s = c.settings.gateway.sync_wait_s
        try:
            async for ev in follow(c, rec.id, wait_s):
                if ev.get("type") == "segment" and str(ev.get("text", "")).strip():
                    yield _sse({"token": str(ev["text"]).strip() + " "})
        except WaitTimedOut:
            yield _sse({"error": f"job {rec.id} is still running after {wait_s:g} s",
                        "job_id": rec.id})
            return
        out = _result_or_detail(c, rec.id)
        if isinstance(out, JSONResponse):
            yield _sse({"error": json.loads(bytes(out.body))["detail"], "job_id": rec.id})
            return
        t = _transcript(out)
        yield _sse({"done": True, "transcription": t.transcription, "language": t.language,
                    "model": t.model, "job_id": rec.id})

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
