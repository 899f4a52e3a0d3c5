"""Odd but real media through the whole pipeline (real ffmpeg, Celery workers, faster-whisper,
FER): sample rates, channel layouts, a 0-second file, variable frame rate, rotation, and a
video whose audio stream is corrupt. Each ends in a clear state, never an internal error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ethos_testing import media
from ethos_testing.procs import Stack, private_stack


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with private_stack(tmp_path_factory.mktemp("hostile-media"), ETHOS_STT__ENGINE="fasterwhisper") as st:
        st.worker("cpu", 1, name="cpu")
        st.worker("stt", 1, name="stt")
        st.worker("fer", 1, name="fer")
        st.gateway()
        yield st


def ff(*args: str) -> None:
    media.run(["ffmpeg", "-v", "error", "-y", *args])


@pytest.mark.parametrize("name, make", [
    ("8k.wav", lambda src, out: ff("-i", str(src), "-ar", "8000", str(out))),
    ("96k.flac", lambda src, out: ff("-i", str(src), "-ar", "96000", "-sample_fmt", "s32", str(out))),
    ("stereo.mp3", lambda src, out: ff("-i", str(src), "-ac", "2", str(out))),
    ("surround51.m4a", lambda src, out: ff("-i", str(src), "-af", "pan=5.1|FC=c0|FL=0.3*c0|FR=0.3*c0",
                                           "-c:a", "aac", str(out))),
])
def test_audio_formats_transcribe(full: Stack, jfk: Path, tmp_path: Path, name: str, make) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / name
    make(jfk, out)
    job, result = full.run_job(out)
    assert job["status"] == "succeeded", job
    assert result is not None
    assert "country" in result["text"].lower(), result["text"]
    assert 10.5 < result["duration"] < 11.5


def test_zero_second_file_ends_cleanly(full: Stack, tmp_path: Path) -> None:
    empty = tmp_path / "zero.wav"
    ff("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0", str(empty))
    assert empty.stat().st_size > 0  # a header, no samples
    job, _ = full.run_job(empty)
    assert job["status"] == "failed", job
    assert job["error"]["code"] == "unsupported_media"
    assert "no measurable duration" in job["error"]["message"]


def test_variable_frame_rate_and_rotated_video(full: Stack, yongen: Path, tmp_path: Path) -> None:
    vfr = tmp_path / "vfr.mkv"
    # frames kept at uneven intervals, timestamps passed through: a real VFR stream
    ff("-i", str(yongen), "-vf", "select='not(mod(n\\,3))+not(mod(n\\,7))'", "-fps_mode", "vfr",
       "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy", str(vfr))
    rotated = tmp_path / "rotated.mp4"
    # a display matrix of 90° (ffmpeg 5's way to write it with a stream copy)
    ff("-i", str(yongen), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))
    for path in (vfr, rotated):
        job, result = full.run_job(path)
        assert job["status"] == "succeeded", (path.name, job)
        assert result is not None and result["has_video"], path.name
        assert result["face_emotion_timeline"], path.name
        assert abs(result["duration"] - 10.7) < 1.5, (path.name, result["duration"])


def test_video_with_corrupt_audio_stream(full: Stack, yongen: Path, tmp_path: Path) -> None:
    """The AAC packets are overwritten with noise: the job ends in a clear state."""
    src = tmp_path / "clean.mkv"
    ff("-i", str(yongen), "-c", "copy", str(src))
    broken = tmp_path / "corrupt-audio.mkv"
    # the bitstream noise filter damages the audio packets only
    ff("-i", str(src), "-c", "copy", "-bsf:a", "noise=amount=-1", str(broken))
    job, result = full.run_job(broken)
    # what decodes of the audio is noise (no speech); the faces are read as usual
    assert job["status"] == "succeeded", job
    assert result is not None and result["has_video"] and len(result["face_emotion_timeline"]) >= 9
