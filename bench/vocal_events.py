"""What the vocal-events step costs: its speed on one core and its share of a 10-minute job.

The recording is real audio tiled to ``--minutes`` (jfk.flac, the LibriSpeech clips, music
and applause of evaluation/sets/vocal). Both measures run in this process, pinned to one
core, one after the other on the same audio, so the machine's load weighs on both alike:

1. **The step alone**: ``detect_vocal_events`` (log-mel in numpy, YAMNet int8 on ONNX Runtime,
   one thread) over the whole recording: audio seconds per CPU second and per wall second.
2. **Its share of a job**: the same recording through the speech step as the stt worker runs
   it (Silero VAD + faster-whisper, the packaged tiny.en, int8, one thread) and through the
   diarize step (on by default: WebRTC VAD + the Resemblyzer encoder + clustering), each on
   the first ``--stt-minutes`` and scaled to the whole. Shares are given against the speech
   step alone (a job with diarization off) and against speech + speakers (the default job);
   prepare and merge are left out, so a real job's share is lower still.

    .venv/bin/python bench/vocal_events.py [--minutes 10] [--stt-minutes 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from ethos_testing.procs import ROOT, media_dir  # noqa: E402
from evaluation.vocal import decode  # noqa: E402
from shared.settings import Settings, VocalSettings  # noqa: E402

SR = 16000
CLIPS = ["speech-librispeech-198-209-0000.opus", "speech-librispeech-3436-172162-0000.opus",
         "speech-librispeech-5703-47212-0000.opus", "music-piano.opus", "applause.opus",
         "speech-librispeech-5703-47212-0000.opus"]


def recording(minutes: float) -> np.ndarray:
    """Real clips one after the other, tiled to ``minutes``."""
    block = np.concatenate([decode(media_dir() / "jfk.flac")]
                           + [decode(ROOT / "evaluation/sets/vocal" / c) for c in CLIPS])
    reps = int(np.ceil(minutes * 60 * SR / len(block)))
    return np.tile(block, reps)[: int(minutes * 60 * SR)]


def timed(fn):  # type: ignore[no-untyped-def]
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--stt-minutes", type=float, default=2.0)
    args = p.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    audio = recording(args.minutes)
    seconds = len(audio) / SR
    load = os.getloadavg()[0]
    from workers.vocal.pipeline import detect_vocal_events

    with tempfile.TemporaryDirectory() as tmp:
        cfg = VocalSettings(cache_dir=Path(tmp), threads=1)
        detect_vocal_events(audio[: SR * 5], cfg)  # unpack and load the model first
        out, v_wall, v_cpu = timed(lambda: detect_vocal_events(audio, cfg))
    print(f"audio: {seconds:.0f} s real recordings; machine load {load:.1f}")  # noqa: T201
    print(f"vocal step, 1 core, 1 thread: {v_cpu:.2f} s CPU, {v_wall:.2f} s wall → "  # noqa: T201
          f"{seconds / v_cpu:.0f}× real time (CPU), {seconds / v_wall:.0f}× (wall); "
          f"{len(out.events)} events, {out.hops} hops")

    from workers.stt.engines.fasterwhisper import FasterWhisperEngine
    from workers.stt.transcribe import transcribe_audio

    s = Settings()
    stt_cfg = s.stt.model_copy(deep=True)
    stt_cfg.whisper.cpu_threads = 1
    engine = FasterWhisperEngine(stt_cfg)
    engine.load()
    part = audio[: int(args.stt_minutes * 60 * SR)]
    segs, s_wall, s_cpu = timed(lambda: transcribe_audio(part, engine, s.vad, "en"))
    scale = seconds / (len(part) / SR)
    stt_cpu, stt_wall = s_cpu * scale, s_wall * scale
    print(f"stt (faster-whisper tiny.en int8, 1 thread) on {len(part) / SR:.0f} s: {s_cpu:.1f} s CPU, "  # noqa: T201
          f"{s_wall:.1f} s wall ({len(segs)} segments) → {stt_cpu:.0f} s CPU for the whole")
    print(f"share of a job without speakers (vocal / (stt + vocal)): "  # noqa: T201
          f"{100 * v_cpu / (stt_cpu + v_cpu):.2f} % CPU, {100 * v_wall / (stt_wall + v_wall):.2f} % wall")

    from workers.diarize.cluster import SpeakerCount
    from workers.diarize.pipeline import diarize_audio

    diarize_audio(part[: SR * 20], s.diarize, SpeakerCount())  # load the encoder first
    _, d_wall, d_cpu = timed(lambda: diarize_audio(part, s.diarize, SpeakerCount()))
    d_cpu, d_wall = d_cpu * scale, d_wall * scale
    print(f"diarize on {len(part) / SR:.0f} s → {d_cpu:.0f} s CPU for the whole")  # noqa: T201
    print(f"share of the default job (vocal / (stt + diarize + vocal)): "  # noqa: T201
          f"{100 * v_cpu / (stt_cpu + d_cpu + v_cpu):.2f} % CPU, "
          f"{100 * v_wall / (stt_wall + d_wall + v_wall):.2f} % wall")


if __name__ == "__main__":
    main()
