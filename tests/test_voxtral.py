"""The Voxtral engine on a tiny random-weight Voxtral built offline (same code path as 3B)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ethos_testing.procs import RedisServer, Stack, local_env, wait_for
from ethos_testing.tiny_voxtral import ALL_TARGETS, build_adapter, build_model, rewrite_adapter
from shared.errors import ModelUnavailable
from shared.settings import SttSettings
from workers.stt.engines.base import Transcript
from workers.stt.engines.batching import BatchSizer
from workers.stt.engines.voxtral import VoxtralEngine
from workers.stt.transcribe import make_segment

# Merged vs unmerged LoRA in float32: the same maths in a different order.
LOGIT_ATOL = 1e-4


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tiny-voxtral")
    model = build_model(root / "model")
    return model, build_adapter(model, root / "adapter")


def clips() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(0, 0.1, 16000 * s).astype(np.float32) for s in (2, 5, 3)]


def engine(tiny: tuple[Path, Path], **kw: object) -> VoxtralEngine:
    model, adapter = tiny
    e = VoxtralEngine(SttSettings(engine="voxtral", model_id=str(model), adapter_id=str(adapter), **kw))  # type: ignore[arg-type]
    e.load()
    return e


def test_merged_equals_unmerged(tiny: tuple[Path, Path]) -> None:
    from peft import PeftModel
    from transformers import VoxtralForConditionalGeneration

    model_dir, adapter_dir = tiny
    merged = engine(tiny)
    assert merged.merged
    base = VoxtralForConditionalGeneration.from_pretrained(model_dir)
    plain = VoxtralForConditionalGeneration.from_pretrained(model_dir).eval()
    unmerged = PeftModel.from_pretrained(base, adapter_dir).eval()
    inputs = merged.encode(clips()[:2], "en")
    with torch.inference_mode():
        a = merged.model(**inputs).logits
        b = unmerged(**inputs).logits
        c = plain(**inputs).logits
    assert torch.allclose(a, b, atol=LOGIT_ATOL), (a - b).abs().max()
    assert (a - c).abs().max() > 1e-3  # the adapter really changed the model


def logits(e: VoxtralEngine) -> torch.Tensor:
    with torch.inference_mode():
        return e.model(**e.encode(clips()[:2], "en")).logits  # type: ignore[no-any-return]


def test_both_key_layouts_load_every_tensor(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    """A LoRA over all nine target kinds, saved by transformers 5 and rewritten to the 4.56
    layout of the published adapters: both apply completely, to the same model."""
    from safetensors import safe_open

    model_dir, v5 = tiny
    old = rewrite_adapter(v5, tmp_path / "adapter-456")
    with safe_open(str(old / "adapter_model.safetensors"), "pt") as f:
        keys = list(f.keys())
    # The rewrite really produced the old layout, encoder and projector included.
    assert not any(k.startswith("base_model.model.model.") for k in keys)
    assert any(k.startswith("base_model.model.audio_tower.") for k in keys)
    assert any(k.startswith("base_model.model.multi_modal_projector.linear_2.") for k in keys)
    assert any(k.startswith("base_model.model.language_model.model.layers.") for k in keys)
    a, b = engine(tiny), engine((model_dir, old))
    base = VoxtralEngine(SttSettings(engine="voxtral", model_id=str(model_dir), adapter_id=None))
    base.load()
    la, lb, lbase = logits(a), logits(b), logits(base)
    assert torch.equal(la, lb)
    assert (la - lbase).abs().max() > 1e-3
    for e, layout in ((a, "transformers-5"), (b, "transformers-4.56")):
        extra = e.info().extra
        assert extra["adapter_layout"] == layout
        assert extra["adapter_target_modules"] == sorted(ALL_TARGETS)
        assert extra["adapter_r"] == 4 and extra["adapter_alpha"] == 8.0
        # 2 LM layers x 7 kinds + 1 encoder layer x q/k/v + 2 projector layers, A and B each.
        assert extra["adapter_tensors"] == len(keys) == 2 * (2 * 7 + 3 + 2)


def test_adapter_key_that_fits_nothing_is_refused(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    model_dir, v5 = tiny
    stray = "base_model.model.model.language_model.layers.7.self_attn.q_proj.lora_A.weight"
    bad = rewrite_adapter(v5, tmp_path / "stray", rename=lambda k: k, extra={stray: torch.zeros(4, 64)})
    with pytest.raises(ModelUnavailable) as err:
        engine((model_dir, bad))
    assert err.value.code == "model_unavailable"
    assert stray in err.value.message and "match no module" in err.value.message


def test_adapter_missing_a_weight_is_refused(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    model_dir, v5 = tiny
    gone = "base_model.model.multi_modal_projector.linear_1.lora_B.weight"
    old = rewrite_adapter(v5, tmp_path / "missing", drop="base_model.model.model.multi_modal_projector.linear_1.lora_B.weight")
    with pytest.raises(ModelUnavailable) as err:
        engine((model_dir, old))
    assert "missing from the file" in err.value.message
    assert "model.multi_modal_projector.linear_1.lora_B.default.weight" in err.value.message
    assert gone not in err.value.message  # names the model's weight, in the model's layout


def test_adapter_that_does_not_fit_the_shapes_is_refused(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    model_dir, v5 = tiny
    key = "base_model.model.model.multi_modal_projector.linear_1.lora_A.weight"
    bad = rewrite_adapter(v5, tmp_path / "shape", rename=lambda k: k, extra={key: torch.zeros(4, 3)})
    with pytest.raises(ModelUnavailable, match="does not fit the model"):
        engine((model_dir, bad))
    # A key peft cannot place at all (no base_model prefix).
    odd = rewrite_adapter(v5, tmp_path / "odd", rename=lambda k: k, extra={"stray.lora_A.weight": torch.zeros(4, 4)})
    with pytest.raises(ModelUnavailable, match="does not fit the model"):
        engine((model_dir, odd))


def test_batched_equals_one_by_one(tiny: tuple[Path, Path]) -> None:
    e = engine(tiny)
    cs = clips()
    caps = [12] * len(cs)
    batched = e.generate_ids(cs, "en", caps)
    single = [e.generate_ids([c], "en", [12])[0] for c in cs]
    assert batched == single


def test_token_cap_scales_and_truncation_is_flagged(tiny: tuple[Path, Path]) -> None:
    assert SttSettings().voxtral.tokens_per_second == 10.0  # the measured density (README, "Token cap")
    e = engine(tiny, tokens_per_second=4.0, min_new_tokens_cap=8)
    assert e.token_cap(1.0) == 8 and e.token_cap(10.0) == 40 and e.token_cap(30.0) == 120
    out = e.transcribe(clips()[:1], "en")
    # Random weights never say EOS: the text stops at the cap and says so.
    assert out[0].truncated is True
    info = e.info()
    assert info.engine == "voxtral" and info.extra["adapter_merged"] is True


def test_oom_halves_the_batch(tiny: tuple[Path, Path]) -> None:
    e = engine(tiny, batch_size=4)
    sizes: list[int] = []
    real = e._batch

    def flaky(part: list[np.ndarray], language: str) -> list[Transcript]:
        sizes.append(len(part))
        if len(part) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(part, language)

    e._batch = flaky  # type: ignore[method-assign]
    out = e.transcribe(clips(), "en")
    assert len(out) == 3 and sizes[:3] == [3, 2, 1] and e.batch_size == 1


def test_batch_size_grows_back_after_good_batches() -> None:
    s = BatchSizer(ceiling=8, grow_after=3)
    assert s.size == 8
    assert s.on_oom() and s.size == 4
    assert s.on_oom() and s.size == 2
    s.on_success()
    s.on_success()
    assert s.size == 2  # not yet
    s.on_oom()  # an OOM restarts the count
    assert s.size == 1
    for _ in range(3):
        s.on_success()
    assert s.size == 2
    for _ in range(6):
        s.on_success()
    assert s.size == 8
    for _ in range(10):
        s.on_success()
    assert s.size == 8  # never past the ceiling
    one = BatchSizer(ceiling=1)
    assert one.on_oom() is False and one.size == 1
    with pytest.raises(ValueError):
        BatchSizer(ceiling=0)


def test_engine_regrows_the_batch_after_an_oom(tiny: tuple[Path, Path]) -> None:
    e = engine(tiny, batch_size=2, batch_regrow_after=2)
    sizes: list[int] = []
    real = e._batch
    failed = []

    def once(part: list[np.ndarray], language: str) -> list[Transcript]:
        sizes.append(len(part))
        if len(part) == 2 and not failed:
            failed.append(True)
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(part, language)

    e._batch = once  # type: ignore[method-assign]
    out = e.transcribe(clips() * 2, "en")
    # 2 fails -> 1, 1 (two good batches in a row) -> back to 2 for the rest.
    assert len(out) == 6 and sizes == [2, 1, 1, 2, 2] and e.batch_size == 2


def test_model_text_becomes_tags() -> None:
    seg = make_segment(1, 2.0, 6.0, "So that happened [laughs] and then [sighs] well.", False)
    assert [t.tag for t in seg.tags] == ["laughs", "sighs"]
    assert seg.tags[0].time == pytest.approx(2.0 + 4.0 * seg.text.index("[laughs]") / len(seg.text), abs=1e-3)
    assert seg.emotion in ("Happy", "Sad") and seg.valence == pytest.approx(0.2)


def test_missing_weights_offline_say_how_to_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    e = VoxtralEngine(SttSettings(engine="voxtral", model_id="mistralai/not-cached-model", adapter_id=None))
    with pytest.raises(ModelUnavailable) as err:
        e.load()
    assert "huggingface-cli download mistralai/not-cached-model" in err.value.message
    assert "ETHOS_STT__ENGINE=fasterwhisper" in err.value.message
    # Not marked offline, but the hub does not answer: fails in seconds too.
    from ethos_testing.procs import free_port

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ModelUnavailable, match="hub could not be reached"):
        VoxtralEngine(SttSettings(engine="voxtral", model_id="org/other-model", adapter_id=None)).load()


def voxtral_stack(tmp: Path, redis: RedisServer, model: str, adapter: str, extra: dict[str, str] | None = None) -> Stack:
    env = local_env(tmp, redis.url, ETHOS_STT__ENGINE="voxtral", ETHOS_STT__BATCH_SIZE="2",
                    MODEL_ID=model, ADAPTER_ID=adapter, **(extra or {}))
    return Stack(env=env, logs=tmp / "logs")


def test_job_through_celery_with_voxtral(tmp_path: Path, tiny: tuple[Path, Path], jfk: Path) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    st = voxtral_stack(tmp_path, redis, str(tiny[0]), str(tiny[1]))
    try:
        st.worker("cpu", 1, name="cpu")
        st.worker("stt", 1, name="stt")
        st.gateway()
        job, result = st.run_job(jfk)
        assert job["status"] == "succeeded", job
        assert result is not None
        stt = result["models"]["stt"]
        assert stt["engine"] == "voxtral" and stt["model_id"] == str(tiny[0]) and stt["adapter_id"] == str(tiny[1])
        assert result["models"]["vad"]["extra"]["merge_gap_s"] == 3.0  # packed for 30-s windows
        segs = result["segments"]
        assert len(segs) >= 1 and all(s["text"] for s in segs)
        assert all(s["truncated"] for s in segs)  # random weights: every segment hits its cap
        with st.client() as c:
            ready = wait_for(lambda: (d := c.get("/readyz").json()["dependencies"]["workers.stt"])["workers"][0]
                             .get("engine") and d, 30, what="stt worker described")
        assert ready["state"] == "ok" and ready["workers"][0]["engine"] == "voxtral"
        langs = ready["workers"][0]["languages"]
        assert {"en", "fr", "de", "es"} <= set(langs) and all(len(code) == 2 for code in langs)
        assert stt["extra"]["adapter_tensors"] == 38 and stt["extra"]["adapter_r"] == 4
        r = st.submit(jfk, data={"language": "xx"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "unsupported_language"
        assert "en, eo, es" in r.json()["error"]["message"]  # the list of supported codes
    finally:
        st.close()
        redis.stop()


def test_job_fails_clearly_without_weights(tmp_path: Path, jfk: Path) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    st = voxtral_stack(tmp_path, redis, "mistralai/not-cached-model", "",
                       {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    try:
        st.worker("cpu", 1, name="cpu")
        st.worker("stt", 1, name="stt")
        st.gateway()
        with st.client() as c:
            ready = wait_for(lambda: (d := c.get("/readyz").json()["dependencies"]["workers.stt"])["state"]
                             == "not_ready" and d, 30, what="stt worker described")
        assert "not in the local Hugging Face cache" in ready["workers"][0]["message"]
        r = st.submit(jfk)
        job = st.wait_job(r.json()["id"], 60)
        assert job["status"] == "failed"
        assert job["error"]["code"] == "model_unavailable"
        assert "huggingface-cli download" in job["error"]["message"]
    finally:
        st.close()
        redis.stop()


@pytest.mark.gpu
def test_cuda_bf16_batched(tiny: tuple[Path, Path]) -> None:
    e = engine(tiny, device="cuda", batch_size=3)
    assert e.device.startswith("cuda") and e.model.dtype == torch.bfloat16
    out = e.transcribe(clips(), "en")
    assert len(out) == 3
    caps = [10, 10, 10]
    assert e.generate_ids(clips(), "en", caps) == [e.generate_ids([c], "en", [10])[0] for c in clips()]


@pytest.mark.gpu
def test_cuda_oom_backs_off(tiny: tuple[Path, Path]) -> None:
    """A real CUDA out-of-memory: cap the process's memory just above what batch 1 needs."""
    e = engine(tiny, device="cuda", batch_size=32)
    many = clips() * 11  # 33 clips
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    e.generate_ids(many[:1], "en", [8])
    one = torch.cuda.max_memory_allocated() - base
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(min(1.0, (base + 4 * one) / total))
    try:
        out = e.transcribe(many, "en")
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    assert len(out) == 33
    assert e.batch_size < 32  # it halved at least once instead of failing


def test_the_check_catches_what_plain_peft_drops(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    """Without our key mapping, peft loads a 4.56-layout adapter partly (a warning only); the
    check turns that into a refusal that names the encoder and projector weights."""
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import VoxtralForConditionalGeneration

    from workers.stt.engines.adapter import check_applied

    model_dir, v5 = tiny
    old = rewrite_adapter(v5, tmp_path / "adapter-456")
    base = VoxtralForConditionalGeneration.from_pretrained(model_dir)
    with pytest.warns(UserWarning):
        partial = PeftModel.from_pretrained(base, old)
    with pytest.raises(ModelUnavailable) as err:
        check_applied(partial, load_file(str(old / "adapter_model.safetensors")), str(old))
    assert "audio_tower.layers.0.self_attn.q_proj.lora_A" in err.value.message
    assert "multi_modal_projector.linear_1.lora_A" in err.value.message
