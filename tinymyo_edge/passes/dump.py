"""Deterministic text dumps of a Program (one after every pass): two runs of the same build diff clean."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from ..ir.program import Program


def _value(v) -> str:
    if isinstance(v, np.ndarray):
        digest = hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()[:12]
        return f"{v.dtype}{list(v.shape)}#{digest}"
    if isinstance(v, float):
        return float(np.float32(v)).hex() if v == v else "nan"
    return repr(v)


def dump_program(program: Program) -> str:
    lines = [f"program input={program.input} output={program.output}", "tensors:"]
    for name, t in program.tensors.items():
        lines.append(f"  {name}: {t.dtype.value}{list(t.shape)} scale={_value(float(t.scale))} zp={t.zero_point}")
    lines.append("ops:")
    for i, op in enumerate(program.ops):
        extra = [f"{f.name}={_value(getattr(op, f.name))}" for f in dataclasses.fields(op)
                 if f.name not in ("name", "inputs", "output")]
        lines.append(f"  [{i}] {op.kind} {op.name}: {', '.join(op.inputs)} -> {op.output}")
        if extra:
            lines.append("      " + " ".join(extra))
    return "\n".join(lines) + "\n"
