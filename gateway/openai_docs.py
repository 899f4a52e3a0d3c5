"""The OpenAI-compatible routes in the OpenAPI document: the multipart form, the 200 answer's
media types, the error answers. The routes read the multipart body as it streams in, so
FastAPI cannot derive these from their signatures."""

from __future__ import annotations

from typing import Any

from shared.schemas.openai_api import (
    GRANULARITIES,
    RESPONSE_FORMATS,
    DiarizedTranscription,
    OpenAIErrorBody,
    Transcription,
    VerboseTranscription,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIErrorBody, "description": what}
    for status, what in [(400, "Bad request (also a file that is not media)"), (401, "No valid API key"),
                         (404, "No such model"), (413, "Too large"),
                         (429, "Too many requests or unfinished jobs (Retry-After)"),
                         (500, "The job failed"), (503, "Redis or storage unavailable"),
                         (504, "Still running after the wait: the job goes on (see the message)")]
}


def form_body(task: str) -> dict[str, Any]:
    formats = [f for f in RESPONSE_FORMATS if task != "translate" or f != "diarized_json"]
    props: dict[str, Any] = {
        "file": {"type": "string", "format": "binary",
                 "description": "The recording: flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm "
                                "(or any other audio or video ffmpeg reads)."},
        "model": {"type": "string", "example": "whisper-1",
                  "description": "``whisper-1`` or a name from GET /v1/models."},
        "prompt": {"type": "string", "description": "Accepted, not used."},
        "response_format": {"type": "string", "enum": formats, "default": "json"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1, "default": 0,
                        "description": "Accepted and echoed in verbose_json; decoding stays greedy."},
    }
    if task != "translate":
        props.update({
            "language": {"type": "string", "description": "ISO 639-1 code of the speech."},
            "timestamp_granularities[]": {"type": "array", "items": {"type": "string", "enum": list(GRANULARITIES)},
                                          "description": "With verbose_json: ``segment`` (default), ``word``."},
            "stream": {"type": "boolean", "default": False,
                       "description": "Server-sent events: transcript.text.delta per segment, "
                                      "transcript.text.segment (diarized_json), transcript.text.done."},
            "chunking_strategy": {"type": "string", "description": "Accepted, not used (Ethos's VAD cuts)."},
        })
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file", "model"], "properties": props}}}}}


def ok_response(stream: bool) -> dict[int | str, dict[str, Any]]:
    content: dict[str, Any] = {"text/plain": {"schema": {"type": "string"}},
                               "application/x-subrip": {"schema": {"type": "string"}},
                               "text/vtt": {"schema": {"type": "string"}}}
    if stream:
        content["text/event-stream"] = {"schema": {"type": "string"}}
    return {200: {"description": "The transcript in response_format (json: Transcription; verbose_json: "
                                 "VerboseTranscription; diarized_json: DiarizedTranscription; text, srt, "
                                 "vtt: text)" + (", or with stream=true server-sent events." if stream else "."),
                  "content": content}}


# The JSON answers, for the OpenAPI document (the routes return finished responses).
JSON_ANSWER = Transcription | VerboseTranscription | DiarizedTranscription
