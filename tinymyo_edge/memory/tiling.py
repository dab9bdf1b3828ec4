"""L1 tiles (double buffered) and L3 -> L2 weight slabs, per op. One small function per op kind, registered by kind.

Each tiler returns the largest tile that fits the board's L1 with every streamed operand double buffered (two
copies: one computed on while the DMA fills the other), and the weight slab an op streams from L3 into L2.
A tiler raises TinyMyoError (naming the layer and L1) when even its smallest tile does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..errors import TinyMyoError
from ..ir.program import Op
from .board import Board


@dataclass(frozen=True)
class Tile:
    op: str
    kind: str
    dims: dict[str, int] = field(default_factory=dict)  # tile extents, e.g. rows / cols / elements
    l1_bytes: int = 0  # L1 bytes of the tile, double buffering included
    slab_bytes: int = 0  # one weight slab in L2 (0: no weights streamed)
    slabs: int = 0


TILERS: dict[str, Callable[[Op, dict, Board], Tile]] = {}


def tiler(*kinds: str):
    def register(fn):
        for kind in kinds:
            TILERS[kind] = fn
        return fn
    return register


def _refuse(op: Op, need: int, board: Board, what: str) -> TinyMyoError:
    return TinyMyoError(f"layer {op.name!r} ({op.kind}) does not fit L1 of board {board.name}: its smallest tile "
                        f"({what}) needs {need} bytes, L1 has {board.l1_bytes}")


def _largest(limit: int, fits: Callable[[int], bool], step: int = 1) -> int:
    """Largest n among step, 2*step, ... and limit itself with fits(n) (fits is monotone); 0 if none."""
    if fits(limit):
        return limit
    lo, hi = 0, limit // step  # fits(lo*step) assumed (0 = none), fits(hi*step) unknown
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid * step):
            lo = mid
        else:
            hi = mid - 1
    return lo * step


@tiler("linear", "linear_lut", "linear_dequant")
def tile_linear(op: Op, shapes: dict, board: Board) -> Tile:
    rows, k = shapes[op.inputs[0]]
    m = op.weight.shape[0]
    out_bytes = 4 if op.kind == "linear_dequant" else 1
    fixed = 256 if op.kind == "linear_lut" else 0

    def l1(tr: int, tm: int) -> int:  # x tile, weight tile, out tile double buffered; bias + multiplier
        return 2 * (tr * k + tm * k + tr * tm * out_bytes) + 8 * tm + fixed

    slab_cols = max(1, min(m, board.weight_slab_bytes // max(1, k)))
    best = None
    for tm in sorted({*range(4, slab_cols + 1, 4), slab_cols}):
        tr = _largest(rows, lambda r: l1(r, tm) <= board.l1_bytes, 4 if rows > 4 else 1)  # 4x4 blocks
        if tr and (best is None or tr * tm / (tr + tm) > best[0]):
            best = (tr * tm / (tr + tm), tr, tm)
    if best is None:
        raise _refuse(op, l1(1, 1), board, f"1 row x 1 column, K={k}")
    _, tr, tm = best
    return Tile(op.name, op.kind, {"rows": tr, "cols": tm}, l1(tr, tm), slab_cols * k, -(-m // slab_cols))


@tiler("layernorm")
def tile_layernorm(op: Op, shapes: dict, board: Board) -> Tile:
    rows, d = shapes[op.inputs[0]]
    l1 = lambda tr: 2 * 2 * tr * d + 8 * d  # noqa: E731  x and y tiles double buffered, gain + bias
    tr = _largest(rows, lambda r: l1(r) <= board.l1_bytes)
    if not tr:
        raise _refuse(op, l1(1), board, f"1 row of D={d}")
    return Tile(op.name, op.kind, {"rows": tr}, l1(tr))


def _elementwise(op: Op, count: int, bytes_per_element: int, fixed: int, board: Board) -> Tile:
    l1 = lambda e: 2 * e * bytes_per_element + fixed  # noqa: E731
    step = 64 if count > 64 else 1
    e = _largest(count, lambda n: l1(n) <= board.l1_bytes, step)
    if not e:
        raise _refuse(op, l1(1), board, "1 element")
    return Tile(op.name, op.kind, {"elements": e}, l1(e))


@tiler("quantize_input")
def tile_quantize(op: Op, shapes: dict, board: Board) -> Tile:
    count = _count(shapes[op.inputs[0]])
    return _elementwise(op, count, 4 + 1, 0, board)


@tiler("lut")
def tile_lut(op: Op, shapes: dict, board: Board) -> Tile:
    return _elementwise(op, _count(shapes[op.inputs[0]]), 2, 256, board)


@tiler("residual_add")
def tile_residual(op: Op, shapes: dict, board: Board) -> Tile:
    return _elementwise(op, _count(shapes[op.inputs[0]]), 3, 0, board)


@tiler("reshape")
def tile_reshape(op: Op, shapes: dict, board: Board) -> Tile:
    return Tile(op.name, op.kind)


@tiler("attention")
def tile_attention(op: Op, shapes: dict, board: Board) -> Tile:
    """Per head: a block of R query rows keeps its R x N scores in L1; K and V of the head stream through L1 in
    chunks of kc tokens (double buffered); q and out tiles double buffered; k_sum (N int32) resident."""
    n, d = shapes[op.inputs[0]]
    hd = d // op.heads
    kc = min(n, 64)
    l1 = lambda r: r * n + 2 * 2 * kc * hd + 2 * 2 * r * hd + 4 * n + 4 * 256  # noqa: E731
    step = 4 * board.cores if n > 4 * board.cores else 1  # every core gets whole groups of 4 rows
    r = _largest(n, lambda rr: l1(rr) <= board.l1_bytes, step)
    if not r:
        raise _refuse(op, l1(min(n, board.cores)), board, f"{board.cores} query rows x {n} tokens")
    return Tile(op.name, op.kind, {"rows": r, "kv_chunk": kc}, l1(r))


@tiler("token_mean")
def tile_token_mean(op: Op, shapes: dict, board: Board) -> Tile:
    n, d = shapes[op.inputs[0]]
    f = _count(shapes[op.output])
    l1 = lambda tn: 2 * tn * d + 4 * f + f  # noqa: E731  token tiles, int32 sums, output
    tn = _largest(n, lambda t: l1(t) <= board.l1_bytes)
    if not tn:
        raise _refuse(op, l1(1), board, "1 token")
    return Tile(op.name, op.kind, {"tokens": tn}, l1(tn))


@tiler("patch_features")
def tile_patch_features(op: Op, shapes: dict, board: Board) -> Tile:
    p, f = shapes[op.output]
    l1 = lambda tp: 2 * 2 * tp * f  # noqa: E731
    tp = _largest(p, lambda t: l1(t) <= board.l1_bytes)
    if not tp:
        raise _refuse(op, l1(1), board, "1 patch")
    return Tile(op.name, op.kind, {"patches": tp}, l1(tp))


@tiler("depthwise_conv1d", "depthwise_conv1d_lut")
def tile_depthwise(op: Op, shapes: dict, board: Board) -> Tile:
    p, h = shapes[op.inputs[0]]
    l1 = lambda tp: 2 * ((tp + 2) * h + tp * h) + 11 * h + 256  # noqa: E731  halo of 2 rows; w, bias, mult
    tp = _largest(p, lambda t: l1(t) <= board.l1_bytes)
    if not tp:
        raise _refuse(op, l1(1), board, "1 row")
    return Tile(op.name, op.kind, {"rows": tp}, l1(tp), 8 * h + 3 * h, 1)


@tiler("interpolate")
def tile_interpolate(op: Op, shapes: dict, board: Board) -> Tile:
    p, k = shapes[op.inputs[0]]
    length = shapes[op.output][0]
    l1 = lambda tl: 4 * p * k + 2 * 4 * tl * k + 16 * tl  # noqa: E731  whole input resident, out tiles
    tl = _largest(length, lambda t: l1(t) <= board.l1_bytes)
    if not tl:
        raise _refuse(op, l1(1), board, "the whole input and 1 output row")
    return Tile(op.name, op.kind, {"rows": tl}, l1(tl))


def _count(shape) -> int:
    total = 1
    for s in shape:
        total *= int(s)
    return total


def tile_op(op: Op, shapes: dict, board: Board) -> Tile:
    if op.kind not in TILERS:
        raise TinyMyoError(f"layer {op.name!r}: no L1 tiler for op kind {op.kind!r}")
    return TILERS[op.kind](op, shapes, board)


from . import tiling_speech  # noqa: E402,F401  registers the speech ops (issue 16)
