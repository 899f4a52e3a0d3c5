"""The faster-whisper engine alone (no stack): VAD + engine over the committed set, in one process.

Separates the engine's speed from the stack's (upload, queue, storage, Celery): the same
clips as ``bench/eval_offline.py``, read into memory, cut by the same VAD, transcribed by
``FasterWhisperEngine`` with the default settings after one warm-up clip. RTFx = seconds of
audio / seconds of VAD + engine.

    .venv/bin/python bench/whisper_engine_speed.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from ethos_testing.procs import media_dir
from evaluation import manifest
from evaluation.metrics import ErrorRates, word_errors
from shared.settings import SttSettings, VadSettings
from workers.stt.engines.fasterwhisper import FasterWhisperEngine
from workers.stt.transcribe import transcribe_audio

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    from faster_whisper import decode_audio

    path = ROOT / "evaluation" / "sets" / "ci" / "manifest.jsonl"
    clips = manifest.load(path)
    engine = FasterWhisperEngine(SttSettings(engine="fasterwhisper"))
    vad_cfg = VadSettings()
    with tempfile.TemporaryDirectory() as tmp:
        audio = {c.id: decode_audio(str(manifest.resolve(c, path, media_dir(), Path(tmp)))) for c in clips}
    engine.load()
    transcribe_audio(audio[clips[0].id], engine, vad_cfg, "en")  # warm-up: VAD and engine loaded
    info = engine.info()
    print(f"whisper_engine_speed: {info.model_id}, {info.extra['compute_type']}, {info.extra['cpu_threads']} threads, "
          f"beam {info.extra['beam_size']}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    errors, total_audio, total_s = ErrorRates(), 0.0, 0.0
    for c in clips:
        t0 = time.perf_counter()
        segs = transcribe_audio(audio[c.id], engine, vad_cfg, "en")
        dt = time.perf_counter() - t0
        seconds = len(audio[c.id]) / 16000
        e = word_errors(c.reference, " ".join(s.text for s in segs))
        errors, total_audio, total_s = errors + e, total_audio + seconds, total_s + dt
        print(f"  {c.id:20s} {seconds:5.1f} s  {len(segs)} segment(s)  {dt:5.2f} s  RTFx {seconds / dt:5.1f}  "
              f"WER {e.rate:.1%}")
    print(f"  set: {total_audio:.1f} s of audio in {total_s:.2f} s, RTFx {total_audio / total_s:.1f}, "
          f"WER {errors.rate:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
