"""Video jobs: FER fanned out over real fer worker processes, merged with speech."""

from __future__ import annotations

import signal
from pathlib import Path

import psutil

from ethos_testing.procs import Stack, private_stack, wait_for
from shared.schemas import MediaInfo
from workers.fer.models import CLASSES
from workers.fer.plan import plan_fer_chunks
from workers.fer.video import sample_times


def events(stack: Stack, job_id: str) -> list[dict]:  # type: ignore[type-arg]
    """The job's event log."""
    return stack.events(job_id)


def assert_each_sample_once(result: dict, duration: float) -> None:  # type: ignore[type-arg]
    chunks = result["face_chunks"]
    assert chunks[0]["start"] == 0.0 and abs(chunks[-1]["end"] - duration) < 1e-3
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert a["end"] == b["start"]  # contiguous, no overlap
    fps = result["models"]["fer"]["extra"]["fps"]
    expected = sum(len(sample_times(c["start"], c["end"], fps)) for c in chunks)
    assert expected == len(sample_times(0, duration, fps))
    # The decoder may end a frame early at the very end of the file, never elsewhere.
    assert expected - 1 <= sum(c["frames"] for c in chunks) <= expected


def test_face_video_without_audio(stack: Stack, yongen: Path) -> None:
    job, result = stack.run_job(yongen)
    assert job["status"] == "succeeded", job
    assert job["media"]["has_audio"] is False and job["media"]["has_video"] is True
    assert result is not None
    assert result["segments"] == [] and result["has_video"] is True
    timeline = result["face_emotion_timeline"]
    assert sum(str(s) in timeline for s in range(10)) >= 9, timeline
    assert set(timeline.values()) <= set(CLASSES)
    assert set(result["face_scores"]) == set(timeline)
    assert result["models"]["fer"]["model_id"] == "fer2013_mini_xception.onnx"
    assert len(result["face_chunks"]) == 4  # 10.7 s in 3-s chunks
    faces = [e for e in events(stack, job["id"]) if e["type"] == "face"]
    assert len(faces) == 4
    assert_each_sample_once(result, job["media"]["duration"])


def test_pattern_video_with_speech(stack: Stack, speech_video: Path) -> None:
    job, result = stack.run_job(speech_video)
    assert job["status"] == "succeeded", job
    assert result is not None
    assert result["face_emotion_timeline"] == {}
    assert result["frames_without_face"] == sum(c["frames"] for c in result["face_chunks"]) > 0
    assert len(result["segments"]) == 3
    assert all(s["face_emotion"] is None for s in result["segments"])


def test_long_video_fans_out_over_both_workers(stack: Stack, long_face_video: Path) -> None:
    job, result = stack.run_job(long_face_video)
    assert job["status"] == "succeeded", job
    assert result is not None
    duration = job["media"]["duration"]
    assert len(result["face_chunks"]) > 3
    assert_each_sample_once(result, duration)
    workers = {c["worker"] for c in result["face_chunks"]}
    assert len(workers) == 2, workers
    assert sum(str(s) in result["face_emotion_timeline"] for s in range(int(duration))) >= int(duration) - 3


def test_chunk_plan_on_the_sampling_grid() -> None:
    info = MediaInfo(filename="v.mp4", duration=10.7, has_video=True)
    assert plan_fer_chunks(info, 3, 1.0) == [(0.0, 3.0), (3.0, 6.0), (6.0, 9.0), (9.0, 10.7)]
    assert plan_fer_chunks(info, 2.9, 2.0)[0] == (0.0, 3.0)
    assert plan_fer_chunks(MediaInfo(filename="a.wav", duration=5, has_video=False), 3, 1) == []
    assert sample_times(0, 3, 1) == [0.5, 1.5, 2.5] and sample_times(3, 6, 1) == [3.5, 4.5, 5.5]


def test_fer_worker_killed_mid_chunk(tmp_path: Path, long_face_video: Path) -> None:
    with private_stack(tmp_path, ETHOS_FER__CHUNK_S="10") as st:
        st.worker("cpu", 1, name="cpu")
        fer = st.worker("fer", 1, name="fer")
        st.gateway()
        r = st.submit(long_face_video)
        job_id = r.json()["id"]
        wait_for(lambda: "ethos.fer.chunk" in fer.log.read_text() and "received" in fer.log.read_text(), 60,
                 0.02, what="a chunk to start")
        children = psutil.Process(fer.popen.pid).children(recursive=True)
        assert children, "prefork pool child not found"
        for child in children:
            child.send_signal(signal.SIGKILL)
        job = st.wait_job(job_id, 120)
        assert job["status"] == "succeeded", job
        log = fer.log.read_text()
        assert "WorkerLostError" in log or "exited with 'signal 9" in log, log[-2000:]
        with st.client() as c:
            result = c.get(f"/v1/jobs/{job_id}/result").json()
        assert_each_sample_once(result, job["media"]["duration"])
