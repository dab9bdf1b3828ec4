"""Typed integer IR (see program.py): what the quantizer writes and the lowering reads."""

from .program import OP_KINDS, DType, Op, Program, TensorInfo

__all__ = ["OP_KINDS", "DType", "Op", "Program", "TensorInfo"]
