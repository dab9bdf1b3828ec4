"""L1 tilers of the speech family's ops (issue 16), registered with memory.tiling's decorator."""

from __future__ import annotations

from ..ir.program import Op
from .board import Board
from .tiling import Tile, _largest, _refuse, layout, tiler


@tiler("transpose")
def tile_transpose(op: Op, shapes: dict, board: Board) -> Tile:
    r, c = shapes[op.inputs[0]]
    l1 = lambda tc: 2 * (r * tc + tc * r)  # noqa: E731  input columns and output rows, double buffered
    tc = _largest(c, lambda n: l1(n) <= board.l1_bytes)
    if not tc:
        raise _refuse(op, l1(1), board, f"1 channel x {r} samples")
    return Tile(op.name, op.kind, {"rows": tc}, l1(tc))


@tiler("conv1d")
def tile_conv1d(op: Op, shapes: dict, board: Board) -> Tile:
    """R output rows read (R - 1) stride + k input rows; a slab of tm output channels holds tm k Cin weights."""
    t, cin = shapes[op.inputs[0]]
    m, k, _ = op.weight.shape
    t_out = shapes[op.output][0]

    def l1(tr: int, tm: int) -> int:  # input rows, weight slab, output tile, double buffered; bias + (M, S) pairs
        return 2 * (((tr - 1) * op.stride + k) * cin + tm * k * cin + tr * tm) + 12 * tm

    slab_cols = max(1, min(m, board.weight_slab_bytes // max(1, k * cin)))
    best = None
    for tm in sorted({*range(4, slab_cols + 1, 4), slab_cols}):
        tr = _largest(t_out, lambda r: l1(r, tm) <= board.l1_bytes)
        if tr and (best is None or tr * tm / (tr + tm) > best[0]):
            best = (tr * tm / (tr + tm), tr, tm)
    if best is None:
        raise _refuse(op, l1(1, 1), board, f"1 row x 1 channel, k*Cin={k * cin}")
    _, tr, tm = best
    return Tile(op.name, op.kind, {"rows": tr, "cols": tm}, l1(tr, tm), tm * k * cin, -(-m // tm))  # slab = tm channels


@tiler("rel_attention")
def tile_rel_attention(op: Op, shapes: dict, board: Board) -> Tile:
    """Per head, R query rows see keys/values of at most R + 2W - 2 tokens; q, out, k, v tiles double buffered,
    the head's relative keys (2W - 1, hd) int16, the exp table and the per-core score rows (N int32) resident."""
    n, d = shapes[op.inputs[0]]
    hd, w = d // op.heads, op.window

    def l1(r: int) -> int:
        keys = min(n, r + 2 * w - 2)
        return 2 * (2 * r * hd + 2 * keys * hd) + 2 * (2 * w - 1) * hd + 4 * 256 + 4 * board.cores * n

    step = board.cores if n > board.cores else 1
    r = _largest(n, lambda rr: l1(rr) <= board.l1_bytes, step)
    if not r:
        raise _refuse(op, l1(min(n, board.cores)), board, f"{board.cores} query rows, window {w}, {n} tokens")
    buffers = layout([("row", 4 * board.cores * n)], board.alignment)  # the kernel's per-core score rows, in L1
    return Tile(op.name, op.kind, {"rows": r}, l1(r), (2 * w - 1) * hd * 2, op.heads, buffers)  # slab: a head's keys
