"""Vocal events through real processes: gateway, cpu and stt workers (faster-whisper), Redis.

A real laughter clip laid into real speech (jfk.flac) comes back as ``[laughs]`` at the pause
where it was put, and that segment's emotion follows the tag table; real applause after the
speech stands on its own in ``events``.
"""

from __future__ import annotations

import re
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ethos_client import EthosClient, vocal_events
from ethos_testing.procs import Stack, private_stack
from evaluation.vocal import decode
from shared.tags import TAG_TABLE
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


@pytest.fixture(scope="module")
def applause_result(vocal_stack: Stack, jfk: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """jfk.flac, half a second of silence, then real applause (committed, CC BY)."""
    audio = _write(tmp_path_factory.mktemp("applause") / "jfk-applause.wav",
                   np.concatenate([decode(jfk), np.zeros(SR // 2, np.float32), committed("applause.opus")]))
    return _run(vocal_stack, audio)


def test_applause_after_speech_stands_alone(vocal_stack: Stack, applause_result: dict[str, Any]) -> None:
    result = applause_result
    assert all("[" not in s["text"] and s["emotion"] == "Neutral" for s in result["segments"])
    applause = [e for e in result["events"] if e["label"] == "Applause"]
    assert applause and all(e["tag"] is None and e["segment"] is None and e["source"] == "yamnet"
                            for e in applause)
    assert applause[0]["start"] >= 11.0
    assert not [e for e in result["events"] if e["tag"]]  # the speech itself: no vocal event
    with vocal_stack.client() as c:
        csv_text = c.get(f"/v1/jobs/{result['job_id']}/result", params={"format": "csv"}).text
        assert ",[applause]," in csv_text and csv_text.rstrip().endswith("event")


@pytest.fixture(scope="module")
def laugh_result(vocal_stack: Stack, jfk: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """jfk.flac with a real laughter clip laid in at the pause after "my fellow Americans,"."""
    speech, laugh = decode(jfk), decode(nvd_clip(LAUGHTER))
    at = int(2.6 * SR)
    audio = _write(tmp_path_factory.mktemp("laugh") / "jfk-laughs.wav",
                   np.concatenate([speech[:at], laugh, speech[at:]]))
    return _run(vocal_stack, audio)


def test_laughter_inside_speech_is_an_inline_tag(vocal_stack: Stack, laugh_result: dict[str, Any]) -> None:
    result = laugh_result
    text = result["text"]
    # tiny.en may spell the laugh out ("Hahaha"): the tag still sits where it begins
    assert re.search(r"Americans[.,]?\s*\[laughs\]\s*(\S+\s+){0,3}ask,? not", text, re.I), text
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
    with EthosClient(vocal_stack.url) as client:  # the Python client carries them
        assert client.vocal_events(result["job_id"], "laughs") == laughs
        assert vocal_events(result, standalone=False) == [e for e in result["events"] if e["segment"]]


def _studio(url: str, job_id: str, check: Callable[[Any], None], shot: str) -> None:
    """Open a job in the Studio (headless Chromium), run ``check(page)``, take a screenshot."""
    from playwright.sync_api import sync_playwright

    from tests.test_studio import ARGS, ARTIFACTS, CHROMIUM

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{url}/#job={job_id}")
            page.wait_for_selector("#view-editor:not([hidden])", timeout=60_000)
            check(page)
            page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
        finally:
            browser.close()
    assert not errors, errors


def test_studio_shows_the_laugh_and_the_chart_moves(vocal_stack: Stack, laugh_result: dict[str, Any]) -> None:
    """Browser: the event on the timeline with its legend, the chart no longer flat (screenshot)."""
    def check(page: Any) -> None:
        mark = page.wait_for_selector('.vocal-mark.vocal[data-tag="laughs"]', timeout=30_000)
        assert mark is not None and mark.is_visible()
        assert "laughs" in (mark.get_attribute("title") or "") and "Happy" in (mark.get_attribute("title") or "")
        legend = page.locator('#vocal-legend .legend-item[data-tag="laughs"]')
        assert legend.is_visible() and "laughs" in legend.inner_text()
        assert page.locator("#chart-note").is_hidden()
        start = float(mark.get_attribute("data-start") or 0)
        v = page.evaluate("(t) => speechAt(t)", start + 1.0)
        assert v["valence"] == 0.7 and v["arousal"] == 0.6, v  # the chart moves at the laugh
        assert page.evaluate("() => speechAt(0.5).valence") == 0  # and not before it
        assert page.locator(".pill").filter(has_text="laughs").count() >= 1
        mark.click()  # the timeline seeks to the laugh: the panel shows its emotion
        page.wait_for_function("() => document.getElementById('speech-badge').textContent === 'Happy'",
                               timeout=10_000)
        page.wait_for_timeout(300)

    _studio(vocal_stack.url, laugh_result["job_id"], check, "vocal-events.png")


def test_studio_shows_applause_as_context(vocal_stack: Stack, applause_result: dict[str, Any]) -> None:
    """Browser: a context event is a grey mark with its legend; no tag, so the chart says why."""
    def check(page: Any) -> None:
        mark = page.wait_for_selector('.vocal-mark.context[data-tag="applause"]', timeout=30_000)
        assert mark is not None and mark.is_visible() and "no emotion" in (mark.get_attribute("title") or "")
        assert page.locator('#vocal-legend .legend-item[data-tag="applause"]').is_visible()
        note = page.locator("#chart-note")
        assert note.is_visible() and "vocal-events detector heard no laughter" in note.inner_text()

    _studio(vocal_stack.url, applause_result["job_id"], check, "vocal-context.png")
