"""``ethos-export-vllm``: a merged tiny Voxtral written in Mistral's layout converts back to the
Hugging Face layout with every tensor identical to the merged model's and the same logits.

The way back follows transformers' ``convert_voxtral_weights_to_hf.py`` (the converter vLLM's
layout was defined against; it ships in the transformers repository, not in the wheel): its
rules are restated below, and when ``ETHOS_VOXTRAL_CONVERTER`` names a copy of that script
(e.g. from a transformers checkout) the test runs the script's own ``convert_config`` and
``convert_state_dict`` instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from ethos_testing.tiny_voxtral import AUDIO_TOKEN_ID, build_adapter, build_model, rewrite_adapter  # noqa: E402
from training import export_vllm  # noqa: E402
from workers.stt.engines.adapter import LAYOUT_456_TO_V5, load_strict  # noqa: E402

# The converter's rules (Mistral name -> transformers 5 name), restated.
_E = r"^mm_whisper_embeddings\.whisper_encoder\."
TO_HF = [
    (r"^output\.weight$", "lm_head.weight"),
    (r"^norm\.weight$", "model.language_model.norm.weight"),
    (r"^(mm_whisper_embeddings\.)?tok_embeddings\.weight$", "model.language_model.embed_tokens.weight"),
    (r"^layers\.(\d+)\.attention_norm\.weight$", r"model.language_model.layers.\1.input_layernorm.weight"),
    (r"^layers\.(\d+)\.ffn_norm\.weight$", r"model.language_model.layers.\1.post_attention_layernorm.weight"),
    (r"^layers\.(\d+)\.attention\.w([qkvo])\.weight$", r"model.language_model.layers.\1.self_attn.\2_proj.weight"),
    (r"^layers\.(\d+)\.feed_forward\.w1\.weight$", r"model.language_model.layers.\1.mlp.gate_proj.weight"),
    (r"^layers\.(\d+)\.feed_forward\.w2\.weight$", r"model.language_model.layers.\1.mlp.down_proj.weight"),
    (r"^layers\.(\d+)\.feed_forward\.w3\.weight$", r"model.language_model.layers.\1.mlp.up_proj.weight"),
    (_E + r"conv_layers\.0\.(weight|bias)$", r"model.audio_tower.conv1.\1"),
    (_E + r"conv_layers\.1\.(weight|bias)$", r"model.audio_tower.conv2.\1"),
    (_E + r"transformer\.norm\.(weight|bias)$", r"model.audio_tower.layer_norm.\1"),
    (_E + r"transformer\.layers\.(\d+)\.attention\.w([qkv])\.(weight|bias)$", r"model.audio_tower.layers.\1.self_attn.\2_proj.\3"),
    (_E + r"transformer\.layers\.(\d+)\.attention\.wo\.(weight|bias)$", r"model.audio_tower.layers.\1.self_attn.out_proj.\2"),
    (_E + r"transformer\.layers\.(\d+)\.attention_norm\.(weight|bias)$", r"model.audio_tower.layers.\1.self_attn_layer_norm.\2"),
    (_E + r"transformer\.layers\.(\d+)\.feed_forward\.w1\.(weight|bias)$", r"model.audio_tower.layers.\1.fc1.\2"),
    (_E + r"transformer\.layers\.(\d+)\.feed_forward\.w2\.(weight|bias)$", r"model.audio_tower.layers.\1.fc2.\2"),
    (_E + r"transformer\.layers\.(\d+)\.ffn_norm\.(weight|bias)$", r"model.audio_tower.layers.\1.final_layer_norm.\2"),
    (r"^mm_whisper_embeddings\.audio_language_projection\.0\.weight$", "model.multi_modal_projector.linear_1.weight"),
    (r"^mm_whisper_embeddings\.audio_language_projection\.2\.weight$", "model.multi_modal_projector.linear_2.weight"),
]


def rope_permute(w: Any, n_heads: int) -> Any:
    """The converter's ``permute_for_rope``: interleaved pairs -> half-split, per head."""
    rows, cols = w.shape
    return w.view(n_heads, rows // n_heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def config_from_params(p: dict[str, Any]) -> Any:
    """The converter's ``convert_config``, restated."""
    from transformers import VoxtralConfig

    enc = p["multimodal"]["whisper_model_args"]["encoder_args"]
    text = {"hidden_size": p["dim"], "num_hidden_layers": p["n_layers"], "intermediate_size": p["hidden_dim"],
            "num_attention_heads": p["n_heads"], "num_key_value_heads": p["n_kv_heads"],
            "rms_norm_eps": p["norm_eps"], "head_dim": p["head_dim"], "vocab_size": p["vocab_size"],
            "rope_theta": p["rope_theta"], "sliding_window": p.get("sliding_window"),
            "max_position_embeddings": p.get("max_seq_len", 131072)}
    audio = {"hidden_size": enc["dim"], "num_hidden_layers": enc["n_layers"], "intermediate_size": enc["hidden_dim"],
             "num_attention_heads": enc["n_heads"], "num_key_value_heads": enc["n_heads"],
             "head_dim": enc["head_dim"], "vocab_size": enc["vocab_size"]}
    return VoxtralConfig(audio_config=audio, text_config=text, audio_token_id=24, projector_hidden_act="gelu")


def state_from_mistral(sd: dict[str, Any], text: Any) -> dict[str, Any]:
    """The converter's ``convert_state_dict``, restated (straight to transformers 5 names)."""
    out = {}
    for key, t in sd.items():
        name = next((re.sub(p, r, key) for p, r in TO_HF if re.search(p, key)), None)
        assert name, f"the converter maps no {key!r}"
        if "audio_tower" not in name and "q_proj" in name:
            t = rope_permute(t, text.num_attention_heads)
        elif "audio_tower" not in name and "k_proj" in name:
            t = rope_permute(t, text.num_key_value_heads)
        out[name] = t
    return out


def real_converter() -> Any:
    """transformers' own converter module, when ``ETHOS_VOXTRAL_CONVERTER`` names the script."""
    path = os.environ.get("ETHOS_VOXTRAL_CONVERTER")
    if not path:
        return None
    import transformers

    # The script imports the tokenizer under its pre-5 name; only its conversion functions run here.
    if not hasattr(transformers, "MistralCommonTokenizer"):
        transformers.MistralCommonTokenizer = transformers.MistralCommonBackend  # type: ignore[attr-defined]
    spec = importlib.util.spec_from_file_location("convert_voxtral_weights_to_hf", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def back_to_hf(folder: Path, audio_token_id: int) -> Any:
    """The exported folder as a transformers model, converted the converter's way."""
    from safetensors.torch import load_file
    from transformers import VoxtralForConditionalGeneration

    p = json.loads((folder / "params.json").read_text())
    sd = load_file(str(folder / "consolidated.safetensors"))
    conv = real_converter()
    if conv is not None:
        cfg = conv.convert_config(dict(p))
        old = conv.convert_state_dict(sd, cfg.text_config)  # 4.56 names
        state = {}
        for k, v in old.items():
            for pat, repl in LAYOUT_456_TO_V5.items():
                k = re.sub(pat, repl, k)
            state[k] = v
    else:
        cfg = config_from_params(p)
        state = state_from_mistral(sd, cfg.text_config)
    cfg.audio_token_id = audio_token_id
    if p.get("tied_embeddings"):
        state["lm_head.weight"] = state["model.language_model.embed_tokens.weight"]
    a = cfg.audio_config
    state[export_vllm.POSITIONS_KEY] = export_vllm.sinusoids(a.max_source_positions, a.hidden_size)
    model = VoxtralForConditionalGeneration(cfg)
    model.load_state_dict(state, strict=True)
    return model.eval()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny base whose encoder positions are Whisper's sinusoids (as the real model's), and a
    LoRA adapter on all nine target kinds in both key layouts."""
    from transformers import VoxtralForConditionalGeneration

    root = tmp_path_factory.mktemp("export")
    base = build_model(root / "model")
    model = VoxtralForConditionalGeneration.from_pretrained(base)
    with torch.no_grad():
        model.model.audio_tower.embed_positions.weight.copy_(export_vllm.sinusoids(1500, 32))
    model.save_pretrained(base)
    adapter = build_adapter(base, root / "adapter")
    return {"root": root, "base": base, "adapter": adapter,
            "adapter_456": rewrite_adapter(adapter, root / "adapter-456")}


def merged(tiny: dict[str, Path]) -> Any:
    from transformers import VoxtralForConditionalGeneration

    model, _ = load_strict(VoxtralForConditionalGeneration.from_pretrained(tiny["base"], dtype=torch.float32),
                           str(tiny["adapter"]))
    return model.eval()


def test_export_round_trips_exactly(tiny: dict[str, Path]) -> None:
    out = tiny["root"] / "vllm"
    report = export_vllm.export(str(tiny["base"]), str(tiny["adapter"]), out, dtype="float32")
    assert report.adapter_layout == "transformers-5"
    assert sorted(p.name for p in out.iterdir()) == ["consolidated.safetensors", "params.json", "tekken.json"]
    assert (out / "tekken.json").read_bytes() == (tiny["base"] / "tekken.json").read_bytes()
    ref = merged(tiny)
    back = back_to_hf(out, AUDIO_TOKEN_ID)
    want, got = ref.state_dict(), back.state_dict()
    assert want.keys() == got.keys()
    differ = [k for k in want if not torch.equal(want[k], got[k])]
    assert not differ, differ
    # The q/k permutation was really undone (not a no-op on these shapes).
    from safetensors.torch import load_file

    sd = load_file(str(out / "consolidated.safetensors"))
    assert not torch.equal(sd["layers.0.attention.wq.weight"], want["model.language_model.layers.0.self_attn.q_proj.weight"])
    assert "output.weight" in sd and "mm_whisper_embeddings.tok_embeddings.weight" in sd
    # The config round trip: every shape-bearing field the same.
    for side in ("text_config", "audio_config"):
        a, b = getattr(ref.config, side), getattr(back.config, side)
        for f in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size"):
            assert getattr(a, f) == getattr(b, f), (side, f)
    assert ref.config.text_config.num_key_value_heads == back.config.text_config.num_key_value_heads
    p = json.loads((out / "params.json").read_text())
    assert p["multimodal"]["whisper_model_args"]["downsample_args"] == {"downsample_factor": 4}
    assert p["multimodal"]["whisper_model_args"]["encoder_args"]["audio_encoding_args"] == {
        "sampling_rate": 16000, "num_mel_bins": 128, "hop_length": 160, "window_size": 400}
    # Same logits on a real transcription request.
    from transformers import AutoProcessor

    from workers.stt.engines.voxtral import transcription_request

    proc = AutoProcessor.from_pretrained(tiny["base"])
    clip = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    inputs = transcription_request(proc, [clip], "en", "tiny")
    with torch.no_grad():
        assert torch.equal(ref(**inputs).logits, back(**inputs).logits)


def test_either_adapter_layout_exports_the_same_weights(tiny: dict[str, Path]) -> None:
    from safetensors.torch import load_file

    a = export_vllm.export(str(tiny["base"]), str(tiny["adapter"]), tiny["root"] / "v5", dtype="bfloat16")
    b = export_vllm.export(str(tiny["base"]), str(tiny["adapter_456"]), tiny["root"] / "v456", dtype="bfloat16")
    assert (a.adapter_layout, b.adapter_layout) == ("transformers-5", "transformers-4.56")
    sa, sb = (load_file(str(Path(r.out) / "consolidated.safetensors")) for r in (a, b))
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert all(t.dtype == torch.bfloat16 for t in sa.values())


def test_export_refuses_what_vllm_would_not_reproduce(tiny: dict[str, Path]) -> None:
    from transformers import VoxtralForConditionalGeneration

    model = VoxtralForConditionalGeneration.from_pretrained(tiny["base"])
    with torch.no_grad():
        model.model.audio_tower.embed_positions.weight.add_(0.5)
    with pytest.raises(ValueError, match="sinusoids"):
        export_vllm.mistral_state_dict(model, torch.float32)
    with pytest.raises(ValueError, match="no Mistral name"):
        export_vllm.mistral_name("model.multi_modal_projector.linear_1.bias")


def test_command_line(tiny: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    out = tiny["root"] / "cli"
    with caplog.at_level("INFO", logger="ethos.export_vllm"):
        export_vllm.main(["--base", str(tiny["base"]), "--adapter", "none", "--out", str(out), "--dtype", "float32"])
    report = json.loads(caplog.records[-1].getMessage())
    assert report["adapter"] is None and report["tensors"] > 0 and (out / "consolidated.safetensors").exists()
