"""The face-detection seam: what a detector returns and how a face is picked and cut out.
Detectors (``detect.py``: Haar and the choice; ``blazeface.py``) build on it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

Box = tuple[int, int, int, int]  # x, y, w, h
Point = tuple[float, float]


@dataclass(frozen=True)
class Face:
    """One face in frame pixels; ``eyes`` (the subject's right, then left) when the detector
    finds keypoints."""

    box: Box
    score: float = 1.0
    eyes: tuple[Point, Point] | None = None


class FaceDetector(ABC):
    name: str

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """Face boxes in an RGB frame."""
        return [f.box for f in self.faces(rgb)]

    @abstractmethod
    def faces(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an RGB frame."""


def largest(boxes: list[Box]) -> Box | None:
    return max(boxes, key=lambda b: b[2] * b[3]) if boxes else None


def largest_face(faces: list[Face]) -> Face | None:
    return max(faces, key=lambda f: f.box[2] * f.box[3]) if faces else None


def crop(rgb: np.ndarray, box: Box, margin: float = 0.1) -> np.ndarray:
    """The face with a small margin, clipped to the frame."""
    x, y, w, h = box
    dx, dy = int(w * margin), int(h * margin)
    H, W = rgb.shape[:2]
    return rgb[max(y - dy, 0): min(y + h + dy, H), max(x - dx, 0): min(x + w + dx, W)]
