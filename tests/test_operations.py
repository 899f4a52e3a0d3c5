"""Operations: Prometheus metrics of the gateway and the workers after a real job, and the
structured (JSON) log lines of every service carrying the job id."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ethos_testing.procs import Stack, free_port, private_stack, wait_for
from shared import logs


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page, parsed by prometheus_client: (name, labels) → value."""
    r = httpx.get(url, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def json_lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


@pytest.fixture(scope="module")
def ops_stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with private_stack(tmp_path_factory.mktemp("ops"), ETHOS_STT__ENGINE="fasterwhisper",
                       ETHOS_LOG_FORMAT="json") as st:
        ports = {"cpu": free_port(), "stt": free_port(), "fer": free_port()}
        st.worker("cpu", 2, name="cpu", extra_env={"ETHOS_METRICS__WORKER_PORT": str(ports["cpu"]),
                                                     "ETHOS_METRICS__WORKER_HOST": "127.0.0.1"})
        st.worker("stt", 1, name="stt", extra_env={"ETHOS_METRICS__WORKER_PORT": str(ports["stt"]),
                                                     "ETHOS_METRICS__WORKER_HOST": "127.0.0.1"})
        st.worker("fer", 1, name="fer", extra_env={"ETHOS_METRICS__WORKER_PORT": str(ports["fer"]),
                                                     "ETHOS_METRICS__WORKER_HOST": "127.0.0.1"})
        st.gateway()
        st.metric_ports = ports  # type: ignore[attr-defined]
        yield st


def test_metrics_move_when_a_job_runs(ops_stack: Stack, jfk: Path) -> None:
    st = ops_stack
    before = scrape(st.url + "/metrics")
    job, result = st.run_job(jfk)
    assert job["status"] == "succeeded" and result and result["segments"], job
    with st.client() as c:
        assert c.get("/v1/jobs/job_00000000000000000000").status_code == 404
    after = scrape(st.url + "/metrics")

    assert value(after, "ethos_jobs_submitted_total") == value(before, "ethos_jobs_submitted_total") + 1
    assert value(after, "ethos_jobs_finished_total", status="succeeded") == \
        value(before, "ethos_jobs_finished_total", status="succeeded") + 1
    assert value(after, "ethos_jobs_finished_total", status="failed") == value(before, "ethos_jobs_finished_total", status="failed")
    # Requests by route template (never by job id) and status.
    assert value(after, "ethos_http_requests_total", method="POST", route="/v1/jobs", status="202") == 1
    assert value(after, "ethos_http_requests_total", method="GET", route="/v1/jobs/{job_id}", status="200") >= 1
    assert value(after, "ethos_http_requests_total", method="GET", route="/v1/jobs/{job_id}", status="404") == 1
    assert not any(logs.JOB_ID.search(dict(labels).get("route", "")) for _, labels in after)
    assert value(after, "ethos_http_request_seconds_count", route="/v1/jobs") == 1
    assert value(after, "ethos_upload_bytes_total") == jfk.stat().st_size
    for q in ("cpu", "stt", "fer"):
        assert (("ethos_queue_depth", (("queue", q),)) in after), q
    assert value(after, "ethos_queue_depth", queue="stt") == 0

    # The workers: task counts and durations per task and queue, summed over prefork children.
    ports = st.metric_ports  # type: ignore[attr-defined]
    cpu = scrape(f"http://127.0.0.1:{ports['cpu']}/metrics")
    assert value(cpu, "ethos_worker_tasks_total", task="ethos.prepare", queue="cpu", state="success") == 1
    assert value(cpu, "ethos_worker_tasks_total", task="ethos.merge", queue="cpu", state="success") == 1
    assert value(cpu, "ethos_worker_task_seconds_count", task="ethos.prepare", queue="cpu") == 1
    assert value(cpu, "ethos_worker_task_seconds_sum", task="ethos.prepare", queue="cpu") > 0
    stt = scrape(f"http://127.0.0.1:{ports['stt']}/metrics")
    assert value(stt, "ethos_worker_tasks_total", task="ethos.stt.transcribe", queue="stt", state="success") == 1
    secs = value(stt, "ethos_worker_task_seconds_sum", task="ethos.stt.transcribe", queue="stt")
    assert 0 < secs < 120
    assert value(stt, "ethos_worker_tasks_active", task="ethos.stt.transcribe", queue="stt") == 0

    # Every service the job went through wrote JSON lines, and the job's lines carry its id.
    jid = job["id"]
    for p in (p for p in st.procs if p.name in ("gateway", "cpu", "stt")):
        lines = json_lines(p.log)
        assert lines, f"{p.name}: no JSON log lines\n{p.tail()}"
        mine = [ln for ln in lines if ln.get("job_id") == jid]
        assert mine, f"{p.name}: no line with job_id {jid}\n{p.tail()}"
        assert all({"ts", "level", "logger", "msg", "service"} <= ln.keys() for ln in lines)
    gateway_lines = json_lines(next(p for p in st.procs if p.name == "gateway").log)
    assert any(ln["logger"] == "uvicorn.access" and ln.get("job_id") == jid for ln in gateway_lines)
    assert {ln["service"] for p in st.procs for ln in json_lines(p.log)} == {"gateway", "worker"}


def test_fer_worker_metrics_and_json_lines_for_a_video(ops_stack: Stack, yongen: Path) -> None:
    """A video job: the fer worker counts its chunk tasks and its log lines carry the job id."""
    st = ops_stack
    job, result = st.run_job(yongen)
    assert job["status"] == "succeeded" and result and result["face_emotion_timeline"], job
    fer = scrape(f"http://127.0.0.1:{st.metric_ports['fer']}/metrics")  # type: ignore[attr-defined]
    assert value(fer, "ethos_worker_tasks_total", task="ethos.fer.chunk", queue="fer", state="success") >= 1
    assert value(fer, "ethos_worker_task_seconds_count", task="ethos.fer.chunk", queue="fer") >= 1
    lines = json_lines(next(p for p in st.procs if p.name == "fer").log)
    mine = [ln for ln in lines if ln.get("job_id") == job["id"]]
    assert mine and all(ln["service"] == "worker" for ln in mine), lines[-5:]


def test_metrics_answer_while_redis_is_down(tmp_path: Path) -> None:
    """The scrape still answers (request series only) when Redis is unreachable."""
    with private_stack(tmp_path) as st:
        st.gateway()
        assert st.redis is not None
        st.redis.stop()
        r = httpx.get(st.url + "/metrics", timeout=10)
        assert r.status_code == 200
        names = {f.name for f in text_string_to_metric_families(r.text)}
        assert "ethos_http_requests" in names and "ethos_jobs_submitted" not in names


def test_worker_runs_without_metrics_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with private_stack(tmp_path) as st:
            w = st.worker("cpu", 1, name="cpu", extra_env={"ETHOS_METRICS__WORKER_PORT": str(port),
                                                            "ETHOS_METRICS__WORKER_HOST": "127.0.0.1"})
            wait_for(lambda: "unavailable" in w.log.read_text(), 20, what="the port error")
            assert w.alive()
            err = [ln for ln in json_lines(w.log) if "worker metrics" in ln["msg"]]
            assert err and err[0]["level"] == "ERROR"


def _record(msg: str, **extra: Any) -> logging.LogRecord:
    rec = logging.LogRecord("ethos.test", logging.INFO, __file__, 1, msg, None, None)
    for k, v in extra.items():
        setattr(rec, k, v)
    return rec


def test_json_format_carries_the_job_in_scope() -> None:
    fmt, flt = logs.JsonFormatter("gateway"), logs.JobIdFilter()
    rec = _record("plain")
    flt.filter(rec)
    line = json.loads(fmt.format(rec))
    assert line["msg"] == "plain" and "job_id" not in line and line["service"] == "gateway"
    with logs.job_context("job_0123456789abcdef0123"):
        rec = _record("inside %s", stage="stt")
        rec.args = ("it",)
        flt.filter(rec)
        line = json.loads(fmt.format(rec))
    assert line["job_id"] == "job_0123456789abcdef0123" and line["msg"] == "inside it" and line["stage"] == "stt"
    assert logs.current_job() is None
    try:
        raise ValueError("boom")
    except ValueError:
        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, __import__("sys").exc_info())
    flt.filter(rec)
    assert "ValueError: boom" in json.loads(fmt.format(rec))["exc"]


def test_text_format_for_humans(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    try:
        logs.configure("worker", "INFO", "text")
        with logs.job_context("job_0123456789abcdef0123"):
            logging.getLogger("ethos.test").info("hello")
        err = capsys.readouterr().err
        assert "INFO ethos.test [job_0123456789abcdef0123]: hello" in err
        assert not err.lstrip().startswith("{")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_log_format_setting_is_checked() -> None:
    from pydantic import ValidationError

    from shared.settings import Settings

    assert Settings().log_format == "json"
    with pytest.raises(ValidationError):
        Settings(log_format="xml")  # type: ignore[arg-type]
