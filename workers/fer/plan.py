"""The FER step's fan-out: one task per time range of the video."""

from __future__ import annotations

from shared.schemas import MediaInfo
from shared.settings import Settings


def plan_fer_chunks(info: MediaInfo, chunk_s: float, fps: float) -> list[tuple[float, float]]:
    """Time ranges of a video for the FER fan-out; empty for audio-only media.

    Chunk borders fall on the 1/fps sampling grid, so no sample is shared or skipped.
    """
    if not info.has_video or not info.duration:
        return []
    chunk_s = max(round(chunk_s * fps), 1) / fps
    spans, start = [], 0.0
    while start < info.duration:
        end = min(start + chunk_s, info.duration)
        spans.append((round(start, 3), round(end, 3)))
        start = end
    return spans


def chunk_spans(info: MediaInfo, settings: Settings) -> list[tuple[float, float]]:
    """The FER step's task arguments (shared.steps.FER.fan_out): ``(start, end)`` per task."""
    return plan_fer_chunks(info, settings.fer.chunk_s, settings.fer.fps)
