"""The faster-whisper engine alone (no stack): VAD + engine over an evaluation set, in one process.

Separates the engine's speed from the stack's (upload, queue, storage, Celery): the clips of
a manifest, read into memory, cut by the same VAD, transcribed by ``FasterWhisperEngine`` after
one warm-up clip. RTFx = seconds of audio / seconds of VAD + engine. Several configurations
(model × batch size) are measured in one run, clip by clip in turn, so they share the
machine's load; ``--joined`` also measures the whole set joined into one recording with 4-s
silences between clips (one VAD segment per clip: what batching is for).

    .venv/bin/python bench/whisper_engine_speed.py                       # tiny.en, batch 4 and 1
    .venv/bin/python bench/whisper_engine_speed.py --models tiny.en,base --batch 4,1 --joined
    .venv/bin/python bench/whisper_engine_speed.py --models base,tiny.en --batch 4 --windows 10,30
    .venv/bin/python bench/whisper_engine_speed.py --manifest evaluation/sets/multilingual/manifest.jsonl \\
        --models base --language auto --batch 4,1 --joined
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ethos_testing.procs import media_dir
from evaluation import manifest
from evaluation.metrics import ErrorRates, char_errors, word_errors
from shared.settings import SttSettings, VadSettings
from workers.stt.engines.fasterwhisper import FasterWhisperEngine
from workers.stt.transcribe import transcribe_audio

ROOT = Path(__file__).resolve().parent.parent

GAP_S = 4.0


class Config:
    def __init__(self, model: str, batch: int, window: float, beam: int | None, language: str) -> None:
        # The pair's beams: English jobs beam_size (1), other languages on base the multilingual beam.
        whisper = SttSettings().whisper
        if beam is None:
            beam = whisper.multilingual_beam_size if model != "tiny.en" and language != "en" else whisper.beam_size
        cfg = SttSettings(engine="fasterwhisper", whisper={"batch_size": batch, "window_min_s": window})
        self.engine = FasterWhisperEngine(cfg, model, beam)
        # The window the engine really uses (short ones only for English on a multilingual model).
        used = self.engine.window_min_s(language if language != "auto" else None) if batch > 1 else 30.0
        self.name = f"{model} b{batch} w{used:g} beam{beam}"
        self.words, self.chars, self.audio, self.seconds = ErrorRates(), ErrorRates(), 0.0, 0.0
        self.languages_right = 0


def run(cfg: Config, samples: np.ndarray, language: str) -> tuple[float, str, list[str | None]]:
    t0 = time.perf_counter()
    segs = transcribe_audio(samples, cfg.engine, VadSettings(), language)
    return time.perf_counter() - t0, " ".join(s.text for s in segs), [s.language for s in segs]


def main() -> int:
    from faster_whisper import decode_audio

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--manifest", type=Path, default=ROOT / "evaluation" / "sets" / "ci" / "manifest.jsonl")
    p.add_argument("--models", default="tiny.en", help="comma-separated: tiny.en, base")
    p.add_argument("--batch", default="4,1", help="comma-separated batch sizes (ETHOS_STT__WHISPER_BATCH_SIZE)")
    p.add_argument("--windows", default="10", help="comma-separated ETHOS_STT__WHISPER__WINDOW_MIN_S values "
                   "(30: always the full 30-s window; batched decoding only)")
    p.add_argument("--beam", type=int, default=None, help="beam width for every configuration (default: the pair's)")
    p.add_argument("--language", default="en")
    p.add_argument("--joined", action="store_true", help="also the whole set as one recording")
    args = p.parse_args()
    clips = manifest.load(args.manifest)
    with tempfile.TemporaryDirectory() as tmp:
        audio = {c.id: decode_audio(str(manifest.resolve(c, args.manifest, media_dir(), Path(tmp)))) for c in clips}
    configs = [Config(m, int(b), float(w), args.beam, args.language) for m in args.models.split(",")
               for b in args.batch.split(",") for w in (args.windows.split(",") if b != "1" else ["30"])]
    for cfg in configs:
        cfg.engine.load()
        run(cfg, audio[clips[0].id], args.language)  # warm-up: VAD and engine loaded
    info = configs[0].engine.info()
    print(f"whisper_engine_speed: {args.manifest.name}, language {args.language}, {info.extra['compute_type']}, "
          f"{info.extra['cpu_threads']} threads, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    for c in clips:
        seconds = len(audio[c.id]) / 16000
        for cfg in configs:
            dt, text, langs = run(cfg, audio[c.id], args.language)
            w, ch = word_errors(c.reference, text), char_errors(c.reference, text)
            cfg.words, cfg.chars, cfg.audio, cfg.seconds = cfg.words + w, cfg.chars + ch, cfg.audio + seconds, \
                cfg.seconds + dt
            cfg.languages_right += bool(c.language and langs and all(lang == c.language for lang in langs))
            print(f"  {cfg.name:26s} {c.id:20s} {seconds:5.1f} s  {dt:5.2f} s  RTFx {seconds / dt:5.1f}  "
                  f"WER {w.rate:6.1%}  CER {ch.rate:6.1%}  {','.join(sorted({x or '-' for x in langs}))}")
    for cfg in configs:
        right = f", language right on {cfg.languages_right}/{len(clips)}" if any(c.language for c in clips) else ""
        print(f"  set, {cfg.name:26s}: {cfg.audio:.1f} s of audio in {cfg.seconds:.2f} s, RTFx "
              f"{cfg.audio / cfg.seconds:.1f}, WER {cfg.words.rate:.2%}, CER {cfg.chars.rate:.2%}{right}")
    if args.joined:
        gap = np.zeros(int(GAP_S * 16000), dtype=np.float32)
        joined = np.concatenate([x for c in clips for x in (audio[c.id], gap)])
        reference = " ".join(c.reference for c in clips)
        for cfg in configs:
            dt, text, langs = run(cfg, joined, args.language)
            print(f"  joined, {cfg.name:26s}: {len(joined) / 16000:.1f} s in {dt:.2f} s, RTFx "
                  f"{len(joined) / 16000 / dt:.1f}, WER {word_errors(reference, text).rate:.2%}, "
                  f"CER {char_errors(reference, text).rate:.2%}, segment languages {langs}")
    print(f"  load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
