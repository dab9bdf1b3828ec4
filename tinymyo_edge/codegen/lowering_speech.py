"""Lowerings of the speech family's ops (issue 16), registered with codegen.lowering's decorator."""

from __future__ import annotations

import numpy as np

from .. import numerics as nx
from ..errors import TinyMyoError
from .lowering import fixed_pairs, lowering


@lowering("transpose", template="ops/transpose.c.j2")
def lower_transpose(op, ctx, tile):
    r, c = ctx.shapes[op.inputs[0]]
    return {"x": ctx.ptr(op.inputs[0]), "y": ctx.ptr(op.output), "r": r, "c": c, "tile_rows": tile.dims["rows"]}


@lowering("conv1d", template="ops/conv1d.c.j2")
def lower_conv1d(op, ctx, tile):
    t, cin = ctx.shapes[op.inputs[0]]
    m, k, _ = op.weight.shape
    worst = np.abs(np.asarray(op.bias, np.int64)) + 128 * np.abs(np.asarray(op.weight, np.int64)).reshape(m, -1).sum(1)
    if worst.max(initial=0) >= nx.INT32_MAX or 255 * 128 * k * cin >= nx.INT32_MAX:  # acc; the u8 x s8 dot
        raise TinyMyoError(f"layer {op.name!r}: int32 accumulator bound exceeded ({int(worst.max())}, Cin {cin})")
    return {"x": ctx.ptr(op.inputs[0]), "y": ctx.ptr(op.output),
            **ctx.stream(op, tile), "w_l3": ctx.const(op, "weight", np.asarray(op.weight, dtype=np.int8)),
            "bias": ctx.const(op, "bias", np.asarray(op.bias, dtype=np.int32)),
            "tap_sum": ctx.const(op, "tap_sum", (nx.ACT_ZERO_POINT * np.asarray(op.weight, np.int64).sum(axis=2))
                                 .astype(np.int32)),
            "rq": ctx.const(op, "rq", fixed_pairs(op.mult, op.shift, op.name)),
            "t": t, "cin": cin, "m": m, "k": k, "stride": op.stride, "padding": op.padding,
            "t_out": ctx.shapes[op.output][0], "tile_rows": tile.dims["rows"], "tile_cols": tile.dims["cols"],
            "ncb": -(-m // tile.dims["cols"]), "slab_row": k * cin}


@lowering("rel_attention", template="ops/rel_attention.c.j2")
def lower_rel_attention(op, ctx, tile):
    n, d = ctx.shapes[op.inputs[0]]
    from ..quant.ranges import _rel_attention_bounds

    bad = [b for b in _rel_attention_bounds(op, (n, d)) if not b.ok]
    if bad:
        raise TinyMyoError(f"layer {op.name!r}: {bad[0].quantity} reaches {bad[0].value} >= {bad[0].limit}")
    return {"q": ctx.ptr(op.inputs[0]), "k": ctx.ptr(op.inputs[1]), "v": ctx.ptr(op.inputs[2]),
            "y": ctx.ptr(op.output),
            "score_mult": ctx.const(op, "score_mult", np.asarray(op.score_mult, dtype=np.float32)),
            "out_mult": ctx.const(op, "out_mult", np.asarray(op.out_mult, dtype=np.float32)),
            "exp_lut": ctx.const(op, "exp_lut", np.asarray(op.exp_lut, dtype=np.int32)),
            **ctx.stream(op, tile), "rel_l3": ctx.const(op, "rel_key", np.asarray(op.rel_key, dtype=np.int16)),
            "rel_bytes": int(op.rel_key[0].nbytes),
            "row": f"(int32_t *)(void *)(tm_l1 + {tile.buffer('row')[0]})", "n": n, "d": d, "heads": op.heads, "window": op.window,
            "prob_bits": op.prob_bits, "tile_rows": tile.dims["rows"]}
