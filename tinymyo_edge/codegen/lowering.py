"""Op -> kernel call. One small lowering function per op kind (registered by kind), each naming its template in
templates/ops/ and the template variables; constants go to weights.c through `ctx.const`. Adding an op kind adds a
function here, a template and a C kernel: no central switch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import numerics as nx
from ..errors import TinyMyoError
from ..ir.program import Op, Program
from ..memory.plan import MemoryPlan
from ..memory.scratch import scratch_parts
from ..memory.tiling import Tile
from .cvalues import CArray, c_float
from .names import comment_text, unique_identifiers


@dataclass
class OpCall:
    """One kernel call in network.c."""

    op: Op
    ident: str  # sanitised layer name (C string in the layer hooks, dump order)
    comment: str  # sanitised original node name
    template: str | None  # templates/ops/<kind>.c.j2, None for a view (Reshape)
    vars: dict = field(default_factory=dict)
    macs: int = 0
    out_ptr: str = ""
    out_bytes: int = 0
    code: str = ""  # the rendered call (templates/ops)


class LoweringContext:
    """What a lowering function may ask: pointers to tensors, constant arrays, its tile and scratch."""

    def __init__(self, program: Program, plan: MemoryPlan, idents: dict[int, str]):
        self.program, self.plan, self.idents = program, plan, idents
        self.shapes = {name: t.shape for name, t in program.tensors.items()}
        self.constants: list[CArray] = []

    def ptr(self, tensor: str) -> str:
        """C expression of a tensor's first element, typed by its dtype."""
        ctype = "float" if self.program.tensors[tensor].dtype.value == "float32" else "uint8_t"
        if tensor == self.program.input:
            return "input"
        if tensor == self.program.output:
            return "output"
        offset = self.plan.offsets[self.plan.buffer_of(tensor)]
        return f"TM_ARENA({ctype}, {offset})"

    def scratch(self, op: Op, part: str, ctype: str) -> str:
        offset, _ = scratch_parts(op, self.shapes, self.plan.board.cores)[part]
        return f"TM_ARENA({ctype}, {self.plan.offsets[self.plan.scratch_name(op)] + offset})"

    def const(self, op: Op, what: str, values: np.ndarray) -> str:
        name = f"tm_w_{self.idents[id(op)]}_{what}"
        self.constants.append(CArray(name, np.ascontiguousarray(values).reshape(-1), op.name))
        return name


LOWERINGS: dict[str, Callable[[Op, LoweringContext, Tile], dict]] = {}
TEMPLATES: dict[str, str] = {}


def lowering(*kinds: str, template: str):
    def register(fn):
        for kind in kinds:
            LOWERINGS[kind] = fn
            TEMPLATES[kind] = template
        return fn
    return register


def folded_bias(weight: np.ndarray, bias: np.ndarray, where: str) -> np.ndarray:
    """bias - 128 sum_k w[m, k]: the kernel multiplies u8 codes directly. Refused unless every partial sum of the
    kernel's int32 accumulation provably stays in range (then it equals the golden int64 result exactly)."""
    w = np.asarray(weight, dtype=np.int64).reshape(weight.shape[0], -1)
    folded = np.asarray(bias, dtype=np.int64) - nx.ACT_ZERO_POINT * w.sum(axis=1)
    worst = np.abs(folded) + 255 * np.abs(w).sum(axis=1)
    if worst.max(initial=0) >= nx.INT32_MAX:
        raise TinyMyoError(f"layer {where!r}: int32 accumulator bound exceeded (|bias| + 255 sum|w| = "
                           f"{int(worst.max())}); the C kernels accumulate in int32")
    return folded.astype(np.int32)


@lowering("quantize_input", template="ops/quantize_input.c.j2")
def lower_quantize(op, ctx, tile):
    return {"x": ctx.ptr(op.inputs[0]), "y": ctx.ptr(op.output), "scale": c_float(op.scale, op.name),
            "count": int(np.prod(ctx.shapes[op.output])), "tile": tile.dims["elements"]}


@lowering("reshape", template="")
def lower_reshape(op, ctx, tile):
    return {}


