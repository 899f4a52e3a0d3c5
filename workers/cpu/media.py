"""ffprobe and ffmpeg: what a file holds, and its audio as 16 kHz mono PCM."""

from __future__ import annotations

import io
import subprocess
import wave
from pathlib import Path

import ffmpeg
import numpy as np

from shared.errors import TooLong, UnsupportedMedia
from shared.schemas import MediaInfo
from workers.ffinput import input_args, scrub

SAMPLE_RATE = 16000
LEVEL_RATE = 8000  # a stereo recording's channels, for their levels only
LEVEL_FRAME_S = 0.1


def probe(path: Path, filename: str) -> MediaInfo:
    """Duration and streams of a media file; UnsupportedMedia when ffprobe can't read it."""
    opts = input_args(str(path))
    try:
        info = ffmpeg.probe(str(path), **{k.lstrip("-"): v for k, v in zip(opts[::2], opts[1::2], strict=True)})
    except ffmpeg.Error as e:
        detail = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        raise UnsupportedMedia(
            f"{filename!r} is not a media file ffmpeg can read"
            + (f": {scrub(detail[-1], str(path))}" if detail else "")
        ) from e
    streams = info.get("streams", [])
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    # Cover art in an audio file is a video stream with one frame: not a video.
    video = [
        s for s in streams
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]
    fmt = info.get("format", {})
    duration = _float(fmt.get("duration"))
    if duration is None:
        durations = [_float(s.get("duration")) for s in audio + video]
        duration = max((d for d in durations if d), default=None)
    if not audio and not video:
        raise UnsupportedMedia(f"{filename!r} holds no audio or video stream")
    if not duration or duration <= 0:
        raise UnsupportedMedia(f"{filename!r} has no measurable duration (truncated or empty?)")
    fps = None
    width = height = None
    vcodec = pix_fmt = None
    if video:
        v = video[0]
        width, height = v.get("width"), v.get("height")
        fps = _rate(v.get("avg_frame_rate")) or _rate(v.get("r_frame_rate"))
        vcodec, pix_fmt = v.get("codec_name"), v.get("pix_fmt")
    brand = (fmt.get("tags") or {}).get("major_brand")
    return MediaInfo(
        filename=filename,
        duration=round(duration, 3),
        has_audio=bool(audio),
        has_video=bool(video),
        size=int(fmt["size"]) if fmt.get("size") else None,
        format=fmt.get("format_name"),
        video_width=width,
        video_height=height,
        video_fps=fps,
        video_codec=vcodec,
        audio_codec=audio[0].get("codec_name") if audio else None,
        audio_channels=int(audio[0]["channels"]) if audio and str(audio[0].get("channels", "")).isdigit() else None,
        pixel_format=pix_fmt,
        # The container as the browser sees it: ffprobe names MP4 and QuickTime alike, the
        # brand tells them apart.
        container=_container(fmt.get("format_name"), brand, filename),
    )


def extract_audio(src: Path, dest: Path, filename: str, format_name: str | None,
                  max_s: float, stereo_dest: Path | None = None) -> None:
    """Decode the first audio stream to 16 kHz mono 16-bit WAV, with the demuxer the probe
    found; TooLong when it holds more than ``max_s`` seconds, whatever its header declared
    (decoding stops just past the limit, so the WAV stays bounded). ``stereo_dest``: in the
    same pass, its two channels apart at 8 kHz (for :func:`channel_levels`)."""
    limit = ["-t", f"{max_s + 1:.3f}"]
    cmd = [
        "ffmpeg", "-nostdin", "-v", "error", "-y", *input_args(str(src), format_name), "-i", str(src),
        "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le",
        *limit, "-f", "wav", str(dest),
    ]
    if stereo_dest is not None:
        cmd += ["-map", "0:a:0", "-vn", "-ac", "2", "-ar", str(LEVEL_RATE), "-c:a", "pcm_s16le",
                *limit, "-f", "wav", str(stereo_dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:] or ["ffmpeg failed"]
        raise UnsupportedMedia(f"could not decode the audio of {filename!r}: {scrub(last[0], str(src))}")
    decoded_s = (dest.stat().st_size - 44) / (2 * SAMPLE_RATE)
    if decoded_s > max_s:
        raise TooLong(f"the recording holds more than {max_s:.0f} s of audio, over the limit "
                      "(ETHOS_LIMITS__MAX_DURATION_S), though its header declares less")


def channel_levels(stereo_wav: Path) -> np.ndarray:
    """Per 0.1-s frame of a two-channel 16-bit WAV: each channel's level in dB of full scale
    (-120 for digital silence) and how alike the two channels are (the largest normalised
    cross-correlation within ±2 ms: near 1 for one sound on both sides, near 0 for two
    different ones); ``(frames, 3)`` float32, read a block at a time."""
    with wave.open(str(stereo_wav), "rb") as w:
        if w.getnchannels() != 2 or w.getsampwidth() != 2:
            raise ValueError(f"{stereo_wav} is not two-channel 16-bit PCM")
        frame = int(w.getframerate() * LEVEL_FRAME_S)
        lag = max(1, int(w.getframerate() * 0.002))
        out: list[np.ndarray] = []
        while raw := w.readframes(frame * 600):
            x = np.frombuffer(raw, dtype="<i2").reshape(-1, 2).astype(np.float32) / 32768.0
            n = len(x) // frame
            if not n:
                continue
            x = x[: n * frame].reshape(n, frame, 2)
            power = np.mean(x**2, axis=1)
            left, right = x[:, lag:-lag, 0], x[:, :, 1]
            norm = np.sqrt(np.sum(left**2, axis=1) * np.sum(right[:, lag:-lag] ** 2, axis=1)) + 1e-12
            alike = np.zeros(n, np.float32)
            for k in range(-lag, lag + 1):
                c = np.abs(np.sum(left * right[:, lag + k : frame - lag + k], axis=1)) / norm
                alike = np.maximum(alike, c)
            db = 10 * np.log10(np.maximum(power, 1e-12))
            out.append(np.column_stack([db, alike]).astype(np.float32))
    return np.concatenate(out) if out else np.zeros((0, 3), np.float32)


def levels_npy(stereo_wav: Path) -> bytes:
    """:func:`channel_levels` as a ``.npy`` file (float16): the ``diarize/channels.npy`` object."""
    buf = io.BytesIO()
    np.save(buf, channel_levels(stereo_wav).astype(np.float16))
    return buf.getvalue()


def _float(v: object) -> float | None:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _rate(v: str | None) -> float | None:
    if not v or "/" not in v:
        return None
    num, den = v.split("/", 1)
    try:
        return float(num) / float(den) if float(den) else None
    except ValueError:
        return None


def _container(format_name: str | None, brand: str | None, filename: str) -> str | None:
    """``mp4``, ``mov``, ``webm``, ``mkv``, or ffprobe's first format name."""
    if not format_name:
        return None
    names = format_name.split(",")
    if "mp4" in names:
        return "mov" if (brand or "").strip() == "qt" else "mp4"
    if "matroska" in names:
        return "webm" if filename.lower().endswith(".webm") else "mkv"
    return names[0]
