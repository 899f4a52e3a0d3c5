"""Vocal events through real processes: gateway, cpu and stt workers (faster-whisper), Redis.

A real laughter clip laid into real speech (jfk.flac) comes back as ``[laughs]`` at the pause
where it was put, and that segment's emotion follows the tag table; real applause after the
speech stands on its own in ``events``.
"""

from __future__ import annotations

import re
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluation.vocal import decode
from shared.tags import TAG_TABLE
from tests.procs import Stack, private_stack
from tests.vocal_set import LAUGHTER, committed, nvd_clip

SR = 16000


def _write(path: Path, x: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def vocal_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("vocal-stack")
    with private_stack(tmp, ETHOS_STT__ENGINE="fasterwhisper", ETHOS_VOCAL__ENABLED="true",
                       ETHOS_VOCAL__CACHE_DIR=str(tmp / "models")) as st:
        st.worker("cpu", 2, name="cpu")
        st.worker("stt", 1, name="stt")
        st.gateway()
        yield st


def _run(st: Stack, path: Path) -> dict[str, Any]:
    job, result = st.run_job(path)
    assert job["status"] == "succeeded", job
    assert result is not None
    assert result["models"]["vocal"]["engine"] == "yamnet" and result["timings"]["vocal"] > 0
    return result


def test_applause_after_speech_stands_alone(vocal_stack: Stack, jfk: Path, tmp_path: Path) -> None:
    audio = _write(tmp_path / "jfk-applause.wav",
                   np.concatenate([decode(jfk), np.zeros(SR // 2, np.float32), committed("applause.opus")]))
    result = _run(vocal_stack, audio)
    assert all("[" not in s["text"] and s["emotion"] == "Neutral" for s in result["segments"])
    applause = [e for e in result["events"] if e["label"] == "Applause"]
    assert applause and all(e["tag"] is None and e["segment"] is None and e["source"] == "yamnet"
                            for e in applause)
    assert applause[0]["start"] >= 11.0
    assert not [e for e in result["events"] if e["tag"]]  # the speech itself: no vocal event
    with vocal_stack.client() as c:
        csv_text = c.get(f"/v1/jobs/{result['job_id']}/result", params={"format": "csv"}).text
        assert ",[applause]," in csv_text and csv_text.rstrip().endswith("event")


def test_laughter_inside_speech_is_an_inline_tag(vocal_stack: Stack, jfk: Path, tmp_path: Path) -> None:
    speech, laugh = decode(jfk), decode(nvd_clip(LAUGHTER))
    at = int(2.6 * SR)  # the pause after "my fellow Americans,"
    audio = _write(tmp_path / "jfk-laughs.wav", np.concatenate([speech[:at], laugh, speech[at:]]))
    result = _run(vocal_stack, audio)
    text = result["text"]
    # tiny.en may spell the laugh out ("Hahaha"): the tag still sits where it begins
    assert re.search(r"Americans[.,]?\s*\[laughs\]\s*(\S+\s+){0,3}ask not", text, re.I), text
    seg = next(s for s in result["segments"] if "[laughs]" in s["text"])
    row = TAG_TABLE["laughs"]
    assert (seg["emotion"], seg["valence"], seg["arousal"]) == (row.emotion, row.valence, row.arousal)
    hit = next(t for t in seg["tags"] if t["tag"] == "laughs")
    assert hit["source"] == "yamnet" and 2.0 <= hit["time"] <= 3.5
    assert seg["emotion_track"] and seg["emotion_track"][0]["emotion"] == "Happy"
    laughs = [e for e in result["events"] if e["tag"] == "laughs"]
    assert laughs and laughs[0]["segment"] == seg["id"] and 2.4 <= laughs[0]["start"] <= 3.5
    assert text.count("[laughs]") == 1
    with vocal_stack.client() as c:
        srt = c.get(f"/v1/jobs/{result['job_id']}/result", params={"format": "srt"}).text
        assert "[laughs]" in srt and "(Happy)" in srt
