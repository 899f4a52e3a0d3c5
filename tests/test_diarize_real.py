"""Diarization on real recordings: jfk.flac, and the real-speech set's one-voice clips and
two-person call (committed: the clips whose licence allows it; ``python -m evaluation.realset``
prepares the rest)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.diarize_real import load_audio
from evaluation.der import der
from shared.settings import Settings
from workers.diarize.cluster import SpeakerCount
from workers.diarize.pipeline import diarize_audio

REAL = Path(__file__).resolve().parent.parent / "evaluation" / "sets" / "real"


def test_jfk_is_one_speaker(jfk: Path) -> None:
    out = diarize_audio(load_audio(jfk), Settings().diarize, SpeakerCount())
    assert out.speakers == 1, out.turns
    assert out.windows > 5


def _clips(group: str) -> list[dict]:
    rows = [json.loads(line) for line in (REAL / "manifest.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if r["group"] == group and not r["audio"].startswith("media:")
            and (REAL / r["audio"]).is_file()]


@pytest.fixture(scope="module")
def real_set() -> Path:
    if not _clips("one") or not any(r["id"] == "pyannote-sample" for r in _clips("two")):
        pytest.skip("the real-speech set's clips are missing (python -m evaluation.realset)")
    return REAL


def test_real_single_voices_stay_one_speaker(real_set: Path) -> None:
    assert len(_clips("one")) >= 5
    counts = {r["id"]: diarize_audio(load_audio(real_set / r["audio"]), Settings().diarize, SpeakerCount()).speakers
              for r in _clips("one")}
    assert sum(n == 1 for n in counts.values()) >= 0.9 * len(counts), counts


def test_a_real_two_person_call_is_two_speakers(real_set: Path) -> None:
    clip = next(r for r in _clips("two") if r["id"] == "pyannote-sample")
    out = diarize_audio(load_audio(real_set / clip["audio"]), Settings().diarize, SpeakerCount())
    ref = [(t["speaker"], t["start"], t["end"]) for t in clip["turns"]]
    assert out.speakers == 2
    assert der(ref, [(t.speaker, t.start, t.end) for t in out.turns]).der <= 0.15
