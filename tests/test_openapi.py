"""The OpenAPI document describes every JSON response (typed models, not bare objects)."""

from __future__ import annotations

from typing import Any

from gateway.app import create_app


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return doc["components"]["schemas"][name]  # type: ignore[no-any-return]
    return schema


def test_every_json_response_has_a_schema() -> None:
    doc = create_app().openapi()
    checked = 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, resp in op["responses"].items():
                content = resp.get("content", {})
                if "application/json" not in content:
                    continue
                schema = _resolve(doc, content["application/json"].get("schema", {}))
                assert schema.get("properties") or schema.get("oneOf") or schema.get("anyOf"), \
                    f"{method.upper()} {path} {status} has no response schema"
                checked += 1
    assert checked >= 30


def test_the_main_shapes_are_documented() -> None:
    doc = create_app().openapi()
    schemas = doc["components"]["schemas"]
    job = doc["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert job == {"$ref": "#/components/schemas/JobView"}
    assert {"status", "stage", "progress", "media", "error", "links"} <= set(schemas["JobView"]["properties"])
    assert set(schemas["ErrorBody"]["properties"]) == {"error"}
    result = doc["paths"]["/v1/jobs/{job_id}/result"]["get"]["responses"]["200"]["content"]
    assert result["application/json"]["schema"] == {"$ref": "#/components/schemas/Result"}
    assert {"segments", "face_emotion_timeline", "models", "speakers"} <= set(schemas["Result"]["properties"])
    assert set(schemas["SpeakerInfo"]["properties"]) == {"id", "name", "total_speech_s"}
    rename = doc["paths"]["/v1/jobs/{job_id}/speakers"]["patch"]
    assert rename["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/SpeakerNames"}
    for event in ("StatusEvent", "ProgressEvent", "SegmentEvent", "FaceEvent", "DoneEvent", "ErrorEvent"):
        assert event in schemas, event


def test_the_openai_routes_are_documented() -> None:
    doc = create_app().openapi()
    schemas = doc["components"]["schemas"]
    op = doc["paths"]["/v1/audio/transcriptions"]["post"]
    form = op["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file", "model"]
    assert {"file", "model", "language", "prompt", "response_format", "temperature",
            "timestamp_granularities[]", "stream", "chunking_strategy"} <= set(form["properties"])
    ok = op["responses"]["200"]["content"]
    assert {"application/json", "text/plain", "application/x-subrip", "text/vtt", "text/event-stream"} <= set(ok)
    assert op["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OpenAIErrorBody"}
    assert set(schemas["OpenAIErrorInfo"]["properties"]) == {"message", "type", "param", "code"}
    seg = schemas["VerboseSegment"]["properties"]
    assert {"speaker", "emotion", "valence", "arousal", "tags", "avg_logprob"} <= set(seg)
    assert {"events", "face_emotion_timeline", "words", "segments"} <= set(schemas["VerboseTranscription"]["properties"])
    assert "/v1/audio/translations" in doc["paths"] and "/v1/models/{model_id}" in doc["paths"]
    assert doc["paths"]["/v1/models"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ModelList"}
