"""Fine-tuning on the tiny Voxtral: the collator, the scores, SFT and rejection sampling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ethos_testing.media import silence, speak
from ethos_testing.tiny_voxtral import build_adapter, build_model, rewrite_adapter
from shared.errors import ModelUnavailable
from shared.settings import SttSettings
from training import rs, sft
from training.data import IGNORE, Collator
from training.manifest import load_audio, read_manifest, write_manifest
from training.scoring import score
from workers.stt.engines.voxtral import VoxtralEngine

CLIPS = [("that is so funny", "[laughs] that is so funny"),
         ("i am tired today", "[sighs] i am tired today"),
         ("oh no look out", "[gasps] oh no look out")]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A larger text init so that a LoRA can move the logits far (see build_model).
    return build_model(tmp_path_factory.mktemp("tiny-train") / "model", init_range=0.2)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train-data")
    rows = []
    for i, (said, tagged) in enumerate(CLIPS):
        speak(said, root / f"clip{i}.wav")
        rows.append({"audio": f"clip{i}.wav", "text": tagged})
    return write_manifest(root / "train.jsonl", rows)


def voxtral(model_dir: Path, adapter: Path | None) -> VoxtralEngine:
    e = VoxtralEngine(SttSettings(engine="voxtral", model_id=str(model_dir),
                                  adapter_id=str(adapter) if adapter else None, device="cpu"))
    e.load()
    return e


def test_collator_uses_the_serving_prompt_and_masks_it(model_dir: Path, manifest: Path) -> None:
    e = voxtral(model_dir, None)
    collate = Collator(e.processor, str(model_dir), "en")
    clips = [load_audio(x.audio) for x in read_manifest(manifest)[:2]]
    batch = collate(clips, ["[laughs] hi", "[sighs] a longer target text"])
    served = e.encode(clips, "en")["input_ids"]
    n = served.shape[1]
    # The prompt is the engine's, token for token; the loss sees only target + EOS.
    assert torch.equal(batch["input_ids"][:, :n], served)
    assert (batch["labels"][:, :n] == IGNORE).all()
    for row, text in enumerate(["[laughs] hi", "[sighs] a longer target text"]):
        want = collate.target_ids(text)
        assert want[-1] == e.processor.tokenizer.eos_token_id
        got = batch["labels"][row][batch["labels"][row] != IGNORE].tolist()
        assert got == want
        assert batch["input_ids"][row, n : n + len(want)].tolist() == want
        assert batch["attention_mask"][row].sum() == n + len(want)
    assert batch["input_features"].shape == (2, 128, 3000)


def test_scores() -> None:
    ref = "[laughs] that is so funny"
    best = score(ref, "[laughs] that is so funny")
    assert best.wer == 0.0 and best.tag_f1 == 1.0 and best.hallucination == 0.0 and best.score == 2.0
    no_tag = score(ref, "that is so funny")
    assert no_tag.tag_f1 == 0.0 and no_tag.score == 1.0
    made_up = score(ref, "[laughs] that is so funny and then some more words")
    assert made_up.hallucination == pytest.approx(1.0) and made_up.score < no_tag.score
    assert score("plain words", "plain words").tag_f1 == 1.0  # nothing to find, nothing made up
    assert score("plain words", "[sighs] plain words").tag_f1 == 0.0


def test_manifest_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"audio": "a.wav", "text": "x"}\n{"text": "no audio"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: each line needs JSON with 'audio' and 'text'"):
        read_manifest(bad)
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="holds no clips"):
        read_manifest(tmp_path / "empty.jsonl")
    (tmp_path / "junk.wav").write_bytes(b"not audio")
    with pytest.raises(ValueError, match="cannot decode"):
        load_audio(tmp_path / "junk.wav")
    with pytest.raises(ValueError, match="must fit 30 s"):
        load_audio(silence(31, tmp_path / "long.wav"))


@pytest.mark.parametrize("module", ["training.sft", "training.rs"])
def test_commands_have_help(module: str) -> None:
    out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("usage: ethos-train-") and "--manifest" in out.stdout


@pytest.mark.slow
def test_sft_then_rejection_sampling(model_dir: Path, manifest: Path, tmp_path: Path) -> None:
    """Acceptance: 30 steps halve the loss; the adapter loads strictly and writes each clip's
    tag; rejection sampling curates the same data and fine-tunes on it."""
    out = tmp_path / "sft"
    sft.main(["--model", str(model_dir), "--manifest", str(manifest), "--out", str(out), "--steps", "30",
              "--batch-size", "3", "--lr", "1e-2", "--r", "16", "--alpha", "32", "--device", "cpu",
              "--no-progress"])
    losses = [json.loads(line)["loss"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert len(losses) == 30 and all(np.isfinite(losses))
    assert losses[-1] <= losses[0] / 2, losses
    e = voxtral(model_dir, out)
    extra = e.info().extra
    assert extra["adapter_r"] == 16 and extra["adapter_alpha"] == 32.0
    assert extra["adapter_target_modules"] == sorted(sft.TARGETS)
    assert extra["adapter_tensors"] == 2 * (2 * 7 + 3 + 2)  # every kind, encoder and projector too
    examples = read_manifest(manifest)
    heard = e.transcribe([load_audio(x.audio) for x in examples], "en")
    for x, t in zip(examples, heard, strict=True):
        assert x.text.split("]")[0] + "]" in t.text, (x.text, t.text)

    rs_out = tmp_path / "rs"
    rs.main(["--model", str(model_dir), "--adapter", str(out), "--manifest", str(manifest), "--out", str(rs_out),
             "--samples", "3", "--steps", "4", "--batch-size", "3", "--lr", "1e-3", "--device", "cpu",
             "--no-progress"])
    curated = [json.loads(line) for line in (rs_out / "curated.jsonl").read_text().splitlines()]
    assert {Path(c["audio"]).name for c in curated} <= {x.audio.name for x in examples} and curated
    for c in curated:
        assert c["candidates"] == 3 and c["text"] and c["score"] >= 0.0
        assert c["score"] == pytest.approx((1 - min(c["wer"], 1)) + c["tag_f1"] - c["hallucination"], abs=1e-3)
    assert voxtral(model_dir, rs_out / "adapter").info().extra["adapter_tensors"] == extra["adapter_tensors"]


def test_init_adapter_that_does_not_fit_is_refused(model_dir: Path, tmp_path: Path) -> None:
    """Continuing from an adapter uses the same strict check as serving."""
    adapter = build_adapter(model_dir, tmp_path / "a")
    bad = rewrite_adapter(adapter, tmp_path / "bad",
                          drop="base_model.model.model.audio_tower.layers.0.self_attn.k_proj.lora_B.weight")
    base, _ = sft.load_base(str(model_dir), torch.float32)
    with pytest.raises(ModelUnavailable, match="audio_tower.layers.0.self_attn.k_proj.lora_B"):
        sft.lora_model(base, sft.SftConfig(init_adapter=str(bad)))


@pytest.mark.gpu
def test_sft_in_bf16_on_cuda(model_dir: Path, manifest: Path, tmp_path: Path) -> None:
    assert sft.pick_device("auto") == ("cuda", torch.bfloat16)
    res = sft.train(str(model_dir), read_manifest(manifest), tmp_path / "a",
                    sft.SftConfig(r=8, alpha=16, steps=5, batch_size=3, lr=1e-2, device="cuda", progress=False))
    assert len(res.losses) == 5 and all(np.isfinite(res.losses))
    e = VoxtralEngine(SttSettings(engine="voxtral", model_id=str(model_dir), adapter_id=str(res.adapter),
                                  device="cuda"))
    e.load()
    assert e.model.dtype == torch.bfloat16 and e.info().extra["adapter_tensors"] == 38
