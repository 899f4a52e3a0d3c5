"""The v1 job API (the README's API table)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Request, Response, WebSocket
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from gateway import service
from gateway.auth import Caller, caller, ws_caller, ws_key
from gateway.context import Context, ctx
from gateway.errors import ERROR_RESPONSES, ApiError
from gateway.events import stream_events
from gateway.ranges import RangeNotSatisfiable, parse_range
from gateway.sockets import SocketSlots
from shared import languages
from shared.exports import faces_to_csv, to_csv, to_srt, to_vtt
from shared.schemas import (
    EventLog,
    JobAccepted,
    JobList,
    JobView,
    Limits,
    Result,
    SpeakerNames,
    TagTable,
    job_links,
)
from shared.tags import table_rows

router = APIRouter(prefix="/v1", tags=["jobs"], responses=ERROR_RESPONSES)


@router.post("/jobs", status_code=202, response_model=JobAccepted)
async def create_job(request: Request, response: Response, c: Context = Depends(ctx),
                     who: Caller = Depends(caller)) -> JobAccepted:
    """Upload a recording (multipart field ``file``; optional ``language`` (omitted or ``auto``:
    detected), ``task`` (``transcribe`` or ``translate`` into English), ``num_speakers`` or
    ``min_speakers``/``max_speakers`` (1-8), ``callback_url``)."""
    rec = await service.accept_job(request, c, who, "file")
    links = job_links(rec.id)
    response.headers["Location"] = links.self
    return JobAccepted(id=rec.id, status=rec.status, links=links)


@router.get("/jobs", response_model=JobList)
def list_jobs(limit: int = 50, c: Context = Depends(ctx), who: Caller = Depends(caller)) -> JobList:
    """The caller's recent jobs, newest first."""
    limit = min(max(limit, 1), 200)
    return JobList(jobs=[JobView.of(r) for r in c.jobs.recent(limit, owner=who.key_id)])


@router.get("/jobs/{job_id}", response_model=JobView)
def get_job(job_id: str, c: Context = Depends(ctx), who: Caller = Depends(caller)) -> JobView:
    """A job's status, stage, progress, timestamps, media facts, error and callback deliveries."""
    rec = service.get_job(c, job_id, who)
    return JobView.of(rec).model_copy(update={"deliveries": c.jobs.deliveries(rec.id)})


_RESULT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The result (JSON); subtitles with ``format=srt|vtt``; CSV of the "
                       "segments (``csv``) or of the face timeline (``faces.csv``).",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Result"}},
            "application/x-subrip": {"schema": {"type": "string"}},
            "text/vtt": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    },
}


_EXPORTS = {
    "srt": (to_srt, "application/x-subrip; charset=utf-8", "srt"),
    "vtt": (to_vtt, "text/vtt; charset=utf-8", "vtt"),
    "csv": (to_csv, "text/csv; charset=utf-8", "csv"),
    "faces.csv": (faces_to_csv, "text/csv; charset=utf-8", "faces.csv"),
}


@router.get("/jobs/{job_id}/result", response_model=None, responses=_RESULT_RESPONSES)
def get_result(job_id: str, response: Response, format: str = "json", version: int | None = None,
               detail: str | None = None, c: Context = Depends(ctx),
               who: Caller = Depends(caller)) -> dict[str, Any] | Response:
    """The emotion-annotated transcript once the job succeeded (409 before): the latest
    version, or ``?version=N``; ``?format=srt|vtt|csv|faces.csv``; ``?detail=frames`` adds every
    sampled frame's face result (``face_frames``) to the JSON. ``ETag`` names the version."""
    if format != "json" and format not in _EXPORTS:
        raise ApiError(400, "invalid_request",
                       f"format must be json, srt, vtt, csv or faces.csv, not {format!r}")
    if detail not in (None, "frames"):
        raise ApiError(400, "invalid_request", f"detail must be frames, not {detail!r}")
    if detail and format != "json":
        raise ApiError(400, "invalid_request", "detail=frames goes with the JSON result only")
    rec = service.get_job(c, job_id, who)
    result, n = service.load_version(c, rec, version)
    tag = f'"v{n}"'
    if format == "json":
        response.headers["ETag"] = tag
        if detail == "frames":
            result["face_frames"] = service.load_face_frames(c, rec)
        return result
    render, ctype, ext = _EXPORTS[format]
    stem = result.get("filename", job_id).rsplit(".", 1)[0] or job_id
    return Response(render(result), media_type=ctype, headers={
        "Content-Disposition": _disposition(f"{stem}.{ext}", "attachment"), "ETag": f'"v{n}-{ext}"'})


@router.patch("/jobs/{job_id}/speakers", response_model=Result)
def rename_speakers(job_id: str, body: SpeakerNames, c: Context = Depends(ctx),
                    who: Caller = Depends(caller)) -> dict[str, Any]:
    """Name a finished job's speakers (``{"names": {"SPEAKER_00": "Alice"}}``); the result
    with the names, which exports then use."""
    return service.rename_speakers(c, service.get_job(c, job_id, who), body.names)


