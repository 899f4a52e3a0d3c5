"""Multi-voice dialogues made with espeak-ng at test time, with their true speaker turns."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from ethos_testing.media import SR, run

# Clearly different voices: variant, pitch (0-99) and speed (words per minute).
VOICES = {
    "A": ("en-us+m3", 35, 150),
    "B": ("en+f4", 80, 185),
    "C": ("en-gb-x-rp+f2", 60, 135),
}

SENTENCES = [
    "Good morning, thanks for coming in to talk with us today.",
    "Happy to be here, it has been a busy week for the whole team.",
    "Let us start with the new project you mentioned on the phone.",
    "Sure. We are building a small weather station for the school garden.",
    "Really?",
    "Yes, the children collect the readings every morning before class.",
    "That sounds wonderful, how long have you been working on it?",
    "About three months now, and the first results look very promising.",
    "What was the hardest part so far?",
    "Keeping the sensors dry during the long autumn storms was the hardest part.",
]


def speak(text: str, voice: str, dest: Path) -> np.ndarray:
    """One turn from espeak-ng as 16 kHz float32 samples, silence trimmed at both ends."""
    variant, pitch, speed = VOICES[voice]
    raw = dest.with_suffix(".raw.wav")
    run(["espeak-ng", "-v", variant, "-p", str(pitch), "-s", str(speed), "-w", str(raw), text])
    trim = "silenceremove=start_periods=1:start_threshold=-50dB,areverse," \
           "silenceremove=start_periods=1:start_threshold=-50dB,areverse"
    run(["ffmpeg", "-v", "error", "-y", "-i", str(raw), "-af", trim, "-ac", "1", "-ar", str(SR),
         "-c:a", "pcm_s16le", str(dest)])
    raw.unlink()
    with wave.open(str(dest)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768


def dialogue(folder: Path, turns: list[tuple[str, str]], pause: float = 0.8, lead: float = 0.5,
             name: str = "dialogue.wav") -> tuple[Path, list[tuple[str, float, float]]]:
    """Turns ``(voice, text)`` spoken in order with ``pause`` s between them; the WAV and the
    true ``(voice, start, end)`` of each turn."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = [np.zeros(int(lead * SR), dtype=np.float32)]
    truth: list[tuple[str, float, float]] = []
    t = lead
    for i, (voice, text) in enumerate(turns):
        x = speak(text, voice, folder / f"turn{i}.wav")
        truth.append((voice, round(t, 3), round(t + len(x) / SR, 3)))
        t += len(x) / SR
        gap = pause if i + 1 < len(turns) else lead
        parts += [x, np.zeros(int(gap * SR), dtype=np.float32)]
        t += int(gap * SR) / SR
    out = folder / name
    pcm = (np.clip(np.concatenate(parts), -1, 1) * 32767).astype("<i2")
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())
    return out, truth


def alternating(voices: str, n: int = len(SENTENCES)) -> list[tuple[str, str]]:
    """The sample sentences spoken in turn by ``voices`` (e.g. ``"AB"``)."""
    return [(voices[i % len(voices)], SENTENCES[i % len(SENTENCES)]) for i in range(n)]
