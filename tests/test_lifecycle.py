"""Cancel while running, callbacks, and an STT worker killed mid-job."""

from __future__ import annotations

import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import psutil
import pytest

from ethos_testing import media
from ethos_testing.procs import Stack, private_stack, wait_for

LOCAL = pytest.mark.parametrize("stack", ["local"], indirect=True)


@pytest.fixture(scope="module")
def long_speech(gen: Path) -> Path:
    """About 40 s of speech in eight sentences: several seconds of transcription."""
    folder = gen / "long"
    folder.mkdir(exist_ok=True)
    texts = [f"This is sentence number {i}, spoken slowly so that the recogniser has some work to do."
             for i in range(8)]
    path, _ = media.sentences_with_pauses(folder, texts, pause=1.0)
    return path


@LOCAL
def test_cancel_while_running(stack: Stack, long_speech: Path) -> None:
    job_id = stack.submit(long_speech).json()["id"]
    with stack.client() as c:
        wait_for(lambda: c.get(f"/v1/jobs/{job_id}").json()["stage"] == "transcribing", 30, 0.05,
                 what="transcription to start")
        r = c.delete(f"/v1/jobs/{job_id}")
        assert r.status_code == 200
        assert r.json()["status"] == "canceled" and r.json()["deleted"] is True
        job = stack.wait_job(job_id)
        assert job["status"] == "canceled"
        assert c.get(f"/v1/jobs/{job_id}/result").status_code == 410
        assert c.get(f"/v1/jobs/{job_id}/media").status_code == 410
    root = Path(stack.env["ETHOS_STORAGE__LOCAL_ROOT"]) / "jobs" / job_id
    # The running task stops at its next check and leaves nothing behind.
    wait_for(lambda: not root.exists() or not any(root.rglob("*.json")), 30, what="no outputs left")


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []  # type: ignore[type-arg]

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["content-length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@LOCAL
def test_callback_url_gets_the_finished_job(stack: Stack, silent_wav: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        r = stack.submit(silent_wav, data={"callback_url": url, "language": "en"})
        job = stack.wait_job(r.json()["id"])
        wait_for(lambda: _Hook.received, 10, what="the callback")
        got = _Hook.received[-1]
        assert got["id"] == job["id"] and got["status"] == "succeeded"
        bad = stack.submit(silent_wav, data={"callback_url": "ftp://x"})
        assert bad.status_code == 400
    finally:
        server.shutdown()


def test_stt_worker_killed_mid_job(tmp_path: Path, long_speech: Path) -> None:
    with private_stack(tmp_path, ETHOS_STT__ENGINE="fasterwhisper", ETHOS_VAD__MERGE_GAP_S="0.6") as st:
        st.worker("cpu", 1, name="cpu")
        stt = st.worker("stt", 1, name="stt")
        st.gateway()
        job_id = st.submit(long_speech).json()["id"]
        # Kill the pool child once some segments are out, before the task finishes.
        wait_for(lambda: sum(e["type"] == "segment" for e in st.events(job_id)) >= 2, 60, 0.02,
                 what="two segments")
        for child in psutil.Process(stt.popen.pid).children(recursive=True):
            child.send_signal(signal.SIGKILL)
        job = st.wait_job(job_id, 120)
        assert job["status"] == "succeeded", job
        assert "WorkerLostError" in stt.log.read_text() or "signal 9" in stt.log.read_text()
        with st.client() as c:
            result = c.get(f"/v1/jobs/{job_id}/result").json()
        ids = [s["id"] for s in result["segments"]]
        assert ids == list(range(1, len(ids) + 1)) and len(ids) >= 6
        starts = [s["start"] for s in result["segments"]]
        assert starts == sorted(set(starts))  # no duplicated segments
        events = st.events(job_id)
        seg_events = [e["id"] for e in events if e["type"] == "segment"]
        assert sorted(seg_events) == ids  # each segment announced once, despite the rerun
