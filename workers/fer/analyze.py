"""One time range of a video → per-frame face labels and scores."""

from __future__ import annotations

import time
from dataclasses import dataclass

from shared.schemas import FaceFrame, FerChunkOutput
from shared.settings import FerSettings
from workers.fer.align import aligned_crop
from workers.fer.detect import get_detector
from workers.fer.faces import Face, FaceDetector, largest_face
from workers.fer.models import load_classifier, resolve_model
from workers.fer.video import frames, sample_times


@dataclass
class StageTimes:
    decode: float = 0.0
    detect: float = 0.0
    classify: float = 0.0
    frames: int = 0
    detections: int = 0  # frames the detector ran on (the others reused a detection)


def detector_for(cfg: FerSettings) -> FaceDetector:
    """The configured detector of this process."""
    return get_detector(cfg.detector, cfg.min_face_px, cfg.threads, cfg.min_score, cfg.tile_px)


def analyze_range(src: str, start: float, end: float, width: int, height: int, cfg: FerSettings,
                  times: StageTimes | None = None, format_name: str | None = None) -> FerChunkOutput:
    """Sample [start, end) at ``cfg.fps``; classify the largest face of each frame (cropped
    upright on its eyes when the detector finds them) and count the faces. A detection's faces
    are reused by the frames up to ``cfg.reuse_s`` after it (while it finds faces).

    A frame without a face gets no label (never a guess from a centre crop).
    """
    t_all = time.perf_counter()
    st = times or StageTimes()
    detector = detector_for(cfg)
    model = resolve_model(cfg)
    clf = load_classifier(str(model), cfg.model_spec, cfg.threads)
    instants = sample_times(start, end, cfg.fps)
    got: list[tuple[float, Face | None, int]] = []
    crops = []
    t0 = time.perf_counter()
    last: list[Face] = []  # the faces of the last detected frame
    last_t = float("-inf")  # and its time
    for t, rgb in frames(src, instants, width, height, cfg.fps, format_name):
        t1 = time.perf_counter()
        st.decode += t1 - t0
        if last and t - last_t <= cfg.reuse_s + 1e-6:
            found = last
        else:
            found, last, last_t = (f := detector.faces(rgb)), f, t
            st.detections += 1
        face = largest_face(found)
        if face is not None:
            crops.append(aligned_crop(rgb, face))
        got.append((t, face, len(found)))
        t0 = time.perf_counter()
        st.detect += t0 - t1
        st.frames += 1
    t1 = time.perf_counter()
    scores = iter(clf.classify(crops))
    st.classify += time.perf_counter() - t1
    out: list[FaceFrame] = []
    missing = 0
    for t, face, n in got:
        if face is None:
            missing += 1
            out.append(FaceFrame(t=t, label=None))
        else:
            s = next(scores)
            out.append(FaceFrame(t=t, label=max(s, key=lambda k: s[k]), scores=s, faces=n))
    info = clf.info()
    info.extra = {**info.extra, "detector": detector.name, "fps": cfg.fps, "reuse_s": cfg.reuse_s}
    return FerChunkOutput(start=start, end=end, frames=out, frames_without_face=missing,
                          model=info, seconds=round(time.perf_counter() - t_all, 4))
