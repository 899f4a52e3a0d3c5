"""``ethos-export-vllm``: Voxtral + a LoRA adapter → one merged model in Mistral's layout.

vLLM serves Voxtral only from Mistral-format weights (``consolidated.safetensors``,
``params.json``, ``tekken.json``; ``--tokenizer-mode mistral --config-format mistral
--load-format mistral``), and its LoRA support covers the language model only, while the
evoxtral adapters also train the audio tower and the projector. So the adapter is merged
here (strictly, by ``workers.stt.engines.adapter.load_strict``: either key layout) and the
merged weights are written under Mistral's names: the inverse of transformers'
``convert_voxtral_weights_to_hf.py``, including the rotary permutation of the language
model's q/k projections undone (Mistral checkpoints keep Meta's interleaved layout, the
Hugging Face ones the half-split one). The audio encoder's sinusoidal positions are not
written (vLLM computes them, as the converter does); the export refuses a model whose
positions are not those sinusoids.

    ethos-export-vllm --base mistralai/Voxtral-Mini-3B-2507 --adapter YongkangZOU/evoxtral-rl \\
        --out /models/evoxtral-vllm
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("ethos.export_vllm")

WEIGHTS_FILE = "consolidated.safetensors"
PARAMS_FILE = "params.json"
TOKENIZER_FILE = "tekken.json"
_ENC = "mm_whisper_embeddings.whisper_encoder"
POSITIONS_KEY = "model.audio_tower.embed_positions.weight"

# transformers 5 names (VoxtralForConditionalGeneration.state_dict()) -> Mistral names.
HF_TO_MISTRAL: list[tuple[str, str]] = [
    (r"^lm_head\.weight$", "output.weight"),
    (r"^model\.language_model\.norm\.weight$", "norm.weight"),
    (r"^model\.language_model\.embed_tokens\.weight$", "mm_whisper_embeddings.tok_embeddings.weight"),
    (r"^model\.language_model\.layers\.(\d+)\.input_layernorm\.weight$", r"layers.\1.attention_norm.weight"),
    (r"^model\.language_model\.layers\.(\d+)\.post_attention_layernorm\.weight$", r"layers.\1.ffn_norm.weight"),
    (r"^model\.language_model\.layers\.(\d+)\.self_attn\.([qkvo])_proj\.weight$", r"layers.\1.attention.w\2.weight"),
    (r"^model\.language_model\.layers\.(\d+)\.mlp\.gate_proj\.weight$", r"layers.\1.feed_forward.w1.weight"),
    (r"^model\.language_model\.layers\.(\d+)\.mlp\.down_proj\.weight$", r"layers.\1.feed_forward.w2.weight"),
    (r"^model\.language_model\.layers\.(\d+)\.mlp\.up_proj\.weight$", r"layers.\1.feed_forward.w3.weight"),
    (r"^model\.audio_tower\.conv1\.(weight|bias)$", rf"{_ENC}.conv_layers.0.\1"),
    (r"^model\.audio_tower\.conv2\.(weight|bias)$", rf"{_ENC}.conv_layers.1.\1"),
    (r"^model\.audio_tower\.layer_norm\.(weight|bias)$", rf"{_ENC}.transformer.norm.\1"),
    (r"^model\.audio_tower\.layers\.(\d+)\.self_attn\.([qkv])_proj\.(weight|bias)$",
     rf"{_ENC}.transformer.layers.\1.attention.w\2.\3"),
    (r"^model\.audio_tower\.layers\.(\d+)\.self_attn\.out_proj\.(weight|bias)$",
     rf"{_ENC}.transformer.layers.\1.attention.wo.\2"),
    (r"^model\.audio_tower\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)$",
     rf"{_ENC}.transformer.layers.\1.attention_norm.\2"),
    (r"^model\.audio_tower\.layers\.(\d+)\.fc1\.(weight|bias)$", rf"{_ENC}.transformer.layers.\1.feed_forward.w1.\2"),
    (r"^model\.audio_tower\.layers\.(\d+)\.fc2\.(weight|bias)$", rf"{_ENC}.transformer.layers.\1.feed_forward.w2.\2"),
    (r"^model\.audio_tower\.layers\.(\d+)\.final_layer_norm\.(weight|bias)$",
     rf"{_ENC}.transformer.layers.\1.ffn_norm.\2"),
    (r"^model\.multi_modal_projector\.linear_1\.weight$", "mm_whisper_embeddings.audio_language_projection.0.weight"),
    (r"^model\.multi_modal_projector\.linear_2\.weight$", "mm_whisper_embeddings.audio_language_projection.2.weight"),
]


@dataclass
class ExportReport:
    """What was written (printed as JSON by the command)."""

    out: str
    base: str
    adapter: str | None
    adapter_layout: str | None
    tensors: int
    dtype: str
    bytes: int


def mistral_name(key: str) -> str:
    """The Mistral-format name of a transformers 5 Voxtral tensor; ValueError if none."""
    for pattern, repl in HF_TO_MISTRAL:
        new, n = re.subn(pattern, repl, key)
        if n:
            return new
    raise ValueError(f"no Mistral name for the tensor {key!r}: not a Voxtral checkpoint this export knows")


def unpermute_rotary(w: Any, n_heads: int) -> Any:
    """Undo transformers' q/k permutation: per head, the half-split rotary layout back to the
    interleaved pairs of the original checkpoint (the inverse of the converter's
    ``permute_for_rope``)."""
    rows, cols = w.shape
    return w.reshape(n_heads, 2, rows // n_heads // 2, cols).transpose(1, 2).reshape(rows, cols)


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> Any:
    """Whisper's sinusoidal positions (what vLLM and the converter put in the encoder)."""
    import math

    import torch

    step = math.log(max_timescale) / (channels // 2 - 1)
    inv = torch.exp(-step * torch.arange(channels // 2))
    t = torch.arange(length).view(-1, 1) * inv.view(1, -1)
    return torch.cat([t.sin(), t.cos()], dim=1)


def mistral_state_dict(model: Any, dtype: Any) -> dict[str, Any]:
    """The model's weights under Mistral's names, q/k un-permuted, cast to ``dtype``."""
    import torch

    text = model.config.text_config
    state = model.state_dict()
    pos = state.get(POSITIONS_KEY)
    if pos is not None:
        want = sinusoids(*pos.shape)
        if not torch.allclose(pos.float().cpu(), want, atol=1e-3):
            raise ValueError("the audio encoder's positions are not Whisper's sinusoids: vLLM would not "
                             "reproduce this model (it computes them)")
    tied = bool(getattr(text, "tie_word_embeddings", False))
    out: dict[str, Any] = {}
    for key, t in state.items():
        if key == POSITIONS_KEY or (tied and key == "lm_head.weight"):
            continue
        name = mistral_name(key)
        t = t.detach().to("cpu")
        if name.startswith("layers.") and name.endswith((".attention.wq.weight", ".attention.wk.weight")):
            heads = text.num_attention_heads if ".wq." in name else text.num_key_value_heads
            t = unpermute_rotary(t, heads)
        out[name] = t.to(dtype).contiguous()
    return out


def params(model: Any, tekken: dict[str, Any]) -> dict[str, Any]:
    """``params.json``: the text model's Mistral fields and the audio encoder's, as vLLM reads
    them (``multimodal.whisper_model_args``), derived from the model's config and the
    tokenizer's audio section."""
    text, audio = model.config.text_config, model.config.audio_config
    rope = (getattr(text, "rope_parameters", None) or {}).get("rope_theta") or getattr(text, "rope_theta", None)
    if rope is None:
        raise ValueError("the text config has no rope_theta")
    enc = tekken.get("audio", {}).get("audio_encoding_config")
    if not enc:
        raise ValueError(f"{TOKENIZER_FILE} has no audio section: not a Voxtral tokenizer")
    projector_in = model.model.multi_modal_projector.linear_1.in_features
    out: dict[str, Any] = {
        "dim": text.hidden_size, "n_layers": text.num_hidden_layers,
        "head_dim": getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads,
        "hidden_dim": text.intermediate_size, "n_heads": text.num_attention_heads,
        "n_kv_heads": text.num_key_value_heads, "rope_theta": float(rope),
        "norm_eps": text.rms_norm_eps, "vocab_size": text.vocab_size,
        "max_seq_len": text.max_position_embeddings,
        "tied_embeddings": bool(getattr(text, "tie_word_embeddings", False)),
        "multimodal": {"whisper_model_args": {
            "encoder_args": {
                "dim": audio.hidden_size, "n_layers": audio.num_hidden_layers,
                "head_dim": audio.hidden_size // audio.num_attention_heads,
                "hidden_dim": audio.intermediate_size, "n_heads": audio.num_attention_heads,
                "vocab_size": audio.vocab_size, "max_source_positions": audio.max_source_positions,
                "audio_encoding_args": {
                    "sampling_rate": tekken["audio"]["sampling_rate"],
                    "num_mel_bins": enc["num_mel_bins"], "hop_length": enc["hop_length"],
                    "window_size": enc["window_size"],
                },
            },
            "downsample_args": {"downsample_factor": projector_in // audio.hidden_size},
        }},
    }
    if getattr(text, "sliding_window", None):
        out["sliding_window"] = int(text.sliding_window)
    return out


def tokenizer_file(base: str) -> Path:
    """The base model's ``tekken.json``: in a local folder or the Hugging Face cache/hub."""
    local = Path(base).expanduser()
    if local.exists():
        path = local / TOKENIZER_FILE
        if not path.exists():
            raise FileNotFoundError(f"{local} has no {TOKENIZER_FILE}")
        return path
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(base, TOKENIZER_FILE))


def merged_model(base: str, adapter: str | None) -> tuple[Any, str | None]:
    """The base in float32 with the adapter merged (strictly); and the adapter's key layout."""
    import torch
    from transformers import VoxtralForConditionalGeneration

    model = VoxtralForConditionalGeneration.from_pretrained(base, dtype=torch.float32)
    if not adapter:
        return model.eval(), None
    from workers.stt.engines.adapter import load_strict

    merged, report = load_strict(model, adapter)
    return merged.eval(), report.layout


def export(base: str, adapter: str | None, out: Path, dtype: str = "bfloat16") -> ExportReport:
    """Merge ``adapter`` into ``base`` and write the Mistral-layout folder ``out``."""
    import torch
    from safetensors.torch import save_file

    model, layout = merged_model(base, adapter)
    tok_path = tokenizer_file(base)
    tekken = json.loads(tok_path.read_text())
    tensors = mistral_state_dict(model, getattr(torch, dtype))
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / WEIGHTS_FILE), metadata={"format": "pt"})
    (out / PARAMS_FILE).write_text(json.dumps(params(model, tekken), indent=2) + "\n")
    shutil.copyfile(tok_path, out / TOKENIZER_FILE)
    for name in (WEIGHTS_FILE, PARAMS_FILE, TOKENIZER_FILE):  # the server's user may not be ours
        (out / name).chmod(0o644)
    size = sum(t.numel() * t.element_size() for t in tensors.values())
    return ExportReport(out=str(out), base=base, adapter=adapter, adapter_layout=layout,
                        tensors=len(tensors), dtype=dtype, bytes=size)


def main(argv: list[str] | None = None) -> None:
    """Command line: ``ethos-export-vllm --base B [--adapter A] --out DIR``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", default="mistralai/Voxtral-Mini-3B-2507",
                   help="HF-format Voxtral: a local folder or a hub id (cached)")
    p.add_argument("--adapter", default="YongkangZOU/evoxtral-rl",
                   help="LoRA adapter folder or hub id; 'none' exports the base alone")
    p.add_argument("--out", required=True, type=Path, help="folder to write (vLLM serves it)")
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"],
                   help="dtype of the written weights (the merge runs in float32)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    adapter = None if a.adapter in (None, "", "none") else a.adapter
    report = export(a.base, adapter, a.out, a.dtype)
    log.info("%s", json.dumps(asdict(report)))


if __name__ == "__main__":
    main()
