"""Running an int8 model in onnxruntime: plain inference, and every IR tensor as an extra output (per-layer debug)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as oh

from ..errors import TinyMyoError
from .encoding import graph_io, onnx_to_program

LEVELS = ("disable_all", "basic", "extended", "all")


def session(model: str | Path | onnx.ModelProto, *, level: str = "all", threads: int = 1):
    """An onnxruntime CPU session at an optimisation level (one of LEVELS) with `threads` intra-op threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = {
        "disable_all": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[level]
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def _batch(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x[None] if x.ndim == 2 else x


def run_int8(model: str | Path | onnx.ModelProto, x: np.ndarray, *, level: str = "all", threads: int = 1) -> np.ndarray:
    """One window (C, T) or (1, C, T) through the int8 model; returns the graph output (batch axis included)."""
    sess = session(model, level=level, threads=threads)
    return sess.run(None, {sess.get_inputs()[0].name: _batch(x)})[0]


def ort_intermediates(int8_onnx_path: str | Path | onnx.ModelProto, x: np.ndarray, *, level: str = "all",
                      threads: int = 1) -> dict[str, np.ndarray]:
    """Run the int8 ONNX with every IR tensor as an extra output: {IR tensor name: value (IR shape, no batch)}."""
    model = int8_onnx_path if isinstance(int8_onnx_path, onnx.ModelProto) else onnx.load(str(int8_onnx_path))
    model = onnx.ModelProto.FromString(model.SerializeToString())
    program = onnx_to_program(model, int8_onnx_path if not isinstance(int8_onnx_path, onnx.ModelProto) else "<model>")
    io = graph_io(model)
    dtypes = {"uint8": TP.UINT8, "float32": TP.FLOAT}
    names = [t.name for t in program.tensors.values()]
    for t in program.tensors.values():
        model.graph.output.append(oh.make_tensor_value_info(t.name, dtypes[t.dtype.value], list(t.shape)))
    sess = session(model, level=level, threads=threads)
    x = _batch(x)
    if x.shape[0] != 1:
        raise TinyMyoError(f"ort_intermediates takes one window; got a batch of {x.shape[0]}")
    values = sess.run(None, {io["graph_input"]: x})
    return dict(zip(names, values[1:]))
