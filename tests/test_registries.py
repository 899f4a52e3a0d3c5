"""The step and engine registries: every entry resolves, and the tables agree with Celery,
the settings and the storage layout (README, "Adding a step", "Adding an engine")."""

from __future__ import annotations

import pytest

from shared import objects, steps
from shared.celery_app import INCLUDES, QUEUES, ROUTES
from shared.settings import Settings, SttSettings, engine_names
from workers.stt.engines import registry


def test_every_step_is_routed_included_and_resolves() -> None:
    names = [s.name for s in steps.STEPS]
    assert len(set(names)) == len(names) and len({s.task for s in steps.STEPS}) == len(names)
    for step in steps.STEPS:
        assert ROUTES[step.task] == {"queue": step.queue} and step.queue in QUEUES
        assert step.module in INCLUDES
        assert step.settings is None or hasattr(Settings(), step.settings)
        for ref in (step.merge, step.describe, step.fan_out):
            if ref:
                assert callable(steps.hook(ref)), ref
        if step.merge:  # a merged step's output is named by a builder and parsed by its schema
            assert step.output is not None and step.schema is not None
        assert steps.by_name(step.name) is step
    assert QUEUES[0] == "cpu" and set(QUEUES) == {"cpu", "stt", "fer", "diarize", "webhooks"}


def test_object_builders_keep_the_layout() -> None:
    assert objects.audio_wav("job_1") == "jobs/job_1/audio.wav"
    assert objects.stt_json("job_1") == "jobs/job_1/stt.json"
    assert objects.diarize_json("job_1") == "jobs/job_1/diarize.json"
    assert objects.fer_chunk("job_1", 3) == "jobs/job_1/fer/00003.json"
    assert objects.result("job_1") == "jobs/job_1/result.json"
    assert objects.face_frames("job_1") == "jobs/job_1/face_frames.json"
    assert objects.preview("job_1", True) == ("jobs/job_1/preview.mp4", "video/mp4")
    assert objects.preview("job_1", False) == ("jobs/job_1/preview.m4a", "audio/mp4")
    assert objects.upload("job_1", ".mp4") == "jobs/job_1/input.mp4"
    assert objects.result_version("job_1", 2, "ab12") == "jobs/job_1/versions/v00002-ab12.json"
    assert objects.job_prefix("job_1") == "jobs/job_1"
    for key in (objects.stt_json("j"), objects.fer_chunk("j", 0), objects.result("j")):
        assert key.startswith(objects.job_prefix("j") + "/")


def test_engine_registry_matches_the_settings() -> None:
    assert sorted(e.name for e in registry.ENGINES) == sorted(engine_names())
    cfg = SttSettings()
    for e in registry.ENGINES:
        assert e.name in type(e.group(cfg)).engines
        assert registry.entry(e.name) is e
    with pytest.raises(KeyError):
        registry.entry("nope")
    assert registry.resolve(SttSettings(engine="voxtral")).name == "voxtral"


def test_engine_settings_groups_and_the_old_flat_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETHOS_STT__WHISPER__MODEL", "small")
    monkeypatch.setenv("ETHOS_STT__WHISPER__BEAM_SIZE", "4")
    monkeypatch.setenv("ETHOS_STT__VOXTRAL__BATCH_SIZE", "3")
    s = Settings().stt
    assert (s.whisper.model, s.whisper.beam_size, s.voxtral.batch_size) == ("small", 4, 3)
    for name in ("ETHOS_STT__WHISPER__MODEL", "ETHOS_STT__WHISPER__BEAM_SIZE", "ETHOS_STT__VOXTRAL__BATCH_SIZE"):
        monkeypatch.delenv(name)
    old = {"WHISPER_MODEL": "base", "WHISPER_COMPUTE_TYPE": "int8_float32", "WHISPER_BEAM_SIZE": "2",
           "CPU_THREADS": "3", "MODEL_ID": "/m", "ADAPTER_ID": "/a", "BATCH_SIZE": "5",
           "CPU_DTYPE": "bfloat16", "BATCH_REGROW_AFTER": "4", "TOKENS_PER_SECOND": "7",
           "MIN_NEW_TOKENS_CAP": "9"}
    for k, v in old.items():
        monkeypatch.setenv(f"ETHOS_STT__{k}", v)
    s = Settings().stt
    assert s.whisper.model_dump(include={"model", "compute_type", "beam_size", "cpu_threads"}) == {
        "model": "base", "compute_type": "int8_float32", "beam_size": 2, "cpu_threads": 3}
    assert s.voxtral.model_dump() == {"model_id": "/m", "adapter_id": "/a", "batch_size": 5,
                                      "cpu_dtype": "bfloat16", "batch_regrow_after": 4,
                                      "tokens_per_second": 7.0, "min_new_tokens_cap": 9,
                                      # issue 24's decoding options, at their defaults
                                      "decode": "eager", "compile_mode": "reduce-overhead",
                                      "length_buckets": 4}
    monkeypatch.setenv("ETHOS_STT__VOXTRAL__BATCH_SIZE", "6")  # the group's name wins
    assert Settings().stt.voxtral.batch_size == 6
    monkeypatch.setenv("ETHOS_STT__ENGINE", "nope")
    with pytest.raises(ValueError, match="stt.engine"):
        Settings()
