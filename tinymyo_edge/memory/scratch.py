"""Scratch memory a kernel needs besides its inputs and output (a kernel-contract fact, see tm_kernels.h)."""

from __future__ import annotations

from ..ir.program import Op


def _align(n: int, a: int = 16) -> int:
    return -(-n // a) * a


def scratch_parts(op: Op, shapes: dict, cores: int) -> dict[str, tuple[int, int]]:
    """part -> (offset, bytes) inside the op's scratch buffer; {} when the kernel needs none."""
    if op.kind != "attention":
        return {}
    n, d = shapes[op.inputs[0]]
    hd = d // op.heads
    sizes = {"k_s8": n * hd, "v_t": hd * n, "k_sum": 4 * n, "row_u8": cores * n, "row_i32": 4 * cores * n}
    parts, offset = {}, 0
    for name, size in sizes.items():
        parts[name] = (offset, size)
        offset = _align(offset + size)
    return parts


def scratch_bytes(op: Op, shapes: dict, cores: int) -> int:
    parts = scratch_parts(op, shapes, cores)
    return max((off + size for off, size in parts.values()), default=0)
