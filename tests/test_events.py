"""The websocket event stream: full replay for late clients, live events while running."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from ethos_testing.procs import Stack


def collect(stack: Stack, job_id: str, timeout: float = 120) -> list[tuple[float, dict]]:  # type: ignore[type-arg]
    url = stack.url.replace("http", "ws") + f"/v1/jobs/{job_id}/events"
    out = []
    with connect(url, open_timeout=10) as ws:
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                out.append((time.perf_counter(), json.loads(ws.recv(timeout=timeout))))
        except ConnectionClosed:
            pass
    return out


def test_late_client_gets_everything(stack: Stack, jfk: Path) -> None:
    job, _ = stack.run_job(jfk)
    events = [e for _, e in collect(stack, job["id"])]
    types = [e["type"] for e in events]
    assert types[0] == "status" and events[0]["status"] == "queued"
    assert types[-1] == "done" and events[-1]["result"] == f"/v1/jobs/{job['id']}/result"
    assert {"status", "progress", "segment", "done"} <= set(types)
    assert all(e["job_id"] == job["id"] for e in events)
    progress = [e["progress"] for e in events if e["type"] == "progress"]
    assert progress == sorted(progress) and progress[-1] <= 1.0
    segs = [e for e in events if e["type"] == "segment"]
    assert [s["id"] for s in segs] == list(range(1, len(segs) + 1))
    assert {"start", "end", "text", "emotion", "tags"} <= segs[0].keys()
    assert [e["status"] for e in events if e["type"] == "status"] == ["queued", "running", "succeeded"]
    # The HTTP twin returns the same log, and reads on from any point.
    with stack.client() as c:
        log = c.get(f"/v1/jobs/{job['id']}/events").json()
        assert log["events"] == events
        second = c.get(f"/v1/jobs/{job['id']}/events", params={"after": log["last"]}).json()
        assert second == {"events": [], "last": None}
        assert c.get("/v1/jobs/job_nope/events").status_code == 404


def test_live_client_sees_segments_before_done(stack: Stack,
                                               three_sentences: tuple[Path, list[tuple[float, float]]]) -> None:
    job_id = stack.submit(three_sentences[0]).json()["id"]
    events = [e for _, e in collect(stack, job_id)]
    types = [e["type"] for e in events]
    assert types.count("segment") == 3
    # Text arrives while the job still runs: each batch's segments before that batch's progress
    # (one batch may hold several segments), and all of them before the merge starts and the
    # job succeeds.
    first_seg = types.index("segment")
    after = next(e for e in events[first_seg:] if e["type"] != "segment")
    assert after["type"] == "progress" and after["stage"] == "transcribing" and after["progress"] < 1.0
    merging = next(i for i, e in enumerate(events) if e["type"] == "progress" and e["stage"] == "merging")
    succeeded = next(i for i, e in enumerate(events) if e.get("status") == "succeeded")
    assert max(i for i, t in enumerate(types) if t == "segment") < merging < succeeded < types.index("done")


def test_failed_job_stream_ends_with_error(stack: Stack, tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 100)
    job_id = stack.submit(junk).json()["id"]
    events = [e for _, e in collect(stack, job_id)]
    assert events[-2]["type"] == "error" and events[-2]["code"] == "unsupported_media"
    assert events[-1] == {"type": "status", "job_id": job_id, "status": "failed", "stage": "failed"}


def test_unknown_job(stack: Stack) -> None:
    url = stack.url.replace("http", "ws") + "/v1/jobs/job_nope/events"
    with connect(url) as ws:
        msg = json.loads(ws.recv(timeout=10))
        assert msg["type"] == "error" and msg["code"] == "not_found"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404


def test_subtitle_exports(stack: Stack, three_sentences: tuple[Path, list[tuple[float, float]]]) -> None:
    job, result = stack.run_job(three_sentences[0])
    assert result is not None
    with stack.client() as c:
        srt = c.get(f"/v1/jobs/{job['id']}/result?format=srt")
        vtt = c.get(f"/v1/jobs/{job['id']}/result?format=vtt")
        bad = c.get(f"/v1/jobs/{job['id']}/result?format=doc")
    assert srt.status_code == 200 and "attachment" in srt.headers["content-disposition"]
    blocks = srt.text.strip().split("\n\n")
    assert len(blocks) == 3 and blocks[0].splitlines()[0] == "1"
    assert blocks[0].splitlines()[1].count(" --> ") == 1 and "," in blocks[0].splitlines()[1]
    assert vtt.text.startswith("WEBVTT\n") and vtt.headers["content-type"].startswith("text/vtt")
    assert bad.status_code == 400
