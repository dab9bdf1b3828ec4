"""Op -> kernel call. One small lowering function per op kind (registered by kind), each naming its template in
templates/ops/ and the template variables; constants go to weights.c (L2) or weights.bin (L3) through `ctx.const`. Adding an op kind adds a
function here, a template and a C kernel: no central switch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import numerics as nx
from ..errors import TinyMyoError
from ..ir.program import Op, Program
from ..memory.plan import MemoryPlan
from ..memory.schedule import in_l3, layer_transfers
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

    def const(self, op: Op, what: str, values: np.ndarray) -> str:
        """The C name of an L2 constant, or the weights.h offset macro (TM_L3_<name>) of an L3 one."""
        name = f"tm_w_{self.idents[id(op)]}_{what}"
        level = "L3" if in_l3(op, what) else "L2"
        self.constants.append(CArray(name, np.ascontiguousarray(values).reshape(-1), op.name, level))
        return f"TM_L3_{name}" if level == "L3" else name

    def stream(self, op: Op, tile: Tile) -> dict:
        """Template variables every generated tile loop shares: the layer, its L1 buffers, its transfer count."""
        return {"ident": self.idents[id(op)], "transfers": layer_transfers(op, tile, self.shapes).count,
                "buffers": [{"name": n, "offset": o, "bytes": b} for n, o, b in tile.buffers],
                "off": {n: o for n, o, _ in tile.buffers}}


def _bytes(ptr: str, const: bool = True) -> str:
    """A tensor pointer expression as a byte pointer (the transfers address bytes)."""
    return f"(const uint8_t *)(const void *)({ptr})" if const else f"(uint8_t *)(void *)({ptr})"


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


def fixed_pairs(mult: np.ndarray, shift: np.ndarray, where: str) -> np.ndarray:
    """int32 (M, 2): the (multiplier, shift) pair of each column, as tm_requant_fixed takes them (one L1 slice)."""
    m, s = np.asarray(mult, np.int64), np.asarray(shift, np.int64)
    if m.min(initial=0) < 0 or m.max(initial=0) > nx.INT32_MAX or s.min(initial=1) < 1 or \
            s.max(initial=1) > nx.FIXED_SHIFT_MAX:
        raise TinyMyoError(f"layer {where!r}: fixed-point multipliers must be int32 >= 0 with shifts in "
                           f"1..{nx.FIXED_SHIFT_MAX}")
    return np.stack([m, s], axis=1).astype(np.int32)


def fixed_scalar(mult: int, shift: int, where: str) -> dict:
    """Template variables mult, shift of one fixed-point multiplier (checked as fixed_pairs)."""
    (m, s), = fixed_pairs(np.array([mult]), np.array([shift]), where)
    return {"mult": int(m), "shift": int(s)}


@lowering("quantize_input", template="ops/quantize_input.c.j2")
def lower_quantize(op, ctx, tile):
    return {**ctx.stream(op, tile), "ins": [{"l2": _bytes(ctx.ptr(op.inputs[0])), "unit": 4}],
            "out": {"l2": _bytes(ctx.ptr(op.output), False), "unit": 1}, "residents": [],
            "scale": c_float(op.scale, op.name), "units": int(np.prod(ctx.shapes[op.output])),
            "tile": tile.dims["elements"]}


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
        **ctx.stream(op, tile), "dequant": dequant, "x": _bytes(ctx.ptr(op.inputs[0])),
        "y": _bytes(ctx.ptr(op.output), False), "out_bytes": 4 if dequant else 1,
        "w_l3": ctx.const(op, "weight", np.asarray(op.weight, dtype=np.int8)),
        "bias": ctx.const(op, "bias", folded_bias(op.weight, op.bias, op.name)),
        "mult": (ctx.const(op, "scale", np.asarray(op.scale, dtype=np.float32)) if dequant
                 else ctx.const(op, "rq", fixed_pairs(op.mult, op.shift, op.name))),
        "mult_words": 1 if dequant else 2, "zero_point": None if dequant else int(op.zero_point),
        "table": ctx.const(op, "table", np.asarray(table, dtype=np.uint8)) if table is not None else None,
        "rows": rows, "k": k, "m": m, "tr": tile.dims["rows"], "tm": tile.dims["cols"],
        "ncb": -(-m // tile.dims["cols"]), "nrb": -(-rows // tile.dims["rows"]),
    }


@lowering("lut", template="ops/lut.c.j2")
def lower_lut(op, ctx, tile):
    table = ctx.const(op, "table", np.asarray(op.table, dtype=np.uint8))
    return {**ctx.stream(op, tile), "ins": [{"l2": _bytes(ctx.ptr(op.inputs[0])), "unit": 1}],
            "out": {"l2": _bytes(ctx.ptr(op.output), False), "unit": 1},
            "residents": [{"l2": table, "bytes": 256}], "units": int(np.prod(ctx.shapes[op.output])),
            "tile": tile.dims["elements"]}


def layernorm_bias_half(op) -> np.ndarray:
    """int32 bias + 2^(shift - 1): the rounding term of round_shift folded into the bias (the C kernel's bias_half).
    Refused unless the proven affine bound (quant/ranges.py) holds, which keeps it in int32."""
    from ..quant.ranges import layernorm_bounds

    d = len(np.asarray(op.gain).reshape(-1))
    bad = [b for b in layernorm_bounds(op, d) if not b.ok]
    if bad:
        raise TinyMyoError(f"layer {op.name!r}: LayerNorm constants out of the C kernel's int32 range: "
                           + "; ".join(f"{b.quantity} reaches {b.value} >= {b.limit}" for b in bad))
    shift = np.asarray(op.shift, dtype=np.int64)
    return (np.asarray(op.bias, dtype=np.int64) + (np.int64(1) << (shift - 1))).astype(np.int32)


def residual_offset(op) -> int:
    """2^(T-1) - za Ra - zb Rb: the C kernel's one additive constant (|.| < 2^31 by the proven bound, ranges.py)."""
    from ..quant.ranges import residual_bounds

    bad = [b for b in residual_bounds(op) if not b.ok]
    if bad:
        raise TinyMyoError(f"layer {op.name!r}: ResidualAdd constants out of the C kernel's int32 range: "
                           + "; ".join(f"{b.quantity} reaches {b.value} >= {b.limit}" for b in bad))
    return (1 << (op.shift - 1)) - op.zero_a * op.mult_a - op.zero_b * op.mult_b


@lowering("layernorm", template="ops/layernorm.c.j2")
def lower_layernorm(op, ctx, tile):
    rows, d = ctx.shapes[op.inputs[0]]
    bias_half = ctx.const(op, "bias_half", layernorm_bias_half(op))
    gain = ctx.const(op, "gain", np.asarray(op.gain, dtype=np.int32))
    shift = ctx.const(op, "shift", np.asarray(op.shift, dtype=np.int32))
    return {**ctx.stream(op, tile), "ins": [{"l2": _bytes(ctx.ptr(op.inputs[0])), "unit": d}],
            "out": {"l2": _bytes(ctx.ptr(op.output), False), "unit": d},
            "residents": [{"l2": gain, "bytes": 4 * d}, {"l2": bias_half, "bytes": 4 * d},
                          {"l2": shift, "bytes": 4 * d}], "units": rows, "d": d,
            "recip_bits": int(op.recip_bits), "frac_bits": int(op.frac_bits), "zero_point": int(op.zero_point),
            "tile": tile.dims["rows"]}


@lowering("residual_add", template="ops/residual_add.c.j2")
def lower_residual(op, ctx, tile):
    return {**ctx.stream(op, tile), "ins": [{"l2": _bytes(ctx.ptr(name)), "unit": 1} for name in op.inputs[:2]],
            "out": {"l2": _bytes(ctx.ptr(op.output), False), "unit": 1}, "residents": [],
            "mult_a": int(op.mult_a), "mult_b": int(op.mult_b), "offset": residual_offset(op),
            "shift": int(op.shift), "zero_y": int(op.zero_y),
            "units": int(np.prod(ctx.shapes[op.output])), "tile": tile.dims["elements"]}


@lowering("attention", template="ops/attention.c.j2")
def lower_attention(op, ctx, tile):
    if getattr(op, "softmax", "normalized") == "deferred":
        return _lower_attention_deferred(op, ctx, tile)
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
        **ctx.stream(op, tile), "q": _bytes(ctx.ptr(op.inputs[0])), "k": _bytes(ctx.ptr(op.inputs[1])),
        "v": _bytes(ctx.ptr(op.inputs[2])), "y": _bytes(ctx.ptr(op.output), False),
        "score_mult": ctx.const(op, "score_mult", np.asarray(op.score_mult, dtype=np.float32)),
        "out_mult": ctx.const(op, "out_mult", np.asarray(op.out_mult, dtype=np.float32)),
        "exp_lut": ctx.const(op, "exp_lut", np.asarray(op.exp_lut, dtype=np.int32)),
        "n": n, "d": d, "hd": d // op.heads, "heads": op.heads, "prob_bits": op.prob_bits,
        "rows": tile.dims["rows"], "kc": tile.dims["kv_chunk"], "deferred": 0, "table_bytes": 1024, "resident": 0,
        "const_bytes": 4 * op.heads, "const_stride": 1, "const_type": "float",
    }


