"""What the model steps share of their third-party libraries: a CPU ONNX Runtime session with
our thread settings, numpy's math libraries held to a thread count, and an installed package's
version looked up once per process."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger("ethos.workers")


def cpu_session(model: str | Path | bytes, threads: int = 1) -> Any:
    """An ONNX Runtime session on the CPU: ``threads`` intra-op threads, one inter-op thread,
    operators run in sequence (``model``: a file or a serialized graph)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), sess_options=opts,
                                providers=["CPUExecutionProvider"])


def torch_to_session(module: Any, example: tuple[Any, ...], inputs: list[str], outputs: list[str],
                     dynamic_axes: dict[str, dict[int, str]], threads: int = 1) -> Any:
    """A torch module exported to ONNX (opset 17, the TorchScript exporter) and opened as a
    :func:`cpu_session`; None when the export or the session fails (the caller then runs torch)."""
    import tempfile
    import warnings

    import torch

    try:
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), torch.inference_mode(False):
            warnings.simplefilter("ignore")
            path = Path(tmp) / "model.onnx"
            torch.onnx.export(module.eval(), example, path, input_names=inputs, output_names=outputs,
                              dynamic_axes=dynamic_axes, opset_version=17, dynamo=False)
            return cpu_session(path.read_bytes(), threads)
    except Exception:  # noqa: BLE001 - any exporter or runtime failure: torch runs the network
        log.warning("no ONNX Runtime session for %s (torch runs it)", type(module).__name__, exc_info=True)
        return None


@contextmanager
def math_threads(threads: int) -> Iterator[None]:
    """numpy's and scipy's math libraries (BLAS, OpenMP) held to ``threads`` threads inside, as
    the encoders are (threadpoolctl, which scikit-learn brings): left alone they take every
    core for the clustering's matrix work."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield


@lru_cache
def version(dist: str) -> str:
    """An installed package's version, once per process (a look-up scans the installed
    distributions: milliseconds, on every job's model info)."""
    return metadata.version(dist)
