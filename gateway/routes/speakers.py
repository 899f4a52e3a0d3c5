"""Counting a finished job's speakers again (README, "Diarization", "Counting again").

``POST /v1/jobs/{id}/speakers/recount`` with ``{"num_speakers": 2}`` (or
``min_speakers``/``max_speakers``, or nothing: the automatic count) sends the diarize queue's
``ethos.diarize.recount`` task, which clusters the embedding windows the job kept and saves the
rebuilt result as the next version; the request waits for it (seconds) and answers with the
new result and its ETag, as a correction does. ``If-Match`` (optional): the ETag of the version
the user saw; 412 when the result changed since.
"""

from __future__ import annotations

from typing import Any

from celery.exceptions import TimeoutError as CeleryTimeout
from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from gateway import service, versions
from gateway.auth import Caller, caller
from gateway.context import Context, ctx
from gateway.errors import ERROR_RESPONSES, ApiError
from shared.celery_app import TASK_RECOUNT
from shared.schemas import ErrorBody, JobRecord, Result

WAIT_S = 120.0  # the longest a request waits for the diarize worker's answer

router = APIRouter(prefix="/v1", tags=["speakers"], responses={
    **ERROR_RESPONSES,
    412: {"model": ErrorBody, "description": "The result changed since the ETag was read"},
})


class SpeakerRecount(BaseModel):
    """The count to use: exact, bounds, or neither (the automatic count)."""

    model_config = ConfigDict(extra="forbid")
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None


def _wait(c: Context, rec: JobRecord, expected: int | None, count: tuple[int | None, ...]) -> dict[str, Any]:
    task = c.celery.send_task(TASK_RECOUNT, args=[rec.id, expected, *count], queue="diarize")
    try:
        return dict(task.get(timeout=WAIT_S, propagate=True, disable_sync_subtasks=False))
    except CeleryTimeout as e:
        task.revoke()
        raise ApiError(503, "unavailable", f"no diarize worker answered within {WAIT_S:.0f} s") from e
    except Exception as e:  # noqa: BLE001 - the task failed on the worker
        raise ApiError(500, "recount_failed", f"counting the speakers again failed: {e}") from e
    finally:
        task.forget()


@router.post("/jobs/{job_id}/speakers/recount", response_model=Result)
async def recount_speakers(job_id: str, body: SpeakerRecount, response: Response,
                           if_match: str | None = Header(None, alias="if-match"),
                           c: Context = Depends(ctx), who: Caller = Depends(caller)) -> dict[str, Any]:
    """Count the speakers of a finished job again with the given count or bounds and save
    the result as a new version (text corrections are not carried over)."""
    rec = await run_in_threadpool(service.get_job, c, job_id, who)
    service.check_result(rec)
    if "diarize" not in rec.parts:
        raise ApiError(409, "not_diarized", f"job {rec.id} ran without diarization: it has no voices to count")
    fields = {k: str(v) for k, v in body.model_dump().items() if v is not None}
    count = service.speaker_options(fields)
    expected = versions.parse_if_match(if_match) if if_match else None
    answer = await run_in_threadpool(_wait, c, rec, expected, count)
    if answer.get("error") == "stale":
        raise versions.stale(rec, int(answer.get("latest") or 0))
    if answer.get("error"):
        raise ApiError(409, str(answer["error"]), str(answer.get("message")))
    result, version = await run_in_threadpool(service.load_version, c, rec, int(answer["version"]))
    response.headers["ETag"] = versions.etag(version)
    response.headers["Location"] = f"/v1/jobs/{job_id}/result?version={version}"
    return result
