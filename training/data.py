"""Batches for supervised fine-tuning: the serving prompt, then the target and EOS.

The prompt comes from ``workers.stt.engines.voxtral.transcription_request``, the very function
the engine serves with; labels are -100 over the prompt and the padding, so the loss covers
the target text and its EOS only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from workers.stt.engines.voxtral import transcription_request

IGNORE = -100


@dataclass
class Collator:
    processor: Any
    model_id: str
    language: str = "en"

    @property
    def eos_id(self) -> int:
        return int(self.processor.tokenizer.eos_token_id)

    @property
    def pad_id(self) -> int:
        pad = self.processor.tokenizer.pad_token_id
        return int(pad) if pad is not None else self.eos_id

    def target_ids(self, text: str) -> list[int]:
        """The target's tokens followed by EOS."""
        return [*self.processor.tokenizer.encode(text, add_special_tokens=False), self.eos_id]

    def encode(self, clip: np.ndarray, text: str) -> dict[str, Any]:
        """One example: prompt and target ids, labels, and the audio features (1, 128, 3000)."""
        req = transcription_request(self.processor, [clip], self.language, self.model_id)
        ids, mask = req["input_ids"][0], req.get("attention_mask")
        prompt = (ids[mask[0].bool()] if mask is not None else ids).tolist()
        target = self.target_ids(text)
        return {"ids": prompt + target, "labels": [IGNORE] * len(prompt) + target,
                "input_features": req["input_features"]}

    def pad(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """A batch of encoded examples, padded on the right (labels -100 there)."""
        import torch

        width = max(len(r["ids"]) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["ids"])
            input_ids[i, :n] = torch.tensor(r["ids"])
            labels[i, :n] = torch.tensor(r["labels"])
            attention[i, :n] = 1
        return {"input_ids": input_ids, "attention_mask": attention, "labels": labels,
                "input_features": torch.cat([r["input_features"] for r in rows])}

    def __call__(self, clips: list[np.ndarray], texts: list[str]) -> dict[str, Any]:
        """A padded batch straight from clips and their target texts."""
        return self.pad([self.encode(c, t) for c, t in zip(clips, texts, strict=True)])
