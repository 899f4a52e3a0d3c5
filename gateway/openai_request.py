"""The OpenAI audio API's request side: the form's parameters checked, the models this server
answers to, and errors in OpenAI's shape (plain functions; the routes only call them).

Models: ``whisper-1`` (what OpenAI's clients send by default) names whatever the deployment
runs; so do the engine names (``fasterwhisper``, ``voxtral``) and model ids the live stt
workers announce. A job goes to whichever stt worker is free, so a name picks no engine.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import ApiError
from shared.schemas.openai_api import GRANULARITIES, RESPONSE_FORMATS, ModelCard
from shared.schemas.record import JobRecord, JobStatus

DEFAULT_MODEL = "whisper-1"
TRANSLATE = "translate"
# Answers after the job exists: a retry would upload the recording again as a new job.
NO_RETRY = {"x-should-retry": "false"}


class OpenAIError(ApiError):
    """An ApiError that names the request parameter at fault."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status, code, message, headers)
        self.param = param


def error_type(status: int) -> str:
    """OpenAI's error ``type`` for an HTTP status (the SDKs' exception classes follow it)."""
    return {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
            429: "rate_limit_error", 504: "timeout"}.get(
        status, "server_error" if status >= 500 else "invalid_request_error")


def error_body(status: int, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type(status), "param": param, "code": code}}


# Ethos error codes of the upload and job that a parameter explains.
_PARAMS = {"missing_file": "file", "empty_file": "file", "unsupported_media": "file",
           "too_large": "file", "invalid_multipart": "file", "unsupported_language": "language",
           "invalid_speakers": "num_speakers", "invalid_callback_url": "callback_url"}


def param_of(e: ApiError) -> str | None:
    return e.param if isinstance(e, OpenAIError) else _PARAMS.get(e.code)


@dataclass(frozen=True)
class AudioRequest:
    """The parameters of one transcription or translation request, checked."""

    model: str
    response_format: str = "json"
    granularities: tuple[str, ...] = ()
    temperature: float = 0.0
    stream: bool = False
    task: str = "transcribe"
    ignored: dict[str, str] = field(default_factory=dict)


def _one(all_fields: dict[str, list[str]], *names: str) -> list[str]:
    return [v for n in names for v in all_fields.get(n, [])]


def parse(all_fields: dict[str, list[str]], task: str, models: Iterable[str]) -> AudioRequest:
    """The request's parameters from its form, or OpenAIError (400/404) naming the one at fault.

    ``prompt`` and ``chunking_strategy`` (also as ``chunking_strategy[type]`` …) are accepted
    and not used: Ethos cuts the audio with its own voice activity detection."""
    fields = {k: v[-1] for k, v in all_fields.items() if v}
    model = fields.get("model", "").strip()
    if not model:
        raise OpenAIError(400, "missing_model", "you must provide a model parameter (e.g. whisper-1)", "model")
    known = set(models)
    if model not in known:
        raise OpenAIError(404, "model_not_found", f"the model {model!r} does not exist here; "
                          f"this server runs: {', '.join(sorted(known))}", "model")
    fmt = fields.get("response_format", "json") or "json"
    formats = RESPONSE_FORMATS if task != TRANSLATE else tuple(f for f in RESPONSE_FORMATS if f != "diarized_json")
    if fmt not in formats:
        raise OpenAIError(400, "invalid_response_format",
                          f"response_format must be one of {', '.join(formats)}, not {fmt!r}", "response_format")
    grans = tuple(dict.fromkeys(_one(all_fields, "timestamp_granularities[]", "timestamp_granularities")))
    for g in grans:
        if g not in GRANULARITIES:
            raise OpenAIError(400, "invalid_timestamp_granularities",
                              f"timestamp_granularities[] takes word and segment, not {g!r}",
                              "timestamp_granularities")
    if "word" in grans and fmt != "verbose_json":
        raise OpenAIError(400, "invalid_timestamp_granularities",
                          "word timestamps need response_format=verbose_json", "timestamp_granularities")
    raw_t = fields.get("temperature", "0") or "0"
    try:
        temperature = float(raw_t)
    except ValueError:
        temperature = -1.0
    if not 0.0 <= temperature <= 1.0:
        raise OpenAIError(400, "invalid_temperature",
                          f"temperature must be a number from 0 to 1, not {raw_t!r}", "temperature")
    raw_s = (fields.get("stream") or "false").lower()
    if raw_s not in ("true", "false", "1", "0"):
        raise OpenAIError(400, "invalid_stream", f"stream must be true or false, not {raw_s!r}", "stream")
    ignored = {k: v for k, v in fields.items() if k == "prompt" or k.startswith("chunking_strategy")}
    return AudioRequest(model=model, response_format=fmt, granularities=grans, temperature=temperature,
                        stream=raw_s in ("true", "1"), task=task, ignored=ignored)


def about(job_id: str) -> dict[str, str]:
    """Headers of an answer about an existing job: its id, and no retry."""
    return {**NO_RETRY, "X-Ethos-Job-Id": job_id}


# Job failures the recording explains (the client's to fix): 400, not 500.
CLIENT_FAULTS = {"unsupported_media", "too_long", "unsupported_language", "no_audio"}


def job_refusal(job_id: str, rec: JobRecord | None) -> OpenAIError | None:
    """Why a finished job has no transcript to give (None: it succeeded): 410 deleted, 400 a
    recording at fault, 409 canceled, 500 otherwise; never to be retried."""
    if rec is None or rec.deleted:
        return OpenAIError(410, "gone", f"job {job_id} was deleted", headers=about(job_id))
    if rec.status == JobStatus.succeeded:
        return None
    code = rec.error.code if rec.error else rec.status.value
    msg = f"job {job_id} {rec.status.value}" + (f": {rec.error.message}" if rec.error else "")
    status = 400 if code in CLIENT_FAULTS else 409 if rec.status == JobStatus.canceled else 500
    return OpenAIError(status, code, msg, "file" if status == 400 else None, about(job_id))


def serves_translation(workers: Iterable[dict[str, Any]]) -> bool:
    """Whether a job with ``task=translate`` would be translated: every live stt worker that
    says what it runs lists ``translate`` in its ``tasks`` (and at least one says so)."""
    told = [w["stt"] for w in workers
            if "stt" in w.get("queues", []) and isinstance(w.get("stt"), dict)]
    return bool(told) and all(TRANSLATE in (info.get("tasks") or []) for info in told)


def model_cards(workers: Iterable[dict[str, Any]], now: float | None = None) -> list[ModelCard]:
    """``whisper-1`` first, then each engine name and model id the live stt workers announce."""
    created = int(now if now is not None else time.time())
    cards: dict[str, ModelCard] = {}
    workers = list(workers)
    engines: list[dict[str, Any]] = [w["stt"] for w in workers
                                     if "stt" in w.get("queues", []) and isinstance(w.get("stt"), dict)]
    first = engines[0] if engines else {}
    tasks = ["transcribe", TRANSLATE] if serves_translation(workers) else ["transcribe"]
    cards[DEFAULT_MODEL] = ModelCard(id=DEFAULT_MODEL, created=created, engine=first.get("engine"),
                                     languages=first.get("languages"), tasks=tasks)
    for info in engines:
        for name in (info.get("engine"), info.get("model_id")):
            if isinstance(name, str) and name and not name.startswith("/") and name not in cards:
                own = ["transcribe", TRANSLATE] if TRANSLATE in (info.get("tasks") or []) else ["transcribe"]
                cards[name] = ModelCard(id=name, created=created, engine=info.get("engine"),
                                        languages=info.get("languages"), tasks=own)
    return list(cards.values())
