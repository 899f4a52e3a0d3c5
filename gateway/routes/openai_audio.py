"""The OpenAI-compatible speech-to-text API: ``POST /v1/audio/transcriptions``,
``POST /v1/audio/translations``, ``GET /v1/models`` and ``GET /v1/models/{id}``.

Each request becomes an ordinary job (listed, in the Studio, retained, deletable) that the
route waits on within ``ETHOS_GATEWAY__SYNC_WAIT_S``; a client that goes away leaves the job
running. Keys are the API's own (``Authorization: Bearer``), with the same per-key limits.
Errors on these routes, and only these, take OpenAI's shape
``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import redis
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway import openai_format as fmt
from gateway import service
from gateway.auth import Caller, caller
from gateway.context import Context, ctx
from gateway.errors import ApiError
from gateway.openai_docs import ERRORS, JSON_ANSWER, form_body, ok_response
from gateway.openai_request import (
    TRANSLATE,
    AudioRequest,
    OpenAIError,
    about,
    error_body,
    job_refusal,
    model_cards,
    param_of,
    parse,
    serves_translation,
)
from gateway.upload import Upload
from gateway.waiting import WaitTimedOut, follow
from shared.schemas.openai_api import ModelCard, ModelList, Transcription, VerboseTranscription
from shared.storage import StorageUnavailable

log = logging.getLogger("ethos.gateway")


class OpenAIRoute(APIRoute):
    """A route whose errors (its dependencies' too: a missing key, a rate limit) take OpenAI's
    shape instead of the gateway's own."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as e:  # OpenAI answers a file it cannot read with 400, not 415
                return _error(400 if e.status == 415 else e.status, e.code, e.message, param_of(e), e.headers)
            except RequestValidationError as e:
                first = e.errors()[0] if e.errors() else {}
                return _error(400, "invalid_request", str(first.get("msg", "invalid request")))
            except StarletteHTTPException as e:
                return _error(e.status_code, "http_error", str(e.detail))
            except redis.RedisError as e:
                log.warning("Redis unavailable: %s", e)
                return _error(503, "redis_unavailable", "the job store (Redis) is unavailable; try again shortly")
            except StorageUnavailable as e:
                log.warning("storage unavailable: %s", e)
                return _error(503, "storage_unavailable", "object storage is unavailable; try again shortly")
            except Exception as e:  # noqa: BLE001 - logged with an id the client sees
                error_id = uuid.uuid4().hex[:12]
                log.error("unhandled error %s", error_id, exc_info=(type(e), e, e.__traceback__))
                return _error(500, "internal_error", f"internal error (error id {error_id})")

        return answer


def _error(status: int, code: str, message: str, param: str | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, code, message, param), status_code=status, headers=headers)


router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute, responses=ERRORS)


async def _accept(request: Request, c: Context, who: Caller, task: str) -> tuple[str, AudioRequest]:
    """Check the form as it arrives, then record the job; its id and the checked request."""
    workers = await run_in_threadpool(c.jobs.live_workers)
    if task == TRANSLATE and not serves_translation(workers):
        raise OpenAIError(400, "translation_unavailable", "no speech engine here translates: every "
                          "live stt worker must serve task=translate (a multilingual Whisper)", "model")
    names = [m.id for m in model_cards(workers)]
    got: list[AudioRequest] = []

    def on_form(up: Upload) -> None:
        got.append(parse(up.all_fields, task, names))
        if task == TRANSLATE:
            up.fields["task"] = TRANSLATE

    rec = await service.accept_job(request, c, who, "file", on_form=on_form)
    return rec.id, got[0]


async def _result(c: Context, job_id: str) -> dict[str, Any]:
    """The finished job's result, or OpenAIError (not to be retried: the job exists)."""
    done = await run_in_threadpool(c.jobs.get, job_id)
    refusal = job_refusal(job_id, done)
    if refusal is not None:
        raise refusal
    assert done is not None
    return await run_in_threadpool(service.load_result, c, done)


