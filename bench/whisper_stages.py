"""Where the faster-whisper engine's time goes, stage by stage, and what decoding options do.

The committed English set (and, with ``--real``, the real-speech set's audio, scored by
agreement with the first configuration since it has no references) goes through Silero VAD
and the same CTranslate2 calls as ``workers/stt/engines/whisper_batch.py`` (mel, encoder,
``generate``, word alignment), each timed. Configurations run clip by clip in turn, so they
share the machine's load. Each clip is decoded twice: by PyAV (float) and as the stack reads
it (ffmpeg to a 16-bit WAV, as the cpu worker extracts it), since tiny.en's errors on this
set move with that difference.

A configuration is ``model:window_min_s:beam[:json generate options]``; ``prompt`` in the
options is a text prompt. For example:

    .venv/bin/python bench/whisper_stages.py "base:10:1" "tiny.en:30:1" "tiny.en:30:5" --real
    .venv/bin/python bench/whisper_stages.py "tiny.en:30:1" 'tiny.en:30:1:{"no_repeat_ngram_size": 3}'
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ethos_testing.procs import media_dir
from evaluation import manifest
from evaluation.metrics import ErrorRates, word_errors
from shared.settings import SttSettings, VadSettings
from workers.stt import vad
from workers.stt.audio import cut, read_wav
from workers.stt.engines.fasterwhisper import FasterWhisperEngine
from workers.stt.engines.whisper_batch import APPEND, PREPEND, window_frames

ROOT = Path(__file__).resolve().parent.parent
_models: dict[str, Any] = {}


def model(name: str) -> Any:
    if name not in _models:
        eng = FasterWhisperEngine(SttSettings(engine="fasterwhisper"), name)
        eng.load()
        _models[name] = eng.model
    return _models[name]


class Config:
    def __init__(self, spec: str) -> None:
        name, window, beam, *rest = spec.split(":", 3)
        self.spec, self.name, self.window, self.beam = spec, name, float(window), int(beam)
        self.opts: dict[str, Any] = json.loads(rest[0]) if rest else {}
        self.prompt = self.opts.pop("prompt", None)
        self.stages: dict[str, float] = defaultdict(float)
        self.errors: dict[str, list[ErrorRates]] = defaultdict(list)
        self.audio_s = 0.0
        self.texts: dict[str, str] = {}

    def run(self, clip: np.ndarray) -> str:
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        m, st = model(self.name), self.stages
        tok = Tokenizer(m.hf_tokenizer, m.model.is_multilingual, task="transcribe", language="en")
        t = time.perf_counter()
        spans = vad.detect(clip, VadSettings(merge_gap_s=FasterWhisperEngine.default_merge_gap_s))
        st["vad"] += time.perf_counter() - t
        texts = []
        for a, b in spans:
            seg = cut(clip, a, b)
            t = time.perf_counter()
            frames = window_frames(len(seg) / 16000, self.window, m.frames_per_second)
            feats = pad_or_trim(m.feature_extractor(seg)[..., :-1], frames)
            st["mel"] += time.perf_counter() - t
            t = time.perf_counter()
            enc = m.encode(feats[None])
            st["encoder"] += time.perf_counter() - t
            previous = tok.encode(" " + self.prompt) if self.prompt else []
            prompt = list(m.get_prompt(tok, previous, without_timestamps=True))
            t = time.perf_counter()
            opts = {"suppress_blank": True, "return_no_speech_prob": True, **self.opts}
            r = m.model.generate(enc, [prompt], beam_size=self.beam, max_length=m.max_length,
                                 suppress_tokens=list(get_suppressed_tokens(tok, (-1,)) or ()), **opts)[0]
            st["decode"] += time.perf_counter() - t
            tokens = [x for x in r.sequences_ids[0] if x < tok.eot]
            texts.append(tok.decode(tokens).strip())
            t = time.perf_counter()
            rows = [[{"tokens": tokens, "start": 0.0, "end": len(seg) / 16000, "seek": 0}]]
            m.add_word_timestamps(rows, tok, enc, [min(math.ceil(len(seg) / 16000) * 100, frames)],
                                  PREPEND, APPEND, 0.0)
            st["align"] += time.perf_counter() - t
        return " ".join(texts)


def main() -> int:
    from faster_whisper import decode_audio

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("configs", nargs="+", help="model:window_min_s:beam[:json options]")
    p.add_argument("--manifest", type=Path, default=ROOT / "evaluation" / "sets" / "ci" / "manifest.jsonl")
    p.add_argument("--real", action="store_true", help="also evaluation/sets/real/audio/*.wav and jfk.flac")
    p.add_argument("--show", action="store_true", help="print every hypothesis")
    args = p.parse_args()
    clips = manifest.load(args.manifest)
    refs = {c.id: c.reference for c in clips}
    floats, wavs = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for c in clips:
            src = manifest.resolve(c, args.manifest, media_dir(), Path(tmp))
            floats[c.id] = decode_audio(str(src))
            wav = Path(tmp) / f"{c.id}.16k.wav"  # as the cpu worker extracts it (workers/cpu/media.py)
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-vn", "-ac", "1", "-ar",
                            "16000", "-c:a", "pcm_s16le", "-f", "wav", str(wav)], check=True)
            wavs[c.id] = read_wav(wav)
    sets = {"float": floats, "wav16": wavs}
    if args.real:
        real = {f.stem: decode_audio(str(f)) for f in sorted((ROOT / "evaluation/sets/real/audio").glob("*.wav"))}
        sets["real"] = {**real, "jfk": floats["jfk"]} if "jfk" in floats else real
    configs = [Config(s) for s in args.configs]
    warm = next(iter(floats.values()))
    for cfg in configs:
        cfg.run(warm)
        cfg.stages.clear()
    print(f"whisper_stages: {args.manifest.name}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    for set_name, audio in sets.items():
        for clip_id, samples in audio.items():
            for cfg in configs:
                text = cfg.run(samples)
                cfg.audio_s += len(samples) / 16000
                cfg.texts[f"{set_name}/{clip_id}"] = text
                if set_name == "real":
                    cfg.errors[set_name].append(word_errors(configs[0].texts[f"{set_name}/{clip_id}"], text))
                else:
                    cfg.errors[set_name].append(word_errors(refs[clip_id], text))
                if args.show:
                    print(f"    {cfg.spec} {set_name}/{clip_id}: {text}")
    for cfg in configs:
        total = sum(cfg.stages.values())
        split = ", ".join(f"{k} {v:.2f} s ({v / total:.0%})" for k, v in cfg.stages.items())
        scores = "; ".join(
            f"{name} {'vs first ' if name == 'real' else 'WER '}{sum(es, ErrorRates()).rate:.2%} "
            f"[{' '.join(str(e.errors) for e in es)}]" for name, es in cfg.errors.items())
        print(f"  {cfg.spec}: RTFx {cfg.audio_s / total:.1f}; {split}\n      {scores}")
    print(f"  load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
