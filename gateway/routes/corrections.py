"""Corrections of a result (README, "Studio", "Corrections and versions")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Response

from gateway import service, versions
from gateway.auth import Caller, caller
from gateway.context import Context, ctx
from gateway.errors import ERROR_RESPONSES
from shared.schemas import ErrorBody, Result, ResultCorrection, ResultVersions

router = APIRouter(prefix="/v1", tags=["corrections"], responses={
    **ERROR_RESPONSES,
    412: {"model": ErrorBody, "description": "The result changed since the ETag was read"},
    422: {"model": ErrorBody, "description": "Inconsistent segments (times, order, words)"},
    428: {"model": ErrorBody, "description": "If-Match is missing"},
})


@router.put("/jobs/{job_id}/result", response_model=Result)
def put_result(job_id: str, body: ResultCorrection, response: Response,
               if_match: str | None = Header(None, alias="if-match"),
               c: Context = Depends(ctx), who: Caller = Depends(caller)) -> dict[str, Any]:
    """Save corrected segments as a new version of the result (``If-Match``: the ETag read).

    Tags, emotions and face labels are recomputed from the text and times; 412 when the
    result changed since, 428 without ``If-Match``."""
    result, version = versions.save(c, service.get_job(c, job_id, who), if_match, body)
    response.headers["ETag"] = versions.etag(version)
    response.headers["Location"] = f"/v1/jobs/{job_id}/result?version={version}"
    return result


@router.get("/jobs/{job_id}/versions", response_model=ResultVersions)
def list_versions(job_id: str, c: Context = Depends(ctx), who: Caller = Depends(caller)) -> ResultVersions:
    """The saved versions of the result: 1 is the machine output, each correction adds one."""
    return versions.versions(c, service.get_job(c, job_id, who))
