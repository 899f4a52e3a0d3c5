"""Encoder windows in steps of 5 s against finer steps: words and speed on real English speech.

English batches are encoded in the shortest window of ``window_min_s`` + k × step that
holds the batch's longest segment with 1 s to spare (``whisper_batch.window_frames``). This
runs the stt worker's own path (Silero VAD, ``transcribe_audio``, the packaged base, greedy,
``language=en``) over the committed English set (WER against its references, decoded as the
stack extracts it: ffmpeg to a 16-bit WAV), the real-speech set's local recordings and
``jfk.flac``, and the vocal set's English speech (no references: each step is compared word
by word with the 5-s step), each clip with every step in turn, so they share the load.

    PYTHONPATH=. .venv/bin/python bench/window_step.py [--steps 5,2.5,1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def recordings(tmp: Path) -> list[tuple[str, np.ndarray, str | None]]:
    """(id, 16 kHz float32 samples, reference or None) for every English recording used."""
    from ethos_testing.procs import media_dir
    from evaluation import manifest
    from workers.stt.audio import read_wav

    def wav16(src: Path) -> np.ndarray:
        dest = tmp / f"{src.stem}-{abs(hash(str(src)))}.wav"
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-vn", "-ac", "1", "-ar",
                        "16000", "-c:a", "pcm_s16le", "-f", "wav", str(dest)], check=True)
        return read_wav(dest)

    out: list[tuple[str, np.ndarray, str | None]] = []
    ci = ROOT / "evaluation" / "sets" / "ci" / "manifest.jsonl"
    for c in manifest.load(ci):
        out.append((f"ci/{c.id}", wav16(manifest.resolve(c, ci, media_dir(), tmp)), c.reference))
    for f in sorted((ROOT / "evaluation" / "sets" / "real" / "audio").glob("*.wav")):
        out.append((f"real/{f.stem}", wav16(f), None))
    vocal = ROOT / "evaluation" / "sets" / "vocal"
    for f in sorted(vocal.glob("speech-*.opus")):
        if "jfk" not in f.stem:  # the same speech as ci/jfk
            out.append((f"vocal/{f.stem}", wav16(f), None))
    return out


def main() -> int:
    from evaluation.metrics import ErrorRates, word_errors
    from shared.settings import SttSettings, VadSettings
    from workers.stt.engines import whisper_batch
    from workers.stt.engines.whisper_pair import WhisperPair
    from workers.stt.transcribe import transcribe_audio

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", default="5,2.5")
    args = p.parse_args()
    steps = [float(s) for s in args.steps.split(",")]
    engine = WhisperPair(SttSettings(engine="fasterwhisper"))
    engine.load()
    with tempfile.TemporaryDirectory() as d:
        clips = recordings(Path(d))
    texts: dict[float, dict[str, str]] = defaultdict(dict)
    secs: dict[float, float] = defaultdict(float)
    audio_s = sum(len(s) / 16000 for _, s, _ in clips)
    vad_cfg = VadSettings()
    transcribe_audio(clips[0][1], engine, vad_cfg, "en")  # warm-up
    print(f"window_step: {len(clips)} English recordings, {audio_s:.0f} s, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    for cid, samples, _ in clips:
        for step in steps:
            whisper_batch.WINDOW_STEP_S = step
            t = time.perf_counter()
            segs = transcribe_audio(samples, engine, vad_cfg, "en")
            secs[step] += time.perf_counter() - t
            texts[step][cid] = " ".join(s.text for s in segs)
    base = steps[0]
    for step in steps:
        scored = [word_errors(ref, texts[step][cid]) for cid, _, ref in clips if ref]
        agree = [word_errors(texts[base][cid], texts[step][cid]) for cid, _, ref in clips if not ref]
        print(f"  step {step:g} s: {audio_s / secs[step]:.1f}x real time ({secs[step]:.2f} s); committed set WER "
              f"{sum(scored, ErrorRates()).rate:.2%}; other recordings: {sum(agree, ErrorRates()).errors} words "
              f"differ from step {base:g} s of {sum(agree, ErrorRates()).reference_len}")
        for cid, _, _ in clips:
            if step != base and texts[step][cid] != texts[base][cid]:
                print(f"    {cid}:\n      {base:g}: {texts[base][cid]}\n      {step:g}: {texts[step][cid]}")
    print(f"  load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
