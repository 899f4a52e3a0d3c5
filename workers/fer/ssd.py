"""SSD post-processing for BlazeFace: anchors, box/keypoint decoding, non-maximum suppression.

Pure NumPy. Coordinates are normalised to the model's square input ([0, 1] on both axes).
The layouts follow MediaPipe's face-detection graphs: every anchor has width and height 1
(``fixed_anchor_size``), so an anchor is only a centre; each row of the regressor output is
``cx, cy, w, h`` followed by six ``x, y`` keypoints (right eye, left eye, nose tip, mouth,
right ear, left ear: the subject's right and left), all in input pixels relative to the
anchor centre; the classifier output is one logit per anchor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RIGHT_EYE, LEFT_EYE = 0, 1
NUM_KEYPOINTS = 6


@dataclass(frozen=True)
class AnchorSpec:
    """How a BlazeFace variant lays its anchors over its square input."""

    input_size: int
    # One entry per SSD layer; consecutive layers with the same stride share one grid.
    strides: tuple[int, ...]
    # Anchors per layer and cell: one per aspect ratio (only 1.0 here), plus one at an
    # interpolated scale when the graph asks for it.
    anchors_per_layer: int


# face_detection_short_range.tflite: 128×128, 16×16×2 + 8×8×6 = 896 anchors.
SHORT_RANGE = AnchorSpec(128, (8, 16, 16, 16), 2)
# face_detection_full_range.tflite: 192×192, 48×48×1 = 2,304 anchors.
FULL_RANGE = AnchorSpec(192, (4,), 1)


def anchors(spec: AnchorSpec) -> np.ndarray:
    """Anchor centres ``(N, 2)`` as ``x, y`` in [0, 1], in the model's output order."""
    out: list[np.ndarray] = []
    i = 0
    strides = spec.strides
    while i < len(strides):
        stride = strides[i]
        same = 1
        while i + same < len(strides) and strides[i + same] == stride:
            same += 1
        cells = int(np.ceil(spec.input_size / stride))
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        centres = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) / cells
        out.append(np.repeat(centres, same * spec.anchors_per_layer, axis=0))
        i += same
    return np.concatenate(out).astype(np.float32)


@dataclass
class Detections:
    """Faces in normalised input coordinates."""

    boxes: np.ndarray  # (N, 4) x0, y0, x1, y1
    keypoints: np.ndarray  # (N, 6, 2) x, y
    scores: np.ndarray  # (N,) in (0, 1)

    def __len__(self) -> int:
        return len(self.scores)

    @staticmethod
    def empty() -> Detections:
        return Detections(np.zeros((0, 4), np.float32), np.zeros((0, NUM_KEYPOINTS, 2), np.float32),
                          np.zeros((0,), np.float32))

    @staticmethod
    def concat(parts: list[Detections]) -> Detections:
        if not parts:
            return Detections.empty()
        return Detections(np.concatenate([p.boxes for p in parts]), np.concatenate([p.keypoints for p in parts]),
                          np.concatenate([p.scores for p in parts]))


def sigmoid(x: np.ndarray, clip: float = 100.0) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -clip, clip)))


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchor_xy: np.ndarray, input_size: int,
           min_score: float) -> Detections:
    """Regressor ``(N, 16)`` and logit ``(N,)`` or ``(N, 1)`` outputs → detections above ``min_score``."""
    raw_boxes = np.asarray(raw_boxes, np.float32).reshape(len(anchor_xy), -1)
    scores = sigmoid(np.asarray(raw_scores, np.float32).reshape(-1))
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return Detections.empty()
    r = raw_boxes[keep] / float(input_size)
    a = anchor_xy[keep]
    cx = r[:, 0] + a[:, 0]
    cy = r[:, 1] + a[:, 1]
    w, h = r[:, 2], r[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kp = r[:, 4:4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2) + a[:, None, :]
    return Detections(boxes.astype(np.float32), kp.astype(np.float32), scores[keep].astype(np.float32))


def overlaps(box: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intersection over union, and intersection over the smaller box's area, of one
    ``x0, y0, x1, y1`` box with each of ``others``."""
    ix0 = np.maximum(box[0], others[:, 0])
    iy0 = np.maximum(box[1], others[:, 1])
    ix1 = np.minimum(box[2], others[:, 2])
    iy1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    smaller = np.minimum(area, areas)
    return (np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0),
            np.where(smaller > 0, inter / np.maximum(smaller, 1e-12), 0.0))


def iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of one ``x0, y0, x1, y1`` box with each of ``others``."""
    return overlaps(box, others)[0]


def nms(det: Detections, threshold: float = 0.3, weighted: bool = True, contained: float = 0.5) -> Detections:
    """Non-maximum suppression, best score first.

    A candidate joins the best remaining one's group when their IoU exceeds ``threshold`` or
    when more than ``contained`` of the smaller box lies inside the other (two anchors of
    different scale on one small face can overlap that way with an IoU under 0.3; two real
    faces cannot). ``weighted`` (MediaPipe's default for faces): each kept face's box and
    keypoints are the score-weighted mean of its group, which steadies the box from frame to
    frame; its score stays the best one. Plain: the best candidate of each group is kept as
    it is.
    """
    if len(det) == 0:
        return det
    order = np.argsort(-det.scores, kind="stable")
    remaining = order
    boxes, kps, scores = [], [], []
    while remaining.size:
        best = remaining[0]
        by_iou, by_smaller = overlaps(det.boxes[best], det.boxes[remaining])
        same = (by_iou > threshold) | (by_smaller > contained)
        same[0] = True
        group = remaining[same]
        if weighted:
            w = det.scores[group][:, None]
            boxes.append((det.boxes[group] * w).sum(0) / w.sum())
            kps.append((det.keypoints[group] * w[:, :, None]).sum(0) / w.sum())
        else:
            boxes.append(det.boxes[best])
            kps.append(det.keypoints[best])
        scores.append(det.scores[best])
        remaining = remaining[~same]
    return Detections(np.asarray(boxes, np.float32), np.asarray(kps, np.float32), np.asarray(scores, np.float32))
