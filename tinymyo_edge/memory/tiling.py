"""L1 tiles (double buffered) and L3 -> L2 weight slabs, per op. One small function per op kind, registered by kind.

Each tiler returns the largest tile that fits the board's L1 with every streamed operand double buffered (two
copies: one computed on while the DMA fills the other), and the weight slab an op streams from L3 into L2.
A tiler raises TinyMyoError (naming the layer and L1) when even its smallest tile does not fit.
"""

from __future__ import annotations

import math
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
    buffers: tuple[tuple[str, int, int], ...] = ()  # the L1 layout: (buffer, offset in the L1 arena, bytes)

    def buffer(self, name: str) -> tuple[int, int]:
        """(offset, bytes) of an L1 buffer of this tile's layout."""
        for buf, offset, size in self.buffers:
            if buf == name:
                return offset, size
        raise KeyError(f"layer {self.op!r}: no L1 buffer {name!r}")


def layout(parts: list[tuple[str, int]], alignment: int = 16) -> tuple[tuple[str, int, int], ...]:
    """The L1 arena layout of one layer: buffers back to back, each at an aligned offset. A double-buffered
    operand is two entries, NAME0 and NAME1."""
    placed, top = [], 0
    for name, size in parts:
        placed.append((name, top, size))
        top = -(-(top + size) // alignment) * alignment
    return tuple(placed)


def layout_bytes(buffers: tuple[tuple[str, int, int], ...]) -> int:
    return max((offset + size for _, offset, size in buffers), default=0)


def double(name: str, size: int) -> list[tuple[str, int]]:
    return [(f"{name}0", size), (f"{name}1", size)]


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
    """Tiles of tr rows x tm columns. A column block's weights are one slab: L3 -> L2 (double buffered in L2),
    then L2 -> L1 with its bias and multiplier slices; x row tiles and y tiles double buffered in L1. Of the tiles
    that fit, the largest tr tm / (tr + tm) (data reuse) times the share of the cores kept busy by its 4 x 4
    blocks."""
    rows, k = shapes[op.inputs[0]]
    m = op.weight.shape[0]
    out_bytes = 4 if op.kind == "linear_dequant" else 1
    mult_bytes = 4 if op.kind == "linear_dequant" else 8  # f32 scale, or the int32 (M, S) pair of tm_requant_fixed

    def parts(tr: int, tm: int) -> list[tuple[str, int]]:
        table = [("table", 256)] if op.kind == "linear_lut" else []
        return (double("x", tr * k) + double("w", tm * k) + double("bias", 4 * tm) + double("mult", mult_bytes * tm)
                + double("y", tr * tm * out_bytes) + table)

    def l1(tr: int, tm: int) -> int:
        return layout_bytes(layout(parts(tr, tm), board.alignment))

    def balance(tr: int, tm: int) -> float:  # the cores' share of the tile's 4 x 4 blocks (kernels/tm_linear.c)
        blocks = -(-tr // 4) * -(-tm // 4)
        return blocks / (board.cores * -(-blocks // board.cores))

    slab_cols = max(1, min(m, board.weight_slab_bytes // max(1, k)))
    best = None
    for tm in sorted({*range(4, slab_cols + 1, 4), slab_cols}):
        step = 4 if rows > 4 else 1  # 4x4 blocks
        most = _largest(rows, lambda r: l1(r, tm) <= board.l1_bytes, step)
        # every row count up to the largest that fits: reuse (x read once per column block, w once per row tile)
        # times the cores' balance (a tile of 12 blocks on 8 cores takes 2 block times for 1.5 blocks' work)
        for tr in sorted({*range(step, most + 1, step), most} - {0}):
            score = tr * tm / (tr + tm) * balance(tr, tm)
            if best is None or score > best[0]:
                best = (score, tr, tm)
    if best is None:
        raise _refuse(op, l1(1, 1), board, f"1 row x 1 column, K={k}")
    _, tr, tm = best
    buffers = layout(parts(tr, tm), board.alignment)
    return Tile(op.name, op.kind, {"rows": tr, "cols": tm}, layout_bytes(buffers), tm * k, -(-m // tm), buffers)


@tiler("layernorm")
def tile_layernorm(op: Op, shapes: dict, board: Board) -> Tile:
    rows, d = shapes[op.inputs[0]]

    def parts(tr: int) -> list[tuple[str, int]]:  # x and y tiles double buffered, gain, bias, shift resident
        return double("in0_", tr * d) + double("out", tr * d) + [("res0", 4 * d), ("res1", 4 * d), ("res2", 4 * d)]

    tr = _largest(rows, lambda r: layout_bytes(layout(parts(r), board.alignment)) <= board.l1_bytes)
    if not tr:
        raise _refuse(op, layout_bytes(layout(parts(1))), board, f"1 row of D={d}")
    buffers = layout(parts(tr), board.alignment)
    return Tile(op.name, op.kind, {"rows": tr}, layout_bytes(buffers), buffers=buffers)


def _elementwise(op: Op, count: int, in_bytes: tuple[int, ...], out_bytes: int, resident: tuple[int, ...],
                 board: Board) -> Tile:
    """Element tiles: each input and the output double buffered, the resident constants (tables) once."""
    def parts(e: int) -> list[tuple[str, int]]:
        streams = [p for i, b in enumerate(in_bytes) for p in double(f"in{i}_", e * b)]
        return streams + double("out", e * out_bytes) + [(f"res{i}", b) for i, b in enumerate(resident)]

    step = 64 if count > 64 else 1
    e = _largest(count, lambda n: layout_bytes(layout(parts(n), board.alignment)) <= board.l1_bytes, step)
    if not e:
        raise _refuse(op, layout_bytes(layout(parts(1))), board, "1 element")
    buffers = layout(parts(e), board.alignment)
    return Tile(op.name, op.kind, {"elements": e}, layout_bytes(buffers), buffers=buffers)


@tiler("quantize_input")
def tile_quantize(op: Op, shapes: dict, board: Board) -> Tile:
    count = _count(shapes[op.inputs[0]])
    return _elementwise(op, count, (4,), 1, (), board)


@tiler("lut")
def tile_lut(op: Op, shapes: dict, board: Board) -> Tile:
    return _elementwise(op, _count(shapes[op.inputs[0]]), (1,), 1, (256,), board)


@tiler("residual_add")
def tile_residual(op: Op, shapes: dict, board: Board) -> Tile:
    return _elementwise(op, _count(shapes[op.inputs[0]]), (1, 1), 1, (), board)


@tiler("reshape")
def tile_reshape(op: Op, shapes: dict, board: Board) -> Tile:
    return Tile(op.name, op.kind)


def _chunked_attention_score(r: int, kc: int, n: int, cores: int, deferred: bool) -> float:
    """How well a block of r query rows against chunks of kc keys uses the cluster (larger is better): K and V are
    read once per block (N / r) in chunks that each cost a transfer and forks (N / kc), so r kc / (r + kc); deferred:
    times the share of the last chunk's keys that are real (N / (kc ceil(N / kc))), and halved when the block's row
    quads need more than 4 segments a quad to give every core whole items (attention.c block_segments: tiny key
    segments and 2-column p.v items). Fitted to dev runs of one 400-token block on pulp-open GVSoC at 64 kB
    (docs/PULP_OPEN.md: 24 x 100 7.53 M cycles a layer, 16 x 100 7.82, 16 x 128 8.16, 32 x 32 8.29, 28 x 80 9.10,
    28 x 64 9.96, 12 x 136 11.32): it ranks the best first, not every pair."""
    if r <= 0:
        return 0.0
    if not deferred:  # the normalized softmax (rows split per core): the reuse term alone, as measured before
        return r * kc / (r + kc)
    score = r * kc / (r + kc) * n / (kc * -(-n // kc))
    return score / 2 if cores // math.gcd(-(-r // 4), cores) > 4 else score


@tiler("attention")
def tile_attention(op: Op, shapes: dict, board: Board) -> Tile:
    """Per head, blocks of R query rows (q, y: one buffer each, templates/ops/attention.c.j2) against K, then V,
    streamed in chunks of kc keys (2-D loads of the head's columns, double buffered); the block's score rows, one
    chunk's scratch (memory/scratch.py), the head's exp table and the multipliers are resident. Of the (R, kc)
    that fit, the one with the largest R kc / (R + kc): K and V are read once per block (N / R) in chunks that
    each cost a transfer and two forks (N / kc). Deferred softmax, when they fit with R >= hd / 2 rows: the head's
    K and V resident instead (tile dim "resident"; read once per head, (v - 128)^T prepared once per head, scores
    and p.v of a block over all N keys in one register block each), the largest R that fits."""
    from .scratch import scratch_parts

    n, d = shapes[op.inputs[0]]
    hd = d // op.heads
    deferred = getattr(op, "softmax", "normalized") == "deferred"
    table = 256 if deferred else 4 * 256  # the head's exp table: lut8 u8, or exp_lut int32
    per_head = 8 * op.heads if deferred else 4 * op.heads  # (M, S) int32 pairs, or float32 multipliers

    def parts(r: int, kc: int, resident: bool = False) -> list[tuple[str, int]]:
        scratch = [(name, size) for name, (_, size) in scratch_parts(op, shapes, board.cores, r, kc, resident).items()]
        kv = [("kres", n * hd)] if resident else double("kv", kc * hd)
        return (scratch + [("exp_lut", table), ("score_mult", per_head), ("out_mult", per_head),
                           ("q", r * hd), ("y", r * hd)] + kv)

    step = 4 * board.cores if n > 4 * board.cores else 1  # every core gets whole groups of 4 rows
    if deferred:  # the head's K and V resident: V lands in the score rows, so they must hold it (2 R N >= N hd)
        r = _largest(n, lambda rr: layout_bytes(layout(parts(rr, n, True), board.alignment)) <= board.l1_bytes, step)
        if r and 2 * r >= hd:
            buffers = layout(parts(r, n, True), board.alignment)
            return Tile(op.name, op.kind, {"rows": r, "kv_chunk": n, "resident": 1}, layout_bytes(buffers),
                        buffers=buffers)
    best = None
    chunks = {min(n, c) for c in (128, 64, 32, 16, 4, 1)}
    if deferred:  # also N split evenly into c chunks (multiples of 4): no short last chunk paying a whole chunk's costs
        chunks |= {min(n, 4 * -(-n // (4 * c))) for c in range(2, 17)}
    for kc in sorted(chunks, reverse=True):
        r = _largest(n, lambda rr: layout_bytes(layout(parts(rr, kc), board.alignment)) <= board.l1_bytes,
                     4 if deferred else step)
        score = _chunked_attention_score(r, kc, n, board.cores, deferred)
        if r and (best is None or score > best[0]):
            best = (score, r, kc)
    if best is None:
        need = layout_bytes(layout(parts(min(n, step), 1), board.alignment))
        raise _refuse(op, need, board, f"{min(n, step)} query rows x {n} tokens, 1-key chunks")
    _, r, kc = best
    buffers = layout(parts(r, kc), board.alignment)
    return Tile(op.name, op.kind, {"rows": r, "kv_chunk": kc}, layout_bytes(buffers), buffers=buffers)


def _fitted(op: Op, board: Board, limit: int, parts, what: str, step: int = 1) -> Tile | tuple:
    """The largest tile extent t <= limit whose layout parts(t) fits L1, and that layout; refuses otherwise."""
    fits = lambda t: layout_bytes(layout(parts(t), board.alignment)) <= board.l1_bytes  # noqa: E731
    t = _largest(limit, fits, step)
    if not t:
        raise _refuse(op, layout_bytes(layout(parts(1), board.alignment)), board, what)
    return t, layout(parts(t), board.alignment)


@tiler("token_mean")
def tile_token_mean(op: Op, shapes: dict, board: Board) -> Tile:
    """Tiles of t tokens (any t: a tile may cross channels) double buffered; the F int32 accumulators and the F
    output codes resident (the output is stored once, after the last tile)."""
    n, d = shapes[op.inputs[0]]
    f = _count(shapes[op.output])
    parts = lambda t: double("x", t * d) + [("acc", 4 * f), ("y", f)]  # noqa: E731
    t, buffers = _fitted(op, board, n, parts, f"1 token of D={d} and {f} int32 accumulators")
    return Tile(op.name, op.kind, {"tokens": t}, layout_bytes(buffers), buffers=buffers)


@tiler("patch_features")
def tile_patch_features(op: Op, shapes: dict, board: Board) -> Tile:
    """Tiles of tp patches: x of every channel's tp patches (a 2-D load: C rows of tp*D) and y (tp, F)."""
    n, d = shapes[op.inputs[0]]
    p, f = shapes[op.output]
    c = n // p
    tp, buffers = _fitted(op, board, p, lambda t: double("in0_", c * t * d) + double("out", t * f), "1 patch")
    return Tile(op.name, op.kind, {"patches": tp}, layout_bytes(buffers), buffers=buffers)


@tiler("depthwise_conv1d", "depthwise_conv1d_lut")
def tile_depthwise(op: Op, shapes: dict, board: Board) -> Tile:
    """Row tiles with a halo of one row each side; weights, bias, (M, S) pairs (and table) resident."""
    p, h = shapes[op.inputs[0]]
    table = [("res3", 256)] if op.kind == "depthwise_conv1d_lut" else []

    def parts(tp: int) -> list[tuple[str, int]]:
        return (double("in0_", min(tp + 2, p) * h) + double("out", tp * h) + [("res0", 3 * h), ("res1", 4 * h),
                                                                               ("res2", 8 * h)] + table)

    tp, buffers = _fitted(op, board, p, parts, "1 row")
    return Tile(op.name, op.kind, {"rows": tp}, layout_bytes(buffers), buffers=buffers)


@tiler("interpolate")
def tile_interpolate(op: Op, shapes: dict, board: Board) -> Tile:
    """The whole input resident (any output row may read any input row); output rows and their index and
    weight table slices double buffered."""
    p, k = shapes[op.inputs[0]]
    length = shapes[op.output][0]

    def parts(tl: int) -> list[tuple[str, int]]:
        tables = [x for i in range(4) for x in double(f"in{i}_", 4 * tl)]
        return tables + double("out", 4 * tl * k) + [("res0", 4 * p * k)]

    tl, buffers = _fitted(op, board, length, parts, "the whole input and 1 output row")
    return Tile(op.name, op.kind, {"rows": tl}, layout_bytes(buffers), buffers=buffers)


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
