"""The int8 ONNX encoding of a Program, and its lossless reading back.

Each IR op is ONE node of the main graph: domain "tinymyo_edge", op_type = the op's kind, name = the op's name,
output = the op's output tensor. Its inputs are the op's activation inputs followed by its constants, stored as
initializers named "<op name>.<field>" in the IR field order of SCHEMA (a few kinds add shape helpers after those).
Structural values that are not arrays (heads, channels, reduction, LUT function) are node attributes. The node calls
a model-local ONNX function of the same domain/op_type, whose body computes the op with the pinned integer ops of
NUMERICS.md section 2 only; onnxruntime inlines it. Tensor scales and zero points, and the program's metadata, are
JSON in the model's metadata_props. The graph's float input (1, C, T) and output (1, ...) are joined to the program's
(C, T) input and batch-free output by two plain Reshape nodes named BATCH_IN / BATCH_OUT.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as oh
from onnx import numpy_helper

from .. import numerics as nx
from ..errors import TinyMyoError
from ..ir.program import OP_KINDS, DType, Op, Program, TensorInfo

DOMAIN = "tinymyo_edge"
FORMAT = "tinymyo_edge.int8/1"
OPSET = 17
BATCH_IN, BATCH_OUT = "batch_in", "batch_out"
META_FORMAT, META_TENSORS, META_IO, META_PROGRAM = ("tinymyo_edge.format", "tinymyo_edge.tensors",
                                                   "tinymyo_edge.io", "tinymyo_edge.metadata")


@dataclass(frozen=True)
class Field:
    name: str
    dtype: np.dtype
    scalar: bool = False  # a Python number in the IR: a 0-d initializer; a float64 one is cast to float32 in the body

    @property
    def float_scalar(self) -> bool:
        return self.scalar and self.dtype.kind == "f"


def _f(name, dtype, scalar=False):
    return Field(name, np.dtype(dtype), scalar)


# kind -> (number of activation inputs, constant fields in input order, node attributes)
SCHEMA: dict[str, tuple[int, tuple[Field, ...], tuple[str, ...]]] = {
    "quantize_input": (1, (_f("scale", "float64", True),), ()),
    "reshape": (1, (_f("shape", "int64"),), ()),
    "linear": (1, (_f("weight", "int8"), _f("bias", "int32"), _f("mult", "int32"), _f("shift", "int32"),
                   _f("zero_point", "int64", True)), ()),
    "linear_dequant": (1, (_f("weight", "int8"), _f("bias", "int32"), _f("scale", "float32")), ()),
    "lut": (1, (_f("table", "uint8"),), ("function",)),
    "layernorm": (1, (_f("gain", "int32"), _f("bias", "int32"), _f("shift", "int32"), _f("recip_bits", "int32", True),
                      _f("frac_bits", "int32", True), _f("zero_point", "int32", True)), ()),
    "residual_add": (2, tuple(_f(n, "int32", True) for n in ("mult_a", "mult_b", "shift", "zero_a", "zero_b",
                                                              "zero_y")), ()),
    "attention": (3, (_f("score_mult", "float32"), _f("exp_lut", "int32"), _f("out_mult", "float32"),
                      _f("score_fixed", "int32"), _f("score_shift", "int32"), _f("exp_lut8", "uint8"),
                      _f("out_fixed", "int32"), _f("out_shift", "int32")),
                  ("heads", "prob_bits", "softmax")),
    "token_mean": (1, (_f("mult", "int64", True), _f("shift", "int64", True)), ("channels", "reduction")),
    "patch_features": (1, (_f("mult", "int64", True), _f("shift", "int64", True)), ("channels", "reduction")),
    "depthwise_conv1d": (1, (_f("weight", "int8"), _f("bias", "int32"), _f("mult", "int32"), _f("shift", "int32")),
                         ()),
    "interpolate": (1, (_f("index0", "int32"), _f("index1", "int32"), _f("weight0", "float32"),
                        _f("weight1", "float32")), ()),
    "transpose": (1, (), ()),
    "conv1d": (1, (_f("weight", "int8"), _f("bias", "int32"), _f("mult", "int32"), _f("shift", "int32")),
               ("stride", "padding")),
    "rel_attention": (3, (_f("score_mult", "float32"), _f("exp_lut", "int32"), _f("out_mult", "float32"),
                          _f("rel_key", "int16")), ("heads", "window", "prob_bits")),
}
_HELPERS = {"token_mean": ("group_shape", "sum_shape"), "patch_features": ("group_shape", "sum_shape"),
            "conv1d": ("pads", "im2col_index", "cols_shape"), "rel_attention": ("rel_index", "window_mask")}


# ------------------------------------------------------------------------------------------------ function bodies
class _Body:
    """Small builder of a function body: unique local names, constants as Constant nodes."""

    def __init__(self):
        self.nodes: list[onnx.NodeProto] = []
        self.count = 0

    def op(self, op_type: str, inputs: list[str], out: str | None = None, domain: str = "", **attrs) -> str:
        self.count += 1
        out = out or f"t{self.count}"
        self.nodes.append(oh.make_node(op_type, inputs, [out], domain=domain, **attrs))
        return out

    def const(self, value, dtype) -> str:
        arr = np.array(value, dtype=dtype)
        self.count += 1
        name = f"c{self.count}"
        self.nodes.append(oh.make_node("Constant", [], [name], value=numpy_helper.from_array(arr, name)))
        return name

    def requant(self, acc_float: str, multiplier: str, out: str) -> str:
        """sat(rne(f32 * m) + 128): one float32 Mul, then QuantizeLinear with scale 1 (exact division)."""
        y = self.op("Mul", [acc_float, multiplier])
        return self.op("QuantizeLinear", [y, self.const(1.0, np.float32), self.const(nx.ACT_ZERO_POINT, np.uint8)], out)

    def pow2(self, shift: str) -> str:
        """2**shift as int64 for int64 0 <= shift <= 62: Pow in float64 is exact for these (BitShift would need
        unsigned inputs at this opset)."""
        p = self.op("Pow", [self.const(2.0, np.float64), self.op("Cast", [shift], to=TP.DOUBLE)])
        return self.op("Cast", [p], to=TP.INT64)

    def round_shift(self, a: str, shift: str) -> str:
        """numerics.round_shift on int64: floor((a + 2**(s-1)) / 2**s). Div truncates toward zero, so a negative
        remainder steps the quotient down by one (Less + Cast bool)."""
        d = self.pow2(shift)
        t = self.op("Add", [a, self.op("Div", [d, self.const(2, np.int64)])])
        q = self.op("Div", [t, d])
        low = self.op("Less", [self.op("Sub", [t, self.op("Mul", [q, d])]), self.const(0, np.int64)])
        return self.op("Sub", [q, self.op("Cast", [low], to=TP.INT64)])

    def requant_fixed(self, acc_int: str, mult: str, shift: str, out: str,
                      zero_point: int | str = nx.ACT_ZERO_POINT) -> str:
        """numerics.requantize_fixed: sat(round_shift(int64(acc) * M, S) + zp) as uint8 (mult, shift int64;
        zero_point a constant, or the name of an int64 tensor)."""
        r = self.round_shift(self.op("Mul", [self.op("Cast", [acc_int], to=TP.INT64), mult]), shift)
        zp = zero_point if isinstance(zero_point, str) else self.const(zero_point, np.int64)
        r = self.op("Clip", [self.op("Add", [r, zp]), self.const(0, np.int64),
                             self.const(255, np.int64)])
        return self.op("Cast", [r], out, to=TP.UINT8)

    def centered_i32(self, x: str) -> str:
        return self.op("Sub", [self.op("Cast", [x], to=TP.INT32), self.const(nx.ACT_ZERO_POINT, np.int32)])


def _body_quantize_input(b: _Body, cfg: dict) -> None:
    b.op("QuantizeLinear", ["x0", "scale", b.const(nx.ACT_ZERO_POINT, np.uint8)], "y")


def _body_reshape(b: _Body, cfg: dict) -> None:
    b.op("Reshape", ["x0", "shape"], "y")


def _body_linear(b: _Body, cfg: dict) -> None:
    """MatMulInteger u8 x s8 (exact int32), the int32 bias (input zero point folded in), then the integer
    requantisation by the per-channel fixed-point multiplier (int32 initializers, int64 arithmetic)."""
    wt = b.op("Transpose", ["weight"], perm=[1, 0])
    acc = b.op("MatMulInteger", ["x0", wt, b.const(nx.ACT_ZERO_POINT, np.uint8), b.const(0, np.int8)])
    mult, shift = (b.op("Cast", [t], to=TP.INT64) for t in ("mult", "shift"))
    b.requant_fixed(b.op("Add", [acc, "bias"]), mult, shift, "y", "zero_point")


def _body_linear_dequant(b: _Body, cfg: dict) -> None:
    wt = b.op("Transpose", ["weight"], perm=[1, 0])
    acc = b.op("MatMulInteger", ["x0", wt, b.const(nx.ACT_ZERO_POINT, np.uint8), b.const(0, np.int8)])
    acc = b.op("Add", [acc, "bias"])
    b.op("Mul", [b.op("Cast", [acc], to=TP.FLOAT), "scale"], "y")


def _body_lut(b: _Body, cfg: dict) -> None:
    idx = b.op("Reshape", [b.op("Cast", ["x0"], to=TP.INT32), b.const([-1], np.int64)])
    b.op("Reshape", [b.op("GatherElements", ["table", idx], axis=0), b.op("Shape", ["x0"])], "y")


def _body_layernorm(b: _Body, cfg: dict) -> None:
    """numerics.layernorm_fixed: int32 sums (sum x, sum x^2: D * 255^2 < 2^31, ranges.py), int64 statistics and
    reciprocal per row (var < 2^52: the double Sqrt + Floor is the exact isqrt), int64 per element (the values are
    int32-bounded, ranges.py; int64 here only avoids Casts)."""
    axes = b.const([-1], np.int64)
    xi = b.op("Cast", ["x0"], to=TP.INT32)
    dim64 = b.op("Gather", [b.op("Shape", ["x0"]), b.const(-1, np.int64)], axis=0)
    s = b.op("Cast", [b.op("ReduceSum", [xi, axes], keepdims=1)], to=TP.INT64)
    q = b.op("Cast", [b.op("ReduceSum", [b.op("Mul", [xi, xi]), axes], keepdims=1)], to=TP.INT64)
    var = b.op("Sub", [b.op("Mul", [q, dim64]), b.op("Mul", [s, s])])
    root = b.op("Floor", [b.op("Sqrt", [b.op("Cast", [var], to=TP.DOUBLE)])])
    sd = b.op("Max", [b.op("Cast", [root], to=TP.INT64), b.const(1, np.int64)])
    k = b.op("Cast", ["recip_bits"], to=TP.INT64)
    recip = b.op("Div", [b.pow2(k), sd])  # non-negative operands: truncation = floor
    c = b.op("Sub", [b.op("Mul", [b.op("Cast", ["x0"], to=TP.INT64), dim64]), s])
    n = b.round_shift(b.op("Mul", [c, recip]), b.op("Sub", [k, b.op("Cast", ["frac_bits"], to=TP.INT64)]))
    u = b.op("Add", [b.op("Mul", [n, b.op("Cast", ["gain"], to=TP.INT64)]), b.op("Cast", ["bias"], to=TP.INT64)])
    r = b.op("Add", [b.round_shift(u, b.op("Cast", ["shift"], to=TP.INT64)), b.op("Cast", ["zero_point"], to=TP.INT64)])
    r = b.op("Clip", [r, b.const(0, np.int64), b.const(255, np.int64)])
    b.op("Cast", [r], "y", to=TP.UINT8)


def _body_residual_add(b: _Body, cfg: dict) -> None:
    """numerics.residual_fixed in int64 (the sum is int32-bounded, ranges.py)."""
    i64 = {n: b.op("Cast", [n], to=TP.INT64) for n in ("mult_a", "mult_b", "shift", "zero_a", "zero_b", "zero_y")}
    ta = b.op("Mul", [b.op("Sub", [b.op("Cast", ["x0"], to=TP.INT64), i64["zero_a"]]), i64["mult_a"]])
    tb = b.op("Mul", [b.op("Sub", [b.op("Cast", ["x1"], to=TP.INT64), i64["zero_b"]]), i64["mult_b"]])
    r = b.op("Add", [b.round_shift(b.op("Add", [ta, tb]), i64["shift"]), i64["zero_y"]])
    b.op("Cast", [b.op("Clip", [r, b.const(0, np.int64), b.const(255, np.int64)])], "y", to=TP.UINT8)


def _body_attention(b: _Body, cfg: dict) -> None:
    if cfg["softmax"] == "deferred":
        _body_attention_deferred(b, cfg)
    else:
        _body_attention_normalized(b, cfg)


def _head_constant(b: _Body, table: str, hidx: str) -> str:
    """table[h] of an int32 per-head constant, as an int64 scalar."""
    return b.op("Cast", [b.op("Gather", [table, hidx], axis=0)], to=TP.INT64)


def _body_attention_deferred(b: _Body, cfg: dict) -> None:
    """Per head (numerics.attention_deferred_head): MatMulInteger q.k^T (zero points 128), integer scores by
    round_shift(acc * M, S) (int64; int16 by construction), d = min(rowmax - t, 255), u8 numerators by GatherElements
    in the head's lut8, int32 row sums, MatMulInteger e.v (zero points 0 and 128), one int64 division per row for
    r = (2 Mo + s) / (2 s), then requant_fixed(o, r, So); heads concatenated along the features."""
    heads, hd = cfg["heads"], cfg["head_dim"]
    zp, zp0 = b.const(nx.ACT_ZERO_POINT, np.uint8), b.const(0, np.uint8)
    cols, last = b.const([1], np.int64), b.const([-1], np.int64)
    outs = []
    for h in range(heads):
        lo, hi = b.const([h * hd], np.int64), b.const([(h + 1) * hd], np.int64)
        qh, kh, vh = (b.op("Slice", [t, lo, hi, cols]) for t in ("x0", "x1", "x2"))
        hidx = b.const(h, np.int64)
        acc = b.op("MatMulInteger", [qh, b.op("Transpose", [kh], perm=[1, 0]), zp, zp])
        prod = b.op("Mul", [b.op("Cast", [acc], to=TP.INT64), _head_constant(b, "score_fixed", hidx)])
        t = b.op("Cast", [b.round_shift(prod, _head_constant(b, "score_shift", hidx))], to=TP.INT32)
        d = b.op("Min", [b.op("Sub", [b.op("ReduceMax", [t], axes=[-1], keepdims=1), t]),
                         b.const(nx.DEFERRED_D_MAX, np.int32)])
        lut = b.op("Gather", ["exp_lut8", hidx], axis=0)
        e = b.op("Reshape", [b.op("GatherElements", [lut, b.op("Reshape", [d, last])], axis=0), b.op("Shape", [d])])
        total = b.op("Cast", [b.op("ReduceSum", [b.op("Cast", [e], to=TP.INT32), last], keepdims=1)], to=TP.INT64)
        o = b.op("MatMulInteger", [e, vh, zp0, zp])
        two = b.const(2, np.int64)
        num = b.op("Add", [b.op("Mul", [_head_constant(b, "out_fixed", hidx), two]), total])
        r = b.op("Div", [num, b.op("Mul", [total, two])])
        outs.append(b.requant_fixed(o, r, _head_constant(b, "out_shift", hidx), f"o{h}"))
    b.op("Concat", outs, "y", axis=1)


def _body_attention_normalized(b: _Body, cfg: dict) -> None:
    """Per head: QLinearMatMul u8 x u8 scores (scale = score_mult[h]), integer softmax with the head's exp table
    (GatherElements), p.v by QLinearMatMul (u8 probabilities) or int32 MatMul (wider ones), requantised with
    out_mult[h]; heads concatenated along the features."""
    heads, hd = cfg["heads"], cfg["head_dim"]
    one, zp, zp0 = b.const(1.0, np.float32), b.const(nx.ACT_ZERO_POINT, np.uint8), b.const(0, np.uint8)
    cols, last = b.const([1], np.int64), b.const([-1], np.int64)
    outs = []
    for h in range(heads):
        lo, hi = b.const([h * hd], np.int64), b.const([(h + 1) * hd], np.int64)
        qh, kh, vh = (b.op("Slice", [t, lo, hi, cols]) for t in ("x0", "x1", "x2"))
        hidx = b.const(h, np.int64)
        s = b.op("QLinearMatMul", [qh, b.op("Gather", ["score_mult", hidx], axis=0), zp,
                                   b.op("Transpose", [kh], perm=[1, 0]), one, zp, one, zp])
        si = b.op("Cast", [s], to=TP.INT32)
        d = b.op("Sub", [b.op("ReduceMax", [si], axes=[-1], keepdims=1), si])
        lut = b.op("Gather", ["exp_lut", hidx], axis=0)
        e = b.op("Reshape", [b.op("GatherElements", [lut, b.op("Reshape", [d, last])], axis=0), b.op("Shape", [d])])
        total = b.op("ReduceSum", [e, last], keepdims=1)
        num = b.op("Add", [b.op("Mul", [e, b.const(2 * ((1 << cfg["prob_bits"]) - 1), np.int32)]), total])
        prob = b.op("Div", [num, b.op("Mul", [total, b.const(2, np.int32)])])
        mult = b.op("Gather", ["out_mult", hidx], axis=0)
        if cfg["prob_bits"] == 8:  # u8 probabilities: QLinearMatMul u8 x u8
            outs.append(b.op("QLinearMatMul", [b.op("Cast", [prob], to=TP.UINT8), mult, zp0, vh, one, zp, one, zp]))
        else:  # wider probabilities: exact int32 MatMul, then the requantisation
            acc = b.op("MatMul", [prob, b.centered_i32(vh)])
            outs.append(b.requant(b.op("Cast", [acc], to=TP.FLOAT), mult, f"o{h}"))
    b.op("Concat", outs, "y", axis=1)


def _body_group_sum(b: _Body, axis: int, keepdims: int) -> str:
    """(C*P, D) codes -> centred int32 regrouped (P, ., .) by group_shape/sum_shape and summed over `axis`."""
    g = b.op("Reshape", [b.centered_i32("x0"), "group_shape"])
    r = b.op("Reshape", [b.op("Transpose", [g], perm=[1, 0, 2]), "sum_shape"])
    return b.op("ReduceSum", [r, b.const([axis], np.int64)], keepdims=keepdims)


def _body_token_mean(b: _Body, cfg: dict) -> None:
    b.requant_fixed(_body_group_sum(b, 0, 1), "mult", "shift", "y")


def _body_patch_features(b: _Body, cfg: dict) -> None:
    if cfg["patch_reduction"] == "concat":  # a copy: y[p, c*D + d] = x[c*P + p, d] (mult, shift unused)
        g = b.op("Reshape", ["x0", "group_shape"])
        b.op("Reshape", [b.op("Transpose", [g], perm=[1, 0, 2]), "sum_shape"], "y")
        return
    b.requant_fixed(_body_group_sum(b, 1, 0), "mult", "shift", "y")


def _body_depthwise_conv1d(b: _Body, cfg: dict) -> None:
    xp = b.op("Pad", [b.centered_i32("x0"), b.const([1, 0, 1, 0], np.int64)], mode="constant")
    w = b.op("Cast", ["weight"], to=TP.INT32)
    acc = "bias"
    rows = b.const([0], np.int64)
    for j, end in enumerate((-2, -1, np.iinfo(np.int64).max)):
        tap = b.op("Slice", [xp, b.const([j], np.int64), b.const([end], np.int64), rows])
        acc = b.op("Add", [acc, b.op("Mul", [tap, b.op("Gather", [w, b.const(j, np.int64)], axis=1)])])
    b.requant_fixed(acc, *(b.op("Cast", [t], to=TP.INT64) for t in ("mult", "shift")), "y")


def _body_interpolate(b: _Body, cfg: dict) -> None:
    axis1 = b.const([1], np.int64)
    a = b.op("Mul", [b.op("Gather", ["x0", "index0"], axis=0), b.op("Unsqueeze", ["weight0", axis1])])
    c = b.op("Mul", [b.op("Gather", ["x0", "index1"], axis=0), b.op("Unsqueeze", ["weight1", axis1])])
    b.op("Add", [a, c], "y")


def _body_transpose(b: _Body, cfg: dict) -> None:
    b.op("Transpose", ["x0"], "y", perm=[1, 0])


def _body_conv1d(b: _Body, cfg: dict) -> None:
    """im2col by Pad (code 128 = real zero) + Gather of the tap rows, then MatMulInteger u8 x s8 (exact), int32 bias,
    and the integer requantisation."""
    xp = b.op("Pad", ["x0", "pads", b.const(nx.ACT_ZERO_POINT, np.uint8)], mode="constant")
    cols = b.op("Reshape", [b.op("Gather", [xp, "im2col_index"], axis=0), "cols_shape"])
    wt = b.op("Transpose", [b.op("Reshape", ["weight", b.const([0, -1], np.int64)])], perm=[1, 0])
    acc = b.op("MatMulInteger", [cols, wt, b.const(nx.ACT_ZERO_POINT, np.uint8), b.const(0, np.int8)])
    b.requant_fixed(b.op("Add", [acc, "bias"]), *(b.op("Cast", [t], to=TP.INT64) for t in ("mult", "shift")), "y")


def _body_rel_attention(b: _Body, cfg: dict) -> None:
    """Per head: int32 MatMuls q.k^T and q.rel_key^T, the relative scores gathered to absolute pairs
    (GatherElements with rel_index), requantised; integer softmax restricted to window_mask; exact int32 p.v."""
    heads, hd = cfg["heads"], cfg["head_dim"]
    cols, last = b.const([1], np.int64), b.const([-1], np.int64)
    outs = []
    for h in range(heads):
        lo, hi = b.const([h * hd], np.int64), b.const([(h + 1) * hd], np.int64)
        qc, kc, vc = (b.centered_i32(b.op("Slice", [t, lo, hi, cols])) for t in ("x0", "x1", "x2"))
        hidx = b.const(h, np.int64)
        rel = b.op("Cast", [b.op("Gather", ["rel_key", hidx], axis=0)], to=TP.INT32)
        pos = b.op("MatMul", [qc, b.op("Transpose", [rel], perm=[1, 0])])
        acc = b.op("Add", [b.op("MatMul", [qc, b.op("Transpose", [kc], perm=[1, 0])]),
                           b.op("GatherElements", [pos, "rel_index"], axis=1)])
        s = b.requant(b.op("Cast", [acc], to=TP.FLOAT), b.op("Gather", ["score_mult", hidx], axis=0), f"s{h}")
        si = b.op("Mul", [b.op("Cast", [s], to=TP.INT32), "window_mask"])
        d = b.op("Sub", [b.op("ReduceMax", [si], axes=[-1], keepdims=1), si])
        lut = b.op("Gather", ["exp_lut", hidx], axis=0)
        e = b.op("Reshape", [b.op("GatherElements", [lut, b.op("Reshape", [d, last])], axis=0), b.op("Shape", [d])])
        e = b.op("Mul", [e, "window_mask"])
        total = b.op("ReduceSum", [e, last], keepdims=1)
        num = b.op("Add", [b.op("Mul", [e, b.const(2 * ((1 << cfg["prob_bits"]) - 1), np.int32)]), total])
        prob = b.op("Div", [num, b.op("Mul", [total, b.const(2, np.int32)])])
        acc = b.op("MatMul", [prob, vc])
        outs.append(b.requant(b.op("Cast", [acc], to=TP.FLOAT), b.op("Gather", ["out_mult", hidx], axis=0), f"o{h}"))
    b.op("Concat", outs, "y", axis=1)


_BODIES = {name[len("_body_"):]: fn for name, fn in globals().items() if name.startswith("_body_") and
           name[len("_body_"):] in SCHEMA}


def _function(kind: str, cfg: dict) -> onnx.FunctionProto:
    n_act, fields, attrs = SCHEMA[kind]
    body = _Body()
    for f in fields:  # the IR computes with float32(value), as does Cast(double -> float): round to nearest even
        if f.float_scalar:
            body.op("Cast", [f.name + "_f64"], f.name, to=TP.FLOAT)
    _BODIES[kind](body, cfg)
    inputs = [f"x{i}" for i in range(n_act)] + [f.name + ("_f64" if f.float_scalar else "") for f in fields]
    inputs += list(_HELPERS.get(kind, ()))
    return oh.make_function(DOMAIN, kind, inputs, ["y"], body.nodes,
                            [oh.make_opsetid("", OPSET), oh.make_opsetid("com.microsoft", 1)], attributes=list(attrs))


# ----------------------------------------------------------------------------------------------------- writing
_ONNX_DTYPE = {DType.U8: TP.UINT8, DType.F32: TP.FLOAT}


def _helpers(op: Op, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    if op.kind not in _HELPERS:
        return {}
    if op.kind == "conv1d":
        m, k, cin = op.weight.shape
        t_out = shapes[op.output][0]
        rows = (np.arange(t_out)[:, None] * op.stride + np.arange(k)[None, :]).reshape(-1)
        return {"pads": np.array([op.padding, 0, op.padding, 0], np.int64), "im2col_index": rows.astype(np.int64),
                "cols_shape": np.array([t_out, k * cin], np.int64)}
    if op.kind == "rel_attention":
        n = shapes[op.inputs[0]][0]
        return {"rel_index": nx.relative_index(n, op.window), "window_mask": nx.relative_window_mask(n, op.window)}
    n, d = shapes[op.inputs[0]]
    c = op.channels
    p = n // c
    if op.kind == "token_mean":
        sums = [p, c * d] if op.reduction == "concat" else [p * c, d]
    else:
        sums = [p, c * d] if op.reduction == "concat" else [p, c, d]
    return {"group_shape": np.array([c, p, d], np.int64), "sum_shape": np.array(sums, np.int64)}


def _field_value(op: Op, field: Field) -> np.ndarray:
    value = getattr(op, field.name)
    arr = np.asarray(value)
    if field.scalar and not field.float_scalar:
        info = np.iinfo(field.dtype)
        if not isinstance(value, (int, np.integer)) or not info.min <= int(value) <= info.max:
            raise TinyMyoError(f"{op.name}: field {field.name} = {value!r} is not an integer that fits {field.dtype}")
        arr = np.array(int(value), dtype=field.dtype).reshape(())
    elif field.scalar:
        arr = np.array(value, dtype=field.dtype).reshape(())
    if arr.dtype != field.dtype:
        cast = arr.astype(field.dtype)
        if not np.array_equal(cast, arr):
            raise TinyMyoError(f"{op.name}: field {field.name} of dtype {arr.dtype} does not fit {field.dtype}")
        arr = cast
    return arr


def program_to_onnx(program: Program, graph_input: str, graph_output: str, output_shape: tuple[int, ...],
                    producer: str = "tinymyo-edge") -> onnx.ModelProto:
    """Program -> int8 ONNX (one function node per IR op). `output_shape` is the float model's output shape."""
    shapes = {name: t.shape for name, t in program.tensors.items()}
    attention = [op for op in program.ops if op.kind in ("attention", "rel_attention")]
    cfg = {"heads": attention[0].heads if attention else 1,
           "head_dim": shapes[attention[0].inputs[0]][1] // attention[0].heads if attention else 1}
    if len({(op.heads, op.prob_bits, getattr(op, "softmax", "normalized"), shapes[op.inputs[0]])
            for op in attention}) > 1:
        raise TinyMyoError("all attention ops of a program must share heads, prob_bits, softmax and shape")
    cfg["prob_bits"] = attention[0].prob_bits if attention else 8
    cfg["softmax"] = getattr(attention[0], "softmax", "normalized") if attention else "normalized"
    reductions = {op.reduction for op in program.ops if op.kind == "patch_features"}
    if len(reductions) > 1:
        raise TinyMyoError("all patch_features ops of a program must share one reduction")
    cfg["patch_reduction"] = reductions.pop() if reductions else "concat"
    nodes, inits = [], []
    in_info = program.tensors[program.input]
    nodes.append(oh.make_node("Reshape", [graph_input, "batch_in.shape"], [program.input], name=BATCH_IN))
    inits.append(numpy_helper.from_array(np.array(in_info.shape, np.int64), "batch_in.shape"))
    for op in program.ops:
        if op.kind not in SCHEMA:
            raise TinyMyoError(f"{op.name}: op kind {op.kind!r} has no int8 ONNX encoding")
        n_act, fields, attrs = SCHEMA[op.kind]
        names = list(op.inputs)
        for field in fields:
            inits.append(numpy_helper.from_array(_field_value(op, field), f"{op.name}.{field.name}"))
            names.append(f"{op.name}.{field.name}")
        for key, arr in _helpers(op, shapes).items():
            inits.append(numpy_helper.from_array(arr, f"{op.name}.{key}"))
            names.append(f"{op.name}.{key}")
        attributes = {a: getattr(op, a) for a in attrs}
        nodes.append(oh.make_node(op.kind, names, [op.output], name=op.name, domain=DOMAIN, **attributes))
    nodes.append(oh.make_node("Reshape", [program.output, "batch_out.shape"], [graph_output], name=BATCH_OUT))
    inits.append(numpy_helper.from_array(np.array(output_shape, np.int64), "batch_out.shape"))
    value_info = [oh.make_tensor_value_info(t.name, _ONNX_DTYPE[t.dtype], list(t.shape))
                  for t in program.tensors.values()]
    graph = oh.make_graph(
        nodes, "tinymyo_int8",
        [oh.make_tensor_value_info(graph_input, TP.FLOAT, [1, *in_info.shape])],
        [oh.make_tensor_value_info(graph_output, TP.FLOAT, list(output_shape))],
        inits, value_info=value_info)
    kinds = sorted({op.kind for op in program.ops})
    model = oh.make_model(graph, producer_name=producer, ir_version=10,
                          opset_imports=[oh.make_opsetid("", OPSET), oh.make_opsetid("com.microsoft", 1),
                                         oh.make_opsetid(DOMAIN, 1)],
                          functions=[_function(k, cfg) for k in kinds])
    tensors = {t.name: [list(t.shape), t.dtype.value, t.scale, t.zero_point] for t in program.tensors.values()}
    io = {"program_input": program.input, "program_output": program.output,
          "graph_input": graph_input, "graph_output": graph_output}
    oh.set_model_props(model, {META_FORMAT: FORMAT, META_TENSORS: json.dumps(tensors), META_IO: json.dumps(io),
                               META_PROGRAM: json.dumps(program.metadata, sort_keys=True)})
    return model


# ----------------------------------------------------------------------------------------------------- reading
def _props(model: onnx.ModelProto, path) -> dict[str, str]:
    props = {p.key: p.value for p in model.metadata_props}
    if props.get(META_FORMAT) != FORMAT:
        raise TinyMyoError(f"{path}: not a tinymyo-edge int8 model (metadata {META_FORMAT!r} is "
                           f"{props.get(META_FORMAT)!r}, expected {FORMAT!r}); produce one with `tinymyo-edge quantize`")
    return props


def onnx_to_program(model: onnx.ModelProto, path: str | Path = "<model>") -> Program:
    """int8 ONNX -> Program, exactly as it was written (constants, scales, names, order)."""
    props = _props(model, path)
    tensors = {name: TensorInfo(name, tuple(shape), DType(dtype), float(scale), int(zp))
               for name, (shape, dtype, scale, zp) in json.loads(props[META_TENSORS]).items()}
    io = json.loads(props[META_IO])
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    ops = []
    for node in model.graph.node:
        if node.domain != DOMAIN:
            if node.name in (BATCH_IN, BATCH_OUT) and node.op_type == "Reshape":
                continue
            raise TinyMyoError(f"{path}: node {node.name!r} ({node.op_type}) is not a tinymyo_edge op")
        if node.op_type not in SCHEMA or node.op_type not in OP_KINDS:
            raise TinyMyoError(f"{path}: node {node.name!r} has unknown op kind {node.op_type!r}")
        n_act, fields, attrs = SCHEMA[node.op_type]
        values = {}
        for field, name in zip(fields, node.input[n_act:]):
            if name not in inits:
                raise TinyMyoError(f"{path}: node {node.name!r}: constant {field.name} ({name!r}) is not an initializer")
            arr = inits[name]
            if arr.dtype != field.dtype:
                raise TinyMyoError(f"{path}: node {node.name!r}: {field.name} has dtype {arr.dtype}, expected {field.dtype}")
            values[field.name] = (float(arr) if field.float_scalar else int(arr)) if field.scalar else arr
        if node.op_type == "reshape":
            values["shape"] = tuple(int(v) for v in values["shape"])
        for a in node.attribute:
            if a.name in attrs:
                v = oh.get_attribute_value(a)
                values[a.name] = v.decode() if isinstance(v, bytes) else v
        ops.append(OP_KINDS[node.op_type](name=node.name, inputs=tuple(node.input[:n_act]), output=node.output[0],
                                          **values))
    return Program(tensors, tuple(ops), io["program_input"], io["program_output"], json.loads(props[META_PROGRAM]))


def graph_io(model: onnx.ModelProto) -> dict[str, str]:
    return json.loads(_props(model, "<model>")[META_IO])
