"""Job languages: normalisation and the check against what the STT workers announce."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ethos_testing.procs import Stack, wait_for
from shared.languages import LanguageRejected, Supported, from_heartbeats, normalise, resolve


def beat(langs: Any, queues: tuple[str, ...] = ("stt",)) -> dict[str, Any]:
    return {"hostname": "w", "queues": list(queues), "stt": {"engine": "x", "languages": langs}}


@pytest.mark.parametrize(("raw", "code"), [("en", "en"), ("en-US", "en"), ("EN", "en"),
                                           ("pt_BR", "pt"), (" fr-ca ", "fr"), ("zh-Hant-TW", "zh")])
def test_normalise(raw: str, code: str) -> None:
    assert normalise(raw) == code


def test_workers_must_all_accept_a_code() -> None:
    s = from_heartbeats([beat(["de", "en", "fr"]), beat(["en", "fr"]), beat(None)])
    assert s == Supported(("en", "fr"), True)
    assert resolve("fr-FR", s) == "fr"
    with pytest.raises(LanguageRejected) as err:
        resolve("de", s)
    assert err.value.code == "unsupported_language" and "supported: en, fr" in err.value.message


def test_any_language_engines_still_need_a_two_letter_code() -> None:
    s = from_heartbeats([beat(None)])
    assert s == Supported(None, True)
    assert resolve("sw", s) == "sw"
    for bad in ("auto", "eng", "x", "", "e1", "12"):
        with pytest.raises(LanguageRejected, match="two-letter"):
            resolve(bad, s)


def test_nothing_announced_falls_back_to_two_letter_codes() -> None:
    # Not an stt worker, an stt worker not yet described, and no workers at all.
    for infos in ([beat(["en"], queues=("cpu",))], [{"hostname": "w", "queues": ["stt"]}], []):
        s = from_heartbeats(infos)
        assert s == Supported(None, False)
        assert resolve("xx", s) == "xx"
    with pytest.raises(LanguageRejected, match="e.g. en"):
        resolve("english", Supported(None, False))


def test_bad_shape_lists_the_codes_when_known() -> None:
    with pytest.raises(LanguageRejected, match="one of: en"):
        resolve("auto", Supported(("en",), True))


def test_languages_checked_at_submission(stack: Stack, silent_wav: Path) -> None:
    """The real stack (faster-whisper tiny.en: English only): region tags normalised, others refused."""
    with stack.client() as c:
        workers = wait_for(lambda: (w := c.get("/readyz").json()["dependencies"]["workers.stt"]["workers"])
                           and "languages" in w[0] and w, 30, what="stt worker described")
    assert workers[0]["languages"] == ["en"]
    r = stack.submit(silent_wav, data={"language": "en-US"})
    assert r.status_code == 202, r.text
    job = stack.wait_job(r.json()["id"])
    assert job["status"] == "succeeded" and job["language"] == "en"
    for raw in ("xx", "de-DE", "auto"):
        r = stack.submit(silent_wav, data={"language": raw})
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] == "unsupported_language"
        assert repr(raw) in err["message"] and "en" in err["message"].split(":")[-1]
