"""The original model-layer endpoints over the running stack, with their exact shapes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from ethos_testing.procs import Stack, private_stack


def test_transcribe_diarize_waits_for_result(stack: Stack, jfk: Path) -> None:
    with stack.client() as c, open(jfk, "rb") as fh:
        r = c.post("/transcribe-diarize", params={"num_speakers": 2},
                   files={"audio": ("jfk.flac", fh, "audio/flac")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "country" in body["text"] and body["segments"] and body["filename"] == "jfk.flac"
    with stack.client() as c:  # the same object the async face returns in data
        old = c.get(f"/api/job/{body['job_id']}").json()
        job = c.get(f"/v1/jobs/{body['job_id']}").json()
    assert old == {"status": "done", "data": body}
    assert job["status"] == "succeeded"


def test_transcribe_diarize_video_has_face_timeline(stack: Stack, yongen: Path) -> None:
    with httpx.Client(base_url=stack.url, timeout=300) as c, open(yongen, "rb") as fh:
        r = c.post("/transcribe-diarize", files={"audio": ("yongen.mp4", fh, "video/mp4")})
    assert r.status_code == 200, r.text
    timeline = r.json()["face_emotion_timeline"]
    assert isinstance(timeline, dict) and timeline


def test_transcribe_file_and_audio_fields(stack: Stack, jfk: Path) -> None:
    for field in ("file", "audio"):
        with stack.client() as c, open(jfk, "rb") as fh:
            r = c.post("/transcribe", files={field: ("jfk.flac", fh)}, data={"language": "en"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"transcription", "text", "language", "model", "words"}
        assert body["transcription"] == body["text"] and "country" in body["text"]
        assert body["language"] == "en" and body["model"]
        assert " ".join(w["word"] for w in body["words"]).split() == body["text"].split()
        assert all(0 <= w["start"] <= w["end"] <= 11.0 for w in body["words"])
        assert [w["start"] for w in body["words"]] == sorted(w["start"] for w in body["words"])


def test_transcribe_stream_tokens_then_done(stack: Stack, jfk: Path) -> None:
    events = []
    with stack.client() as c, open(jfk, "rb") as fh, c.stream(
        "POST", "/transcribe/stream", files={"file": ("jfk.flac", fh)}, data={"language": "en"}
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache" and r.headers["x-accel-buffering"] == "no"
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    tokens = [e for e in events if "token" in e]
    assert tokens and events[-1]["done"] is True and len(events) == len(tokens) + 1
    assert "country" in events[-1]["transcription"] and events[-1]["language"] == "en"
    assert "".join(t["token"] for t in tokens).split() == events[-1]["transcription"].split()


def test_compat_errors_are_detail(stack: Stack, jfk: Path, tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not media at all " * 50)
    with stack.client() as c:
        with open(jfk, "rb") as fh:  # wrong field name
            r = c.post("/transcribe-diarize", files={"file": ("jfk.flac", fh)})
        assert r.status_code == 400 and "audio" in r.json()["detail"]
        with open(jfk, "rb") as fh:
            r = c.post("/transcribe-diarize", params={"num_speakers": 0},
                       files={"audio": ("jfk.flac", fh)})
        assert r.status_code == 400 and "num_speakers" in r.json()["detail"]
        with open(jfk, "rb") as fh:
            r = c.post("/transcribe", files={"file": ("jfk.flac", fh)}, data={"language": "xx"})
        assert r.status_code == 400 and set(r.json()) == {"detail"}
        with open(junk, "rb") as fh:
            r = c.post("/transcribe/stream", files={"file": ("notes.txt", fh)})
        # text, refused by the upload's sniff before any job exists
        assert r.status_code == 415 and r.json() == {"detail": "'notes.txt' is text, not audio or video"}
        r = c.post("/transcribe", content=b"x", headers={"content-type": "text/plain"})
        assert r.status_code == 400 and r.json()["detail"]


def test_sync_wait_bounded_and_disconnect_keeps_job(tmp_path: Path, jfk: Path) -> None:
    """Past the wait: 504 with the job id; a caller that goes away does not cancel the job."""
    with private_stack(tmp_path, ETHOS_GATEWAY__SYNC_WAIT_S="1.5", ETHOS_STT__ENGINE="fasterwhisper") as st:
        st.gateway()  # no workers yet: the job stays queued
        with st.client() as c, open(jfk, "rb") as fh:
            r = c.post("/transcribe", files={"file": ("jfk.flac", fh)})
        assert r.status_code == 504, r.text
        first = r.json()["job_id"]
        assert first in r.json()["detail"]
        with httpx.Client(base_url=st.url, timeout=0.5) as c, open(jfk, "rb") as fh:
            try:
                c.post("/transcribe-diarize", files={"audio": ("jfk.flac", fh)})
                raise AssertionError("the call should have timed out client-side")
            except httpx.ReadTimeout:
                pass
        with st.client() as c:
            jobs = [j for j in c.get("/v1/jobs").json()["jobs"] if j["id"] != first]
        assert len(jobs) == 1 and jobs[0]["status"] == "queued"
        st.worker("cpu", 1)
        st.worker("stt", 1)
        for jid in (first, jobs[0]["id"]):
            assert st.wait_job(jid)["status"] == "succeeded"


def test_failed_job_answers_500_and_stream_error(stack: Stack, tmp_path: Path) -> None:
    noise = tmp_path / "noise.wav"
    noise.write_bytes(bytes(range(256)) * 64)  # binary, but not media: the job fails
    with stack.client() as c:
        with open(noise, "rb") as fh:
            r = c.post("/transcribe", files={"file": ("noise.wav", fh)})
        assert r.status_code == 500, r.text
        assert r.json()["detail"] and c.get(f"/v1/jobs/{r.json()['job_id']}").json()["status"] == "failed"
        with open(noise, "rb") as fh, c.stream("POST", "/transcribe/stream", files={"file": ("noise.wav", fh)}) as s:
            assert s.status_code == 200
            events = [json.loads(line[6:]) for line in s.iter_lines() if line.startswith("data: ")]
    assert len(events) == 1 and events[0]["error"] and events[0]["job_id"].startswith("job_")
