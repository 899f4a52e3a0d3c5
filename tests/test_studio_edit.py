"""The Studio's preview, corrections and clarity in headless Chromium (Debian's), against a
real stack: an MPEG-4 Part 2 upload plays from its preview; edits are saved as versions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import media
from tests.procs import Stack
from tests.test_studio import ARTIFACTS, LOCAL, browser, page, seek, upload  # noqa: F401 - fixtures



@pytest.fixture(scope="module")
def mpeg4_video(tmp_path_factory: pytest.TempPathFactory, yongen: Path, jfk: Path) -> Path:
    """yongen.mp4's face with jfk.flac's speech, as MPEG-4 Part 2 + AAC (browsers show no picture)."""
    return media.mpeg4_part2(yongen, jfk, tmp_path_factory.mktemp("mpeg4") / "camera.mp4")


def _open_job(page, stack: Stack, job_id: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{stack.url}/#job={job_id}")
    page.reload()  # the fixture's page is on "/" already: a hash alone does not load it again
    page.wait_for_selector("#view-editor:not([hidden])", timeout=30_000)
    page.wait_for_function("() => { const p = window.studio.player; return p && p.readyState >= 1; }", timeout=30_000)


def _job(stack: Stack, path: Path) -> str:
    job, _ = stack.run_job(path)
    assert job["status"] == "succeeded", job
    return str(job["id"])


def _texts(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all("#transcript .seg .text", "es => es.map(e => e.textContent)")  # type: ignore[no-any-return]


def _edit_append(page, seg_id: int, extra: str) -> None:  # type: ignore[no-untyped-def]
    page.dblclick(f'.seg[data-id="{seg_id}"] .text')
    page.wait_for_selector(f'.seg[data-id="{seg_id}"] .text[contenteditable]')
    page.keyboard.press("End")
    page.keyboard.type(extra)
    page.keyboard.press("Enter")
    page.wait_for_selector(f'.seg[data-id="{seg_id}"] .text:not([contenteditable])')


@LOCAL
def test_mpeg4_part2_upload_plays_from_its_preview(page, stack: Stack, mpeg4_video: Path) -> None:  # type: ignore[no-untyped-def]
    job_id = upload(page, mpeg4_video, shot="mpeg4")
    job = httpx.get(f"{stack.url}/v1/jobs/{job_id}").json()
    assert job["media"]["video_codec"] == "mpeg4" and job["links"]["preview"]
    assert page.get_attribute("#video", "src") == job["links"]["preview"]
    assert page.get_attribute("#x-orig", "href") == job["links"]["media"]
    # The picture decodes: the browser knows its size and the frames move while playing.
    page.wait_for_function("() => window.studio.player.videoWidth > 0", timeout=20_000)
    w, h = page.evaluate("() => [window.studio.player.videoWidth, window.studio.player.videoHeight]")
    assert h == 720 and abs(w / h - 704 / 1216) < 0.01  # 704×1216 scaled to the 720-line bound
    seek(page, 0.0)
    page.evaluate("() => window.studio.player.play()")
    page.wait_for_function("() => window.studio.player.currentTime > 1.5", timeout=15_000)
    frames = page.evaluate("() => window.studio.player.getVideoPlaybackQuality().totalVideoFrames")
    page.evaluate("() => window.studio.player.pause()")
    assert frames > 10
    timeline = httpx.get(f"{stack.url}/v1/jobs/{job_id}/result").json()["face_emotion_timeline"]
    assert len(timeline) >= 9
    for s in range(10):
        seek(page, s + 0.5)
        assert page.inner_text("#face-badge") == timeline.get(str(s), "no face"), s
    # The face strip has a legend: each label it shows, with its seconds.
    legend = page.eval_on_selector_all("#face-legend .legend-item", "es => es.map(e => e.dataset.label)")
    assert set(timeline.values()) <= set(legend)
    seek(page, 3.5)
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "studio-mpeg4-preview.png"))
    # The frame on screen is a picture, not black.
    lit = page.evaluate("""() => { const v = window.studio.player; const c = document.createElement('canvas');
        c.width = 64; c.height = 64; const g = c.getContext('2d'); g.drawImage(v, 0, 0, 64, 64);
        const d = g.getImageData(0, 0, 64, 64).data; let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i] + d[i + 1] + d[i + 2];
        return s / (64 * 64 * 3); }""")
    assert lit > 20, lit


@LOCAL
def test_edit_save_reload_and_a_stale_save(page, stack: Stack, jfk: Path) -> None:  # type: ignore[no-untyped-def]
    job_id = _job(stack, jfk)
    _open_job(page, stack, job_id)
    machine = httpx.get(f"{stack.url}/v1/jobs/{job_id}/result").json()
    assert page.inner_text("#edit-status") == "saved · version 1"
    _edit_append(page, 1, " [laughs]")
    assert "[laughs]" in _texts(page)[0]
    assert page.inner_text('.seg[data-id="1"] .emo') == "edited · unsaved"
    assert page.inner_text("#edit-status") == "1 unsaved edit"
    page.screenshot(path=str(ARTIFACTS / "studio-edit-unsaved.png"))
    page.click("#save")
    page.wait_for_function("() => document.getElementById('edit-status').textContent === 'saved · version 2'")
    assert page.eval_on_selector_all('.seg[data-id="1"] .pill', "es => es.map(e => e.textContent)") == ["laughs"]
    assert page.inner_text('.seg[data-id="1"] .emo').startswith("Happy")

    page.reload()
    page.wait_for_selector("#view-editor:not([hidden])")
    page.wait_for_function("() => document.getElementById('edit-status').textContent === 'saved · version 2'")
    assert page.eval_on_selector_all('.seg[data-id="1"] .pill', "es => es.map(e => e.textContent)") == ["laughs"]
    assert page.inner_text('.seg[data-id="1"] .emo').startswith("Happy")
    seg = machine["segments"][0]
    seek(page, (seg["start"] + seg["end"]) / 2)
    page.screenshot(path=str(ARTIFACTS / "studio-edit-saved.png"))
    # The SRT export has the edit; version 1 is still the machine output.
    with page.expect_download() as dl:
        page.click("#x-srt")
    srt = Path(dl.value.path()).read_text()
    assert "[laughs]" in srt and "(Happy)" in srt
    v1 = httpx.get(f"{stack.url}/v1/jobs/{job_id}/result?version=1").json()
    assert v1["segments"] == machine["segments"] and v1["version"] == 1
    page.select_option("#version", "1")
    page.wait_for_function("() => document.body.classList.contains('readonly')")
    assert "[laughs]" not in page.inner_text("#transcript")
    assert page.get_attribute("#x-srt", "href").endswith("version=1")
    assert "read-only" in page.inner_text("#edit-status")
    page.select_option("#version", "2")
    page.wait_for_function("() => !document.body.classList.contains('readonly')")

    # Someone else saves meanwhile: this page's save is stale and says so.
    other = httpx.get(f"{stack.url}/v1/jobs/{job_id}/result")
    body = {"segments": other.json()["segments"]}
    assert httpx.put(f"{stack.url}/v1/jobs/{job_id}/result", json=body,
                     headers={"If-Match": other.headers["etag"]}).status_code == 200
    _edit_append(page, 1, " again")
    page.click("#save")
    page.wait_for_selector("#edit-error:not([hidden])")
    msg = page.inner_text("#edit-error")
    assert msg.startswith("Not saved") and "version 3" in msg, msg
    assert "again" in _texts(page)[0]  # the edit is kept
    page.screenshot(path=str(ARTIFACTS / "studio-edit-conflict.png"))
    assert httpx.get(f"{stack.url}/v1/jobs/{job_id}/result").headers["etag"] == '"v3"'


@LOCAL
def test_undo_redo_across_three_edits(page, stack: Stack, three_sentences: tuple[Path, Any]) -> None:  # type: ignore[no-untyped-def]
    wav, _ = three_sentences
    job_id = _job(stack, wav)
    _open_job(page, stack, job_id)
    original = _texts(page)
    assert len(original) == 3
    states = [original]
    _edit_append(page, 1, " [sighs]")                       # 1: text
    states.append(_texts(page))
    page.click('.seg[data-id="2"] .tools button[aria-label^="split"]')  # 2: split at the middle
    states.append(_texts(page))
    assert len(states[-1]) == 4
    page.click('.seg[data-id="2"] .tools button[aria-label^="merge"]')  # 3: merge it back
    states.append(_texts(page))
    assert len(states[-1]) == 3 and states[-1][1] == original[1] and states[-1][0] != original[0]
    assert page.inner_text("#edit-status") == "3 unsaved edits"
    page.screenshot(path=str(ARTIFACTS / "studio-undo-3-edits.png"))
    page.click("#undo")
    assert _texts(page) == states[2]
    page.keyboard.press("Control+z")
    assert _texts(page) == states[1]
    page.keyboard.press("Control+z")
    assert _texts(page) == states[0]
    assert page.is_disabled("#undo") and page.is_disabled("#save")
    page.click("#redo")
    assert _texts(page) == states[1]
    page.keyboard.press("Control+Shift+z")
    assert _texts(page) == states[2]
    page.keyboard.press("Control+y")
    assert _texts(page) == states[3] and page.is_disabled("#redo")
    page.keyboard.press("Control+s")
    page.wait_for_function("() => document.getElementById('edit-status').textContent === 'saved · version 2'")
    saved = httpx.get(f"{stack.url}/v1/jobs/{job_id}/result").json()
    assert [s["text"] for s in saved["segments"]] == states[3]
    assert saved["segments"][0]["emotion"] == "Sad"


@LOCAL
def test_shortcuts_focus_labels_and_flat_chart(page, stack: Stack, jfk: Path) -> None:  # type: ignore[no-untyped-def]
    job_id = _job(stack, jfk)
    _open_job(page, stack, job_id)
    note = page.inner_text("#chart-note")
    assert page.is_visible("#chart-note") and "no tags" in note and "fasterwhisper" in note
    t = lambda: float(page.evaluate("() => window.studio.player.currentTime"))  # noqa: E731
    page.focus("#transcript")
    page.keyboard.press("ArrowRight")
    assert abs(t() - 5.0) < 0.05
    page.keyboard.press("ArrowLeft")
    assert t() < 0.05
    page.keyboard.press("l")
    assert abs(t() - 10.0) < 0.05
    page.keyboard.press("j")
    assert t() < 0.05
    page.keyboard.press(" ")
    page.wait_for_function("() => !window.studio.player.paused && window.studio.player.currentTime > 0.3")
    page.keyboard.press("k")
    page.wait_for_function("() => window.studio.player.paused")
    # Typing in a segment does not drive the player.
    page.dblclick('.seg[data-id="1"] .text')
    before = t()
    page.keyboard.press("End")
    page.keyboard.type(" l j")
    assert t() == before
    page.keyboard.press("Escape")
    # Keyboard focus is visible, and the main controls have labels for screen readers.
    page.focus("#zoom-in")
    outline = page.eval_on_selector("#zoom-in", "e => getComputedStyle(e).outlineStyle")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.id, getComputedStyle(document.activeElement).outlineStyle]")
    assert outline != "none" or focused[1] != "none"
    page.screenshot(path=str(ARTIFACTS / "studio-focus-and-note.png"))
    for sel in ["#audio", "#zoom-in", "#zoom-out", "#timeline", "#chart", "#undo", "#redo", "#save", "#version",
                "#x-srt", "#x-orig", '.seg[data-id="1"] .tools button']:
        assert page.get_attribute(sel, "aria-label"), sel
    assert re.search(r"Space.*←/→.*J/L", page.inner_text("#keys"))
