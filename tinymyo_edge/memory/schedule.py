"""What the generated program moves between the memory levels, per layer (the numbers the memory report shows and
the checking build verifies: network.c ends each layer with TM_CHECK_LAYER_END(count) of this count).

The L3 rule: the weight matrices of the linear layers (`weight` of linear, linear_lut, linear_dequant) are the L3
image (weights.bin, streamed L3 -> L2 in slabs); every other constant (biases, multipliers, tables, LayerNorm
gains, attention tables, the small depthwise / interpolation constants) is an L2-resident const array (weights.c).
They are small (at most a few kB per layer) and read by many tiles.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir.program import Op
from .tiling import Tile

L3_CONSTANTS = {("linear", "weight"), ("linear_lut", "weight"), ("linear_dequant", "weight"),
                ("conv1d", "weight"), ("rel_attention", "rel_key")}  # speech (issue 16): L3 -> L2 slabs

# op kinds whose tile loop network.c generates (transfers + kernels on L1); the others still read L2 directly
STREAMED_KINDS = ("quantize_input", "lut", "residual_add", "layernorm", "linear", "linear_lut", "linear_dequant",
                  "token_mean", "patch_features", "depthwise_conv1d", "depthwise_conv1d_lut", "interpolate",
                  "attention")


def in_l3(op: Op, what: str) -> bool:
    """Does constant `what` of `op` live in L3 (weights.bin) rather than in L2 (weights.c)?"""
    return (op.kind, what) in L3_CONSTANTS


@dataclass(frozen=True)
class Transfers:
    count: int = 0  # transfers started (each waited for)
    l3_to_l2: int = 0  # bytes
    l2_to_l1: int = 0
    l1_to_l2: int = 0


def _tiles(total: int, tile: int) -> int:
    return -(-total // tile) if total else 0


def _shape_count(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def layer_transfers(op: Op, tile: Tile, shapes: dict) -> Transfers:
    kind = op.kind
    if kind in ("linear", "linear_lut", "linear_dequant"):
        rows, k = shapes[op.inputs[0]]
        m = op.weight.shape[0]
        out = 4 if kind == "linear_dequant" else 1
        ncb, nrb = _tiles(m, tile.dims["cols"]), _tiles(rows, tile.dims["rows"])
        table = kind == "linear_lut"
        coeff = 4 if kind == "linear_dequant" else 8  # per column: f32 scale, or the int32 (M, S) pair
        return Transfers(4 * ncb + 2 * ncb * nrb + table, m * k,
                         m * k + (4 + coeff) * m + ncb * rows * k + 256 * table, rows * m * out)
    if kind == "layernorm":
        rows, d = shapes[op.inputs[0]]
        return Transfers(3 + 2 * _tiles(rows, tile.dims["rows"]), 0, 12 * d + rows * d, rows * d)  # 3 residents
    if kind in ("quantize_input", "lut", "residual_add"):
        count = _shape_count(shapes[op.inputs[0]])
        ins = {"quantize_input": 4, "lut": 1, "residual_add": 2}[kind]
        tiles = _tiles(count, tile.dims["elements"])
        n_in = 2 if kind == "residual_add" else 1
        table = kind == "lut"
        return Transfers(table + tiles * (n_in + 1), 0, count * ins + 256 * table, count)
    if kind == "attention":
        n, d = shapes[op.inputs[0]]
        nkc, nrb = _tiles(n, tile.dims["kv_chunk"]), _tiles(n, tile.dims["rows"])
        # per head: its table, per block q, y and K then V in chunks (K and V read once per block)
        deferred = getattr(op, "softmax", "normalized") == "deferred"  # (M, S) pairs and u8 tables
        consts = (16 + 256) * op.heads if deferred else (8 + 1024) * op.heads
        if tile.dims.get("resident"):  # per head its table, K and V once, per block q and y
            return Transfers(2 + op.heads * (3 + 2 * nrb), 0, consts + n * d + 2 * n * d, n * d)
        return Transfers(2 + op.heads * (1 + nrb * (2 + 2 * nkc)), 0, consts + n * d + 2 * nrb * n * d, n * d)
    if kind == "token_mean":
        n, d = shapes[op.inputs[0]]  # token tiles in, the features out once
        return Transfers(_tiles(n, tile.dims["tokens"]) + 1, 0, n * d, _shape_count(shapes[op.output]))
    if kind == "patch_features":
        n, d = shapes[op.inputs[0]]
        p, f = shapes[op.output]
        return Transfers(2 * _tiles(p, tile.dims["patches"]), 0, n * d, p * f)
    if kind in ("depthwise_conv1d", "depthwise_conv1d_lut"):
        p, h = shapes[op.inputs[0]]
        tp, table = tile.dims["rows"], kind == "depthwise_conv1d_lut"
        tiles = _tiles(p, tp)
        halo = sum(min(u0 + tp + 1, p) - max(u0 - 1, 0) for u0 in range(0, p, tp)) * h
        return Transfers(3 + table + 2 * tiles, 0, 15 * h + 256 * table + halo, p * h)  # w 3h, bias 4h, (M, S) 8h
    if kind == "conv1d":  # L3 -> L2 slabs only; the kernel reads x and the slab in L2 (not streamed to L1 yet)
        m, k, cin = op.weight.shape
        return Transfers(_tiles(m, tile.dims["cols"]), m * k * cin, 0, 0)
    if kind == "rel_attention":  # one L3 -> L2 slab of relative keys per head; q, k, v read in L2 (not L1 yet)
        return Transfers(op.heads, int(op.rel_key.nbytes), 0, 0)
    if kind == "interpolate":
        p, k = shapes[op.inputs[0]]
        length = shapes[op.output][0]
        return Transfers(1 + 5 * _tiles(length, tile.dims["rows"]), 0, 4 * p * k + 16 * length, 4 * length * k)
    return Transfers()