@lowering("linear", "linear_lut", "linear_dequant", template="ops/linear.c.j2")
def lower_linear(op, ctx, tile):
    rows, k = ctx.shapes[op.inputs[0]]
    m = op.weight.shape[0]
    dequant = op.kind == "linear_dequant"
    table = getattr(op, "table", None)
    return {
        "dequant": dequant, "x": ctx.ptr(op.inputs[0]), "y": ctx.ptr(op.output),
        "w": ctx.const(op, "weight", np.asarray(op.weight, dtype=np.int8)),
        "bias": ctx.const(op, "bias", folded_bias(op.weight, op.bias, op.name)),
        "mult": ctx.const(op, "scale" if dequant else "mult",
                          np.asarray(op.scale if dequant else op.multiplier, dtype=np.float32)),
        "table": ctx.const(op, "table", np.asarray(table, dtype=np.uint8)) if table is not None else "NULL",
        "rows": rows, "k": k, "m": m, "tile_rows": tile.dims["rows"], "tile_cols": tile.dims["cols"],
    }


@lowering("lut", template="ops/lut.c.j2")
def lower_lut(op, ctx, tile):
    return {"x": ctx.ptr(op.inputs[0]), "y": ctx.ptr(op.output),
            "table": ctx.const(op, "table", np.asarray(op.table, dtype=np.uint8)),
            "count": int(np.prod(ctx.shapes[op.output])), "tile": tile.dims["elements"]}


def _check_layernorm_bound(op, d):
    if d * 255 * (1 << nx.LN_FRAC_BITS) >= nx.INT32_MAX:
        raise TinyMyoError(f"layer {op.name!r}: LayerNorm over D={d} overflows the int32 (c << {nx.LN_FRAC_BITS}) "
                           f"of the C kernel (D must be <= {nx.INT32_MAX // (255 << nx.LN_FRAC_BITS)})")


@lowering("layernorm", template="ops/layernorm.c.j2")
def lower_layernorm(op, ctx, tile):
    rows, d = ctx.shapes[op.inputs[0]]
    _check_layernorm_bound(op, d)
    return {"x": ctx.ptr(op.inputs[0]), "y": ctx.ptr(op.output),
            "gain": ctx.const(op, "gain", np.asarray(op.gain, dtype=np.float32)),
            "bias": ctx.const(op, "bias", np.asarray(op.bias, dtype=np.float32)),
            "rows": rows, "d": d, "tile_rows": tile.dims["rows"]}


@lowering("residual_add", template="ops/residual_add.c.j2")
def lower_residual(op, ctx, tile):
    return {"a": ctx.ptr(op.inputs[0]), "b": ctx.ptr(op.inputs[1]), "y": ctx.ptr(op.output),
            "scale_a": c_float(op.scale_a, op.name), "scale_b": c_float(op.scale_b, op.name),
            "count": int(np.prod(ctx.shapes[op.output])), "tile": tile.dims["elements"]}


@lowering("attention", template="ops/attention.c.j2")
def lower_attention(op, ctx, tile):
    n, d = ctx.shapes[op.inputs[0]]
    lut = np.asarray(op.exp_lut, dtype=np.int64)
    top = int(lut.max(initial=0))
    prob_max = (1 << op.prob_bits) - 1
    prob_twice = 2 * prob_max
    worst = max(n + prob_twice, 2 * n) * top  # numerator 2 M e + S and divisor 2 S, both int32 in C
    if lut.min(initial=0) < 0 or worst > nx.INT32_MAX:
        raise TinyMyoError(f"layer {op.name!r}: softmax int32 bound exceeded for {n} tokens "
                           f"(max(N + {prob_twice}, 2 N) * max(exp_lut) = {worst} > 2^31 - 1)")
    if 128 * (prob_max + n) > nx.INT32_MAX:  # p.v: sum(p) <= M + N/2 (each probability rounds up by <= 1/2)
        raise TinyMyoError(f"layer {op.name!r}: p.v int32 bound exceeded for {n} tokens at {op.prob_bits}-bit "
                           f"probabilities (128 * ({prob_max} + N) > 2^31 - 1)")
    if lut.max(initial=0) > 0 and (lut.reshape(op.heads, 256)[:, 0] == 0).any():
        raise TinyMyoError(f"layer {op.name!r}: exp_lut[h][0] == 0 would divide by zero in the softmax")
    return {
        "q": ctx.ptr(op.inputs[0]), "k": ctx.ptr(op.inputs[1]), "v": ctx.ptr(op.inputs[2]), "y": ctx.ptr(op.output),
        "score_mult": ctx.const(op, "score_mult", np.asarray(op.score_mult, dtype=np.float32)),
        "out_mult": ctx.const(op, "out_mult", np.asarray(op.out_mult, dtype=np.float32)),
        "exp_lut": ctx.const(op, "exp_lut", np.asarray(op.exp_lut, dtype=np.int32)),
        "k_s8": ctx.scratch(op, "k_s8", "int8_t"), "v_t": ctx.scratch(op, "v_t", "int8_t"),
        "k_sum": ctx.scratch(op, "k_sum", "int32_t"), "row_u8": ctx.scratch(op, "row_u8", "uint8_t"),
        "row_i32": ctx.scratch(op, "row_i32", "int32_t"),
        "n": n, "d": d, "heads": op.heads, "prob_bits": op.prob_bits, "tile_rows": tile.dims["rows"],
    }


