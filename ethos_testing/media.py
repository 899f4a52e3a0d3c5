"""Test media made with ffmpeg and espeak-ng, plus the shared real recordings."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

SR = 16000


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def speak(text: str, dest: Path, trim: bool = True) -> Path:
    """A sentence from espeak-ng as 16 kHz mono WAV, silence trimmed from both ends."""
    raw = dest.with_suffix(".raw.wav")
    run(["espeak-ng", "-s", "150", "-w", str(raw), text])
    filt = "silenceremove=start_periods=1:start_threshold=-50dB,areverse," \
           "silenceremove=start_periods=1:start_threshold=-50dB,areverse" if trim else "anull"
    run(["ffmpeg", "-v", "error", "-y", "-i", str(raw), "-af", filt, "-ac", "1", "-ar", str(SR), str(dest)])
    raw.unlink()
    return dest


def silence(seconds: float, dest: Path) -> Path:
    run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"anullsrc=r={SR}:cl=mono",
         "-t", str(seconds), "-c:a", "pcm_s16le", str(dest)])
    return dest


def sentences_with_pauses(folder: Path, texts: list[str], pause: float = 1.5, lead: float = 0.5
                          ) -> tuple[Path, list[tuple[float, float]]]:
    """Sentences joined by silences; returns the file and each sentence's true (start, end)."""
    parts: list[Path] = [silence(lead, folder / "lead.wav")]
    truth: list[tuple[float, float]] = []
    t = lead
    for i, text in enumerate(texts):
        p = speak(text, folder / f"s{i}.wav")
        d = wav_seconds(p)
        truth.append((t, t + d))
        t += d
        parts.append(p)
        gap = pause if i + 1 < len(texts) else lead
        parts.append(silence(gap, folder / f"gap{i}.wav"))
        t += gap
    listing = folder / "list.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    out = folder / "sentences.wav"
    run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
         "-c:a", "pcm_s16le", str(out)])
    return out, truth


def mpeg4_part2(video: Path, audio: Path, dest: Path) -> Path:
    """A camera-style file browsers cannot show: MPEG-4 Part 2 video (``mpeg4``) + AAC in MP4."""
    run(["ffmpeg", "-v", "error", "-y", "-i", str(video), "-i", str(audio), "-map", "0:v:0", "-map", "1:a:0",
         "-shortest", "-c:v", "mpeg4", "-q:v", "5", "-c:a", "aac", "-b:a", "96k", str(dest)])
    return dest


# yongen.mp4's face is about 270 px wide (BlazeFace's box) in its 704×1216 frames.
YONGEN_FACE_PX = 270


def small_face_video(yongen: Path, face_px: int, dest: Path, seconds: float = 8.0,
                     width: int = 1280, height: int = 720) -> tuple[Path, tuple[int, int, int]]:
    """``yongen.mp4``'s face scaled to about ``face_px`` wide in a ``width``×``height`` frame
    (its top square, placed right of centre on black). Returns the video and where the scaled
    square sits: ``(x, y, side)`` in the video's pixels."""
    side = int(704 * face_px / YONGEN_FACE_PX) // 2 * 2
    x, y = (width - side) * 3 // 4, (height - side) // 3
    run(["ffmpeg", "-v", "error", "-y", "-i", str(yongen), "-t", str(seconds), "-an",
         "-vf", f"crop=704:704:0:100,scale={side}:{side},pad={width}:{height}:{x}:{y},format=yuv420p",
         "-c:v", "libx264", "-preset", "ultrafast", str(dest)])
    return dest, (x, y, side)