def _lower_attention_deferred(op, ctx, tile):
    """The deferred softmax: (M, S) of the scores and (Mo, So) of the outputs as int32 pairs per head in the
    score_mult / out_mult slots, lut8 (u8) in the exp_lut slot. The bounds the C relies on (int32 score product,
    int16 scores, s >= 255, r and o r) are quant/ranges.py's; checked again here since a build may read any file."""
    from ..quant.ranges import deferred_attention_bounds

    n, d = ctx.shapes[op.inputs[0]]
    bad = [b for b in deferred_attention_bounds(op.name, n, d // op.heads, op.score_fixed, op.score_shift,
                                                op.exp_lut8, op.out_fixed, op.out_shift) if not b.ok]
    if bad:
        raise TinyMyoError(f"layer {op.name!r}: " + "; ".join(f"{b.quantity} reaches {b.value} >= {b.limit} ({b.type})"
                                                               for b in bad))
    pairs = lambda m, s: np.stack([np.asarray(m, np.int32), np.asarray(s, np.int32)], axis=1)  # noqa: E731
    return {
        **ctx.stream(op, tile), "q": _bytes(ctx.ptr(op.inputs[0])), "k": _bytes(ctx.ptr(op.inputs[1])),
        "v": _bytes(ctx.ptr(op.inputs[2])), "y": _bytes(ctx.ptr(op.output), False),
        "score_mult": ctx.const(op, "score_fixed", pairs(op.score_fixed, op.score_shift)),
        "out_mult": ctx.const(op, "out_fixed", pairs(op.out_fixed, op.out_shift)),
        "exp_lut": ctx.const(op, "exp_lut8", np.asarray(op.exp_lut8, dtype=np.uint8)),
        "n": n, "d": d, "hd": d // op.heads, "heads": op.heads, "prob_bits": 8,
        "rows": tile.dims["rows"], "kc": tile.dims["kv_chunk"], "deferred": 1, "table_bytes": 256,
        "resident": tile.dims.get("resident", 0),
        "const_bytes": 8 * op.heads, "const_stride": 2, "const_type": "int32_t",
    }


