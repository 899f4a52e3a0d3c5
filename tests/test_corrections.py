"""Corrections and versions of a result through a real stack: ETag, If-Match, 412, 428, 4xx."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ethos_testing.procs import Stack, private_stack
from shared.revisions import InvalidCorrection, apply
from shared.schemas import Result, ResultCorrection


@pytest.fixture(scope="module")
def cstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with private_stack(tmp_path_factory.mktemp("corrections"), ETHOS_STT__ENGINE="fasterwhisper") as st:
        st.worker("cpu", 1, name="cpu")
        st.worker("stt", 1, name="stt")
        st.gateway()
        yield st


@pytest.fixture(scope="module")
def job(cstack: Stack, jfk: Path) -> dict[str, Any]:
    j, result = cstack.run_job(jfk)
    assert j["status"] == "succeeded" and result and result["segments"]
    return j


def _segments(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(s) for s in result["segments"]]


def test_edit_saves_a_new_version(cstack: Stack, job: dict[str, Any]) -> None:
    url = f"/v1/jobs/{job['id']}/result"
    with cstack.client() as c:
        r1 = c.get(url)
        assert r1.headers["etag"] == '"v1"' and r1.json()["version"] == 1
        machine = r1.json()
        segs = _segments(machine)
        segs[0]["text"] = segs[0]["text"] + " [laughs]"  # sent back as GET gave it, one edit
        r2 = c.put(url, json={"segments": segs}, headers={"If-Match": r1.headers["etag"]})
        assert r2.status_code == 200, r2.text
        assert r2.headers["etag"] == '"v2"'
        new = r2.json()
        assert new["version"] == 2 and new["corrected_at"]
        seg = new["segments"][0]
        assert seg["text"].endswith("[laughs]")
        assert [t["tag"] for t in seg["tags"]] == ["laughs"] and seg["tags"][0]["emotion"] == "Happy"
        assert (seg["emotion"], seg["valence"], seg["arousal"]) == ("Happy", 0.7, 0.6)
        assert seg["emotion_track"][0]["emotion"] == "Happy"
        assert "[laughs]" in new["text"]
        # GET and the exports give the latest; ?version=1 the untouched machine output.
        assert c.get(url).json() == new and c.get(url).headers["etag"] == '"v2"'
        assert "[laughs]" in c.get(url, params={"format": "srt"}).text
        assert "(Happy)" in c.get(url, params={"format": "vtt"}).text
        v1 = c.get(url, params={"version": 1})
        assert v1.headers["etag"] == '"v1"' and v1.json()["segments"] == machine["segments"]
        assert "[laughs]" not in c.get(url, params={"version": 1, "format": "srt"}).text
        missing = c.get(url, params={"version": 9})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_such_version"
        assert c.get(url, params={"version": 0}).status_code == 404
        assert c.get(url, params={"version": "two"}).status_code == 400
        vs = c.get(f"/v1/jobs/{job['id']}/versions").json()
        assert vs["latest"] == 2 and [v["version"] for v in vs["versions"]] == [1, 2]
        assert [v["etag"] for v in vs["versions"]] == ['"v1"', '"v2"']

        # A stale write (the v1 ETag again) is refused and changes nothing.
        stale = c.put(url, json={"segments": segs[1:]}, headers={"If-Match": '"v1"'})
        assert stale.status_code == 412 and stale.json()["error"]["code"] == "precondition_failed"
        assert '"v2"' in stale.json()["error"]["message"]
        # No If-Match at all.
        r428 = c.put(url, json={"segments": segs})
        assert r428.status_code == 428 and r428.json()["error"]["code"] == "precondition_required"
        assert c.get(url).json() == new


def test_split_and_merge(cstack: Stack, job: dict[str, Any]) -> None:
    url = f"/v1/jobs/{job['id']}/result"
    with cstack.client() as c:
        cur = c.get(url)
        seg = cur.json()["segments"][0]
        mid = round((seg["start"] + seg["end"]) / 2, 3)
        words = seg["text"].replace("[laughs]", "").split()  # the first test's edit
        half = len(words) // 2
        body = {"segments": [
            {"start": seg["start"], "end": mid, "text": " ".join(words[:half]) + " [sighs]"},
            {"start": mid, "end": seg["end"], "text": " ".join(words[half:]), "speaker": "SPEAKER_01"},
        ]}
        r = c.put(url, json=body, headers={"If-Match": cur.headers["etag"]})
        assert r.status_code == 200, r.text
        a, b = r.json()["segments"]
        assert (a["id"], b["id"]) == (1, 2) and b["speaker"] == "SPEAKER_01"
        assert a["emotion"] == "Sad" and b["emotion"] == "Neutral"
        assert a["tags"][0]["time"] <= mid
        merged = {"segments": [{"start": a["start"], "end": b["end"], "text": " ".join(words)}]}
        r2 = c.put(url, json=merged, headers={"If-Match": r.headers["etag"]})
        assert r2.status_code == 200 and len(r2.json()["segments"]) == 1
        assert r2.json()["segments"][0]["text"] == " ".join(words)
        assert r2.json()["segments"][0]["emotion"] == "Neutral"


@pytest.mark.parametrize(("body", "status", "needle"), [
    ({"segments": [{"start": 2.0, "end": 1.0, "text": "x"}]}, 422, "must be after start"),
    ({"segments": [{"start": 0.0, "end": 999.0, "text": "x"}]}, 422, "past the recording"),
    ({"segments": [{"start": 3.0, "end": 4.0, "text": "a"}, {"start": 1.0, "end": 2.0, "text": "b"}]}, 422, "in order"),
    ({"segments": [{"start": 1.0, "end": 2.0, "text": "a",
                    "words": [{"word": "a", "start": 5.0, "end": 6.0, "probability": 1.0}]}]}, 422, "inside the segment"),
    ({"segments": [{"start": 0.0, "end": 1.0, "text": "x", "colour": "red"}]}, 400, "colour"),
    ({"segments": [], "title": "mine"}, 400, "title"),
    ({"segments": [{"start": -1.0, "end": 1.0, "text": "x"}]}, 400, "start"),
    ({"segments": [{"start": 0.0, "end": 1.0}]}, 400, "text"),
    ({}, 400, "segments"),
])
def test_invalid_corrections_change_nothing(cstack: Stack, job: dict[str, Any], body: dict[str, Any],
                                            status: int, needle: str) -> None:
    url = f"/v1/jobs/{job['id']}/result"
    with cstack.client() as c:
        before = c.get(url)
        r = c.put(url, json=body, headers={"If-Match": before.headers["etag"]})
        assert r.status_code == status, r.text
        assert needle in r.json()["error"]["message"]
        after = c.get(url)
        assert after.headers["etag"] == before.headers["etag"] and after.json() == before.json()


def test_if_match_forms_and_job_states(cstack: Stack, job: dict[str, Any]) -> None:
    url = f"/v1/jobs/{job['id']}/result"
    with cstack.client() as c:
        cur = c.get(url).json()
        bad = c.put(url, json={"segments": cur["segments"]}, headers={"If-Match": "yesterday"})
        assert bad.status_code == 400 and "If-Match" in bad.json()["error"]["message"]
        star = c.put(url, json={"segments": cur["segments"]}, headers={"If-Match": "*"})
        assert star.status_code == 200 and star.json()["version"] == cur["version"] + 1
        assert c.put("/v1/jobs/job_nope/result", json={"segments": []},
                     headers={"If-Match": '"v1"'}).status_code == 404


def test_concurrent_saves_from_one_version_one_wins(cstack: Stack, job: dict[str, Any]) -> None:
    url = f"/v1/jobs/{job['id']}/result"
    with cstack.client() as c:
        cur = c.get(url)
    segs = _segments(cur.json())
    codes: list[int] = []

    def save(i: int) -> None:
        body = {"segments": [{**segs[0], "text": f"writer {i}"}, *segs[1:]]}
        with cstack.client() as c:
            codes.append(c.put(url, json=body, headers={"If-Match": cur.headers["etag"]}).status_code)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] + [412] * 5, codes
    with cstack.client() as c:
        latest = c.get(url)
        n = int(cur.headers["etag"].strip('"v'))
        assert latest.headers["etag"] == f'"v{n + 1}"'
        assert latest.json()["segments"][0]["text"].startswith("writer ")
    # Only the winner's object stays in storage.
    stored = list((Path(cstack.env["ETHOS_STORAGE__LOCAL_ROOT"]) / "jobs" / job["id"] / "versions").iterdir())
    assert len(stored) == n


def test_correcting_a_job_without_a_result(tmp_path: Path, jfk: Path) -> None:
    """A job without a result (here: queued, no worker on this stack) refuses a correction with
    409 ``not_ready``; once deleted, 410."""
    with private_stack(tmp_path) as st:
        st.gateway()
        jid = st.submit(jfk).json()["id"]
        with st.client() as c:
            early = c.put(f"/v1/jobs/{jid}/result", json={"segments": []}, headers={"If-Match": '"v1"'})
            assert early.status_code == 409, early.text
            assert early.json() == {"error": {"code": "not_ready", "message": f"job {jid} is queued"}}
            assert c.get(f"/v1/jobs/{jid}").json()["status"] == "queued"
            assert c.delete(f"/v1/jobs/{jid}").status_code == 200
            gone = c.put(f"/v1/jobs/{jid}/result", json={"segments": []}, headers={"If-Match": '"v1"'})
            assert gone.status_code == 410 and gone.json()["error"]["code"] == "gone"
            assert c.get(f"/v1/jobs/{jid}/result", params={"version": 1}).status_code == 410


def test_apply_keeps_the_machine_fields() -> None:
    base = Result(job_id="job_x", filename="a.mp4", duration=4.0, language="en", text="hi", segments=[],
                  has_video=True, face_emotion_timeline={"0": "Happy", "1": "Sad", "2": "Sad"},
                  models={}, timings={"stt": 1.0}, created_at="t0", finished_at="t1")
    body = ResultCorrection.model_validate({"segments": [{"start": 0.2, "end": 2.9, "text": "  hello   [gasps] "}]})
    new = apply(base, body, 2, "t2")
    seg = new.segments[0]
    assert seg.text == "hello [gasps]" and seg.emotion == "Surprised" and seg.face_emotion == "Sad"
    assert new.timings == base.timings and new.face_emotion_timeline == base.face_emotion_timeline
    assert (new.version, new.corrected_at, new.text) == (2, "t2", "hello [gasps]")
    with pytest.raises(InvalidCorrection):
        apply(base, ResultCorrection.model_validate({"segments": [{"start": 1, "end": 1, "text": ""}]}), 2, "t")


@pytest.mark.parametrize("stack", ["s3"], indirect=True)
def test_preview_and_versions_on_s3(stack: Stack, yongen: Path, jfk: Path, tmp_path: Path) -> None:
    """The same paths against S3 (moto): the preview stored and served in ranges, versions saved,
    read back, and a losing save's object removed."""
    from ethos_testing import media

    video = media.mpeg4_part2(yongen, jfk, tmp_path / "camera.mp4")
    job, result = stack.run_job(video)
    assert job["status"] == "succeeded" and result, job
    with stack.client() as c:
        full = c.get(job["links"]["preview"])
        assert full.status_code == 200 and full.content[4:8] == b"ftyp"
        part = c.get(job["links"]["preview"], headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == full.content[:100]
        url = f"/v1/jobs/{job['id']}/result"
        cur = c.get(url)
        segs = _segments(cur.json())
        segs[-1]["text"] += " [gasps]"
        saved = c.put(url, json={"segments": segs}, headers={"If-Match": cur.headers["etag"]})
        assert saved.status_code == 200, saved.text
        assert saved.json()["segments"][-1]["emotion"] == "Surprised"
        assert saved.json()["segments"][-1]["face_emotion"] == result["segments"][-1]["face_emotion"]
        assert c.put(url, json={"segments": segs}, headers={"If-Match": cur.headers["etag"]}).status_code == 412
        assert c.get(url, params={"version": 1}).json()["segments"] == result["segments"]
        assert c.get(url).json()["version"] == 2


def test_json_body_over_the_limit_is_413(tmp_path: Path) -> None:
    """Content-Length past the bound, and a chunked body that grows past it: 413, nothing read."""
    with private_stack(tmp_path, ETHOS_GATEWAY__MAX_JSON_BYTES="4096") as st:
        st.gateway()
        with st.client() as c:
            big = b'{"segments": [' + b",".join([b'{"start": 0, "end": 1, "text": "x"}'] * 200) + b"]}"
            r = c.put("/v1/jobs/job_nope/result", content=big,
                      headers={"Content-Type": "application/json", "If-Match": '"v1"'})
            assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"

            def chunks() -> Iterator[bytes]:
                for i in range(0, len(big), 1000):
                    yield big[i:i + 1000]

            r = c.put("/v1/jobs/job_nope/result", content=chunks(),
                      headers={"Content-Type": "application/json", "If-Match": '"v1"'})
            assert r.status_code == 413
            small = c.put("/v1/jobs/job_nope/result", content=b'{"segments": []}',
                          headers={"Content-Type": "application/json", "If-Match": '"v1"'})
            assert small.status_code == 404
            chunked_small = c.put("/v1/jobs/job_nope/result", content=iter([b'{"segments"', b": []}"]),
                                  headers={"Content-Type": "application/json", "If-Match": '"v1"'})
            assert chunked_small.status_code == 404


def test_the_python_client_corrects(cstack: Stack, job: dict[str, Any]) -> None:
    import asyncio

    from ethos_client import AsyncEthosClient, EthosClient, EthosError

    with EthosClient(cstack.url) as c:
        cur = c.result(job["id"])
        assert isinstance(cur, dict)
        segs = _segments(cur)
        segs[0]["text"] = "Corrected by the client. [chuckles]"
        new = c.correct(job["id"], segs, cur["version"])
        assert new["version"] == cur["version"] + 1 and new["segments"][0]["emotion"] == "Happy"
        with pytest.raises(EthosError) as e:
            c.correct(job["id"], segs, cur["version"])
        assert e.value.status == 412
        old = c.result(job["id"], "srt", version=cur["version"])
        assert isinstance(old, str) and "Corrected by the client" not in old

    async def run() -> dict[str, Any]:
        async with AsyncEthosClient(cstack.url) as ac:
            latest = await ac.result(job["id"])
            assert isinstance(latest, dict)
            return await ac.correct(job["id"], latest["segments"], latest["version"])

    assert asyncio.run(run())["version"] == new["version"] + 1
