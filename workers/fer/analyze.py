"""One time range of a video → per-frame face labels and scores."""

from __future__ import annotations

import time
from dataclasses import dataclass

from shared.schemas import FaceFrame, FerChunkOutput
from shared.settings import FerSettings
from workers.fer.detect import Box, crop, get_detector, largest
from workers.fer.models import load_classifier, resolve_model
from workers.fer.video import frames, sample_times


@dataclass
class StageTimes:
    decode: float = 0.0
    detect: float = 0.0
    classify: float = 0.0
    frames: int = 0


def analyze_range(src: str, start: float, end: float, width: int, height: int, cfg: FerSettings,
                  times: StageTimes | None = None) -> FerChunkOutput:
    """Sample [start, end) at ``cfg.fps``; classify the largest face of each frame.

    A frame without a face gets no label (never a guess from a centre crop).
    """
    t_all = time.perf_counter()
    st = times or StageTimes()
    detector = get_detector(cfg.detector, cfg.min_face_px, cfg.threads)
    model = resolve_model(cfg)
    clf = load_classifier(str(model), cfg.model_spec, cfg.threads)
    instants = sample_times(start, end, cfg.fps)
    got: list[tuple[float, Box | None]] = []
    crops = []
    t0 = time.perf_counter()
    for t, rgb in frames(src, instants, width, height, cfg.fps):
        t1 = time.perf_counter()
        st.decode += t1 - t0
        box = largest(detector.detect(rgb))
        if box is not None:
            crops.append(crop(rgb, box))
        got.append((t, box))
        t0 = time.perf_counter()
        st.detect += t0 - t1
        st.frames += 1
    t1 = time.perf_counter()
    scores = iter(clf.classify(crops))
    st.classify += time.perf_counter() - t1
    out: list[FaceFrame] = []
    missing = 0
    for t, box in got:
        if box is None:
            missing += 1
            out.append(FaceFrame(t=t, label=None))
        else:
            s = next(scores)
            out.append(FaceFrame(t=t, label=max(s, key=lambda k: s[k]), scores=s))
    return FerChunkOutput(start=start, end=end, frames=out, frames_without_face=missing,
                          model=clf.info(), seconds=round(time.perf_counter() - t_all, 4))
