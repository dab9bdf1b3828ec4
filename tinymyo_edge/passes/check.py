"""check_program (Program -> Program): the structural contract the lowering relies on, checked before anything
else; a violation is a TinyMyoError naming the node."""

from __future__ import annotations

from ..errors import TinyMyoError
from ..ir.program import DType, Program
from ..memory.scratch import kernel_constant
from ..numerics import ACT_ZERO_POINT

_FLOAT_IN = {"quantize_input", "interpolate"}
_FLOAT_OUT = {"linear_dequant", "interpolate"}


def _check_supported(op) -> None:
    """Refuse IR variants the C kernels do not implement, rather than lowering them to different arithmetic."""
    if op.kind == "attention" and not 8 <= op.prob_bits <= kernel_constant("TM_PROB_BITS_MAX"):
        raise TinyMyoError(f"node {op.name!r}: the C kernels implement 8..{kernel_constant('TM_PROB_BITS_MAX')}-bit "
                           f"softmax probabilities (this model has {op.prob_bits}-bit ones); quantize again with "
                           f"--softmax-bits in that range")


# op kinds that read an input of any zero point: the Linear family folds it into its bias, a table is built from it
_ANY_ZERO_POINT = {"linear", "linear_lut", "linear_dequant", "lut", "reshape"}


def _check_zero_points(op, program: Program) -> None:
    """Every other kernel computes with (x - 128): an input of another zero point would silently mean other values."""
    for name in op.inputs:
        t = program.tensors[name]
        if t.dtype is DType.U8 and t.zero_point != ACT_ZERO_POINT and op.kind not in _ANY_ZERO_POINT:
            raise TinyMyoError(f"node {op.name!r}: input {name!r} has zero point {t.zero_point}; {op.kind} reads "
                               f"activations with zero point {ACT_ZERO_POINT} only")


def check_program(program: Program) -> Program:
    if program.input not in program.tensors or program.output not in program.tensors:
        raise TinyMyoError("program: input or output tensor is not declared")
    if program.tensors[program.input].dtype is not DType.F32 or program.tensors[program.output].dtype is not DType.F32:
        raise TinyMyoError("program: the input and the output must be float32 tensors")
    defined = {program.input}
    for op in program.ops:
        for name in op.inputs:
            if name not in defined:
                raise TinyMyoError(f"node {op.name!r}: input {name!r} is used before it is produced")
            want = DType.F32 if op.kind in _FLOAT_IN else DType.U8
            if op.kind != "reshape" and program.tensors[name].dtype is not want:
                raise TinyMyoError(f"node {op.name!r}: input {name!r} must be {want.value}")
        if op.output in defined:
            raise TinyMyoError(f"node {op.name!r}: output {op.output!r} is produced twice")
        if op.output not in program.tensors:
            raise TinyMyoError(f"node {op.name!r}: output {op.output!r} is not declared")
        want = DType.F32 if op.kind in _FLOAT_OUT else DType.U8
        if op.kind != "reshape" and program.tensors[op.output].dtype is not want:
            raise TinyMyoError(f"node {op.name!r}: output {op.output!r} must be {want.value}")
        _check_supported(op)
        _check_zero_points(op, program)
        defined.add(op.output)
    if program.output not in defined:
        raise TinyMyoError(f"program: output {program.output!r} is never produced")
    return program
