"""Supervised LoRA fine-tuning of Voxtral on a manifest of tagged transcripts.

Defaults are the evoxtral adapter's: r=64, alpha=128, dropout 0.05, the language model's
q/k/v/o/gate/up/down projections, the audio encoder's q/k/v and the projector's two linear
layers. bf16 on CUDA, float32 on CPU. The loss of every step is logged and written to
``train_log.jsonl`` beside the adapter; the saved adapter loads through the engine's strict
path (``workers.stt.engines.adapter.load_strict``).

    ethos-train-sft --model mistralai/Voxtral-Mini-3B-2507 --manifest data/train.jsonl --out runs/sft
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from training.data import Collator
from training.manifest import Example, load_audio, read_manifest

log = logging.getLogger("ethos.train")

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
           "linear_1", "linear_2"]


@dataclass
class SftConfig:
    r: int = 64
    alpha: int = 128
    dropout: float = 0.05
    targets: list[str] = field(default_factory=lambda: list(TARGETS))
    steps: int = 1000
    batch_size: int = 4
    grad_accum: int = 1
    lr: float = 1e-4
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    language: str = "en"
    seed: int = 0
    device: str = "auto"  # auto: CUDA when visible
    init_adapter: str | None = None  # continue training this adapter instead of a fresh LoRA
    progress: bool = True


@dataclass
class SftResult:
    adapter: Path
    losses: list[float]
    seconds: float


def pick_device(want: str) -> tuple[str, Any]:
    import torch

    if want == "cuda" or (want == "auto" and torch.cuda.is_available()):
        return "cuda", torch.bfloat16
    return "cpu", torch.float32


def lora_model(model: Any, cfg: SftConfig) -> Any:
    """The model with a trainable LoRA: a fresh one, or ``init_adapter`` loaded strictly."""
    from peft import LoraConfig, PeftModel, get_peft_model

    if cfg.init_adapter:
        from safetensors.torch import load_file

        from workers.stt.engines.adapter import LAYOUT_456_TO_V5, adapter_path, check_applied

        peft_model = PeftModel.from_pretrained(model, cfg.init_adapter, is_trainable=True,
                                               key_mapping=LAYOUT_456_TO_V5)
        check_applied(peft_model, load_file(str(adapter_path(cfg.init_adapter))), cfg.init_adapter)
        return peft_model
    lora = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=cfg.targets,
                      bias="none")
    return get_peft_model(model, lora)


def load_base(model_ref: str, dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoProcessor, VoxtralForConditionalGeneration

    return (VoxtralForConditionalGeneration.from_pretrained(model_ref, dtype=dtype),
            AutoProcessor.from_pretrained(model_ref))


def batches(examples: list[dict[str, Any]], size: int, seed: int) -> Any:
    """Endless shuffled batches of encoded examples (a new order each pass)."""
    rng = random.Random(seed)
    order: list[int] = []
    while True:
        if len(order) < size:
            fresh = list(range(len(examples)))
            rng.shuffle(fresh)
            order += fresh
        pick, order = order[:size], order[size:]
        yield [examples[i] for i in pick]


def train(model_ref: str, data: list[Example], out: Path, cfg: SftConfig) -> SftResult:
    """Fine-tune, save the adapter to ``out`` (with ``train_log.jsonl``) and return the losses."""
    import torch
    from tqdm import tqdm

    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    device, dtype = pick_device(cfg.device)
    base, processor = load_base(model_ref, dtype)
    model = lora_model(base, cfg).to(device)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_train = sum(p.numel() for p in trainable)
    lora: Any = model.peft_config["default"]
    log.info("LoRA r=%d alpha=%g on %s: %.2f M trainable parameters, %s %s", lora.r, lora.lora_alpha,
             ",".join(sorted(lora.target_modules)), n_train / 1e6, device, str(dtype).replace("torch.", ""))
    opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0)
    collate = Collator(processor, model_ref, cfg.language)
    # Each clip's prompt and features are computed once (about 1.5 MB of features per clip).
    examples = [collate.encode(load_audio(e.audio), e.text) for e in data]
    feed = batches(examples, min(cfg.batch_size, len(examples)), cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    losses: list[float] = []
    bar = tqdm(range(cfg.steps), desc="sft", unit="step", disable=not cfg.progress)
    with (out / "train_log.jsonl").open("w") as logf:
        for step in bar:
            total = 0.0
            for _ in range(cfg.grad_accum):
                batch = {k: v.to(device) for k, v in collate.pad(next(feed)).items()}
                batch["input_features"] = batch["input_features"].to(dtype)
                loss = model(**batch).loss / cfg.grad_accum
                loss.backward()
                total += float(loss.detach())
            torch.nn.utils.clip_grad_norm_(trainable, cfg.max_grad_norm)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(total)
            bar.set_postfix(loss=f"{total:.4f}")
            log.info("step %d/%d loss %.4f", step + 1, cfg.steps, total)
            logf.write(json.dumps({"step": step + 1, "loss": total, "lr": sched.get_last_lr()[0]}) + "\n")
    model.save_pretrained(out)
    (out / "train_config.json").write_text(json.dumps(
        {**asdict(cfg), "model": model_ref, "examples": len(data), "trainable_parameters": n_train}, indent=2))
    return SftResult(out, losses, time.perf_counter() - t0)


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="base Voxtral: hub id or local folder")
    p.add_argument("--steps", type=int, default=SftConfig.steps)
    p.add_argument("--batch-size", type=int, default=SftConfig.batch_size)
    p.add_argument("--grad-accum", type=int, default=SftConfig.grad_accum)
    p.add_argument("--lr", type=float, default=SftConfig.lr)
    p.add_argument("--warmup-steps", type=int, default=SftConfig.warmup_steps)
    p.add_argument("--language", default="en", help="the prompt's language code, as served")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bar (the loss is still logged)")


def config_from(args: argparse.Namespace, **over: Any) -> SftConfig:
    return SftConfig(
        r=getattr(args, "r", SftConfig.r), alpha=getattr(args, "alpha", SftConfig.alpha),
        dropout=getattr(args, "dropout", SftConfig.dropout),
        targets=getattr(args, "targets", None) or list(TARGETS), steps=args.steps, batch_size=args.batch_size,
        grad_accum=args.grad_accum, lr=args.lr, warmup_steps=args.warmup_steps, language=args.language,
        seed=args.seed, device=args.device, progress=not args.no_progress, **over,
    )


def main(argv: list[str] | None = None) -> None:
    """``ethos-train-sft``: supervised LoRA fine-tuning from a manifest."""
    p = argparse.ArgumentParser(prog="ethos-train-sft", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.add_argument("--manifest", type=Path, required=True, help='JSONL: {"audio": path, "text": tagged text}')
    p.add_argument("--out", type=Path, required=True, help="folder for the adapter and train_log.jsonl")
    p.add_argument("--r", type=int, default=SftConfig.r)
    p.add_argument("--alpha", type=int, default=SftConfig.alpha)
    p.add_argument("--dropout", type=float, default=SftConfig.dropout)
    p.add_argument("--targets", nargs="+", default=None, help=f"module names (default: {' '.join(TARGETS)})")
    p.add_argument("--init-adapter", default=None, help="continue training this adapter")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    res = train(args.model, read_manifest(args.manifest), args.out, config_from(args, init_adapter=args.init_adapter))
    log.info("adapter saved to %s: loss %.4f → %.4f in %.1f s", res.adapter, res.losses[0], res.losses[-1],
             res.seconds)


if __name__ == "__main__":
    main()
