"""A tiny random-weight Voxtral, its processor and a LoRA adapter, built offline.

Same architecture family and loading code path as Voxtral Mini 3B, small enough for CPU
tests: a Tekken tokenizer derived from the file ``mistral_common`` ships, a small
``VoxtralConfig`` saved with ``save_pretrained``, and a peft LoRA adapter saved to disk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

AUDIO_TOKEN_ID = 22
VOCAB = 2100


def build_tokenizer(dest: Path, vocab: int = VOCAB, special: int = 100) -> Path:
    """A Tekken v7 file of ``vocab`` ids (``special`` control tokens first) with an audio
    section; ``vocab=131072, special=1000`` is Voxtral Mini's size."""
    import mistral_common
    from mistral_common.tokens.tokenizers.base import SpecialTokens

    src = json.loads((Path(mistral_common.__file__).parent / "data" / "tekken_240911.json").read_text())
    names = [s.value for s in SpecialTokens]
    names += [f"<SPECIAL_{i}>" for i in range(len(names), special)]
    tek = {
        "config": {**src["config"], "version": "v7", "default_vocab_size": vocab,
                   "default_num_special_tokens": special, "num_vocab_tokens": vocab - special},
        "vocab": src["vocab"][: vocab - special],
        "special_tokens": [{"rank": i, "token_str": n, "is_control": True} for i, n in enumerate(names[:special])],
        "audio": {"sampling_rate": 16000, "frame_rate": 12.5, "chunk_length_s": 30.0,
                  "audio_encoding_config": {"num_mel_bins": 128, "hop_length": 160, "window_size": 400}},
    }
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "tekken.json"
    path.write_text(json.dumps(tek))
    return path


def build_model(dest: Path, seed: int = 0, init_range: float = 0.02) -> Path:
    """Save a tiny Voxtral (model + processor) under ``dest``; returns the folder.

    ``init_range`` is the text model's weight scale: at the default 0.02 a 64-wide model's
    logits span about ±1 whatever a LoRA does (final norm × small ``lm_head`` rows), so the
    fine-tuning test uses a larger one to let the loss fall."""
    import torch
    from transformers import (  # type: ignore[attr-defined]  # MistralCommonBackend: a lazy export
        MistralCommonBackend,
        VoxtralConfig,
        VoxtralForConditionalGeneration,
        VoxtralProcessor,
        WhisperFeatureExtractor,
    )

    torch.manual_seed(seed)
    tok_path = build_tokenizer(dest / "tok")
    cfg = VoxtralConfig(
        audio_config={"hidden_size": 32, "intermediate_size": 128, "num_hidden_layers": 1,
                      "num_attention_heads": 2, "num_mel_bins": 128, "max_source_positions": 1500},
        text_config={"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                     "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
                     "vocab_size": VOCAB, "max_position_embeddings": 2048, "initializer_range": init_range},
        audio_token_id=AUDIO_TOKEN_ID,
    )
    model = VoxtralForConditionalGeneration(cfg)
    model.generation_config.eos_token_id = 2
    model.generation_config.pad_token_id = 11
    model.save_pretrained(dest)
    proc = VoxtralProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128),
                            tokenizer=MistralCommonBackend(tokenizer_path=str(tok_path)))
    proc.save_pretrained(dest)
    return dest


# The evoxtral adapter's nine target kinds: attention and MLP of the language model, the audio
# encoder's q/k/v, and the projector's two linear layers.
ALL_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
               "linear_1", "linear_2"]


def build_adapter(model_dir: Path, dest: Path, seed: int = 1, targets: list[str] | None = None) -> Path:
    """A LoRA adapter (default: all nine target kinds) with non-zero B, so merging changes the
    weights; saved by today's transformers, i.e. in the v5 key layout."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import VoxtralForConditionalGeneration

    base = VoxtralForConditionalGeneration.from_pretrained(model_dir)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=targets or ALL_TARGETS))
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    peft_model.save_pretrained(str(dest))
    return dest


# v5 -> 4.56 (what the published adapters hold), on peft's saved keys.
V5_TO_456 = [("base_model.model.model.language_model.", "base_model.model.language_model.model."),
             ("base_model.model.model.audio_tower.", "base_model.model.audio_tower."),
             ("base_model.model.model.multi_modal_projector.", "base_model.model.multi_modal_projector.")]


def rewrite_adapter(src: Path, dest: Path, rename: Any = None, extra: dict[str, Any] | None = None,
                    drop: str | None = None) -> Path:
    """Copy an adapter folder, renaming keys of ``adapter_model.safetensors`` with ``rename``
    (default: to the transformers 4.56 layout), adding ``extra`` tensors, dropping ``drop``."""
    import shutil

    from safetensors.torch import load_file, save_file

    def to_456(key: str) -> str:
        for old, new in V5_TO_456:
            if key.startswith(old):
                return new + key.removeprefix(old)
        return key

    shutil.copytree(src, dest)
    tensors = load_file(str(src / "adapter_model.safetensors"))
    out = {(rename or to_456)(k): v for k, v in tensors.items() if k != drop}
    out.update(extra or {})
    save_file(out, str(dest / "adapter_model.safetensors"), metadata={"format": "pt"})
    return dest


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "data/tiny-voxtral")
    build_model(out / "model")
    build_adapter(out / "model", out / "adapter")
    print(os.fspath(out))  # noqa: T201
