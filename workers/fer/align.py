"""Face crops for the classifier: rotated upright on the eyes when the detector gives them."""

from __future__ import annotations

import math

import numpy as np

from workers.fer.faces import Face, crop


def eye_angle(face: Face) -> float:
    """Degrees the line from the subject's right eye to the left eye is tilted (image y down)."""
    assert face.eyes is not None
    (rx, ry), (lx, ly) = face.eyes
    return math.degrees(math.atan2(ly - ry, lx - rx))


def aligned_crop(rgb: np.ndarray, face: Face, margin: float = 0.1) -> np.ndarray:
    """The face's square crop (box side plus ``margin`` on each side), turned so the eyes are
    level; a plain box crop when the detector gives no eyes (Haar)."""
    if face.eyes is None:
        return crop(rgb, face.box, margin)
    import cv2

    x, y, w, h = face.box
    side = max(w, h) * (1 + 2 * margin)
    out = max(int(round(side)), 2)
    cx, cy = x + w / 2.0, y + h / 2.0
    # Rotate about the box centre by the eye angle, then move that centre to the crop's centre.
    m = cv2.getRotationMatrix2D((cx, cy), eye_angle(face), 1.0)
    m[0, 2] += out / 2.0 - cx
    m[1, 2] += out / 2.0 - cy
    return cv2.warpAffine(rgb, m, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
