"""The Studio against a gateway that needs a key: it asks once, keeps the key in the browser's
storage, and uses it for the API, the upload, the websocket and the media element."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import httpx
import pytest

from ethos_testing.procs import private_stack
from tests.test_security import new_key

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_studio_asks_for_a_key_and_keeps_it(tmp_path: Path, jfk: Path) -> None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (scripts/install-system.sh installs it)")
    with private_stack(tmp_path, ETHOS_AUTH__REQUIRED="true", ETHOS_STT__ENGINE="fasterwhisper") as st:
        st.worker("cpu", 1, name="cpu")
        st.worker("stt", 1, name="stt")
        st.gateway()
        key = new_key(st, "studio")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            ctx = browser.new_context()
            page = ctx.new_page()
            errors: list[str] = []
            prompts: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))

            def answer(dialog) -> None:  # type: ignore[no-untyped-def]
                prompts.append(dialog.message)
                dialog.accept(key)

            page.on("dialog", answer)
            page.goto(st.url + "/")
            page.wait_for_function("() => document.querySelectorAll('#recent').length === 1 "
                                   "&& window.studio.limits !== null", timeout=30_000)
            assert len(prompts) == 1 and "API key" in prompts[0]
            assert page.evaluate("() => localStorage.getItem('ethos.apiKey')") == key

            page.set_input_files("#file", str(jfk))
            page.wait_for_selector("#view-editor:not([hidden])", timeout=180_000)
            page.wait_for_function("() => { const p = window.studio.player; "
                                   "return p && p.readyState >= 1 && p.duration > 0; }", timeout=30_000)
            job_id = re.search(r"job=([\w-]+)", page.url).group(1)  # type: ignore[union-attr]
            # a reload keeps the key: no second prompt
            page.reload()
            page.wait_for_selector("#view-editor:not([hidden])", timeout=60_000)
            assert len(prompts) == 1
            browser.close()
        assert not errors, errors
        owned = httpx.get(st.url + "/v1/jobs", headers={"Authorization": f"Bearer {key}"}).json()
        assert [j["id"] for j in owned["jobs"]] == [job_id]
        # the media cookie opens reads only: a POST with it alone is refused
        r = httpx.post(st.url + "/v1/jobs", cookies={"ethos_key": key}, files={"file": jfk.open("rb")})
        assert r.status_code == 401, json.dumps(r.json())


def test_media_cookie_is_secure_over_https(tmp_path: Path) -> None:
    """The media cookie carries ``Secure`` when the page came over https — as the browser sees
    it, so also behind a TLS-terminating proxy (here the browser's own request routing plays
    that proxy in front of the real gateway) — and not over plain http, where a Secure cookie
    would never be sent back."""
    from playwright.sync_api import Route, sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (scripts/install-system.sh installs it)")
    with private_stack(tmp_path, ETHOS_AUTH__REQUIRED="true") as st:
        st.gateway()
        key = new_key(st, "cookie")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            seen: dict[str, dict[str, object]] = {}
            for origin in ("https://ethos.test", st.url):
                ctx = browser.new_context()

                def proxy(route: Route) -> None:
                    route.fulfill(response=route.fetch(url=route.request.url.replace("https://ethos.test", st.url)))

                ctx.route("https://ethos.test/**", proxy)
                page = ctx.new_page()
                page.on("dialog", lambda d: d.accept(key))
                page.goto(origin + "/")
                page.wait_for_function("() => window.studio.limits !== null", timeout=30_000)
                assert page.evaluate("() => location.protocol") == origin.split("//")[0]
                seen[origin] = next(dict(c) for c in ctx.cookies() if c["name"] == "ethos_key")
                # The Studio keeps polling: a routed request still in flight must not fail the close.
                ctx.unroute_all(behavior="ignoreErrors")
                ctx.close()
            browser.close()
    https, plain = seen["https://ethos.test"], seen[st.url]
    assert https["secure"] is True and https["sameSite"] == "Strict" and https["path"] == "/v1/"
    assert plain["secure"] is False and plain["sameSite"] == "Strict"
    assert https["value"] == plain["value"] != ""
