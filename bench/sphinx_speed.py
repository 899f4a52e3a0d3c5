"""Offline engine speed: real-time factor of VAD + pocketsphinx on jfk.flac and 60 s of speech.

RTFx = seconds of audio / seconds of wall time, one process, one core (pocketsphinx is
single-threaded). The 60-s recording is espeak-ng reading a paragraph, cut to 60 s.

    .venv/bin/python bench/sphinx_speed.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.settings import SttSettings, VadSettings  # noqa: E402
from tests.procs import MEDIA  # noqa: E402
from workers.stt import vad  # noqa: E402
from workers.stt.audio import read_wav  # noqa: E402
from workers.stt.engines.sphinx import SphinxEngine  # noqa: E402
from workers.stt.transcribe import transcribe_audio  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PARAGRAPH = (
    "The river runs slowly past the old mill, and every morning the baker opens his shop "
    "before the sun comes up. Children walk to school along the bridge. In the afternoon the "
    "market fills with people buying fruit, bread and flowers. "
)


def to_wav(src: Path | None, dest: Path, text: str | None = None, seconds: float | None = None) -> Path:
    if text is not None:
        raw = dest.with_suffix(".tts.wav")
        subprocess.run(["espeak-ng", "-s", "160", "-w", str(raw), text], check=True)
        src = raw
    cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-ac", "1", "-ar", "16000"]
    if seconds:
        cmd += ["-t", str(seconds)]
    subprocess.run([*cmd, str(dest)], check=True)
    return dest


def measure(name: str, wav: Path, engine: SphinxEngine) -> None:
    samples = read_wav(wav)
    dur = len(samples) / 16000
    t0 = time.perf_counter()
    spans = vad.detect(samples, VadSettings())
    t_vad = time.perf_counter() - t0
    t0 = time.perf_counter()
    segs = transcribe_audio(samples, engine, VadSettings(), "en")
    t_all = time.perf_counter() - t0
    words = sum(len(s.text.split()) for s in segs)
    print(f"  {name:<10} {dur:6.1f} s audio  {len(spans):3d} segments  VAD {t_vad:.3f} s  "
          f"VAD+sphinx {t_all:.2f} s  RTFx {dur / t_all:5.1f}  ({words} words)")


def main() -> None:
    engine = SphinxEngine(SttSettings(engine="sphinx"))
    engine.load()
    vad.load_vad()
    print("sphinx_speed: VAD (silero onnx, 1 thread) + pocketsphinx 5.1.1, one process")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        measure("jfk.flac", to_wav(MEDIA / "jfk.flac", tmp / "jfk.wav"), engine)
        measure("speech60", to_wav(None, tmp / "s60.wav", PARAGRAPH * 6, 60.0), engine)


if __name__ == "__main__":
    main()