@router.get("/jobs/{job_id}/events", response_model=EventLog)
def list_events(job_id: str, after: str = "0", c: Context = Depends(ctx), who: Caller = Depends(caller)) -> EventLog:
    """The job's events after stream id ``after`` (``0``: from the first); see the websocket."""
    rec = service.get_job(c, job_id, who)
    rows = c.jobs.events(rec.id, after=after)
    return EventLog(events=[e for _, e in rows], last=rows[-1][0] if rows else None)  # type: ignore[misc]


@router.websocket("/jobs/{job_id}/events")
async def job_events(websocket: WebSocket, job_id: str) -> None:
    """Replay the job's events from the start, then stream new ones until the job ends."""
    c: Context = websocket.app.state.ctx
    who = await run_in_threadpool(ws_caller, websocket, c)
    if who is None:  # refused before the handshake completes: the client sees HTTP 403
        await websocket.close(code=4401, reason="an API key is needed (subprotocol ethos.key.<key>)")
        return
    await websocket.accept(subprotocol=ws_key(websocket)[1])
    slots: SocketSlots = websocket.app.state.sockets
    refused = slots.take(who.key_id)
    if refused:
        await websocket.send_json({"type": "error", "job_id": job_id, "code": "too_many_sockets",
                                   "message": refused})
        await websocket.close(code=4429)
        return
    try:
        await stream_events(websocket, c, job_id, who.key_id)
    finally:
        slots.give(who.key_id)


@router.delete("/jobs/{job_id}", response_model=JobView)
def delete_job(job_id: str, c: Context = Depends(ctx), who: Caller = Depends(caller)) -> JobView:
    """Cancel the job if unfinished and delete its media and result."""
    return JobView.of(service.delete_job(c, service.get_job(c, job_id, who)))


_MEDIA_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The media bytes.", "content": {"application/octet-stream": {}}},
    206: {"description": "The requested byte range.", "content": {"application/octet-stream": {}}},
    416: {"description": "The range lies outside the media.", "model": ERROR_RESPONSES[400]["model"]},
}


@router.get("/jobs/{job_id}/media", response_class=StreamingResponse, responses=_MEDIA_RESPONSES)
def get_media(job_id: str, rendition: str = "original", c: Context = Depends(ctx),
              who: Caller = Depends(caller),
              range_: str | None = Header(None, alias="range")) -> Response:
    """The original upload, or ``?rendition=preview``: the browser-playable copy made when the
    upload's codecs are not (404 when there is none); single HTTP byte ranges so players seek."""
    rec = service.get_job(c, job_id, who)
    if rec.deleted:
        raise ApiError(410, "gone", f"job {job_id} was deleted")
    if rendition not in ("original", "preview"):
        raise ApiError(400, "invalid_request", f"rendition must be original or preview, not {rendition!r}")
    key, name, ctype = rec.media_key, rec.media.filename, rec.content_type or "application/octet-stream"
    if rendition == "preview":
        if not rec.preview_key:
            why = (f"making it failed: {rec.preview_error}" if rec.preview_error
                   else "the original plays in browsers" if rec.media.browser_playable
                   else "previews are turned off (ETHOS_PREVIEW__ENABLED)" if not c.settings.preview.enabled
                   else "it is not made yet")
            raise ApiError(404, "no_preview", f"job {job_id} has no preview: {why}")
        ext = rec.preview_key.rsplit(".", 1)[-1]
        key = rec.preview_key
        name = f"{name.rsplit('.', 1)[0] or 'media'}.preview.{ext}"
        ctype = "video/mp4" if ext == "mp4" else "audio/mp4"
    # Inline only as the audio or video type the bytes were recognised as, once the probe found
    # a stream in them; anything else is a download, and never a page of this origin.
    playable = ctype.startswith(("audio/", "video/")) and (rec.media.has_audio or rec.media.has_video)
    if not playable:
        ctype = "application/octet-stream"
    size = c.storage.size(key)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": _disposition(name, "inline" if playable else "attachment"),
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    start, end, status = 0, size - 1, 200
    if range_:
        try:
            start, end = parse_range(range_, size)
        except RangeNotSatisfiable:
            return _unsatisfiable(size)
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        c.storage.iter_range(key, start, end), status_code=status, headers=headers, media_type=ctype
    )


def _unsatisfiable(size: int) -> Response:
    return JSONResponse(
        {"error": {"code": "range_not_satisfiable", "message": f"the media has {size} bytes"}},
        status_code=416,
        headers={"Content-Range": f"bytes */{size}"},
    )


def _disposition(name: str, kind: str = "inline") -> str:
    from urllib.parse import quote

    ascii_name = name.encode("ascii", "replace").decode().replace('"', "'")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


@router.get("/tags", response_model=TagTable, dependencies=[Depends(caller)])
def tags() -> TagTable:
    """The tag → emotion, valence, arousal table (the one the API uses) and the emotion colours."""
    return table_rows()


@router.get("/limits", response_model=Limits, dependencies=[Depends(caller)])
def limits(c: Context = Depends(ctx)) -> Limits:
    """Upload limits, so clients can check a file before sending it."""
    return Limits(max_upload_bytes=c.settings.limits.max_upload_bytes,
                  max_duration_s=c.settings.limits.max_duration_s,
                  engines=languages.engines(c.jobs.live_workers()))
