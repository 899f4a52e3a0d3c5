"""A vLLM server as the speech engine: each VAD segment goes, as a WAV file, to the server's
OpenAI-compatible ``/v1/audio/transcriptions``.

The server runs the merged Voxtral + evoxtral model written by ``ethos-export-vllm`` (README,
"GPU serving with vLLM"); it batches whatever is in flight, so a job's segments are sent
concurrently, at most ``ETHOS_STT__VLLM__MAX_IN_FLIGHT`` at a time, and put back in order.
Each request carries the job's language, ``temperature=0`` (greedy, as the transformers
engine) and the segment's token cap as ``max_completion_tokens``; it streams, so the last
event's ``finish_reason`` says whether the cap cut the text (``"length"`` → ``truncated``).
A server that cannot be reached or answers 5xx raises ``EngineUnreachable``: the stt task
retries, then the job fails naming the server.
"""

from __future__ import annotations

import io
import json
import logging
import math
import threading
import wave
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from shared.errors import ModelUnavailable
from shared.schemas import ModelInfo
from shared.settings import SttSettings, VllmSettings
from workers.stt.engines.base import EngineUnreachable, SpeechEngine, Transcript

log = logging.getLogger("ethos.stt.vllm")
SR = 16000
PATH = "/v1/audio/transcriptions"


def wav_bytes(clip: np.ndarray) -> bytes:
    """16 kHz mono 16-bit PCM WAV of a float clip (lossless enough for a 16-bit source)."""
    pcm = (np.clip(clip, -1.0, 1.0) * 32767.0).round().astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def _headers(cfg: VllmSettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {cfg.api_key.get_secret_value()}"} if cfg.api_key else {}


def availability(cfg: SttSettings) -> dict[str, object]:
    """Whether the server answers ``/health`` now (for heartbeats and /readyz)."""
    import httpx

    v = cfg.vllm
    out: dict[str, object] = {"engine": "vllm", "model_id": v.model, "url": v.url, "device": "remote"}
    try:
        ok = httpx.get(v.url.rstrip("/") + "/health", timeout=3.0, headers=_headers(v)).status_code == 200
    except httpx.HTTPError as e:
        ok, out["message"] = False, f"the vLLM server at {v.url} does not answer ({type(e).__name__})"
    out["ready"] = ok
    return out


def _languages() -> tuple[str, ...] | None:
    """Voxtral's request languages (ISO 639-1), as the server's mistral-common checks them;
    None (any) where pycountry is not installed."""
    try:
        from workers.stt.engines.voxtral import request_languages

        return request_languages()
    except ImportError:
        return None


class VllmEngine(SpeechEngine):
    name = "vllm"
    # Every segment is one 30-s window for the model, as with the transformers engine.
    default_merge_gap_s = 3.0
    # Voxtral detects the spoken language when the request names none (as the voxtral engine).
    detects = True

    def __init__(self, cfg: SttSettings) -> None:
        self.cfg = cfg.vllm
        self.languages = _languages()
        self.batch_size = self.cfg.batch_segments
        self._client: Any = None
        self._lock = threading.Lock()

    # -- the HTTP client (one per process, made after the fork) ----------------------------
    def load(self) -> None:
        import httpx

        with self._lock:
            if self._client is None:
                n = self.cfg.max_in_flight
                self._client = httpx.Client(
                    base_url=self.cfg.url.rstrip("/"), headers=_headers(self.cfg),
                    timeout=httpx.Timeout(self.cfg.timeout_s, connect=5.0),
                    limits=httpx.Limits(max_connections=n, max_keepalive_connections=n))

    def info(self) -> ModelInfo:
        return ModelInfo(engine=self.name, model_id=self.cfg.model, version=f"vLLM server {self.cfg.url}",
                         device="remote",
                         extra={"tags": True, "url": self.cfg.url, "max_in_flight": self.cfg.max_in_flight,
                                "tokens_per_second": self.cfg.tokens_per_second})

    def token_cap(self, seconds: float) -> int:
        """Most new tokens allowed for a clip of this length (as the voxtral engine's)."""
        return max(self.cfg.min_new_tokens_cap, math.ceil(seconds * self.cfg.tokens_per_second))

    # -- transcription ---------------------------------------------------------------------
    def transcribe(self, clips: list[np.ndarray], language: str, task: str = "transcribe",
                   prior: str | None = None) -> list[Transcript]:
        """All clips in flight (bounded), the results in the clips' order."""
        if task != "transcribe":  # the gateway refuses it (the heartbeat's tasks)
            raise ModelUnavailable(f"the vllm engine transcribes only (task={task!r})")
        self.load()
        if not clips:
            return []
        with ThreadPoolExecutor(min(self.cfg.max_in_flight, len(clips)), thread_name_prefix="vllm") as pool:
            futures: list[Future[Transcript]] = [
                pool.submit(self.request, c, language, self.token_cap(len(c) / SR)) for c in clips]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()  # those not started yet; the running ones end within timeout_s
                raise

    def unreachable(self, why: str) -> EngineUnreachable:
        return EngineUnreachable(
            f"the vLLM server at {self.cfg.url} {why}; is the vllm service up and its model loaded "
            f"(GET {self.cfg.url.rstrip('/')}/health)? Gave up after {self.cfg.retries} retries.",
            retries=self.cfg.retries, retry_delay_s=self.cfg.retry_delay_s)

    def request(self, clip: np.ndarray, language: str, cap: int) -> Transcript:
        """One segment: a streamed transcription, capped at ``cap`` tokens."""
        import httpx

        data = {"model": self.cfg.model, "temperature": "0",
                "max_completion_tokens": str(cap), "response_format": "json", "stream": "true"}
        if language != "auto":  # "auto": no language in the request, the model detects it
            data["language"] = language
        files = {"file": ("segment.wav", wav_bytes(clip), "audio/wav")}
        try:
            with self._client.stream("POST", PATH, data=data, files=files) as r:
                if r.status_code >= 500:
                    raise self.unreachable(f"answered {r.status_code}")
                if r.status_code >= 400:
                    body = r.read().decode(errors="replace")[:500]
                    raise ModelUnavailable(f"the vLLM server at {self.cfg.url} refused the request "
                                           f"({r.status_code}): {body}")
                return self._read_stream(r.iter_lines())
        except httpx.TransportError as e:
            raise self.unreachable(f"could not be reached ({type(e).__name__}: {e})") from e

    def _read_stream(self, lines: Any) -> Transcript:
        parts: list[str] = []
        finish: str | None = None
        done = False
        for line in lines:
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                done = True
                break
            event = json.loads(payload)
            if "error" in event:
                raise ModelUnavailable(f"the vLLM server at {self.cfg.url} failed a segment: {event['error']}")
            for choice in event.get("choices", []):
                parts.append((choice.get("delta") or {}).get("content") or "")
                finish = choice.get("finish_reason") or finish
        if not done and finish is None:
            raise self.unreachable("ended a stream before its last event")
        return Transcript(text="".join(parts).strip(), truncated=finish == "length")
