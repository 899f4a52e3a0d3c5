"""The Studio in headless Chromium (Debian's) against a running stack."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ethos_testing.procs import ROOT, Stack
from shared.schemas import TagHit
from shared.tags import emotion_track

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]
LOCAL = pytest.mark.parametrize("stack", ["local"], indirect=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (scripts/install-system.sh installs it)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def _open(browser, url: str):  # type: ignore[no-untyped-def]
    """A fresh page on the Studio; fails the test on any page error."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(url + "/")
    # The Studio's start-up has its tags and limits, and with them its upload handlers.
    pg.wait_for_function("() => window.studio.limits !== null", timeout=30_000)
    yield pg
    ctx.close()
    assert not errors, errors


@pytest.fixture
def page(browser, stack: Stack):  # type: ignore[no-untyped-def]
    yield from _open(browser, stack.url)


@pytest.fixture
def whisper_page(browser, whisper_stack: Stack):  # type: ignore[no-untyped-def]
    yield from _open(browser, whisper_stack.url)


def upload(page, path: Path, shot: str | None = None) -> str:  # type: ignore[no-untyped-def]
    page.set_input_files("#file", str(path))
    page.wait_for_selector("#view-progress:not([hidden])", timeout=30_000)
    if shot:
        page.screenshot(path=str(ARTIFACTS / f"{shot}-progress.png"))
    page.wait_for_selector("#view-editor:not([hidden])", timeout=180_000)
    page.wait_for_function("() => { const p = window.studio.player; return p && p.readyState >= 1 && p.duration > 0; }",
                           timeout=30_000)
    return re.search(r"job=([\w-]+)", page.url).group(1)  # type: ignore[union-attr]


def player_time(page) -> float:  # type: ignore[no-untyped-def]
    return float(page.evaluate("() => window.studio.player.currentTime"))


def seek(page, t: float) -> None:  # type: ignore[no-untyped-def]
    page.evaluate("""(t) => new Promise((ok) => { const p = window.studio.player;
        p.addEventListener('seeked', () => setTimeout(ok, 50), { once: true }); p.currentTime = t; })""", t)


def seek_by(page, act: Callable[[], object]) -> None:  # type: ignore[no-untyped-def]
    """Do ``act`` (a click the Studio answers with a seek) and wait until that seek has finished."""
    page.evaluate("""() => { window.seekDone = false; window.studio.player.addEventListener('seeked',
        () => { window.seekDone = true; }, { once: true }); }""")
    act()
    page.wait_for_function("() => window.seekDone", timeout=10_000)


def played_text(page) -> str:  # type: ignore[no-untyped-def]
    """The highlighted (heard) text of the active and past segments."""
    return page.eval_on_selector_all(  # type: ignore[no-any-return]
        ".seg.active .played, .seg.past .played", "es => es.map(e => e.textContent).join('')")


