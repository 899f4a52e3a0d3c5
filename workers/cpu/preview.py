"""The browser-playable preview: which uploads need one, and making it with ffmpeg.

The rule (README, "Studio"): a browser plays, as they are,

- video: H.264 (8-bit 4:2:0), VP8, VP9 or AV1 in MP4 or WebM, with AAC, MP3, Opus or Vorbis
  audio (or none);
- audio only: AAC or MP3 in MP4/M4A, MP3, Opus or Vorbis in Ogg/WebM, FLAC, and PCM WAV.

Anything else (MPEG-4 Part 2, HEVC, ProRes, MPEG-2, most ``.avi``/``.mkv``/``.mov``, WMA,
AMR, AIFF, AC-3…) gets a preview: H.264 + AAC in MP4 with ``+faststart`` for video, AAC in
M4A for audio, bounded by :class:`shared.settings.PreviewSettings`.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from shared.schemas import MediaInfo
from shared.settings import PreviewSettings
from workers.ffinput import input_args, scrub

VIDEO_CODECS = {"h264", "vp8", "vp9", "av1"}
VIDEO_CONTAINERS = {"mp4", "webm"}
# Chromium decodes H.264 only as 8-bit 4:2:0 everywhere.
H264_PIXEL_FORMATS = {"yuv420p", "yuvj420p"}
AUDIO_WITH_VIDEO = {"aac", "mp3", "opus", "vorbis"}
# Audio-only files: codecs the browser decodes in the container it reads them from.
AUDIO_ONLY = {
    "mp4": {"aac", "mp3"},
    "webm": {"opus", "vorbis"},
    "ogg": {"opus", "vorbis", "flac"},
    "mp3": {"mp3"},
    "flac": {"flac"},
    "wav": {"pcm_s16le", "pcm_s24le", "pcm_u8", "pcm_f32le"},
}


def playable(info: MediaInfo) -> tuple[bool, str]:
    """Whether a browser plays the file as it is, and why (or why not)."""
    if info.has_video:
        if info.container not in VIDEO_CONTAINERS:
            return False, f"the {info.container or 'unknown'} container is not MP4 or WebM"
        if info.video_codec not in VIDEO_CODECS:
            return False, f"{info.video_codec or 'unknown'} video is not H.264, VP8, VP9 or AV1"
        if info.video_codec == "h264" and info.pixel_format not in H264_PIXEL_FORMATS:
            return False, f"H.264 in {info.pixel_format or 'an unknown pixel format'} is not 8-bit 4:2:0"
        if info.has_audio and info.audio_codec not in AUDIO_WITH_VIDEO:
            return False, f"{info.audio_codec or 'unknown'} audio is not AAC, MP3, Opus or Vorbis"
        return True, f"{info.video_codec} in {info.container}"
    codecs = AUDIO_ONLY.get(info.container or "")
    if codecs is None:
        return False, f"the {info.container or 'unknown'} container is not one browsers read"
    if info.audio_codec not in codecs:
        return False, f"{info.audio_codec or 'unknown'} audio in {info.container} is not playable"
    return True, f"{info.audio_codec} in {info.container}"


def command(src: Path, dest: Path, info: MediaInfo, cfg: PreviewSettings) -> list[str]:
    """The ffmpeg command that makes the preview (progress on stdout)."""
    # The demuxer the probe found, and no more than the probed duration (a header that lies
    # about it buys no longer encode).
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", *input_args(str(src), info.format), "-i", str(src),
           "-map", "0:a:0?", "-t", f"{(info.duration or 0) + 1:.3f}", "-progress", "pipe:1", "-nostats"]
    if info.has_video:
        cmd[cmd.index("-map"):cmd.index("-map")] = ["-map", "0:v:0"]
        cmd += [
            "-c:v", "libx264", "-preset", cfg.preset, "-crf", str(cfg.crf),
            "-maxrate", f"{cfg.max_video_kbps}k", "-bufsize", f"{2 * cfg.max_video_kbps}k",
            "-pix_fmt", "yuv420p", "-profile:v", "high",
            # Never upscale; even sizes as 4:2:0 needs.
            "-vf", f"scale=-2:'min({cfg.max_height},ih)':flags=bicubic,format=yuv420p",
        ]
    else:
        cmd += ["-vn"]
    cmd += ["-c:a", "aac", "-b:a", f"{cfg.audio_kbps}k", "-ac", "2", "-sn", "-dn",
            "-movflags", "+faststart", "-threads", str(cfg.threads), "-f", "mp4", str(dest)]
    return cmd


class PreviewFailed(RuntimeError):
    """ffmpeg could not make the preview, or ran past the time limit."""


def encode(src: Path, dest: Path, info: MediaInfo, cfg: PreviewSettings,
           on_progress: Callable[[float], None] | None = None) -> None:
    """Make the preview, reporting the fraction done (by media time) as ffmpeg goes."""
    proc = subprocess.Popen(command(src, dest, info, cfg), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + cfg.timeout_s
    duration = max(info.duration or 0.0, 1e-3)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:  # key=value lines, a block per progress report
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(proc.args, cfg.timeout_s)
            key, _, value = line.strip().partition("=")
            if key == "out_time_us" and value.isdigit() and on_progress:
                on_progress(min(int(value) / 1e6 / duration, 1.0))
        rc = proc.wait(max(deadline - time.monotonic(), 1.0))
    except subprocess.TimeoutExpired as e:
        dest.unlink(missing_ok=True)
        raise PreviewFailed(f"the preview took longer than {cfg.timeout_s:.0f} s "
                            "(ETHOS_PREVIEW__TIMEOUT_S)") from e
    finally:  # also on a task's soft time limit: never leave ffmpeg running
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if rc != 0:
        err = (proc.stderr.read() if proc.stderr else "").strip().splitlines()
        dest.unlink(missing_ok=True)
        raise PreviewFailed(f"ffmpeg could not make the preview: {scrub(err[-1], str(src)) if err else rc}")
