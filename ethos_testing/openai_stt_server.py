"""A small real HTTP server speaking the OpenAI transcription protocol as vLLM serves it:
``POST /v1/audio/transcriptions`` (multipart: ``file``, ``model``, ``language``,
``temperature``, ``max_completion_tokens``, ``stream``) answering JSON or server-sent events
(``data: {"choices": [{"delta": {"content": ...}, "finish_reason": ...}]}`` … ``data: [DONE]``),
and ``GET /health``. Run by uvicorn on loopback in a thread.

Its text is deterministic per segment: ``clip <milliseconds>`` followed by one word per
started second of audio, each word one "token"; ``max_completion_tokens`` cuts it
(``finish_reason: "length"``). ``delay(seconds_of_audio)`` sets how long each answer takes, so a
test can make later segments finish first; it records every request and the most requests it
ever had in flight.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import threading
import time
import wave
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from ethos_testing.procs import free_port, wait_for


def words_for(seconds: float) -> list[str]:
    """The server's deterministic transcript of a clip of this length, one token a word."""
    return ["clip", f"{round(seconds * 1000)}"] + [f"w{i}" for i in range(math.ceil(seconds))]


@dataclass
class SttServer:
    delay: Callable[[float], float] = lambda seconds: 0.0
    status: int = 200  # anything else: every transcription answers this with an error body
    requests: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    port: int = 0
    _server: Any = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> Any:
        app = FastAPI()

        @app.get("/health")
        async def health() -> PlainTextResponse:
            return PlainTextResponse("")

        @app.post("/v1/audio/transcriptions")
        async def transcriptions(request: Request) -> Any:
            form = await request.form()
            upload: Any = form["file"]
            raw = await upload.read()
            with wave.open(io.BytesIO(raw)) as w:
                assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
                seconds = w.getnframes() / w.getframerate()
            fields = {k: v for k, v in form.items() if k != "file"}
            self.requests.append({**fields, "seconds": seconds, "filename": upload.filename})
            if self.status != 200:
                return JSONResponse({"error": {"message": "stand-in failure"}}, status_code=self.status)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await asyncio.sleep(self.delay(seconds))
            finally:
                self.in_flight -= 1
            words = words_for(seconds)
            cap = int(str(fields.get("max_completion_tokens", "0")) or 0) or len(words)
            out, finish = words[:cap], "length" if len(words) > cap else "stop"
            if str(fields.get("stream", "false")).lower() != "true":
                return {"text": " ".join(out)}

            async def events() -> AsyncIterator[str]:
                for i, word in enumerate(out):
                    last = i == len(out) - 1
                    chunk = {"object": "transcription.chunk", "model": fields.get("model"),
                             "choices": [{"delta": {"content": (" " if i else "") + word},
                                          "finish_reason": finish if last else None}]}
                    yield f"data: {json.dumps(chunk)}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")

        return app

    def start(self) -> SttServer:
        import uvicorn

        self.port = self.port or free_port()
        self._server = uvicorn.Server(uvicorn.Config(self.app(), host="127.0.0.1", port=self.port,
                                                     log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_for(lambda: self._server.started, 20, what="stand-in transcription server")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        time.sleep(0.05)
