"""Transcript quality and speed of a deployed engine: ``ethos-eval`` on the committed set.

Starts the whole system the way ``make run`` does (``deploy/run_local.py``: its own Redis,
cpu/stt/fer workers, the gateway) on private ports with its data under ``bench/out/``, with
the engine named here, waits until the stt worker is ready, runs the harness on
``evaluation/sets/ci/manifest.jsonl`` (one unscored warm-up job first), prints the headline
and leaves the report in ``bench/out/eval-<engine>/``.

    .venv/bin/python bench/eval_offline.py                      # faster-whisper, packaged tiny.en
    .venv/bin/python bench/eval_offline.py --engine voxtral     # on a CUDA host with the weights
    .venv/bin/python bench/eval_offline.py --english-model tiny.en --window-min 30  # the former default
    .venv/bin/python bench/eval_offline.py --manifest evaluation/sets/multilingual/manifest.jsonl \
        --language auto                                         # detection + CER on real non-English speech
    .venv/bin/python bench/eval_offline.py --batch-size 1       # faster-whisper one segment at a time
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ethos_testing.procs import free_port, media_dir
from evaluation.metrics import char_errors, word_errors

ROOT = Path(__file__).resolve().parent.parent


def wait_ready(url: str, timeout: float = 180.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            deps = httpx.get(url + "/readyz", timeout=2).json().get("dependencies", {})
            if deps.get("workers.stt", {}).get("state") == "ok":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(1)
    raise SystemExit("the stack did not become ready")


def per_language(clips: list[dict]) -> dict[str, dict[str, float]]:
    """Pooled error rates, detection and speed per expected language, from the report's clips."""
    out: dict[str, dict[str, float]] = {}
    for lang in sorted({c["language_expected"] for c in clips if c.get("language_expected")}):
        mine = [c for c in clips if c.get("language_expected") == lang]
        ch = [char_errors(c["reference"], c["hypothesis"], lang) for c in mine]
        wd = [word_errors(c["reference"], c["hypothesis"], lang) for c in mine]
        stt = sum(c["stt_s"] or 0.0 for c in mine)
        out[lang] = {"clips": len(mine), "right": sum(c["language"] == lang for c in mine),
                     "seconds": sum(c["duration_s"] for c in mine),
                     "cer": sum(e.errors for e in ch) / max(1, sum(e.reference_len for e in ch)),
                     "wer": sum(e.errors for e in wd) / max(1, sum(e.reference_len for e in wd)),
                     "rtfx": sum(c["duration_s"] for c in mine) / stt if stt else 0.0}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--engine", default="fasterwhisper")
    p.add_argument("--manifest", type=Path, default=ROOT / "evaluation" / "sets" / "ci" / "manifest.jsonl")
    p.add_argument("--language", default="en", help="sent with every job (`auto`: detected)")
    p.add_argument("--english-model", choices=["tiny.en", "base"], default=None,
                   help="ETHOS_STT__WHISPER__ENGLISH_MODEL for the run (default: the setting's default)")
    p.add_argument("--batch-size", type=int, default=None, help="ETHOS_STT__WHISPER__BATCH_SIZE for the run")
    p.add_argument("--window-min", type=float, default=None,
                   help="ETHOS_STT__WHISPER__WINDOW_MIN_S for the run (30: always 30-s encoder windows)")
    args = p.parse_args()
    args.manifest = args.manifest.resolve()
    tag = "".join(f"-{k}{v}" for k, v in (("", args.manifest.parent.name), ("", args.language),
                                          ("", args.english_model), ("b", args.batch_size),
                                          ("w", args.window_min)) if v is not None)
    out = ROOT / "bench" / "out" / f"eval-{args.engine}{tag}"
    port, rport = free_port(), free_port()
    env = {**os.environ, "ETHOS_STT__ENGINE": args.engine, "ETHOS_GATEWAY__PORT": str(port),
           "ETHOS_REDIS__URL": f"redis://127.0.0.1:{rport}/0", "ETHOS_STORAGE__LOCAL_ROOT": str(out / "storage"),
           "ETHOS_WORK_DIR": str(out / "work")}
    if args.english_model:
        env["ETHOS_STT__WHISPER__ENGLISH_MODEL"] = args.english_model
    if args.batch_size:
        env["ETHOS_STT__WHISPER__BATCH_SIZE"] = str(args.batch_size)
    if args.window_min is not None:
        env["ETHOS_STT__WHISPER__WINDOW_MIN_S"] = str(args.window_min)
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "stack.log", "wb")  # noqa: SIM115 - owned by the stack process
    stack = subprocess.Popen([sys.executable, "deploy/run_local.py"], cwd=ROOT, env=env, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        done = subprocess.run([sys.executable, "-m", "evaluation.cli", str(args.manifest), "--url", url,
                               "--out", str(out / "report"), "--media", str(media_dir()),
                               "--work", str(out / "clips"), "--language", args.language],
                              cwd=ROOT, capture_output=True, text=True)
    finally:
        os.killpg(stack.pid, signal.SIGINT)
        stack.wait(60)
    if done.returncode not in (0, 1) or not (out / "report" / "report.json").exists():
        print(done.stderr[-3000:])
        return done.returncode
    r = json.loads((out / "report" / "report.json").read_text())
    name = args.manifest.relative_to(ROOT) if args.manifest.is_relative_to(ROOT) else args.manifest
    print(f"eval_offline: {name} ({r['clips']} clips, {r['audio_s']:.1f} s of audio) "
          f"through a local stack, engine {', '.join(r['engines'])}, {os.cpu_count()} cores")
    print(f"  WER {r['wer']:.2%}  CER {r['cer']:.2%}  tag F1 (micro) {r['tags']['micro']['f1']:.2%}  "
          f"failed {r['failed']}")
    if r.get("language_accuracy") is not None:
        print(f"  language detected right on {r['language_accuracy']:.0%} of {r['language_labelled']} clips")
        for c in r["per_clip"]:
            print(f"    {c['id']}: {c['language']} (p {c['language_probability']}, expected {c['language_expected']})"
                  f"  CER {c['cer']:.1%}  WER {c['wer']:.1%}  {c['hypothesis']}")
        print("  per language (CER and WER pooled over the language's clips):")
        for lang, row in per_language(r["per_clip"]).items():
            print(f"    {lang}: {row['clips']} clips, {row['seconds']:.1f} s, language right {row['right']}/{row['clips']}, "
                  f"CER {row['cer']:.1%}, WER {row['wer']:.1%}, {row['rtfx']:.1f}x real time")
    rtfx = [c["duration_s"] / c["stt_s"] for c in r["per_clip"] if c["stt_s"]]
    print(f"  STT real-time factor {r['rtf']} ({r['rtfx']}x real time over the set; per clip "
          f"{min(rtfx):.1f}x to {max(rtfx):.1f}x); jobs' wall time {sum(c['wall_s'] or 0 for c in r['per_clip']):.1f} s")
    print(f"  report: {out / 'report' / 'report.md'}; load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
