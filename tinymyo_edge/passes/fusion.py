"""Fusion passes (Program -> Program): a pattern plus a rewrite. A Lut that is the only consumer of a Linear or
DepthwiseConv1d output is folded into it as an output table: one pass over memory instead of two, and the
intermediate tensor disappears from the arena. The fused ops keep an exact reference, so Program.run still works."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .. import numerics as nx
from ..ir.program import DepthwiseConv1d, Linear, Lut, Op, Program


@dataclass(frozen=True, eq=False)
class LinearLut(Linear):
    """Linear whose u8 result goes through a 256-entry table (fc1 + GELU, regressor.0 + SiLU)."""

    table: np.ndarray = field(default=None, repr=False)
    function: str = "gelu"
    fused: tuple[str, ...] = ()  # names of the original ops
    kind: ClassVar[str] = "linear_lut"

    def reference(self, x):
        return nx.lut_u8(super().reference(x), self.table)


@dataclass(frozen=True, eq=False)
class DepthwiseLut(DepthwiseConv1d):
    """DepthwiseConv1d whose u8 result goes through a 256-entry table (regressor.3 + SiLU)."""

    table: np.ndarray = field(default=None, repr=False)
    function: str = "silu"
    fused: tuple[str, ...] = ()
    kind: ClassVar[str] = "depthwise_conv1d_lut"

    def reference(self, x):
        return nx.lut_u8(super().reference(x), self.table)


_FUSABLE = {Linear: LinearLut, DepthwiseConv1d: DepthwiseLut}


def _consumers(program: Program) -> dict[str, list[Op]]:
    users: dict[str, list[Op]] = {}
    for op in program.ops:
        for name in op.inputs:
            users.setdefault(name, []).append(op)
    return users


def fuse_tables(program: Program) -> Program:
    """Linear/DepthwiseConv1d followed by its only consumer Lut -> LinearLut/DepthwiseLut."""
    users = _consumers(program)
    ops, skip = [], set()
    for op in program.ops:
        if id(op) in skip:
            continue
        fused_cls = _FUSABLE.get(type(op))
        after = users.get(op.output, [])
        if fused_cls and len(after) == 1 and isinstance(after[0], Lut) and op.output != program.output:
            lut = after[0]
            fields = {f.name: getattr(op, f.name) for f in dataclasses.fields(op)}
            fields.update(output=lut.output, table=lut.table, function=lut.function, fused=(op.name, lut.name))
            ops.append(fused_cls(**fields))
            skip.add(id(lut))
        else:
            ops.append(op)
    used = {program.input} | {op.output for op in ops}
    tensors = {name: info for name, info in program.tensors.items() if name in used}
    return dataclasses.replace(program, ops=tuple(ops), tensors=tensors)
