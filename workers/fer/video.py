"""Decode only one time range of a video, sampled at a fixed rate, as RGB frames."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Iterator

import numpy as np

from shared.errors import UnsupportedMedia
from workers.ffinput import input_args, scrub

MAX_WIDTH = 640


def sample_times(start: float, end: float, fps: float) -> list[float]:
    """Sample instants in [start, end): the centre of each 1/fps slot of a global grid.

    The grid is global (slot k covers [k/fps, (k+1)/fps)), so adjacent chunks never share or
    skip a sample.
    """
    first = math.ceil(start * fps - 1e-9)
    out = []
    k = first
    while (t := (k + 0.5) / fps) < end - 1e-9:
        out.append(round(t, 4))
        k += 1
    return out


def frames(src: str, times: list[float], width: int, height: int, fps: float,
           format_name: str | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """(time, RGB frame) at each requested instant, decoding from the first one only.

    ``-ss`` before ``-i`` seeks in the container, so a chunk deep in a long file costs the
    same as the first one.
    """
    if not times:
        return
    w = min(width, MAX_WIDTH)
    h = int(round(height * w / width / 2)) * 2
    span = times[-1] - times[0] + 1.0 / fps
    cmd = [
        # One decoder thread: FER scales out with processes, one core each.
        "ffmpeg", "-nostdin", "-v", "error", "-threads", "1", "-ss", f"{times[0]:.4f}",
        # Only the storage's protocol (a presigned URL opens nothing else) and the probed demuxer.
        *input_args(src, format_name), "-i", src,
        "-t", f"{span:.4f}", "-map", "0:v:0", "-an",
        "-vf", f"fps={fps},scale={w}:{h}", "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1",
    ]
    size = w * h * 3
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        for t in times:
            buf = proc.stdout.read(size)
            if len(buf) < size:
                break
            yield t, np.frombuffer(buf, np.uint8).reshape(h, w, 3)
    finally:
        proc.stdout.close()
        proc.kill()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        proc.wait()
        if proc.returncode not in (0, -9) and err.strip() and "Broken pipe" not in err:
            raise UnsupportedMedia(f"could not decode the video: {scrub(err.strip().splitlines()[-1], src)}")
