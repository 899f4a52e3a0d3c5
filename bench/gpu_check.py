"""Helpers of ``bench/gpu_check.sh``: the random model to serve, the vLLM client run, the summary.

    python bench/gpu_check.py model DIR [--tiny]        # an HF-format random Voxtral + tekken.json
    python bench/gpu_check.py serve URL --json F        # the vllm engine against a server, RTFx
    python bench/gpu_check.py standin                   # (dry run) the stand-in server; prints its URL
    python bench/gpu_check.py summary DIR               # the block to paste into the README
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

SR = 16000


def build_random(dest: Path, tiny: bool) -> None:
    """Save a random-weight Voxtral in the HF layout with a Tekken tokenizer that covers its
    vocabulary (the real 3B shape: 131,072 ids), its encoder positions Whisper's sinusoids."""
    import torch
    from transformers import VoxtralConfig, VoxtralForConditionalGeneration

    from ethos_testing.tiny_voxtral import build_model, build_tokenizer
    from training.export_vllm import sinusoids

    if tiny:
        build_model(dest)
        model = VoxtralForConditionalGeneration.from_pretrained(dest)
    else:
        torch.set_default_dtype(torch.bfloat16)
        with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
            model = VoxtralForConditionalGeneration(VoxtralConfig(audio_token_id=24))
        torch.set_default_dtype(torch.float32)
        build_tokenizer(dest, vocab=model.config.text_config.vocab_size, special=1000)
    a = model.config.audio_config
    with torch.no_grad():
        model.model.audio_tower.embed_positions.weight.copy_(sinusoids(a.max_source_positions, a.hidden_size))
    model.save_pretrained(dest)


def serve_check(url: str, in_flight: int, segments: int, seconds: float, tps: float) -> dict[str, Any]:
    """``segments`` clips of ``seconds`` through the vllm engine, ``in_flight`` at once."""
    import numpy as np

    from shared.settings import SttSettings
    from workers.stt.engines.vllm import VllmEngine

    engine = VllmEngine(SttSettings(engine="vllm", vllm={  # type: ignore[arg-type]
        "url": url, "max_in_flight": in_flight, "tokens_per_second": tps, "min_new_tokens_cap": 1,
        "timeout_s": 600}))
    rng = np.random.default_rng(0)
    clips = [rng.normal(0, 0.05, int(seconds * SR)).astype(np.float32) for _ in range(segments)]
    engine.transcribe(clips[:in_flight // 4 or 1], "en")  # warm-up
    t0 = time.perf_counter()
    out = engine.transcribe(clips, "en")
    wall = time.perf_counter() - t0
    assert len(out) == segments
    return {"in_flight": in_flight, "segments": segments, "segment_s": seconds, "tokens_per_second": tps,
            "cap": engine.token_cap(seconds), "wall_s": round(wall, 2),
            "truncated": sum(t.truncated for t in out), "rtfx": round(segments * seconds / wall, 1)}


def standin() -> None:
    """Serve the tests' OpenAI-protocol stand-in until killed (dry run without vllm)."""
    from ethos_testing.openai_stt_server import SttServer

    srv = SttServer(delay=lambda s: 0.01).start()
    print(srv.url, flush=True)
    while True:
        time.sleep(3600)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def summary(d: Path) -> str:
    """The README block from what the steps left in ``d``."""
    lines = ["```text", f"GPU check {time.strftime('%Y-%m-%d')}: " + ((d / "env.txt").read_text().strip()
                                                                  if (d / "env.txt").exists() else "")]
    tests = (d / "tests.txt").read_text().strip().splitlines() if (d / "tests.txt").exists() else []
    lines.append("gpu tests: " + (tests[-1] if tests else "not run"))
    bench = _read(d / "stt.json")
    if bench:
        lines.append(f"transformers engine, {bench['device']}, {bench['params_b']} B params, random {bench.get('dtype', 'bf16')}:")
        lines.append("  mode    segments       batch  RTFx   prefill s  decode s  ms/step  warm-up s  peak GiB")
        for r in bench["rows"]:
            if "error" in r:
                lines.append(f"  {r['mode']:7s} FAILED: {r['error']}")
                continue
            lines.append(f"  {r['mode']:7s} {r['label']:>12s}  {r['batch']:5d}  {r['rtfx']:6.1f}  {r['prefill_s']:9.2f}"
                         f"  {r['decode_s']:8.2f}  {r['ms_per_step']:7.1f}  {r['warmup_s']:9.1f}  {r.get('peak_gib', '-')}")
    else:
        lines.append("transformers engine: no result (see stt.log)")
    v = _read(d / "vllm.json")
    if v:
        lines.append(f"vLLM ({v.get('server', '?')}): {v['segments']} segments of {v['segment_s']:g} s, "
                     f"{v['in_flight']} in flight, cap {v['cap']} tokens: {v['wall_s']} s, RTFx {v['rtfx']}, "
                     f"{v['truncated']} at the cap")
    else:
        why = (d / "vllm.txt").read_text().strip() if (d / "vllm.txt").exists() else "not run"
        lines.append(f"vLLM: {why}")
    lines.append("```")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("model")
    m.add_argument("dest", type=Path)
    m.add_argument("--tiny", action="store_true")
    s = sub.add_parser("serve")
    s.add_argument("url")
    s.add_argument("--in-flight", type=int, default=64)
    s.add_argument("--segments", type=int, default=256)
    s.add_argument("--seconds", type=float, default=20.0)
    s.add_argument("--tokens-per-second", type=float, default=4.0)
    s.add_argument("--server", default="vllm")
    s.add_argument("--json", type=Path, required=True)
    sub.add_parser("standin")
    su = sub.add_parser("summary")
    su.add_argument("dir", type=Path)
    a = ap.parse_args()
    if a.cmd == "model":
        build_random(a.dest, a.tiny)
    elif a.cmd == "serve":
        row = serve_check(a.url, a.in_flight, a.segments, a.seconds, a.tokens_per_second)
        row["server"] = a.server
        a.json.write_text(json.dumps(row))
        print(json.dumps(row))
    elif a.cmd == "standin":
        standin()
    else:
        print(summary(a.dir))


if __name__ == "__main__":
    main()
