"""Voxtral engine throughput, eager vs static KV cache + torch.compile, prefill and decode apart.

Real-size Voxtral Mini 3B architecture (``VoxtralConfig()``) with random bf16 weights on a
CUDA GPU; ``--dry-run`` walks the same steps with the tiny model on CPU in seconds. Random
weights cost what real ones do when they generate the same number of tokens, so EOS is
suppressed and every segment generates its cap (``--tokens-per-second`` of audio; each row
stops at its own cap). Everything goes through the engine's code (processor request, batched
greedy ``generate``, ``ETHOS_STT__DECODE`` eager/static, length buckets).

For each mode, segment length and batch size it prints the wall time split into ``prep``
(the processor: features and prompt, CPU), ``prefill`` (encoder + prompt, up to the first
new token) and ``decode`` (the remaining tokens, with ms per decoding step), the real-time
factor (audio seconds per wall second) and peak GPU memory. A last block runs a job-like mix
of segment lengths with and without length buckets.

    python bench/stt_throughput.py                          # on a CUDA GPU
    python bench/stt_throughput.py --dry-run                # CPU, tiny model, every step
    python bench/stt_throughput.py --json out.json          # also write the rows

Published anchor: Voxtral Mini 3B ≈ 110× with transformers on an A100 (Open ASR
Leaderboard). Target on one H100: ≥ 400×.
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

SR = 16000


def build_model(tiny: bool, device: str, tmp: Path) -> tuple[Any, Any]:
    """The model (tiny, or the 3B architecture with random weights) and a processor."""
    from transformers import (
        MistralCommonBackend,
        VoxtralConfig,
        VoxtralForConditionalGeneration,
        VoxtralProcessor,
        WhisperFeatureExtractor,
    )

    from ethos_testing.tiny_voxtral import build_model as build_tiny
    from ethos_testing.tiny_voxtral import build_tokenizer

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    if tiny:
        model = VoxtralForConditionalGeneration.from_pretrained(build_tiny(tmp / "tiny"), dtype=dtype)
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
    return model, proc


def make_engine(model: Any, proc: Any, mode: str, batch: int, tps: float, buckets: int = 1) -> Any:
    from shared.settings import SttSettings
    from workers.stt.engines.voxtral import VoxtralEngine

    cfg = SttSettings(engine="voxtral", model_id="voxtral-mini-3b-random", adapter_id=None, batch_size=batch,
                      decode=mode, tokens_per_second=tps, min_new_tokens_cap=1, length_buckets=buckets)  # type: ignore[arg-type]
    engine = VoxtralEngine(cfg, model=model, processor=proc)
    eos = model.generation_config.eos_token_id
    # What each Clock wraps afresh: the engine's own encode, and generate with EOS suppressed.
    engine.bench_base = (engine.encode, functools.partial(engine.generate_ids, suppress_tokens=[eos]))
    return engine


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class Clock:
    """Times one ``generate``: the processor (``prep``), up to the first new token
    (``prefill``), the rest (``decode``) and the number of decoding steps."""

    def __init__(self, engine: Any) -> None:
        from transformers import LogitsProcessor, LogitsProcessorList

        self.prep = self.prefill = self.decode = 0.0
        self.steps = 0
        self._t0 = self._first = 0.0
        clock = self
        encode, generate_ids = engine.bench_base

        def timed_encode(clips: list[np.ndarray], language: str) -> Any:
            t = time.perf_counter()
            out = encode(clips, language)
            sync()
            clock.prep += time.perf_counter() - t
            clock._t0 = time.perf_counter()
            clock._first = 0.0
            return out

        class Step(LogitsProcessor):
            def __call__(self, input_ids: Any, scores: Any) -> Any:
                clock.steps += 1
                if not clock._first:
                    sync()
                    clock._first = time.perf_counter()
                    clock.prefill += clock._first - clock._t0
                return scores

        engine.encode = timed_encode
        self.processors = LogitsProcessorList([Step()])

        def timed_generate(clips: list[np.ndarray], language: str, caps: list[int], **kw: Any) -> Any:
            out = generate_ids(clips, language, caps, logits_processor=self.processors, **kw)
            sync()
            clock.decode += time.perf_counter() - clock._first
            return out

        engine.generate_ids = timed_generate


def clips_of(seconds: list[float], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 0.05, int(s * SR)).astype(np.float32) for s in seconds]


def run(engine: Any, seconds: list[float]) -> dict[str, Any]:
    """Transcribe these clips through the engine; times and RTFx."""
    clock = Clock(engine)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    sync()
    t0 = time.perf_counter()
    out = engine.transcribe(clips_of(seconds), "en")
    sync()
    wall = time.perf_counter() - t0
    assert len(out) == len(seconds)
    row = {"segments": len(seconds), "audio_s": round(sum(seconds), 2), "wall_s": round(wall, 3),
           "prep_s": round(clock.prep, 3), "prefill_s": round(clock.prefill, 3), "decode_s": round(clock.decode, 3),
           "ms_per_step": round(1000 * clock.decode / max(1, clock.steps - 1), 2), "rtfx": round(sum(seconds) / wall, 1)}
    if torch.cuda.is_available():
        row["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
    return row


def fmt(row: dict[str, Any]) -> str:
    mem = f"  {row['peak_gib']:5.1f} GiB" if "peak_gib" in row else ""
    return (f"  {row['mode']:6s} {row['label']:>10s}  batch {row['batch']:3d}: {row['segments']:4d} segs "
            f"{row['wall_s']:8.2f} s (prep {row['prep_s']:6.2f}, prefill {row['prefill_s']:7.2f}, "
            f"decode {row['decode_s']:7.2f} at {row['ms_per_step']:6.1f} ms/step)  RTFx {row['rtfx']:7.1f}"
            f"  warm-up {row['warmup_s']:6.1f} s{mem}")


def sweep(model: Any, proc: Any, args: argparse.Namespace, meta: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def save() -> None:  # after every row: a run cut short by a time limit keeps what it measured
        if args.json:
            args.json.write_text(json.dumps({**meta, "rows": rows}, indent=1))

    rng = np.random.default_rng(1)
    lo, hi = args.mix_range
    mix = [float(x) for x in np.round(rng.uniform(lo, hi, args.mix_segments), 2)]
    for mode in args.modes:
        try:
            for batch in args.batches:
                engine = make_engine(model, proc, mode, batch, args.tokens_per_second)
                t = time.perf_counter()
                run(engine, [args.segments[0]] * batch)  # warm-up: compiles in static mode
                warm = time.perf_counter() - t
                for seg in args.segments:
                    row = run(engine, [seg] * (batch * args.rounds))
                    row.update(mode=mode, label=f"{seg:g} s", batch=batch, warmup_s=round(warm, 1))
                    rows.append(row)
                    save()
                    print(fmt(row), flush=True)
                    warm = 0.0
            batch = args.batches[-1]
            for buckets in (1, args.buckets):
                engine = make_engine(model, proc, mode, batch, args.tokens_per_second, buckets)
                t = time.perf_counter()
                run(engine, mix[:batch])
                row = run(engine, mix)
                row.update(mode=mode, label=f"mix/b{buckets}", batch=batch, buckets=buckets,
                           warmup_s=round(time.perf_counter() - t - row["wall_s"], 1))
                rows.append(row)
                save()
                print(fmt(row), flush=True)
        except Exception as e:  # noqa: BLE001 - report the mode as failed, go on with the next
            print(f"  {mode}: FAILED {type(e).__name__}: {str(e)[:300]}", flush=True)
            traceback.print_exc(limit=3)
            rows.append({"mode": mode, "error": f"{type(e).__name__}: {str(e)[:300]}"})
            save()
    return rows


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="tiny model on CPU, small sizes: walks every step")
    ap.add_argument("--tiny", action="store_true", help="the tiny model (on whatever device)")
    ap.add_argument("--quick", action="store_true", help="same as --dry-run (kept for old commands)")
    ap.add_argument("--modes", default="eager,static")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--segments", default="20,5", help="segment lengths in seconds (the first warms up)")
    ap.add_argument("--rounds", type=int, default=2, help="batches per measurement")
    ap.add_argument("--tokens-per-second", type=float, default=4.0)
    ap.add_argument("--mix-segments", type=int, default=64, help="segments of the job-like mix")
    ap.add_argument("--mix-range", default="2,28", help="their lengths: uniform in this range (s)")
    ap.add_argument("--buckets", type=int, default=4, help="length buckets compared with 1 on the mix")
    ap.add_argument("--json", type=Path, help="write the rows here")
    args = ap.parse_args(argv)
    args.dry_run = args.dry_run or args.quick
    if args.dry_run:
        args.tiny = True
        if args.batches == "1,8,32":
            args.batches = "1,2"
        # A few tokens a segment: the steps are what is checked, not the speed.
        args.rounds, args.mix_segments, args.segments = 1, 4, "2"
        args.mix_range, args.tokens_per_second = "1,3", 2.0
        torch.set_num_threads(1)
    args.modes = args.modes.split(",")
    args.batches = [int(b) for b in args.batches.split(",")]
    args.segments = [float(s) for s in args.segments.split(",")]
    args.mix_range = tuple(float(x) for x in args.mix_range.split(","))
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    device = "cuda" if torch.cuda.is_available() and not args.dry_run else "cpu"
    with tempfile.TemporaryDirectory() as d:
        model, proc = build_model(args.tiny, device, Path(d))
        name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
        params = sum(p.numel() for p in model.parameters()) / 1e9
        print(f"stt_throughput: {'tiny' if args.tiny else 'Voxtral Mini 3B architecture'} ({params:.2f} B params, "
              f"random {model.dtype}) on {name}; {args.tokens_per_second:g} tokens per audio second, "
              f"EOS suppressed, greedy; modes {','.join(args.modes)}", flush=True)
        sweep(model, proc, args, {"device": name, "params_b": round(params, 2),
                                  "dtype": str(model.dtype).replace("torch.", "")})


if __name__ == "__main__":
    main()
