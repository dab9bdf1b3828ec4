"""Scratch memory a kernel needs besides its inputs and output (a kernel-contract fact, see tm_kernels.h). It lives
in the layer's L1 layout (memory/tiling.py), not in the L2 arena."""

from __future__ import annotations

import functools
import re

from ..ir.program import Op
from ..resources import resource_dir


@functools.lru_cache(maxsize=None)
def kernel_constant(name: str) -> int:
    """An integer #define of the kernel library (gap9_app/inc/tm_kernels.h): its one definition."""
    text = (resource_dir("gap9_app") / "inc" / "tm_kernels.h").read_text()
    match = re.search(rf"^#define {name} (\d+)", text, re.M)
    if not match:
        raise RuntimeError(f"tm_kernels.h defines no {name}")
    return int(match.group(1))


def _align(n: int, a: int = 16) -> int:
    return -(-n // a) * a


def values_in_score_rows(n: int, hd: int, rows: int, kc: int) -> bool:
    """Deferred softmax: does the chunk's (v - 128)^T fit the free first halves of the score rows once the numerators
    sit in their second halves (tm_attention.c)? Head columns 4c..4c+3 in row c: 4 kc <= N bytes, ceil(hd/4) rows."""
    return 4 * kc <= n and -(-hd // 4) <= rows


def scratch_parts(op: Op, shapes: dict, cores: int, rows: int = 0, kc: int = 0,
                  resident: bool = False) -> dict[str, tuple[int, int]]:
    """part -> (offset, bytes) inside the op's scratch buffer; {} when the kernel needs none. Attention (a block of
    `rows` query rows, keys in chunks of `kc`): kv_s8 and k_sum hold one chunk, p the block's score rows (u8, or
    uint16 for prob_bits > 8; deferred softmax: int16 scores, the u8 numerators written over them), row_i32 every
    core's int32 scores of one chunk, acc the block's p.v sums; deferred: q_sum the row sums of the block's q - 128
    (written over q in place; the scores read the u8 keys as they arrive), row_sum the numerator sums, no k_sum /
    row_i32, and kv_s8 only when the score rows cannot hold (v - 128)^T (values_in_score_rows). None grows with
    N * hd, except with `resident` (deferred, the head's K and V in L1): kv_s8 is then (v - 128)^T of all N values
    and e the block's u8 numerator rows, N bytes apart like kv_s8's columns (tm_attention.c)."""
    if op.kind != "attention":
        return {}
    n, d = shapes[op.inputs[0]]
    hd = d // op.heads
    deferred = getattr(op, "softmax", "normalized") == "deferred"
    per_row = 1 if op.prob_bits == 8 and not deferred else 2
    if deferred:  # scores straight from the u8 keys against q - 128 (in place in q): no key scratch, no int32
        sizes = {"q_sum": 4 * rows, "p": rows * n * per_row, "acc": 4 * rows * hd, "row_sum": 4 * rows}
        if resident:
            sizes = {"kv_s8": n * hd, **sizes, "e": rows * n}
        elif not values_in_score_rows(n, hd, rows, kc):
            sizes = {"kv_s8": kc * hd, **sizes}
    else:
        sizes = {"kv_s8": kc * hd, "k_sum": 4 * kc, "p": rows * n * per_row,
                 "row_i32": 4 * cores * kernel_constant("TM_ATTN_ROWS") * kc, "acc": 4 * rows * hd}
    parts, offset = {}, 0
    for name, size in sizes.items():
        parts[name] = (offset, size)
        offset = _align(offset + size)
    return parts


def scratch_bytes(op: Op, shapes: dict, cores: int) -> int:
    """Scratch in the L2 arena: none (every kernel's scratch is part of its L1 tile layout)."""
    return 0
