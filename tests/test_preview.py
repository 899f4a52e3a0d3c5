"""The browser-playable preview: the rule, and the rendition made and served by a real stack."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ethos_testing import media
from ethos_testing.procs import Stack, private_stack
from shared.schemas import MediaInfo
from workers.cpu.preview import playable


def _info(**kw: object) -> MediaInfo:
    return MediaInfo(filename="x", duration=1.0, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kw", "ok"), [
    (dict(has_video=True, has_audio=True, container="mp4", video_codec="h264", pixel_format="yuv420p", audio_codec="aac"), True),
    (dict(has_video=True, has_audio=False, container="webm", video_codec="vp9", pixel_format="yuv420p"), True),
    (dict(has_video=True, has_audio=True, container="mp4", video_codec="mpeg4", pixel_format="yuv420p", audio_codec="aac"), False),
    (dict(has_video=True, has_audio=True, container="mp4", video_codec="hevc", pixel_format="yuv420p", audio_codec="aac"), False),
    (dict(has_video=True, has_audio=True, container="mov", video_codec="prores", pixel_format="yuv422p10le", audio_codec="pcm_s16le"), False),
    (dict(has_video=True, has_audio=True, container="avi", video_codec="h264", pixel_format="yuv420p", audio_codec="mp3"), False),
    (dict(has_video=True, has_audio=True, container="mkv", video_codec="h264", pixel_format="yuv420p", audio_codec="aac"), False),
    (dict(has_video=True, has_audio=False, container="mp4", video_codec="h264", pixel_format="yuv444p"), False),
    (dict(has_video=True, has_audio=True, container="mp4", video_codec="h264", pixel_format="yuv420p", audio_codec="ac3"), False),
    (dict(has_video=False, has_audio=True, container="flac", audio_codec="flac"), True),
    (dict(has_video=False, has_audio=True, container="wav", audio_codec="pcm_s16le"), True),
    (dict(has_video=False, has_audio=True, container="ogg", audio_codec="opus"), True),
    (dict(has_video=False, has_audio=True, container="asf", audio_codec="wmav2"), False),
    (dict(has_video=False, has_audio=True, container="amr", audio_codec="amr_nb"), False),
    (dict(has_video=False, has_audio=True, container="mp4", audio_codec="alac"), False),
])
def test_playable_rule(kw: dict[str, object], ok: bool) -> None:
    verdict, why = playable(_info(**kw))
    assert verdict is ok and why


@pytest.fixture(scope="module")
def pstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Gateway, a cpu, an stt and a fer worker on local disk (faster-whisper)."""
    with private_stack(tmp_path_factory.mktemp("preview"), ETHOS_STT__ENGINE="fasterwhisper",
                       ETHOS_FER__CHUNK_S="5") as st:
        st.worker("cpu", 2, name="cpu")
        st.worker("stt", 1, name="stt")
        st.worker("fer", 1, name="fer")
        st.gateway()
        yield st


@pytest.fixture(scope="module")
def mpeg4_video(tmp_path_factory: pytest.TempPathFactory, yongen: Path, jfk: Path) -> Path:
    return media.mpeg4_part2(yongen, jfk, tmp_path_factory.mktemp("mpeg4") / "camera.mp4")


def _streams(path: Path) -> dict[str, str]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         check=True, capture_output=True, text=True).stdout
    info = json.loads(out)
    streams = {s["codec_type"]: s["codec_name"] for s in info["streams"]}
    return {**streams, "format": info["format"]["format_name"], "duration": info["format"]["duration"]}


