"""The Studio's speakers in headless Chromium: a colour per speaker on the segments and the
timeline, and a rename stored with the job."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ethos_testing.dialogue import alternating, dialogue
from ethos_testing.procs import Stack
from tests.test_studio import ARTIFACTS, _open, browser, upload  # noqa: F401 - fixture

__all__ = ["browser"]


@pytest.fixture
def speaker_page(browser, diarize_stack: Stack):  # type: ignore[no-untyped-def]  # noqa: F811
    yield from _open(browser, diarize_stack.url)


def test_speaker_colours_and_rename(speaker_page, diarize_stack: Stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = speaker_page
    wav, _ = dialogue(tmp_path / "ab", alternating("AB", 6), name="interview.wav")
    job_id = upload(page, wav)
    page.wait_for_selector("#speakers .speaker")
    ids = page.eval_on_selector_all("#speakers .speaker", "els => els.map(e => e.dataset.speaker)")
    assert ids == ["SPEAKER_00", "SPEAKER_01"]
    # Each segment row and timeline block wears its speaker's colour; the two colours differ.
    colours = page.evaluate("""() => {
        const c = (e) => getComputedStyle(e).borderLeftColor;
        const rows = [...document.querySelectorAll('#transcript .seg')];
        const blocks = [...document.querySelectorAll('#track .seg-block')];
        const seg = window.studio.result.segments;
        return { rows: rows.map((r, i) => [seg[i].speaker, c(r)]),
                 blocks: blocks.map((b, i) => [seg[i].speaker, getComputedStyle(b).borderTopColor]) };
    }""")
    for kind in ("rows", "blocks"):
        by_speaker: dict[str, set[str]] = {}
        for spk, colour in colours[kind]:
            by_speaker.setdefault(spk, set()).add(colour)
        assert set(by_speaker) == {"SPEAKER_00", "SPEAKER_01"}, colours
        assert all(len(v) == 1 for v in by_speaker.values()), colours  # one colour per speaker
        assert by_speaker["SPEAKER_00"] != by_speaker["SPEAKER_01"]
    # Rename the first speaker in the page: stored with the job, shown on its segments.
    box = page.locator('#speakers .speaker[data-speaker="SPEAKER_00"] input')
    box.fill("Alice")
    box.press("Enter")
    page.wait_for_function("""() => [...document.querySelectorAll('#transcript .seg .who')]
        .some(e => e.textContent === 'Alice')""", timeout=10_000)
    whos = page.eval_on_selector_all("#transcript .seg .who", "els => els.map(e => e.textContent)")
    seg_speakers = page.evaluate("() => window.studio.result.segments.map(s => s.speaker)")
    assert whos == ["Alice" if s == "SPEAKER_00" else "SPEAKER_01" for s in seg_speakers]
    page.screenshot(path=str(ARTIFACTS / "studio-speakers.png"), full_page=True)
    result = httpx.get(f"{diarize_stack.url}/v1/jobs/{job_id}/result", timeout=10).json()
    assert [s["name"] for s in result["speakers"]] == ["Alice", None]
    srt = httpx.get(f"{diarize_stack.url}/v1/jobs/{job_id}/result?format=srt", timeout=10).text
    assert "Alice: " in srt and "SPEAKER_01: " in srt
    # The box keeps names to the server's 80 characters; past that (the limit lifted in the
    # page) the server's refusal shows beside the box and the name stays.
    box.fill("x" * 90)
    assert len(box.input_value()) == 80
    page.evaluate("""() => document.querySelector('#speakers .speaker[data-speaker="SPEAKER_00"] input')
        .removeAttribute('maxlength')""")
    box.fill("y" * 81)
    box.press("Enter")
    err = page.locator('#speakers .speaker[data-speaker="SPEAKER_00"] .err')
    err.wait_for(state="visible", timeout=10_000)
    page.wait_for_function("""() => document.querySelector(
        '#speakers .speaker[data-speaker="SPEAKER_00"] .err').textContent.includes('80 characters')""",
        timeout=10_000)
    again = httpx.get(f"{diarize_stack.url}/v1/jobs/{job_id}/result", timeout=10).json()
    assert [s["name"] for s in again["speakers"]] == ["Alice", None]


REAL_CALL = Path(__file__).resolve().parent.parent / "evaluation" / "sets" / "real" / "audio" / "pyannote-sample.wav"


def test_a_two_person_call_alternates_and_speakers_can_be_counted_again(  # type: ignore[no-untyped-def]
        speaker_page, tmp_path: Path) -> None:
    """A real two-person call (the real-speech set's, where prepared; else two espeak voices)
    shows as alternating speakers; "Speakers: 1" then "auto" recount them as new versions."""
    page = speaker_page
    if REAL_CALL.exists():
        wav = REAL_CALL
    else:
        wav, _ = dialogue(tmp_path / "ab", alternating("AB", 6), name="call.wav")
    upload(page, wav)
    page.wait_for_selector("#speaker-count")
    speakers = page.evaluate("() => window.studio.result.segments.map(s => s.speaker)")
    assert set(speakers) == {"SPEAKER_00", "SPEAKER_01"}, speakers
    assert sum(a != b for a, b in zip(speakers, speakers[1:], strict=False)) >= 3, speakers  # turns alternate
    assert page.eval_on_selector("#speaker-count", "e => e.value") == "2"
    page.screenshot(path=str(ARTIFACTS / "studio-two-person-call.png"), full_page=True)
    version = page.evaluate("() => window.studio.result.version")
    page.select_option("#speaker-count", "1")
    page.wait_for_function(f"() => window.studio.result.version === {version + 1}", timeout=60_000)
    assert page.eval_on_selector_all("#speakers .speaker", "els => els.length") == 1
    assert set(page.evaluate("() => window.studio.result.segments.map(s => s.speaker)")) == {"SPEAKER_00"}
    page.select_option("#speaker-count", "auto")
    page.wait_for_function(f"() => window.studio.result.version === {version + 2}", timeout=60_000)
    assert page.eval_on_selector_all("#speakers .speaker", "els => els.length") == 2
    page.wait_for_function("() => document.getElementById('version').options.length >= 3", timeout=10_000)
