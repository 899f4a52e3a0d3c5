"""The rejection-sampling step ("RL" in the original project), then fine-tuning on its picks.

For every clip of the manifest: N completions sampled from the model with the adapter (loaded
through the engine's strict path), each scored against the reference (``scoring.score``:
WER, tag F1, hallucination penalty); the best is kept when it scores at least ``--min-score``.
The kept completions form the curated manifest (``curated.jsonl``, with their scores), and the
adapter is fine-tuned further on it (``sft.train`` with ``init_adapter``).

    ethos-train-rs --model mistralai/Voxtral-Mini-3B-2507 --adapter runs/sft \\
        --manifest data/train.jsonl --out runs/rs --samples 8
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.manifest import Example, load_audio, read_manifest, write_manifest
from training.scoring import score
from training.sft import SftResult, add_common, config_from, train

log = logging.getLogger("ethos.train.rs")


@dataclass
class RsConfig:
    samples: int = 8
    temperature: float = 0.7
    top_p: float = 0.95
    min_score: float = 0.0
    hallucination_weight: float = 1.0
    language: str = "en"
    device: str = "auto"
    seed: int = 0


def curate(model_ref: str, adapter: str, data: list[Example], out: Path, cfg: RsConfig) -> list[dict[str, Any]]:
    """Sample, score and keep the best completion per clip; writes ``out/curated.jsonl``."""
    import torch
    from tqdm import tqdm

    from shared.settings import SttSettings, VoxtralSettings
    from workers.stt.engines.voxtral import SR, VoxtralEngine

    torch.manual_seed(cfg.seed)
    engine = VoxtralEngine(SttSettings(
        engine="voxtral", device=cfg.device,  # type: ignore[arg-type]
        voxtral=VoxtralSettings(model_id=model_ref, adapter_id=adapter, batch_size=cfg.samples)))
    engine.load()
    kept: list[dict[str, Any]] = []
    for ex in tqdm(data, desc="rs", unit="clip"):
        clip = load_audio(ex.audio)
        cap = engine.token_cap(len(clip) / SR)
        rows = engine.generate_ids([clip] * cfg.samples, cfg.language, [cap] * cfg.samples,
                                   do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p)
        texts = [t.strip() for t in engine.processor.batch_decode([r[:cap] for r in rows], skip_special_tokens=True)]
        scored = sorted(((score(ex.text, t, cfg.hallucination_weight), t) for t in texts),
                        key=lambda st: st[0].score, reverse=True)
        best, text = scored[0]
        log.info("%s: best %.3f of %d (WER %.3f, tag F1 %.3f): %s", ex.audio.name, best.score, len(texts),
                 best.wer, best.tag_f1, text)
        if best.score >= cfg.min_score and text:
            kept.append({"audio": str(ex.audio.resolve()), "text": text, "reference": ex.text,
                         "candidates": len(texts), **best.as_dict()})
    write_manifest(out / "curated.jsonl", kept)
    log.info("kept %d of %d clips in %s", len(kept), len(data), out / "curated.jsonl")
    return kept


def main(argv: list[str] | None = None) -> None:
    """``ethos-train-rs``: rejection sampling with an adapter, then fine-tuning on the best."""
    p = argparse.ArgumentParser(prog="ethos-train-rs", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(p)
    p.add_argument("--adapter", required=True, help="the adapter to sample with and to continue training")
    p.add_argument("--manifest", type=Path, required=True, help='JSONL: {"audio": path, "text": reference}')
    p.add_argument("--out", type=Path, required=True, help="curated.jsonl here; the new adapter in OUT/adapter")
    p.add_argument("--samples", type=int, default=RsConfig.samples, help="completions sampled per clip")
    p.add_argument("--temperature", type=float, default=RsConfig.temperature)
    p.add_argument("--top-p", type=float, default=RsConfig.top_p)
    p.add_argument("--min-score", type=float, default=RsConfig.min_score, help="drop clips whose best is below")
    p.add_argument("--hallucination-weight", type=float, default=RsConfig.hallucination_weight)
    p.add_argument("--curate-only", action="store_true", help="write curated.jsonl and stop")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run(args.model, args.adapter, read_manifest(args.manifest), args.out,
        RsConfig(args.samples, args.temperature, args.top_p, args.min_score, args.hallucination_weight,
                 args.language, args.device, args.seed),
        None if args.curate_only else config_from(args, init_adapter=args.adapter))


def run(model_ref: str, adapter: str, data: list[Example], out: Path, cfg: RsConfig,
        sft: Any = None) -> tuple[list[dict[str, Any]], SftResult | None]:
    """Curate, then (given an SftConfig) fine-tune the adapter on the curated set."""
    kept = curate(model_ref, adapter, data, out, cfg)
    if sft is None or not kept:
        return kept, None
    return kept, train(model_ref, read_manifest(out / "curated.jsonl"), out / "adapter", sft)


if __name__ == "__main__":
    main()
