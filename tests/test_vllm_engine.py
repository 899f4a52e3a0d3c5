"""The ``vllm`` speech engine against a real HTTP server of the same protocol on loopback
(ethos_testing/openai_stt_server.py): order kept under bounded concurrency, the token cap flagged
``truncated``, a server that is down → a clear error (and, through the stack, retries and
then a failed job)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ethos_testing.openai_stt_server import SttServer, words_for
from ethos_testing.procs import free_port, private_stack
from shared.errors import ModelUnavailable
from shared.settings import SttSettings
from workers.stt.engines.base import EngineUnreachable
from workers.stt.engines.vllm import VllmEngine


@pytest.fixture()
def server() -> Iterator[SttServer]:
    srv = SttServer().start()
    yield srv
    srv.stop()


def engine(url: str, **vllm: object) -> VllmEngine:
    return VllmEngine(SttSettings(engine="vllm", vllm={"url": url, **vllm}))  # type: ignore[arg-type]


def clips(seconds: list[float]) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(0, 0.1, round(s * 16000)).astype(np.float32) for s in seconds]


def test_order_kept_under_bounded_concurrency(server: SttServer) -> None:
    lengths = [0.5 + 0.25 * i for i in range(12)]
    # The first segments answer last: order must come from the engine, not from the server.
    server.delay = lambda s: max(0.0, 0.45 - 0.1 * s)
    e = engine(server.url, max_in_flight=4)
    out = e.transcribe(clips(lengths), "fr")
    assert [t.text for t in out] == [" ".join(words_for(s)) for s in lengths]
    assert not any(t.truncated for t in out)
    assert 2 <= server.max_in_flight <= 4
    assert len(server.requests) == 12
    for req in server.requests:
        assert req["language"] == "fr" and req["temperature"] == "0" and req["stream"] == "true"
        assert req["model"] == "evoxtral" and req["filename"] == "segment.wav"
        assert req["max_completion_tokens"] == str(e.token_cap(req["seconds"]))
    assert e.info().engine == "vllm" and e.info().extra["max_in_flight"] == 4


def test_auto_leaves_the_language_to_the_model(server: SttServer) -> None:
    e = engine(server.url)
    assert e.detects and "translate" not in e.tasks
    out = e.transcribe(clips([1.0, 2.0]), "auto")
    assert [t.text for t in out] == [" ".join(words_for(s)) for s in (1.0, 2.0)]
    assert len(server.requests) == 2 and all("language" not in req for req in server.requests)


def test_token_cap_flags_truncated(server: SttServer) -> None:
    e = engine(server.url, tokens_per_second=1.2, min_new_tokens_cap=4)
    short, long = e.transcribe(clips([0.5, 5.0]), "en")
    assert (short.text, short.truncated) == ("clip 500 w0", False)  # 3 tokens, cap 4
    assert long.truncated and long.text == " ".join(words_for(5.0)[:6])  # 7 tokens, cap 6


def test_server_down_or_failing_is_a_clear_error(server: SttServer) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(EngineUnreachable, match=r"vLLM server at http://127\.0\.0\.1:\d+ could not be reached") as err:
        engine(url, retries=2, retry_delay_s=1.5).transcribe(clips([1.0, 1.0]), "en")
    assert (err.value.retries, err.value.retry_delay_s, err.value.code) == (2, 1.5, "model_unavailable")
    assert "/health" in err.value.message
    server.status = 503
    with pytest.raises(EngineUnreachable, match="answered 503"):
        engine(server.url).transcribe(clips([1.0]), "en")
    server.status = 400  # a refusal is not retried: it would be refused again
    with pytest.raises(ModelUnavailable, match="refused the request") as refused:
        engine(server.url).transcribe(clips([1.0]), "en")
    assert not isinstance(refused.value, EngineUnreachable)


def test_jobs_through_the_stack(tmp_path: Path, media_root: Path) -> None:
    """A real stt worker on the vllm engine: a job's segments come from the server in order;
    with the server gone the task retries, then the job fails naming the server."""
    server = SttServer().start()
    try:
        with private_stack(tmp_path, ETHOS_STT__ENGINE="vllm", ETHOS_STT__VLLM__URL=server.url,
                           ETHOS_STT__VLLM__RETRIES="1", ETHOS_STT__VLLM__RETRY_DELAY_S="0.2",
                           ETHOS_STT__VLLM__MAX_IN_FLIGHT="8") as st:
            st.worker("cpu", 1, name="cpu")
            st.worker("stt", 1, name="stt")
            st.gateway()
            job, result = st.run_job(media_root / "jfk.flac")
            assert job["status"] == "succeeded", job
            assert result is not None
            segs = result["segments"]
            assert segs and all(s["text"].startswith("clip ") for s in segs)
            for s in segs:  # each text names its own segment's length (order kept)
                assert abs(int(s["text"].split()[1]) - (s["end"] - s["start"]) * 1000) <= 1, s
            assert result["models"]["stt"]["engine"] == "vllm"
            sent = len(server.requests)
            server.stop()
            job, _ = st.run_job(media_root / "jfk.flac")
            assert job["status"] == "failed", job
            assert job["error"]["code"] == "model_unavailable"
            assert server.url in job["error"]["message"] and "could not be reached" in job["error"]["message"]
            assert len(server.requests) == sent
            log = (tmp_path / "logs" / "stt.log").read_text(errors="replace")
            assert "retry" in log.lower()
    finally:
        server.stop()