def test_mpeg4_upload_gets_an_h264_preview(pstack: Stack, mpeg4_video: Path, tmp_path: Path) -> None:
    assert _streams(mpeg4_video)["video"] == "mpeg4"
    job, result = pstack.run_job(mpeg4_video)
    assert job["status"] == "succeeded", job
    assert job["media"]["video_codec"] == "mpeg4" and job["media"]["browser_playable"] is False
    assert job["links"]["preview"] == f"/v1/jobs/{job['id']}/media?rendition=preview"
    stages = [e.get("stage") for e in pstack.events(job["id"]) if e["type"] == "progress"]
    assert "preview" in stages
    assert result and result["segments"] and result["face_emotion_timeline"]
    with pstack.client() as c:
        full = c.get(job["links"]["preview"])
        assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
        assert "camera.preview.mp4" in full.headers["content-disposition"]
        out = tmp_path / "preview.mp4"
        out.write_bytes(full.content)
        info = _streams(out)
        assert info["video"] == "h264" and info["audio"] == "aac"
        assert abs(float(info["duration"]) - float(job["media"]["duration"])) < 0.5
        # +faststart: the index (moov) comes before the media data (mdat).
        assert 0 <= full.content.find(b"moov") < full.content.find(b"mdat")
        part = c.get(job["links"]["preview"], headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == full.content[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(full.content)}"
        assert c.get(job["links"]["preview"], headers={"Range": f"bytes={len(full.content)}-"}).status_code == 416
        # The original stays downloadable as it was uploaded.
        assert c.get(job["links"]["media"]).content == mpeg4_video.read_bytes()
        assert c.get(f"/v1/jobs/{job['id']}/media?rendition=thumbnail").status_code == 400


def test_playable_upload_has_no_preview(pstack: Stack, jfk: Path) -> None:
    job, _ = pstack.run_job(jfk)
    assert job["media"]["browser_playable"] is True and job["links"]["preview"] is None
    with pstack.client() as c:
        r = c.get(f"/v1/jobs/{job['id']}/media?rendition=preview")
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_preview"
    assert "plays in browsers" in r.json()["error"]["message"]


def test_audio_only_preview_is_aac(pstack: Stack, jfk: Path, tmp_path: Path) -> None:
    amr = tmp_path / "voice.aiff"
    media.run(["ffmpeg", "-v", "error", "-y", "-i", str(jfk), "-c:a", "pcm_s16be", str(amr)])
    job, result = pstack.run_job(amr)
    assert job["status"] == "succeeded" and result and result["segments"]
    with pstack.client() as c:
        r = c.get(job["links"]["preview"])
    assert r.status_code == 200 and r.headers["content-type"] == "audio/mp4"
    out = tmp_path / "p.m4a"
    out.write_bytes(r.content)
    info = _streams(out)
    assert info["audio"] == "aac" and "video" not in info


# --------------------------------------------------------------------------- encode, its bounds and failures


@pytest.fixture(scope="module")
def short_mpeg4(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, MediaInfo]:
    from workers.cpu.media import probe

    out = tmp_path_factory.mktemp("short") / "short.avi"
    media.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=1920x1080:rate=25", "-f", "lavfi",
               "-i", "sine=frequency=440", "-t", "3", "-c:v", "mpeg4", "-c:a", "mp3", str(out)])
    return out, probe(out, out.name)


def test_encode_bounds_the_height_and_reports_progress(short_mpeg4: tuple[Path, MediaInfo], tmp_path: Path) -> None:
    from shared.settings import PreviewSettings
    from workers.cpu.preview import encode

    src, info = short_mpeg4
    assert info.container == "avi" and playable(info)[0] is False
    seen: list[float] = []
    out = tmp_path / "p.mp4"
    encode(src, out, info, PreviewSettings(max_height=360, preset="ultrafast"), seen.append)
    got = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(out)],
                                    check=True, capture_output=True, text=True).stdout)["streams"]
    video = next(s for s in got if s["codec_type"] == "video")
    assert (video["codec_name"], video["height"], video["width"], video["pix_fmt"]) == ("h264", 360, 640, "yuv420p")
    assert seen and seen == sorted(seen) and seen[-1] > 0.9


def test_encode_failures_leave_nothing(short_mpeg4: tuple[Path, MediaInfo], tmp_path: Path) -> None:
    from shared.settings import PreviewSettings
    from workers.cpu.preview import PreviewFailed, encode

    src, info = short_mpeg4
    out = tmp_path / "p.mp4"
    with pytest.raises(PreviewFailed, match="longer than"):
        encode(src, out, info, PreviewSettings(timeout_s=0.001))
    assert not out.exists()
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"RIFF" + b"\0" * 400)
    with pytest.raises(PreviewFailed, match="could not make"):
        encode(bad, out, info, PreviewSettings())
    assert not out.exists()


def test_a_failed_preview_does_not_fail_the_job(tmp_path: Path, short_mpeg4: tuple[Path, MediaInfo]) -> None:
    src, _ = short_mpeg4
    with private_stack(tmp_path, ETHOS_PREVIEW__TIMEOUT_S="0.001", ETHOS_STT__ENGINE="fasterwhisper") as st:
        st.worker("cpu", 1, name="cpu")
        st.worker("stt", 1, name="stt")
        st.worker("fer", 1, name="fer")
        st.gateway()
        job, result = st.run_job(src)
        assert job["status"] == "succeeded" and result is not None, job
        assert job["links"]["preview"] is None and job["media"]["browser_playable"] is False
        with st.client() as c:
            r = c.get(f"/v1/jobs/{job['id']}/media", params={"rendition": "preview"})
            assert r.status_code == 404 and "longer than" in r.json()["error"]["message"]
            assert c.get(job["links"]["media"]).status_code == 200


@pytest.mark.parametrize(("env", "value"), [
    ("ETHOS_PREVIEW__PRESET", "placebo"),
    ("ETHOS_PREVIEW__MAX_HEIGHT", "100"),
    ("ETHOS_PREVIEW__CRF", "60"),
    ("ETHOS_PREVIEW__TIMEOUT_S", "20000"),  # past the tasks' soft time limit (3 h)
])
def test_preview_settings_fail_fast(monkeypatch: pytest.MonkeyPatch, env: str, value: str) -> None:
    from pydantic import ValidationError

    from shared.settings import Settings

    monkeypatch.setenv(env, value)
    with pytest.raises(ValidationError):
        Settings()
