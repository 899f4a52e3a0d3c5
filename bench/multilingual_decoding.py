"""Decoding options of the multilingual base compared on the multilingual set, engine alone.

Each clip (whole, no VAD; ``--vad``: our VAD's segments, as the stt worker runs it) goes through ``FasterWhisperEngine.transcribe([clip], "auto")`` as a
one-segment job does; per language: detected right, CER pooled over the language's clips,
and the speed of the run (same process, same clips, one option after another).

    .venv/bin/python bench/multilingual_decoding.py                   # beam 5 (the default), patience 2, greedy, one by one
    .venv/bin/python bench/multilingual_decoding.py --compute-type float32 --variants default
    .venv/bin/python bench/multilingual_decoding.py --variants default,detect30,default,detect30
    .venv/bin/python bench/multilingual_decoding.py --variants default --languages ja --prompt ja=TEXT
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.metrics import char_errors
from shared.scripts import join_texts
from shared.settings import SttSettings, VadSettings
from workers.stt.engines import whisper_batch
from workers.stt.engines.base import Transcript
from workers.stt.engines.fasterwhisper import FasterWhisperEngine
from workers.stt.transcribe import recording_language, transcribe_audio

SET = Path(__file__).resolve().parent.parent / "evaluation" / "sets" / "multilingual"


class _Generate:
    """The CTranslate2 model with extra ``generate`` options (its attributes are read-only)."""

    def __init__(self, inner: Any) -> None:
        self.inner: Any = inner
        self.options: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.generate(*args, **{**kwargs, **self.options})


def load(path: Path) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.int16).astype(np.float32) / 32768


def run(name: str, engine: FasterWhisperEngine, rows: list[dict[str, str]], audio: dict[str, np.ndarray],
        dump: Path | None = None, vad_cfg: VadSettings | None = None) -> None:
    hyps: list[dict[str, Any]] = []
    per: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0, 0.0])  # errors, chars, clips, right, seconds
    start = time.perf_counter()
    for r in rows:
        if vad_cfg is not None:  # as the stt worker runs it: VAD segments, the recording's language
            segs = transcribe_audio(audio[r["id"]], engine, vad_cfg, "auto")
            lang, prob = recording_language(segs, "auto")
            out = Transcript(text=join_texts(s.text for s in segs), language=lang, language_probability=prob)
        else:
            out = engine.transcribe([audio[r["id"]]], "auto")[0]
        hyps.append({"id": r["id"], "language": out.language, "p": out.language_probability, "text": out.text})
        e, p = char_errors(r["reference"], out.text, r["language"]), per[r["language"]]
        p[0] += e.errors
        p[1] += e.reference_len
        p[2] += 1
        p[3] += out.language == r["language"]
        p[4] += len(audio[r["id"]]) / 16000
    wall = time.perf_counter() - start
    errors, chars, seconds = (sum(p[k] for p in per.values()) for k in (0, 1, 4))
    print(f"{name}: CER {errors / chars:.2%}, {seconds / wall:.1f}x real time, load average "
          f"{Path('/proc/loadavg').read_text().split()[0]}")
    print("   " + "  ".join(f"{lang} {p[0] / p[1]:.1%} ({int(p[3])}/{int(p[2])})" for lang, p in sorted(per.items())),
          flush=True)
    if dump is not None:
        dump.write_text(json.dumps(hyps, ensure_ascii=False, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compute-type", default="int8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--variants", default="default,patience2,greedy,one-by-one",
                    help="comma-separated: default (beam 5, batched path), patience2, greedy, beam8, one-by-one, "
                         "lp0.6, lp1.4 (length penalty), no-suppress-blank, rep1.1 (repetition penalty), "
                         "timestamps (the decoder writes timestamp tokens), detect30 (the default detecting on "
                         "30-s windows, as before short windows served detection)")
    ap.add_argument("--dump", type=Path, help="write each variant's hypotheses to DUMP-<variant>.json")
    ap.add_argument("--vad", action="store_true",
                    help="each clip through our VAD and the recording-language rule, as the stt worker runs it")
    ap.add_argument("--pad", default="", help="with --vad: comma-separated VAD pad_s values to compare")
    ap.add_argument("--languages", default="", help="comma-separated: only these languages' clips")
    ap.add_argument("--prompt", action="append", default=[], metavar="LANG=TEXT",
                    help="decode LANG's segments after TEXT (stt.whisper.language_prompts; TEXT empty: no prompt)")
    args = ap.parse_args()
    rows = [json.loads(line) for line in (SET / "manifest.jsonl").read_text().splitlines()]
    if args.languages:
        rows = [r for r in rows if r["language"] in args.languages.split(",")]
    audio = {r["id"]: load(SET / r["audio"]) for r in rows}
    engine = FasterWhisperEngine(SttSettings(engine="fasterwhisper", whisper={
        "cpu_threads": args.threads, "compute_type": args.compute_type}), "base", 5)
    for item in args.prompt:
        lang, _, text = item.partition("=")
        if text:
            engine.cfg.whisper.language_prompts[lang] = text
        else:
            engine.cfg.whisper.language_prompts.pop(lang, None)
    print("prompts:", engine.cfg.whisper.language_prompts)
    engine.load()
    engine.model.model = gen = _Generate(engine.model.model)
    setups: dict[str, tuple[int, int, dict[str, Any]]] = {"default": (5, 4, {}), "patience2": (5, 4, {"patience": 2.0}), "greedy": (1, 4, {}),
              "beam8": (8, 4, {}), "one-by-one": (5, 1, {}), "lp0.6": (5, 4, {"length_penalty": 0.6}),
              "lp1.4": (5, 4, {"length_penalty": 1.4}), "no-suppress-blank": (5, 4, {"suppress_blank": False}),
              "rep1.1": (5, 4, {"repetition_penalty": 1.1}), "timestamps": (5, 4, {}), "detect30": (5, 4, {})}
    pads = [float(p) for p in args.pad.split(",")] if args.pad else [None]
    window = engine.cfg.whisper.window_min_s
    for name in args.variants.split(","):
        for pad in pads:
            engine.beam_size, engine.batch_size, gen.options = setups[name]
            whisper_batch.WITHOUT_TIMESTAMPS = name != "timestamps"
            engine.cfg.whisper.window_min_s = 30.0 if name == "detect30" else window
            label = name if pad is None else f"{name}-pad{pad}"
            vad_cfg = (VadSettings() if pad is None else VadSettings(pad_s=pad)) if args.vad else None
            run(f"{label} ({args.compute_type})", engine, rows, audio,
                args.dump.with_name(f"{args.dump.name}-{label}.json") if args.dump else None, vad_cfg)


if __name__ == "__main__":
    main()
