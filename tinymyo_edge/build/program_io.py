"""Save / load a Program losslessly (OUTDIR/program.json + program.npz): the golden executor's input for validate
when the build started from a Program rather than an int8 ONNX file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from ..errors import TinyMyoError
from ..ir.program import OP_KINDS, DType, Program, TensorInfo
from ..passes.fusion import DepthwiseLut, LinearLut

_KINDS = {**OP_KINDS, LinearLut.kind: LinearLut, DepthwiseLut.kind: DepthwiseLut}


def _jsonable(v):
    if isinstance(v, tuple):
        return {"tuple": [_jsonable(x) for x in v]}
    if isinstance(v, (np.floating, float)):
        return {"float": float(v).hex()}
    if isinstance(v, np.integer):
        return int(v)
    return v


def _from_json(v):
    if isinstance(v, dict) and "tuple" in v:
        return tuple(_from_json(x) for x in v["tuple"])
    if isinstance(v, dict) and "float" in v:
        return float.fromhex(v["float"])
    return v


def save_program(program: Program, json_path: Path, npz_path: Path) -> None:
    arrays, ops = {}, []
    for i, op in enumerate(program.ops):
        fields = {}
        for f in dataclasses.fields(op):
            value = getattr(op, f.name)
            if isinstance(value, np.ndarray):
                arrays[f"{i}.{f.name}"] = value
                fields[f.name] = {"array": f"{i}.{f.name}"}
            else:
                fields[f.name] = _jsonable(value)
        ops.append({"kind": op.kind, "fields": fields})
    doc = {
        "format": "tinymyo-edge program v1", "input": program.input, "output": program.output,
        "metadata": dict(program.metadata),
        "tensors": [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype.value, "scale": float(t.scale).hex(),
                     "zero_point": t.zero_point} for t in program.tensors.values()],
        "ops": ops,
    }
    json_path.write_text(json.dumps(doc, indent=1))
    with open(npz_path, "wb") as fh:
        np.savez(fh, **arrays)


def load_program(json_path: Path, npz_path: Path) -> Program:
    try:
        doc = json.loads(Path(json_path).read_text())
        arrays = np.load(npz_path)
    except (OSError, ValueError) as exc:
        raise TinyMyoError(f"{json_path}: cannot read the saved program ({exc})") from exc
    tensors = {t["name"]: TensorInfo(t["name"], tuple(t["shape"]), DType(t["dtype"]), float.fromhex(t["scale"]),
                                     t["zero_point"]) for t in doc["tensors"]}
    ops = []
    for entry in doc["ops"]:
        cls = _KINDS.get(entry["kind"])
        if cls is None:
            raise TinyMyoError(f"{json_path}: unknown op kind {entry['kind']!r}")
        fields = {k: arrays[v["array"]] if isinstance(v, dict) and "array" in v else _from_json(v)
                  for k, v in entry["fields"].items()}
        ops.append(cls(**fields))
    return Program(tensors, tuple(ops), doc["input"], doc["output"], doc.get("metadata", {}))
