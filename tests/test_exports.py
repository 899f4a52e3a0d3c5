"""Exports (SRT, VTT, segment CSV, face CSV): pure units and over the running stack."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pysrt
import webvtt

from ethos_testing.procs import Stack
from shared.exports import SEGMENT_CSV_COLUMNS, faces_to_csv, to_csv, to_srt, to_vtt

RESULT: dict[str, Any] = {
    "segments": [
        {"id": 1, "speaker": "SPEAKER_00", "start": 0.25, "end": 2.5, "text": 'Hello, "world"',
         "emotion": "Happy", "valence": 0.6, "arousal": 0.4, "face_emotion": "happy"},
        {"id": 2, "speaker": "SPEAKER_01", "start": 3661.0, "end": 3662.125, "text": "line\nbreak",
         "emotion": "Neutral", "valence": 0.0, "arousal": 0.1, "face_emotion": None},
    ],
    "face_emotion_timeline": {"1": "happy", "0": "neutral", "10": "sad"},
    "face_scores": {"0": {"happy": 0.1, "neutral": 0.9}, "1": {"happy": 0.8, "neutral": 0.2}},
}


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_segment_csv_round_trips() -> None:
    rows = _rows(to_csv(RESULT))
    assert tuple(rows[0]) == SEGMENT_CSV_COLUMNS
    assert rows[0]["text"] == 'Hello, "world"' and rows[1]["text"] == "line\nbreak"
    assert [float(r["start"]) for r in rows] == [0.25, 3661.0]
    assert rows[0]["face_emotion"] == "happy" and rows[1]["face_emotion"] == ""
    assert rows[1]["speaker"] == "SPEAKER_01" and float(rows[0]["valence"]) == 0.6


def test_face_csv_sorted_with_scores() -> None:
    rows = _rows(faces_to_csv(RESULT))
    assert [(r["second"], r["face_emotion"]) for r in rows] == [("0", "neutral"), ("1", "happy"), ("10", "sad")]
    assert float(rows[1]["score_happy"]) == 0.8 and rows[2]["score_neutral"] == ""
    assert faces_to_csv({"face_emotion_timeline": None}) == "second,face_emotion\r\n"


def test_srt_and_vtt_parse(tmp_path: Path) -> None:
    subs = pysrt.from_string(to_srt(RESULT))
    # Two speakers: each cue names its speaker (SRT "Speaker: ", WebVTT a voice span).
    assert len(subs) == 2 and subs[0].text == 'SPEAKER_00: Hello, "world" (Happy)'
    assert subs[1].start.ordinal == 3661000 and subs[1].end.ordinal == 3662125
    vtt = tmp_path / "x.vtt"
    vtt.write_text(to_vtt(RESULT))
    captions = webvtt.read(str(vtt))
    assert [c.start for c in captions] == ["00:00:00.250", "01:01:01.000"]
    assert captions[1].text == "line break" and captions[1].voice == "SPEAKER_01"


def test_exports_use_speaker_names(tmp_path: Path) -> None:
    named = {**RESULT, "speakers": [{"id": "SPEAKER_00", "name": "Alice <A&B>", "total_speech_s": 2.25},
                                    {"id": "SPEAKER_01", "name": None, "total_speech_s": 1.1}]}
    subs = pysrt.from_string(to_srt(named))
    assert subs[0].text.startswith("Alice <A&B>: ") and subs[1].text.startswith("SPEAKER_01: ")
    (tmp_path / "n.vtt").write_text(to_vtt(named))
    assert [c.voice for c in webvtt.read(str(tmp_path / "n.vtt"))] == ["Alice AandB", "SPEAKER_01"]
    assert [r["speaker"] for r in _rows(to_csv(named))] == ["Alice <A&B>", "SPEAKER_01"]
    # One unnamed speaker: plain cues.
    one = {"segments": [{**RESULT["segments"][0]}], "speakers": [{"id": "SPEAKER_00", "total_speech_s": 2.25}]}
    assert pysrt.from_string(to_srt(one))[0].text == 'Hello, "world" (Happy)'


def test_exports_over_the_stack(stack: Stack, yongen: Path, tmp_path: Path) -> None:
    job, result = stack.run_job(yongen)
    assert job["status"] == "succeeded" and result is not None
    base = f"/v1/jobs/{job['id']}/result"
    with stack.client() as c:
        seg_csv, face_csv = c.get(base, params={"format": "csv"}), c.get(base, params={"format": "faces.csv"})
        srt, vtt = c.get(base, params={"format": "srt"}), c.get(base, params={"format": "vtt"})
        bad = c.get(base, params={"format": "xlsx"})
    assert seg_csv.headers["content-type"].startswith("text/csv")
    assert "yongen.csv" in seg_csv.headers["content-disposition"]
    rows = _rows(seg_csv.text)
    assert [r["text"] for r in rows] == [s["text"] for s in result["segments"]]
    faces = _rows(face_csv.text)
    assert {int(r["second"]): r["face_emotion"] for r in faces} == {
        int(k): v for k, v in result["face_emotion_timeline"].items()}
    assert len(pysrt.from_string(srt.text)) == len(result["segments"])
    (tmp_path / "y.vtt").write_text(vtt.text)
    assert len(webvtt.read(str(tmp_path / "y.vtt"))) == len(result["segments"])
    assert bad.status_code == 400 and "faces.csv" in bad.json()["error"]["message"]
