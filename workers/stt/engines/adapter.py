"""Strict LoRA adapter loading for Voxtral: every tensor of the adapter file applied, or refused.

Adapters saved with transformers 4.56 (the published evoxtral ones) hold ``audio_tower``,
``language_model`` and ``multi_modal_projector`` at the top of the model; transformers 5 nests
them under ``model.`` (and keeps ``lm_head`` at the top). peft's own conversion misses the
encoder and projector keys and only warns, so we pass an explicit ``key_mapping`` (a v5-layout
adapter is left as it is), then check the result tensor by tensor: a key of the file that no
module took, a LoRA weight of the model the file did not fill, or a value that differs from the
file is a ``ModelUnavailable`` naming the keys, never a warning.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.errors import ModelUnavailable

ADAPTER_FILE = "adapter_model.safetensors"
ADAPTER_NAME = "default"

# transformers 4.56 layout -> transformers 5 layout (keys without peft's ``base_model.model.``).
LAYOUT_456_TO_V5 = {
    r"^language_model\.model\.": "model.language_model.",
    r"^language_model\.lm_head\.": "lm_head.",
    r"^audio_tower\.": "model.audio_tower.",
    r"^multi_modal_projector\.": "model.multi_modal_projector.",
}
_PREFIXES = ("base_model.model.", "base_model.")
_PARAM = re.compile(r"\.(weight|bias)$")
SHOWN = 20  # keys named in an error message (the count is always given)


@dataclass
class AdapterReport:
    """What was applied: reported in ``models.stt.extra``."""

    r: int
    alpha: float
    target_modules: list[str]
    tensors: int
    layout: str  # "transformers-4.56" or "transformers-5"

    def extra(self) -> dict[str, Any]:
        return {"adapter_r": self.r, "adapter_alpha": self.alpha,
                "adapter_target_modules": self.target_modules, "adapter_tensors": self.tensors,
                "adapter_layout": self.layout}


def map_key(key: str) -> str:
    """A saved adapter key in the transformers 5 layout (peft's prefix kept)."""
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            rest = key.removeprefix(prefix)
            for pattern, repl in LAYOUT_456_TO_V5.items():
                new, n = re.subn(pattern, repl, rest)
                if n:
                    return prefix + new
            return key
    return key


def model_key(saved: str, adapter: str = ADAPTER_NAME) -> str:
    """The PeftModel state-dict name that a saved adapter key loads into."""
    mapped = map_key(saved)
    if _PARAM.search(mapped):
        return _PARAM.sub(lambda m: f".{adapter}.{m.group(1)}", mapped)
    return f"{mapped}.{adapter}"


def adapter_path(ref: str) -> Path:
    """The adapter's safetensors file: in a local folder or the Hugging Face cache."""
    local = Path(ref).expanduser()
    if local.exists():
        path = local / ADAPTER_FILE
    else:
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(ref, ADAPTER_FILE))
    if not path.exists():
        raise ModelUnavailable(f"adapter {ref!r} has no {ADAPTER_FILE}; only safetensors adapters are loaded")
    return path


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:SHOWN])
    return shown + (f", … ({len(keys) - SHOWN} more)" if len(keys) > SHOWN else "")


def check_applied(peft_model: Any, saved: dict[str, Any], ref: str, notes: list[str] | None = None) -> None:
    """Raise ModelUnavailable unless every saved tensor sits, unchanged, in the model and
    every LoRA weight of the model came from the file."""
    import torch

    state = peft_model.state_dict()
    ours = {k for k in state if ".lora_" in k and f".{ADAPTER_NAME}" in k}
    wanted = {model_key(k): k for k in saved}
    unexpected = sorted(k for name, k in wanted.items() if name not in state)
    missing = sorted(ours - wanted.keys())
    differ = sorted(k for name, k in wanted.items() if name in state
                    and not torch.equal(state[name].detach().cpu(), saved[k].to(state[name].dtype)))
    if not (unexpected or missing or differ):
        return
    parts = []
    if unexpected:
        parts.append(f"{len(unexpected)} key(s) of the adapter file match no module of the model: {_names(unexpected)}")
    if missing:
        parts.append(f"{len(missing)} LoRA weight(s) of the model are missing from the file: {_names(missing)}")
    if differ:
        parts.append(f"{len(differ)} tensor(s) did not load as saved: {_names(differ)}")
    if notes:
        parts.append("peft said: " + " | ".join(notes))
    raise ModelUnavailable(f"adapter {ref!r} does not fit the model ({ADAPTER_FILE}): " + "; ".join(parts))


def load_strict(model: Any, ref: str) -> tuple[Any, AdapterReport]:
    """Apply the LoRA at ``ref`` to ``model`` completely and merge it, or raise ModelUnavailable."""
    from peft import PeftModel
    from safetensors.torch import load_file

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            peft_model = PeftModel.from_pretrained(model, ref, key_mapping=LAYOUT_456_TO_V5)
        except (RuntimeError, ValueError) as e:  # shapes, keys peft cannot place
            if not Path(ref).expanduser().exists() and not isinstance(e, RuntimeError):
                raise  # a hub id that could not be fetched: the caller says how to fix that
            raise ModelUnavailable(f"adapter {ref!r} does not fit the model: {e}") from e
    notes = [str(w.message) for w in caught if "adapter" in str(w.message).lower()]
    saved = load_file(str(adapter_path(ref)), device="cpu")
    check_applied(peft_model, saved, ref, notes)
    cfg: Any = peft_model.peft_config[ADAPTER_NAME]
    layout = ("transformers-4.56" if any(map_key(k) != k for k in saved) else "transformers-5")
    targets = cfg.target_modules or []
    report = AdapterReport(r=int(cfg.r), alpha=float(cfg.lora_alpha),
                           target_modules=[targets] if isinstance(targets, str) else sorted(targets),
                           tensors=len(saved), layout=layout)
    return peft_model.merge_and_unload(), report
