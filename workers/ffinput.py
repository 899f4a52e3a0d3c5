"""What ffmpeg and ffprobe may do with an upload: the options that go before ``-i``.

An upload is hostile until probed. ffmpeg left to itself follows what a file points at (an
HLS or concat playlist names other files and URLs; a nested protocol opens another
connection), so every read of an upload:

- allows only the storage's protocol (``file`` for a local path, ``http(s)`` for a presigned
  URL, whose demuxer may then open nothing else);
- allows only the audio and video container demuxers below (no playlists, no image
  sequences, no devices, no raw or subtitle formats);
- once probed, names the demuxer the probe found (``-f``), so decoding never guesses again.
"""

from __future__ import annotations

import re

# Audio and video containers and elementary audio streams; each one reads only its own file.
DEMUXERS = (
    "aac", "ac3", "aiff", "amr", "amrnb", "amrwb", "ape", "asf", "au", "avi", "caf", "dsf",
    "dts", "dtshd", "eac3", "flac", "flv", "gsm", "ivf", "loas", "matroska", "mlp", "mov",
    "mp3", "mpc", "mpc8", "mpeg", "mpegts", "mxf", "nut", "ogg", "oma", "rm", "shn", "tak",
    "truehd", "tta", "voc", "w64", "wav", "wv", "xwma",
)


def protocols(src: str) -> str:
    """The protocols a read of ``src`` may use: its own and what it is built on, nothing else."""
    if src.startswith("https://"):
        return "https,tls,tcp"
    if src.startswith("http://"):
        return "http,tcp"
    return "file"


def demuxer(format_name: str | None) -> str | None:
    """The demuxer to pin, from ffprobe's ``format_name`` (``mov,mp4,m4a,…`` → ``mov``)."""
    first = (format_name or "").split(",")[0].strip()
    return first if first in DEMUXERS else None


def input_args(src: str, format_name: str | None = None) -> list[str]:
    """The options to put right before ``-i src`` (ffmpeg) or ``src`` (ffprobe)."""
    args = ["-protocol_whitelist", protocols(src), "-format_whitelist", ",".join(DEMUXERS)]
    pinned = demuxer(format_name)
    return [*args, "-f", pinned] if pinned else args


def scrub(message: str, src: str) -> str:
    """An ffmpeg message fit for a job's error: no scratch path, no (presigned) URL."""
    return re.sub(r"https?://\S+", "<input>", message.replace(src, "<input>"))