def _timed_out(c: Context, job_id: str) -> OpenAIError:
    wait_s = c.settings.gateway.sync_wait_s
    return OpenAIError(504, "timeout", f"job {job_id} is still running after {wait_s:g} s; it goes on: "
                       f"GET /v1/jobs/{job_id} (its result at /v1/jobs/{job_id}/result)", headers=about(job_id))


async def _answer(c: Context, job_id: str, req: AudioRequest) -> Response:
    try:
        async for _ in follow(c, job_id, c.settings.gateway.sync_wait_s):
            pass
    except WaitTimedOut:
        raise _timed_out(c, job_id) from None
    result = await _result(c, job_id)
    body, media_type = fmt.render(result, req.response_format, req.granularities, req.temperature, req.task)
    if isinstance(body, dict):
        return JSONResponse(body)
    return Response(body, media_type=media_type)


async def _events(c: Context, job_id: str, req: AudioRequest) -> AsyncIterator[bytes]:
    """Deltas as segments are transcribed, then (diarized_json) the segments with their
    speakers, then the whole text; an error event instead where the job does not succeed."""
    parts: list[str] = []
    try:
        async for ev in follow(c, job_id, c.settings.gateway.sync_wait_s):
            if ev.get("type") == "segment" and str(ev.get("text", "")).strip():
                parts.append(fmt.delta(ev["text"], first=not parts))
                yield fmt.sse({"type": "transcript.text.delta", "delta": parts[-1]})
        result = await _result(c, job_id)
    except WaitTimedOut:
        e = _timed_out(c, job_id)
        yield fmt.sse(error_body(e.status, e.code, e.message))
        return
    except ApiError as e:
        yield fmt.sse(error_body(e.status, e.code, e.message, param_of(e)))
        return
    except (redis.RedisError, StorageUnavailable) as e:
        log.warning("stream of job %s cut short: %s", job_id, e)
        yield fmt.sse(error_body(503, "unavailable", "the job store or storage is unavailable; "
                                 f"job {job_id} goes on: GET /v1/jobs/{job_id}"))
        return
    if req.response_format == "diarized_json":
        for seg in fmt.diarized_segments(result):
            yield fmt.sse(seg)
    yield fmt.sse({"type": "transcript.text.done", "text": "".join(parts)})


async def _audio(request: Request, c: Context, who: Caller, task: str) -> Response:
    job_id, req = await _accept(request, c, who, task)
    if req.stream:
        return StreamingResponse(_events(c, job_id, req), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no",
                                          "X-Ethos-Job-Id": job_id})
    response = await _answer(c, job_id, req)
    response.headers["X-Ethos-Job-Id"] = job_id
    return response


@router.post("/audio/transcriptions", response_model=JSON_ANSWER, responses=ok_response(stream=True),
             openapi_extra=form_body("transcribe"))
async def create_transcription(request: Request, c: Context = Depends(ctx),
                               who: Caller = Depends(caller)) -> Response:
    """OpenAI's transcription endpoint (multipart ``file``, ``model``, ``response_format``…)."""
    return await _audio(request, c, who, "transcribe")


@router.post("/audio/translations", response_model=Transcription | VerboseTranscription, responses=ok_response(stream=False),
             openapi_extra=form_body(TRANSLATE))
async def create_translation(request: Request, c: Context = Depends(ctx),
                             who: Caller = Depends(caller)) -> Response:
    """OpenAI's translation endpoint: speech in any language → English text (needs an engine
    that translates; 400 ``translation_unavailable`` otherwise)."""
    return await _audio(request, c, who, TRANSLATE)


@router.get("/models", response_model=ModelList)
def list_models(c: Context = Depends(ctx), _: Caller = Depends(caller)) -> ModelList:
    """The model names this server answers to: ``whisper-1`` and the live engines' names."""
    return ModelList(data=model_cards(c.jobs.live_workers()))


@router.get("/models/{model_id:path}", response_model=ModelCard)
def get_model(model_id: str, c: Context = Depends(ctx), _: Caller = Depends(caller)) -> ModelCard:
    """One model by name (404 ``model_not_found``)."""
    for card in model_cards(c.jobs.live_workers()):
        if card.id == model_id:
            return card
    raise OpenAIError(404, "model_not_found", f"the model {model_id!r} does not exist here", "model")
