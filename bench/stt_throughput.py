"""Voxtral engine throughput: real-size Voxtral Mini 3B architecture, random bf16 weights.

Random weights cost what real ones do when they generate the same number of tokens, so
every segment generates a fixed budget (4 tokens per second of audio by default) with EOS
suppressed. The model goes through the engine's own code (processor request, batched
greedy generate). Prints real-time factor (audio seconds per wall second) at batch 1 and
at larger batches, per segment length (each segment costs a full 30-s window of 375
audio tokens however short it is), and peak GPU memory.

    python bench/stt_throughput.py                 # on a CUDA GPU
    python bench/stt_throughput.py --tiny --quick  # CPU smoke run with a tiny model

Published anchor: Voxtral Mini 3B ≈ 110× with transformers on an A100 (Open ASR
Leaderboard). Target on one H100: ≥ 400×.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def build(tiny: bool, device: str, tmp: Path):  # type: ignore[no-untyped-def]
    from transformers import (
        MistralCommonBackend,
        VoxtralConfig,
        VoxtralForConditionalGeneration,
        VoxtralProcessor,
        WhisperFeatureExtractor,
    )

    from ethos_testing.tiny_voxtral import build_model, build_tokenizer
    from shared.settings import SttSettings
    from workers.stt.engines.voxtral import VoxtralEngine

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    if tiny:
        model = VoxtralForConditionalGeneration.from_pretrained(build_model(tmp / "tiny"), dtype=dtype)
    else:
        torch.set_default_dtype(dtype)
        with torch.device(device):
            model = VoxtralForConditionalGeneration(VoxtralConfig(audio_token_id=22))
        torch.set_default_dtype(torch.float32)
    model.generation_config.eos_token_id = 2
    model.generation_config.pad_token_id = 11
    model.to(device).eval()
    proc = VoxtralProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128),
                            tokenizer=MistralCommonBackend(tokenizer_path=str(build_tokenizer(tmp / "tok"))))
    cfg = SttSettings(engine="voxtral", model_id="voxtral-mini-3b-random", adapter_id=None)
    return VoxtralEngine(cfg, model=model, processor=proc)


def run(engine, seg_s: float, batch: int, n_segments: int, tps: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """RTFx and seconds for ``n_segments`` clips of ``seg_s`` seconds in batches of ``batch``."""
    rng = np.random.default_rng(0)
    clips = [rng.normal(0, 0.05, int(seg_s * 16000)).astype(np.float32) for _ in range(n_segments)]
    cap = max(1, round(seg_s * tps))
    eos = engine.model.generation_config.eos_token_id
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(0, n_segments, batch):
        part = clips[i : i + batch]
        rows = engine.generate_ids(part, "en", [cap] * len(part), min_new_tokens=cap, suppress_tokens=[eos])
        assert all(len(r) >= cap for r in rows)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    return seg_s * n_segments / wall, wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true", help="tiny random model (CPU smoke run)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tokens-per-second", type=float, default=4.0)
    ap.add_argument("--batches", default="1,8,16,32")
    ap.add_argument("--segments", default="5,10,20,28")
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    batches = [1, 2] if args.quick else [int(b) for b in args.batches.split(",")]
    seg_lens = [5.0] if args.quick else [float(s) for s in args.segments.split(",")]
    with tempfile.TemporaryDirectory() as d:
        engine = build(args.tiny, device, Path(d))
        name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
        params = sum(p.numel() for p in engine.model.parameters()) / 1e9
        print(f"stt_throughput: {'tiny' if args.tiny else 'Voxtral Mini 3B architecture'} ({params:.2f} B params, "
              f"random {engine.model.dtype}) on {name}; {args.tokens_per_second:g} tokens per audio second, "
              f"EOS suppressed, greedy")
        run(engine, seg_lens[0], batches[0], 1, args.tokens_per_second)  # warm-up
        for seg in seg_lens:
            for b in batches:
                n = b * (1 if args.quick else 3)
                if device == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                rtfx, wall = run(engine, seg, b, n, args.tokens_per_second)
                mem = f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if device == "cuda" else ""
                print(f"  segments {seg:4.0f} s  batch {b:3d}: {n:3d} segments in {wall:7.2f} s → RTFx {rtfx:7.1f}{mem}")


if __name__ == "__main__":
    main()