@LOCAL
def test_audio_job_in_the_studio(page, stack: Stack, jfk: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(ARTIFACTS / "upload.png"))
    job_id = upload(page, jfk, shot="jfk")
    page.screenshot(path=str(ARTIFACTS / "editor-audio.png"))
    result = httpx.get(f"{stack.url}/v1/jobs/{job_id}/result").json()
    assert "country" in page.inner_text("#transcript")

    # Click on a word: the player seeks near that word's estimated time.
    seg = next(s for s in result["segments"] if "country" in s["text"])
    char = seg["text"].index("country")
    expected = seg["start"] + (seg["end"] - seg["start"]) * char / len(seg["text"])
    box = page.evaluate("""([id, word]) => {
        const row = document.querySelector(`.seg[data-id="${id}"] .text`);
        const walker = document.createTreeWalker(row, NodeFilter.SHOW_TEXT);
        let n; while ((n = walker.nextNode())) { const i = n.data.indexOf(word);
          if (i >= 0) { const r = document.createRange(); r.setStart(n, i); r.setEnd(n, i + 1);
            const b = r.getBoundingClientRect(); return { x: b.left + b.width / 2, y: b.top + b.height / 2 }; } }
        return null; }""", [seg["id"], "country"])
    assert box is not None
    seek_by(page, lambda: page.mouse.click(box["x"], box["y"]))
    assert abs(player_time(page) - expected) < 0.5, (player_time(page), expected)

    # Playing moves the character highlight and the active segment.
    first = result["segments"][0]
    seek(page, first["start"] + 0.05)
    page.evaluate("() => window.studio.player.play()")
    page.wait_for_function("() => window.studio.player.currentTime > %f" % (first["start"] + 0.8), timeout=10_000)
    active = page.eval_on_selector(".seg.active", "e => Number(e.dataset.id)")
    played1 = len(page.inner_text(".seg.active .played"))
    page.wait_for_function("""(n) => [...document.querySelectorAll('.seg.active .played, .seg.past .played')]
        .map(e => e.textContent).join('').length > n""", arg=played1, timeout=10_000)
    played2 = len(played_text(page))
    page.evaluate("() => window.studio.player.pause()")
    assert active == first["id"] and 0 < played1 < played2
    assert page.inner_text("#live-label") == "paused"
    ring = page.eval_on_selector(".seg-block.active", "e => Number(e.dataset.id)")
    assert ring is not None

    # Export downloads a valid SRT.
    with page.expect_download() as dl:
        page.click("#x-srt")
    srt = Path(dl.value.path()).read_text()
    blocks = srt.strip().split("\n\n")
    assert len(blocks) == len(result["segments"])
    for i, block in enumerate(blocks, 1):
        lines = block.splitlines()
        assert lines[0] == str(i)
        assert re.fullmatch(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", lines[1])

    # A reload keeps the job in the recent list and playable.
    page.reload()
    page.wait_for_selector(f'#recent li[data-id="{job_id}"]')
    page.wait_for_function("() => { const p = window.studio.player; return p && p.readyState >= 1 && p.duration > 10; }",
                           timeout=20_000)
    assert page.get_attribute("#audio", "src") == f"/v1/jobs/{job_id}/media"
    page.goto(stack.url + "/")  # no hash: pick it from the list
    page.click(f'#recent li[data-id="{job_id}"]')
    page.wait_for_selector("#view-editor:not([hidden])")
    page.wait_for_function("() => window.studio.player.readyState >= 1")


@LOCAL
def test_video_job_face_badge_follows_timeline(page, stack: Stack, yongen: Path) -> None:  # type: ignore[no-untyped-def]
    job_id = upload(page, yongen, shot="yongen")
    timeline = httpx.get(f"{stack.url}/v1/jobs/{job_id}/result").json()["face_emotion_timeline"]
    assert len(timeline) >= 9
    assert page.is_visible("#video") and not page.is_visible("#audio")
    for s in range(10):
        seek(page, s + 0.5)
        assert page.inner_text("#face-badge") == timeline.get(str(s), "no face"), s
    seek(page, 3.2)
    page.screenshot(path=str(ARTIFACTS / "editor-video.png"))
    # And while playing, each second's badge is the timeline's label for that second.
    # The badge as each timeupdate leaves it (the Studio's own handler runs first), over 3 s of
    # play; bounded at 10 s should the clock stall.
    seek(page, 0.0)
    samples = page.evaluate("""() => new Promise((ok) => { const p = window.studio.player; const out = [];
        const done = () => { p.removeEventListener('timeupdate', on); clearTimeout(bound); p.pause(); ok(out); };
        const on = () => { out.push([p.currentTime, document.getElementById('face-badge').textContent]);
          if (p.currentTime >= 3 || p.ended) done(); };
        const bound = setTimeout(done, 10000);
        p.addEventListener('timeupdate', on); p.play(); })""")
    seen = {int(t): label for t, label in samples if abs(t - round(t)) > 0.1}  # not at a second's edge
    assert seen and all(timeline.get(str(s), "no face") == lab for s, lab in seen.items()), seen


@LOCAL
def test_upload_checks_in_the_page(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    notes = tmp_path / "notes.txt"
    notes.write_text("not media")
    page.set_input_files("#file", str(notes))
    assert "not an audio or video file" in page.inner_text("#upload-error")
    fake = tmp_path / "fake.wav"
    fake.write_text("this is text pretending to be audio " * 10)
    page.set_input_files("#file", str(fake))
    page.wait_for_selector("#upload-error:not([hidden])")
    assert "text, not audio or video" in page.inner_text("#upload-error")


@LOCAL
def test_tag_pills_and_emotion_panel(page, stack: Stack, jfk: Path) -> None:  # type: ignore[no-untyped-def]
    """Tags render as pills at their inline position; the panel changes at each tag's time.

    The offline engine writes no tags, so this test adds two to the loaded result in the page
    (same shape as the API's, times and the emotion track computed by the server's code) and
    re-renders. The panel follows the server's segment rule over the tags heard so far.
    """
    upload(page, jfk)
    tags = page.evaluate("""() => {
        const seg = window.studio.result.segments[window.studio.result.segments.length - 1];
        const words = seg.text.split(' ');
        seg.text = [words[0], '[laughs]', ...words.slice(1, 4), '[sighs]', ...words.slice(4)].join(' ');
        const mk = (tag, emotion, valence, arousal) => { const char = seg.text.indexOf('[' + tag + ']');
          return { tag, char, time: seg.start + (seg.end - seg.start) * char / seg.text.length, emotion, valence, arousal }; };
        seg.tags = [mk('laughs', 'Happy', 0.7, 0.6), mk('sighs', 'Sad', -0.3, -0.3)];
        return { id: seg.id, start: seg.start, tags: seg.tags, first: words[0] };
    }""")
    track = [p.model_dump() for p in emotion_track([TagHit(**t) for t in tags["tags"]])]
    page.evaluate("""(track) => { const segs = window.studio.result.segments;
        segs[segs.length - 1].emotion_track = track;
        renderTranscript(); renderTimeline(); drawChartBase(); update(); }""", track)
    pills = page.eval_on_selector_all(f'.seg[data-id="{tags["id"]}"] .pill', "es => es.map(e => e.textContent)")
    assert pills == ["laughs", "sighs"]
    before = page.evaluate(f"""() => {{ const p = document.querySelector('.seg[data-id="{tags["id"]}"] .pill');
        let s = ''; for (let n = p.previousSibling; n; n = n.previousSibling) s = n.textContent + s; return s; }}""")
    assert before.strip() == tags["first"]
    seek_by(page, lambda: page.click(f'.seg[data-id="{tags["id"]}"] .pill >> nth=1'))
    assert abs(player_time(page) - (tags["tags"][1]["time"] - 0.05)) < 0.05
    seek(page, tags["start"] + 0.01)
    assert page.inner_text("#speech-badge") == "Neutral" and page.inner_text("#valence-num") == "0.00"
    seek(page, tags["tags"][0]["time"] + 0.05)
    assert page.inner_text("#speech-badge") == "Happy"
    assert page.inner_text("#valence-num") == "0.70" and page.inner_text("#arousal-num") == "0.60"
    seek(page, tags["tags"][1]["time"] + 0.05)
    # Happy and Sad once each: the tie goes to the stronger arousal; valence is the mean.
    assert page.inner_text("#speech-badge") == "Happy" and page.inner_text("#valence-num") == "0.20"
    page.screenshot(path=str(ARTIFACTS / "editor-tags.png"))
    # Zoom widens the timeline and rescales the ruler.
    w1 = page.eval_on_selector("#tl-inner", "e => e.getBoundingClientRect().width")
    page.click("#zoom-in")
    page.click("#zoom-in")
    w2 = page.eval_on_selector("#tl-inner", "e => e.getBoundingClientRect().width")
    assert w2 > 2 * w1
    ticks = page.eval_on_selector_all("#ruler .tick", "es => es.map(e => e.textContent)")
    assert ticks[0] == "0:00" and len(ticks) >= 11
    assert len(set(ticks)) == len(ticks), ticks  # no label twice ("0:01 0:01" at half-second steps)


@LOCAL
def test_drag_and_drop_upload(page, stack: Stack, silent_wav: Path) -> None:  # type: ignore[no-untyped-def]
    data = list(silent_wav.read_bytes())
    page.evaluate("""(bytes) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], 'dropped.wav', { type: 'audio/wav' }));
        const drop = document.getElementById('drop');
        drop.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
        drop.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }""", data)
    page.wait_for_selector("#view-editor:not([hidden])", timeout=60_000)
    assert "dropped.wav" in page.inner_text("#e-name")
    assert "No speech found" in page.inner_text("#transcript")


def _text_box(page, seg_id: int, word: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The screen position of the first letter of ``word`` in a segment's text."""
    box = page.evaluate("""([id, word]) => {
        const row = document.querySelector(`.seg[data-id="${id}"] .text`);
        const walker = document.createTreeWalker(row, NodeFilter.SHOW_TEXT);
        let n; while ((n = walker.nextNode())) { const i = n.data.indexOf(word);
          if (i >= 0) { const r = document.createRange(); r.setStart(n, i + 1); r.setEnd(n, i + 2);
            const b = r.getBoundingClientRect(); return { x: b.left + b.width / 2, y: b.top + b.height / 2 }; } }
        return null; }""", [seg_id, word])
    assert box is not None, word
    return box  # type: ignore[no-any-return]


def test_highlight_follows_word_times(whisper_page, whisper_stack: Stack, jfk: Path) -> None:  # type: ignore[no-untyped-def]
    page = whisper_page
    job_id = upload(page, jfk, shot="jfk-words")
    result = httpx.get(f"{whisper_stack.url}/v1/jobs/{job_id}/result").json()
    seg = next(s for s in result["segments"] if "country" in s["text"])
    words = seg["words"]
    assert words, "faster-whisper times words"

    # A click inside a word seeks to that word's start (not the character estimate).
    for target in ("country", "fellow"):
        w = next(w for w in words if w["word"].strip(" ,.;").lower() == target)
        box = _text_box(page, seg["id"], target)
        seek_by(page, lambda box=box: page.mouse.click(box["x"], box["y"]))
        assert abs(player_time(page) - w["start"]) < 0.02, (target, player_time(page), w["start"])
        # The highlight then ends exactly at the end of that word.
        played = page.eval_on_selector(f'.seg[data-id="{seg["id"]}"]',
                                       "e => [...e.querySelectorAll('.played')].map(s => s.textContent).join('')")
        assert played.rstrip(" ,.;").lower().endswith(target), played

    # Between two word starts the highlight does not move: it sweeps word by word.
    a, b = words[5], words[6]
    mid = (a["start"] + b["start"]) / 2
    seek(page, a["start"] + 0.01)
    first = page.eval_on_selector(f'.seg[data-id="{seg["id"]}"]',
                                  "e => [...e.querySelectorAll('.played')].map(s => s.textContent).join('')")
    seek(page, mid)
    second = page.eval_on_selector(f'.seg[data-id="{seg["id"]}"]',
                                   "e => [...e.querySelectorAll('.played')].map(s => s.textContent).join('')")
    assert first == second and first.rstrip(" ,.;").endswith(a["word"].strip(" ,.;"))
    seek(page, b["start"] + 0.01)
    third = page.eval_on_selector(f'.seg[data-id="{seg["id"]}"]',
                                  "e => [...e.querySelectorAll('.played')].map(s => s.textContent).join('')")
    assert third.rstrip(" ,.;").endswith(b["word"].strip(" ,.;")) and len(third) > len(second)
