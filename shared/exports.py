"""Subtitles from a result: SRT and WebVTT, one cue per segment."""

from __future__ import annotations

from typing import Any


def _ts(seconds: float, sep: str) -> str:
    ms = int(round(max(seconds, 0.0) * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cue_text(seg: dict[str, Any]) -> str:
    text = " ".join(str(seg.get("text", "")).split()) or "…"
    return f"{text} ({seg['emotion']})" if seg.get("emotion") and seg["emotion"] != "Neutral" else text


def to_srt(result: dict[str, Any]) -> str:
    """SubRip: numbered cues, ``HH:MM:SS,mmm`` times."""
    cues = []
    for i, seg in enumerate(result.get("segments", []), 1):
        cues.append(f"{i}\n{_ts(seg['start'], ',')} --> {_ts(seg['end'], ',')}\n{_cue_text(seg)}\n")
    return "\n".join(cues)


def to_vtt(result: dict[str, Any]) -> str:
    """WebVTT: a header, then ``HH:MM:SS.mmm`` cues."""
    out = ["WEBVTT", ""]
    for i, seg in enumerate(result.get("segments", []), 1):
        out += [str(i), f"{_ts(seg['start'], '.')} --> {_ts(seg['end'], '.')}", _cue_text(seg), ""]
    return "\n".join(out)
