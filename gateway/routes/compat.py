"""The original Ethos Studio endpoints, with their original shapes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from gateway import service
from gateway.context import Context, ctx
from gateway.errors import ERROR_RESPONSES, ApiError
from shared.schemas import CompatAccepted, CompatJob, JobStatus

router = APIRouter(tags=["compat"], responses=ERROR_RESPONSES)


@router.post("/api/transcribe-diarize", status_code=202, response_model=CompatAccepted)
async def transcribe_diarize(request: Request, c: Context = Depends(ctx)) -> CompatAccepted:
    """Original upload endpoint (multipart field ``audio``) → ``{"job_id"}``."""
    rec = await service.accept_job(request, c, "audio")
    return CompatAccepted(job_id=rec.id)


@router.get("/api/job/{job_id}", response_model=CompatJob, response_model_exclude_none=True)
def job(job_id: str, c: Context = Depends(ctx)) -> dict[str, Any]:
    """Original polling endpoint: pending, done with data, or error."""
    rec = service.get_job(c, job_id)
    if rec.status == JobStatus.succeeded and not rec.deleted:
        try:
            return {"status": "done", "data": service.load_result(c, rec)}
        except ApiError as e:
            return {"status": "error", "error": e.message}
    if rec.status in (JobStatus.failed, JobStatus.canceled) or rec.deleted:
        msg = rec.error.message if rec.error else f"job {rec.status.value}"
        return {"status": "error", "error": msg}
    return {"status": "pending"}