@lowering("token_mean", template="ops/token_mean.c.j2")
def lower_token_mean(op, ctx, tile):
    n, d = ctx.shapes[op.inputs[0]]
    return {"x": ctx.ptr(op.inputs[0]), "y": ctx.ptr(op.output), "mult": c_float(op.multiplier, op.name),
            "channels": op.channels, "patches": n // op.channels, "d": d,
            "per_channel": int(op.reduction == "concat"), "features": int(np.prod(ctx.shapes[op.output]))}


@lowering("patch_features", template="ops/patch_features.c.j2")
def lower_patch_features(op, ctx, tile):
    n, d = ctx.shapes[op.inputs[0]]
    return {"x": ctx.ptr(op.inputs[0]), "y": ctx.ptr(op.output), "mult": c_float(op.multiplier, op.name),
            "channels": op.channels, "patches": n // op.channels, "d": d,
            "per_channel": int(op.reduction == "concat"), "tile": tile.dims["patches"]}


@lowering("depthwise_conv1d", "depthwise_conv1d_lut", template="ops/depthwise_conv1d.c.j2")
def lower_depthwise(op, ctx, tile):
    p, h = ctx.shapes[op.inputs[0]]
    table = getattr(op, "table", None)
    return {"x": ctx.ptr(op.inputs[0]), "y": ctx.ptr(op.output),
            "w": ctx.const(op, "weight", np.asarray(op.weight, dtype=np.int8)),
            "bias": ctx.const(op, "bias", np.asarray(op.bias, dtype=np.int32)),
            "mult": ctx.const(op, "mult", np.asarray(op.multiplier, dtype=np.float32)),
            "table": ctx.const(op, "table", np.asarray(table, dtype=np.uint8)) if table is not None else "NULL",
            "p": p, "h": h, "tile_rows": tile.dims["rows"]}


@lowering("interpolate", template="ops/interpolate.c.j2")
def lower_interpolate(op, ctx, tile):
    p, k = ctx.shapes[op.inputs[0]]
    length = ctx.shapes[op.output][0]
    for idx in (op.index0, op.index1):
        if np.asarray(idx).min(initial=0) < 0 or np.asarray(idx).max(initial=0) >= p:
            raise TinyMyoError(f"layer {op.name!r}: interpolation index outside 0..{p - 1}")
    return {"x": ctx.ptr(op.inputs[0]), "y": ctx.ptr(op.output),
            "i0": ctx.const(op, "index0", np.asarray(op.index0, dtype=np.int32)),
            "i1": ctx.const(op, "index1", np.asarray(op.index1, dtype=np.int32)),
            "w0": ctx.const(op, "weight0", np.asarray(op.weight0, dtype=np.float32)),
            "w1": ctx.const(op, "weight1", np.asarray(op.weight1, dtype=np.float32)),
            "k": k, "length": length, "tile_rows": tile.dims["rows"]}


def lower_program(program: Program, plan: MemoryPlan) -> tuple[list[OpCall], list[CArray]]:
    idents = dict(zip(map(id, program.ops), unique_identifiers([op.name for op in program.ops])))
    ctx = LoweringContext(program, plan, idents)
    shapes = ctx.shapes
    calls = []
    for op, tile in zip(program.ops, plan.tiles):
        if op.kind not in LOWERINGS:
            raise TinyMyoError(f"layer {op.name!r}: no C kernel for op kind {op.kind!r}")
        variables = LOWERINGS[op.kind](op, ctx, tile)
        out = program.tensors[op.output]
        calls.append(OpCall(op, idents[id(op)], comment_text(op.name), TEMPLATES[op.kind] or None, variables,
                            op.macs(shapes), ctx.ptr(op.output), out.nbytes))
    return calls, ctx.constants


from . import lowering_speech  # noqa: E402,F401  registers the speech ops (issue 16)