@lowering("token_mean", template="ops/token_mean.c.j2")
def lower_token_mean(op, ctx, tile):
    n, d = ctx.shapes[op.inputs[0]]
    return {**ctx.stream(op, tile), "x": _bytes(ctx.ptr(op.inputs[0])), "y": _bytes(ctx.ptr(op.output), False),
            "n": n, "d": d, "tile": tile.dims["tokens"], **fixed_scalar(op.mult, op.shift, op.name),
            "patches": n // op.channels, "per_channel": int(op.reduction == "concat"),
            "features": int(np.prod(ctx.shapes[op.output]))}


@lowering("patch_features", template="ops/patch_features.c.j2")
def lower_patch_features(op, ctx, tile):
    n, d = ctx.shapes[op.inputs[0]]
    p, f = ctx.shapes[op.output]
    x = {"l2": _bytes(ctx.ptr(op.inputs[0])), "unit": d, "rows": op.channels, "stride": p * d}
    return {**ctx.stream(op, tile), "ins": [x], "out": {"l2": _bytes(ctx.ptr(op.output), False), "unit": f},
            "residents": [], "units": p, "tile": tile.dims["patches"], **fixed_scalar(op.mult, op.shift, op.name),
            "channels": op.channels, "d": d, "per_channel": int(op.reduction == "concat")}


@lowering("depthwise_conv1d", "depthwise_conv1d_lut", template="ops/depthwise_conv1d.c.j2")
def lower_depthwise(op, ctx, tile):
    p, h = ctx.shapes[op.inputs[0]]
    table = getattr(op, "table", None)
    residents = [{"l2": ctx.const(op, "weight", np.asarray(op.weight, dtype=np.int8)), "bytes": 3 * h},
                 {"l2": ctx.const(op, "bias", np.asarray(op.bias, dtype=np.int32)), "bytes": 4 * h},
                 {"l2": ctx.const(op, "rq", fixed_pairs(op.mult, op.shift, op.name)), "bytes": 8 * h}]
    if table is not None:
        residents.append({"l2": ctx.const(op, "table", np.asarray(table, dtype=np.uint8)), "bytes": 256})
    x = {"l2": _bytes(ctx.ptr(op.inputs[0])), "unit": h, "lo": "(u0 > 0 ? u0 - 1 : 0)",
         "cnt": f"TM_MIN(u0 + n + 1, {p}) - lo"}
    return {**ctx.stream(op, tile), "ins": [x], "out": {"l2": _bytes(ctx.ptr(op.output), False), "unit": h},
            "residents": residents, "units": p, "tile": tile.dims["rows"], "p": p, "h": h,
            "table": table is not None}


@lowering("interpolate", template="ops/interpolate.c.j2")
def lower_interpolate(op, ctx, tile):
    p, k = ctx.shapes[op.inputs[0]]
    length = ctx.shapes[op.output][0]
    for idx in (op.index0, op.index1):
        if np.asarray(idx).min(initial=0) < 0 or np.asarray(idx).max(initial=0) >= p:
            raise TinyMyoError(f"layer {op.name!r}: interpolation index outside 0..{p - 1}")
    tables = [ctx.const(op, "index0", np.asarray(op.index0, dtype=np.int32)),
              ctx.const(op, "index1", np.asarray(op.index1, dtype=np.int32)),
              ctx.const(op, "weight0", np.asarray(op.weight0, dtype=np.float32)),
              ctx.const(op, "weight1", np.asarray(op.weight1, dtype=np.float32))]
    return {**ctx.stream(op, tile), "ins": [{"l2": _bytes(t), "unit": 4} for t in tables],
            "out": {"l2": _bytes(ctx.ptr(op.output), False), "unit": 4 * k},
            "residents": [{"l2": ctx.ptr(op.inputs[0]), "bytes": 4 * p * k}], "units": length,
            "tile": tile.dims["rows"], "k": k}


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
