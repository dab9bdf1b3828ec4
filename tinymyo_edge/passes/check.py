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


# Zero points. Kinds reading an input of any zero point: the Linear family folds it into its bias, a table is built
# from it, LayerNorm's c = D x - sum x cancels it. ResidualAdd reads the zero point its fields name (checked equal to
# the tensor's). Output zero points are the op's field (Linear, LayerNorm, ResidualAdd), any (a table's output codes;
# a Reshape keeps its input's), or 128 (every other kernel).
_ANY_INPUT_ZERO_POINT = {"linear", "linear_lut", "linear_dequant", "lut", "reshape", "layernorm"}
_INPUT_ZERO_FIELDS = {"residual_add": ("zero_a", "zero_b")}
_OUTPUT_ZERO_FIELD = {"linear": "zero_point", "layernorm": "zero_point", "residual_add": "zero_y"}
_ANY_OUTPUT_ZERO_POINT = {"lut", "linear_lut", "depthwise_conv1d_lut"}


def _check_zero_points(op, program: Program) -> None:
    """Every kernel must read and write the tensors' real zero points: another one would silently mean other values."""
    for i, name in enumerate(op.inputs):
        z = program.tensors[name].zero_point
        if program.tensors[name].dtype is not DType.U8:
            continue
        if op.kind in _INPUT_ZERO_FIELDS:
            field = _INPUT_ZERO_FIELDS[op.kind][i]
            if getattr(op, field) != z:
                raise TinyMyoError(f"node {op.name!r}: {field} = {getattr(op, field)} but input {name!r} has zero "
                                   f"point {z}")
        elif z != ACT_ZERO_POINT and op.kind not in _ANY_INPUT_ZERO_POINT:
            raise TinyMyoError(f"node {op.name!r}: input {name!r} has zero point {z}; {op.kind} reads activations "
                               f"with zero point {ACT_ZERO_POINT} only")
    out = program.tensors[op.output]
    if out.dtype is not DType.U8 or op.kind in _ANY_OUTPUT_ZERO_POINT:
        return
    if op.kind == "reshape":
        want = program.tensors[op.inputs[0]].zero_point
    else:
        want = getattr(op, _OUTPUT_ZERO_FIELD[op.kind]) if op.kind in _OUTPUT_ZERO_FIELD else ACT_ZERO_POINT
    if out.zero_point != want:
        raise TinyMyoError(f"node {op.name!r}: output {op.output!r} is declared with zero point {out.zero_point}, "
                           f"the {op.kind} kernel writes zero point {want}")


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
