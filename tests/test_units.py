"""Fast unit tests of the pure functions: merge, exports, byte ranges, the upload parser and
transcription over VAD segments (no broker, no HTTP server)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from starlette.requests import Request

from ethos_testing import media
from gateway.errors import ApiError
from gateway.ranges import RangeNotSatisfiable, parse_range
from gateway.upload import receive_upload
from shared.exports import to_srt, to_vtt
from shared.jobs import object_key
from shared.schemas import (
    FaceFrame,
    FerChunkOutput,
    JobRecord,
    JobStatus,
    MediaInfo,
    ModelInfo,
    Segment,
    SttOutput,
)
from shared.settings import VadSettings
from shared.storage.local import LocalStorage
from workers.cpu.merge import build_result, face_timeline
from workers.stt.audio import read_wav
from workers.stt.engines.base import SpeechEngine, Transcript
from workers.stt.transcribe import transcribe_audio

# --------------------------------------------------------------------------- merge


def _rec(has_video: bool) -> JobRecord:
    return JobRecord(id="job_1", status=JobStatus.running, stage="merging", created_at="2026-01-01T00:00:00Z",
                     media=MediaInfo(filename="talk.mp4", duration=4.0, has_audio=True, has_video=has_video),
                     media_key=object_key("job_1", "input.mp4"))


def _seg(i: int, start: float, end: float, text: str) -> Segment:
    return Segment(id=i, start=start, end=end, text=text, emotion="Neutral", valence=0, arousal=0)


def _chunk(start: float, end: float, labels: list[tuple[float, str | None]]) -> FerChunkOutput:
    frames = [FaceFrame(t=t, label=lab, scores={"Happy": 1.0 if lab == "Happy" else 0.0,
                                                  "Sad": 1.0 if lab == "Sad" else 0.0} if lab else None)
              for t, lab in labels]
    return FerChunkOutput(start=start, end=end, frames=frames,
                          frames_without_face=sum(lab is None for _, lab in labels),
                          model=ModelInfo(engine="onnx", model_id="fer"), seconds=0.1, worker="w1")


STT = SttOutput(segments=[_seg(1, 0.2, 1.8, "Hello there."), _seg(2, 2.1, 3.9, "")],
                model=ModelInfo(engine="fasterwhisper", model_id="tiny.en"), vad=ModelInfo(engine="silero", model_id="v6"),
                seconds=0.5, language="en")


def test_build_result_fuses_speech_and_faces() -> None:
    fer = [_chunk(2, 4, [(2.0, "Sad"), (3.0, None)]), _chunk(0, 2, [(0.0, "Happy"), (1.0, "Happy"), (2.0, "Sad")])]
    result = build_result(_rec(True), STT, fer, {"stt": 0.5})
    assert result.text == "Hello there."
    assert result.face_emotion_timeline == {"0": "Happy", "1": "Happy", "2": "Sad"}
    assert [s.face_emotion for s in result.segments] == ["Happy", "Sad"]
    assert result.frames_without_face == 1
    assert result.face_chunks is not None and [c.start for c in result.face_chunks] == [0, 2]
    assert result.face_scores == {"0": {"Happy": 1.0, "Sad": 0.0}, "1": {"Happy": 1.0, "Sad": 0.0},
                                  "2": {"Happy": 0.0, "Sad": 1.0}}
    assert set(result.models) == {"stt", "vad", "fer"} and result.timings == {"stt": 0.5}
    assert STT.segments[0].face_emotion is None  # the input is not modified


def test_build_result_audio_only_and_faces_only() -> None:
    audio = build_result(_rec(False), STT, [], {})
    assert audio.face_emotion_timeline is None and audio.face_chunks is None and audio.face_scores is None
    faces = build_result(_rec(True), None, [_chunk(0, 1, [(0.0, "Happy")])], {})
    assert faces.segments == [] and faces.text == "" and "stt" not in faces.models


def test_border_frame_counts_once() -> None:
    timeline, _ = face_timeline([_chunk(0, 1, [(0.0, "Sad"), (1.0, "Happy")]),
                                 _chunk(1, 2, [(1.0, "Sad"), (1.5, "Sad")])])
    # Second 1 holds the border frame once (Happy, seen first) and 1.5 (Sad): tie → first seen.
    assert timeline == {0: "Sad", 1: "Happy"}


# --------------------------------------------------------------------------- exports


RESULT: dict[str, Any] = {"segments": [
    {"start": 0.0, "end": 1.5, "text": "Hi  there [laughs]", "emotion": "Happy"},
    {"start": 3661.25, "end": 3662.0, "text": "", "emotion": "Neutral"},
]}


def test_srt() -> None:
    assert to_srt(RESULT) == ("1\n00:00:00,000 --> 00:00:01,500\nHi there [laughs] (Happy)\n\n"
                              "2\n01:01:01,250 --> 01:01:02,000\n…\n")


def test_vtt() -> None:
    assert to_vtt(RESULT) == ("WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500\nHi there [laughs] (Happy)\n\n"
                              "2\n01:01:01.250 --> 01:01:02.000\n…\n")


def test_exports_of_an_empty_result() -> None:
    assert to_srt({"segments": []}) == ""
    assert to_vtt({"segments": []}) == "WEBVTT\n"


# --------------------------------------------------------------------------- byte ranges


@pytest.mark.parametrize(("header", "expected"), [
    ("bytes=0-99", (0, 99)), ("bytes=100-", (100, 999)), ("bytes=-100", (900, 999)),
    ("bytes=990-5000", (990, 999)), ("bytes=-5000", (0, 999)), (" bytes=5-5 ", (5, 5)),
])
def test_ranges(header: str, expected: tuple[int, int]) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5-4", "bytes=-", "items=0-1", "bytes=0-1,5-6", "bytes=x-"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)


# --------------------------------------------------------------------------- the upload parser


def _request(body: bytes, boundary: str | None = "XyZ", chunk: int = 7,
             content_length: bool = True) -> Request:
    headers = [(b"content-type", f"multipart/form-data; boundary={boundary}".encode() if boundary
                else b"application/octet-stream")]
    if content_length:
        headers.append((b"content-length", str(len(body)).encode()))
    pieces = [body[i:i + chunk] for i in range(0, len(body), chunk)] or [b""]

    async def receive() -> dict[str, Any]:
        data = pieces.pop(0) if pieces else b""
        return {"type": "http.request", "body": data, "more_body": bool(pieces)}

    return Request({"type": "http", "method": "POST", "headers": headers}, receive)


def _form(*parts: tuple[str, str | None, bytes]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"--XyZ\r\nContent-Disposition: {disp}\r\n\r\n".encode() + data + b"\r\n"
    return out + b"--XyZ--\r\n"


FLAC = b"fLaC" + bytes(range(256)) * 40


def _receive(tmp_path: Path, body: bytes, max_bytes: int = 1 << 20, **kw: Any) -> Any:
    storage = LocalStorage(tmp_path / "st")
    up = asyncio.run(receive_upload(_request(body, **kw), file_field="file", storage=storage,
                                    key_for=lambda name: object_key("job_1", "input.flac"),
                                    max_bytes=max_bytes, chunk_bytes=1000))
    return up, storage


def test_upload_streams_the_file_and_collects_fields(tmp_path: Path) -> None:
    body = _form(("language", None, b" en "), ("file", "../../a talk.flac", FLAC), ("callback_url", None, b"x"))
    up, storage = _receive(tmp_path, body)
    assert up.fields == {"language": "en", "callback_url": "x"}
    assert up.size == len(FLAC) and up.sniffed == "audio/flac" and up.filename == "a talk.flac"
    assert storage.get_bytes(up.key) == FLAC


def test_upload_keeps_repeated_fields(tmp_path: Path) -> None:
    body = _form(("timestamp_granularities[]", None, b"word"), ("timestamp_granularities[]", None, b"segment"),
                 ("file", "a.flac", FLAC))
    up, _ = _receive(tmp_path, body)
    assert up.all_fields == {"timestamp_granularities[]": ["word", "segment"]}
    assert up.fields == {"timestamp_granularities[]": "segment"}


@pytest.mark.parametrize(("body", "kw", "status", "code"), [
    (_form(("language", None, b"en")), {}, 400, "missing_file"),
    (_form(("file", "a.flac", b"")), {}, 400, "empty_file"),
    (_form(("file", "a.txt", b"just some words\n" * 20)), {}, 415, "unsupported_media"),
    (_form(("language", None, b"x" * 5000), ("file", "a.flac", FLAC)), {}, 400, "invalid_request"),
    (_form(("file", "a.flac", FLAC)), {"boundary": None}, 400, "invalid_request"),
    (_form(*[("k", None, b"v")] * 33, ("file", "a.flac", FLAC)), {"chunk": 4096}, 400, "invalid_multipart"),
    (_form(("file", "a.flac", FLAC)), {"max_bytes": 100}, 413, "too_large"),
    (_form(("file", "a.flac", FLAC)), {"max_bytes": 100, "content_length": False}, 413, "too_large"),
])
def test_upload_errors_leave_nothing(tmp_path: Path, body: bytes, kw: dict[str, Any], status: int, code: str) -> None:
    with pytest.raises(ApiError) as e:
        _receive(tmp_path, body, **kw)
    assert (e.value.status, e.value.code) == (status, code)
    root = tmp_path / "st"
    assert not root.exists() or not [p for p in root.rglob("*") if p.is_file()]


# --------------------------------------------------------------------------- transcription


class _Echo(SpeechEngine):
    """Answers each clip with its length, so the test sees which audio each segment got."""

    name = "echo"
    batch_size = 2

    def __init__(self) -> None:
        self.batches: list[int] = []

    def info(self) -> ModelInfo:
        return ModelInfo(engine="echo", model_id="echo")

    def load(self) -> None:
        pass

    def transcribe(self, clips: list[np.ndarray], language: str, task: str = "transcribe",
                   prior: str | None = None) -> list[Transcript]:
        self.batches.append(len(clips))
        return [Transcript(text=f"{len(c) / 16000:.4f} s [laughs]", truncated=i == 0) for i, c in enumerate(clips)]


def test_transcribe_audio_gives_each_segment_its_own_audio(tmp_path: Path) -> None:
    wav, truth = media.sentences_with_pauses(tmp_path, ["The first sentence is here.", "A second one follows.",
                                                        "And a third ends it."], pause=1.5)
    engine = _Echo()
    seen: list[tuple[int, int]] = []
    segs = transcribe_audio(read_wav(wav), engine, VadSettings(), "en",
                            on_batch=lambda new, done, total: seen.append((done, total)))
    assert [s.id for s in segs] == [1, 2, 3]
    assert engine.batches == [2, 1] and seen == [(2, 3), (3, 3)]
    for seg, (a, b) in zip(segs, truth, strict=True):
        assert abs(seg.start - a) < 0.3 and abs(seg.end - b) < 0.3
        assert abs(float(seg.text.split()[0]) - (seg.end - seg.start)) < 0.001
        assert seg.emotion == "Happy" and seg.tags[0].tag == "laughs" and seg.tags[0].time <= seg.end
    assert [s.truncated for s in segs] == [True, False, True]
