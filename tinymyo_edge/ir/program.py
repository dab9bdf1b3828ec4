"""The typed integer IR: the contract between the quantizer (which writes it, as int8 ONNX), the golden executor,
and the lowering to C (which reads it back from the int8 ONNX).

A program is a straight line of ops over named tensors. Every op is a frozen dataclass holding its constants as
numpy arrays and knowing its integer reference (numerics.py). Shapes carry no batch axis (batch is 1 on the chip).
Legend: C channels, T samples, P patches per channel, N = C*P tokens, K in features, M out features, D dim,
H hidden, F head features, L interpolated length.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .. import numerics as nx


class DType(enum.Enum):
    U8 = "uint8"  # activation codes: int8 + 128 (or softmax probabilities, zero point 0)
    F32 = "float32"  # the program's float input and output only

    @property
    def numpy(self) -> np.dtype:
        return np.dtype(self.value)


@dataclass(frozen=True)
class TensorInfo:
    """A tensor of the program. `scale` maps codes to real values: real = (code - zero_point) * scale."""

    name: str
    shape: tuple[int, ...]
    dtype: DType
    scale: float = 1.0
    zero_point: int = 0

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.numpy.itemsize


@dataclass(frozen=True, eq=False)
class Op:
    """Base: `name` is the layer name (as in the float model, unsanitised); inputs/output are tensor names."""

    name: str
    inputs: tuple[str, ...]
    output: str
    kind: ClassVar[str] = "op"

    def reference(self, *args: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def macs(self, shapes: dict[str, tuple[int, ...]]) -> int:
        """Multiply-accumulates of one run (0 for data movement and elementwise ops)."""
        return 0


@dataclass(frozen=True, eq=False)
class QuantizeInput(Op):
    """x f32 (C, T) -> u8 (C, T): QuantizeLinear(x, scale, 128)."""

    scale: float = 1.0
    kind: ClassVar[str] = "quantize_input"

    def reference(self, x):
        return nx.quantize_float(x, self.scale)


@dataclass(frozen=True, eq=False)
class Reshape(Op):
    """A view: same bytes, new shape (e.g. (C, T) -> (N, patch) for the patch embedding). No data moves."""

    shape: tuple[int, ...] = ()
    kind: ClassVar[str] = "reshape"

    def reference(self, x):
        return np.asarray(x).reshape(self.shape)


@dataclass(frozen=True, eq=False)
class Linear(Op):
    """x u8 (R, K) -> u8 (R, M), integer only: acc = bias + sum_k (x-128) w[m,k] (int32);
    y = sat(round_shift(acc * mult[m], shift[m]) + zero_point) (numerics.requantize_fixed, int64 product).

    weight s8 (M, K) per-output-channel symmetric; bias i32 (M) with the input's zero point folded in (an input of
    zero point z adds -(z - 128) sum_k w[m, k], so the kernel keeps the (x - 128) form); mult i32 (M) in
    [2**30, 2**31) and shift i32 (M) in 1..62 from numerics.fixed_multiplier(s_x s_w[m] / s_y); zero_point is the
    output tensor's (TensorInfo.zero_point).
    """

    weight: np.ndarray = field(default=None, repr=False)
    bias: np.ndarray = field(default=None, repr=False)
    mult: np.ndarray = field(default=None, repr=False)
    shift: np.ndarray = field(default=None, repr=False)
    zero_point: int = nx.ACT_ZERO_POINT
    kind: ClassVar[str] = "linear"

    def reference(self, x):
        return nx.requantize_fixed(nx.linear_acc(x, self.weight, self.bias), self.mult, self.shift, self.zero_point)

    def macs(self, shapes):
        rows = int(np.prod(shapes[self.inputs[0]][:-1]))
        return rows * self.weight.shape[0] * self.weight.shape[1]


@dataclass(frozen=True, eq=False)
class LinearDequant(Op):
    """The last layer: x u8 (R, K) -> f32 (R, M): y = f32(bias + sum_k (x-128) w[m,k]) * scale[m]."""

    weight: np.ndarray = field(default=None, repr=False)
    bias: np.ndarray = field(default=None, repr=False)
    scale: np.ndarray = field(default=None, repr=False)
    kind: ClassVar[str] = "linear_dequant"

    def reference(self, x):
        return nx.dequantize_acc(nx.linear_acc(x, self.weight, self.bias), self.scale)

    def macs(self, shapes):
        rows = int(np.prod(shapes[self.inputs[0]][:-1]))
        return rows * self.weight.shape[0] * self.weight.shape[1]


@dataclass(frozen=True, eq=False)
class Lut(Op):
    """x u8 -> u8, y = table[x] (GELU, SiLU: the 256-entry table is the op)."""

    table: np.ndarray = field(default=None, repr=False)
    function: str = "gelu"  # what the table computes, for reports
    kind: ClassVar[str] = "lut"

    def reference(self, x):
        return nx.lut_u8(x, self.table)


@dataclass(frozen=True, eq=False)
class LayerNorm(Op):
    """x u8 (R, D) -> u8 (R, D), integer only (numerics.layernorm_fixed): integer statistics, one reciprocal
    R = floor(2^recip_bits / sd) per row, n = round_shift(c R, recip_bits - frac_bits), then per channel
    y = sat(round_shift(n gain[i] + bias[i], shift[i]) + zero_point). The input zero point cancels in c = D x - sum x."""

    gain: np.ndarray = field(default=None, repr=False)  # i32 (D): round(gamma / s_out * 2^(shift - frac_bits))
    bias: np.ndarray = field(default=None, repr=False)  # i32 (D): round(beta / s_out * 2^shift)
    shift: np.ndarray = field(default=None, repr=False)  # i32 (D): 1..numerics.LN_SHIFT_MAX
    recip_bits: int = 0  # K
    frac_bits: int = nx.LN_FRAC_BITS  # F
    zero_point: int = nx.ACT_ZERO_POINT  # of the output
    kind: ClassVar[str] = "layernorm"

    def reference(self, x):
        return nx.layernorm_fixed(x, self.gain, self.bias, self.shift, self.recip_bits, self.frac_bits,
                                  self.zero_point)


@dataclass(frozen=True, eq=False)
class ResidualAdd(Op):
    """a u8, b u8 (same shape) -> u8, integer only (numerics.residual_fixed):
    y = sat(round_shift((a - zero_a) mult_a + (b - zero_b) mult_b, shift) + zero_y), mult / 2^shift = s_in / s_out."""

    mult_a: int = 0
    mult_b: int = 0
    shift: int = 1
    zero_a: int = nx.ACT_ZERO_POINT
    zero_b: int = nx.ACT_ZERO_POINT
    zero_y: int = nx.ACT_ZERO_POINT
    kind: ClassVar[str] = "residual_add"

    def reference(self, a, b):
        return nx.residual_fixed(a, b, self.mult_a, self.mult_b, self.shift, self.zero_a, self.zero_b, self.zero_y)


@dataclass(frozen=True, eq=False)
class Attention(Op):
    """q, k, v u8 (N, D) -> u8 (N, D), heads side by side; for head h (columns h*hd .. (h+1)*hd) one of two softmaxes:

    softmax "deferred" (the default of `quantize`; nx.attention_deferred_head), integer only:
    t = round_shift(sum_d (q-128)(k-128) * score_fixed[h], score_shift[h])   integer scores (int16 by construction)
    e = exp_lut8[h][min(max_j t - t, 255)], s = sum_j e                      u8 numerators (max 255), never normalised
    y = requantize_fixed(sum_j e (v-128), r, out_shift[h]), r = (2 out_fixed[h] + s) / (2 s)   one division per row

    softmax "normalized" (prob_bits 8..16):
    s = sat(rne(f32(sum_d (q-128)(k-128)) * score_mult[h]) + 128)        u8 (N, N), 1/sqrt(hd) folded in
    p = softmax_int(s, exp_lut[h], M)                                     (N, N), 0..M, scale 1/M
    o = sat(rne(f32(sum_j p (v-128)) * out_mult[h]) + 128)                u8 (N, hd)
    M = 2**prob_bits - 1: 255 (u8 probabilities); 12 bits resolve diffuse attention over hundreds of tokens.
    Each mode's constants are empty arrays in the other mode.
    """

    heads: int = 1
    score_mult: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)  # f32 (heads,)
    exp_lut: np.ndarray = field(default_factory=lambda: np.zeros((0, 256), np.int32), repr=False)  # i32 (heads, 256)
    out_mult: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)  # f32 (heads,)
    prob_bits: int = 8  # normalized: probability precision inside the op (8: uint8, 9..16: uint16)
    softmax: str = "normalized"  # "deferred" | "normalized" (absent in files written before the deferred mode)
    score_fixed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32), repr=False)  # i32 (heads,)
    score_shift: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32), repr=False)  # i32 (heads,)
    exp_lut8: np.ndarray = field(default_factory=lambda: np.zeros((0, 256), np.uint8), repr=False)  # u8 (heads, 256)
    out_fixed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32), repr=False)  # i32 (heads,)
    out_shift: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32), repr=False)  # i32 (heads,)
    kind: ClassVar[str] = "attention"

    SOFTMAXES: ClassVar[tuple[str, ...]] = ("deferred", "normalized")

    def reference(self, q, k, v):
        if self.softmax not in self.SOFTMAXES:
            raise ValueError(f"{self.name}: unknown softmax {self.softmax!r}")
        n, d = q.shape
        hd = d // self.heads
        out = np.empty((n, d), dtype=np.uint8)
        for h in range(self.heads):
            cols = slice(h * hd, (h + 1) * hd)
            qc, kc, vc = nx.centered(q[:, cols]), nx.centered(k[:, cols]), nx.centered(v[:, cols])
            if self.softmax == "deferred":
                out[:, cols] = nx.attention_deferred_head(qc, kc, vc, self.score_fixed[h], self.score_shift[h],
                                                          self.exp_lut8[h], self.out_fixed[h], self.out_shift[h])
                continue
            s = nx.requantize(nx.matmul_acc(qc, kc.T), self.score_mult[h])
            p = nx.softmax_int(s, self.exp_lut[h], (1 << self.prob_bits) - 1)
            out[:, cols] = nx.requantize(nx.matmul_acc(p.astype(np.int64), vc), self.out_mult[h])
        return out

    def macs(self, shapes):
        n, d = shapes[self.inputs[0]]
        return 2 * n * n * d


@dataclass(frozen=True, eq=False)
class TokenMean(Op):
    """x u8 (C*P, D) -> u8 (1, F): sum of (x - 128) over patches (F = C*D, "concat") or over all tokens
    (F = D, "mean"), then requantised, integer only: requantize_fixed(sum, mult, shift) (mult / 2**shift =
    s_x / (count s_y), numerics.fixed_multiplier)."""

    channels: int = 1
    reduction: str = "concat"
    mult: int = 1 << 30
    shift: int = 30
    kind: ClassVar[str] = "token_mean"

    def reference(self, x):
        n, d = x.shape
        xc = nx.centered(x).reshape(self.channels, n // self.channels, d)
        acc = xc.sum(axis=1).reshape(1, -1) if self.reduction == "concat" else xc.sum(axis=(0, 1)).reshape(1, d)
        return nx.requantize_fixed(acc, self.mult, self.shift)


@dataclass(frozen=True, eq=False)
class PatchFeatures(Op):
    """x u8 (C*P, D) -> u8 (P, F) for the regression head. "concat": y[p, c*D + d] = x[c*P + p, d] (a copy);
    "mean": y[p, d] = requantize_fixed(sum_c (x[c*P + p, d] - 128), mult, shift) (integer only; unused by
    "concat")."""

    channels: int = 1
    reduction: str = "concat"
    mult: int = 1 << 30
    shift: int = 30
    kind: ClassVar[str] = "patch_features"

    def reference(self, x):
        n, d = x.shape
        xr = np.asarray(x).reshape(self.channels, n // self.channels, d)
        if self.reduction == "concat":
            return xr.transpose(1, 0, 2).reshape(n // self.channels, self.channels * d).copy()
        return nx.requantize_fixed(nx.centered(xr).sum(axis=0), self.mult, self.shift)


@dataclass(frozen=True, eq=False)
class DepthwiseConv1d(Op):
    """x u8 (P, H) -> u8 (P, H), kernel 3, padding 1 (padding is real zero = code 128):
    acc[p, h] = bias[h] + sum_j w[h, j] (x[p + j - 1, h] - 128); y = requantize_fixed(acc, mult[h], shift[h])."""

    weight: np.ndarray = field(default=None, repr=False)  # s8 (H, 3)
    bias: np.ndarray = field(default=None, repr=False)  # i32 (H)
    mult: np.ndarray = field(default=None, repr=False)  # i32 (H), numerics.fixed_multiplier
    shift: np.ndarray = field(default=None, repr=False)  # i32 (H)
    kind: ClassVar[str] = "depthwise_conv1d"

    def reference(self, x):
        xc = nx.centered(x)
        padded = np.pad(xc, ((1, 1), (0, 0)))
        w = np.asarray(self.weight, dtype=np.int64)
        acc = np.asarray(self.bias, dtype=np.int64) + sum(w[:, j] * padded[j : j + xc.shape[0]] for j in range(3))
        return nx.requantize_fixed(acc, self.mult, self.shift)

    def macs(self, shapes):
        return 3 * int(np.prod(shapes[self.inputs[0]]))


@dataclass(frozen=True, eq=False)
class Interpolate(Op):
    """x f32 (P, K) -> f32 (L, K), linear: y[l] = x[i0[l]] * w0[l] + x[i1[l]] * w1[l] (two float32 products,
    one float32 sum, no FMA); indices and weights precomputed as torch's align_corners=False does."""

    index0: np.ndarray = field(default=None, repr=False)  # i32 (L)
    index1: np.ndarray = field(default=None, repr=False)  # i32 (L)
    weight0: np.ndarray = field(default=None, repr=False)  # f32 (L)
    weight1: np.ndarray = field(default=None, repr=False)  # f32 (L)
    kind: ClassVar[str] = "interpolate"

    def reference(self, x):
        x = np.asarray(x, dtype=nx.F32)
        a = (x[self.index0] * self.weight0[:, None].astype(nx.F32)).astype(nx.F32)
        b = (x[self.index1] * self.weight1[:, None].astype(nx.F32)).astype(nx.F32)
        return (a + b).astype(nx.F32)


@dataclass(frozen=True, eq=False)
class Transpose(Op):
    """x u8 (R, C) -> u8 (C, R): y[c, r] = x[r, c] (the speech model's channel-major input -> time-major)."""

    kind: ClassVar[str] = "transpose"

    def reference(self, x):
        return np.ascontiguousarray(np.asarray(x).T)


@dataclass(frozen=True, eq=False)
class Conv1d(Op):
    """x u8 (T, Cin) time-major -> u8 (T', M): y = requantize_fixed(conv1d_acc(x, w, bias, stride, padding), mult[m],
    shift[m]); weight s8 (M, k, Cin) tap-major, bias i32 (M), mult/shift i32 (M) (numerics.fixed_multiplier);
    T' = (T + 2 padding - k) // stride + 1.
    BatchNorm is folded into weight and bias at export."""

    weight: np.ndarray = field(default=None, repr=False)
    bias: np.ndarray = field(default=None, repr=False)
    mult: np.ndarray = field(default=None, repr=False)
    shift: np.ndarray = field(default=None, repr=False)
    stride: int = 1
    padding: int = 0
    kind: ClassVar[str] = "conv1d"

    def reference(self, x):
        return nx.requantize_fixed(nx.conv1d_acc(x, self.weight, self.bias, self.stride, self.padding), self.mult,
                                   self.shift)

    def macs(self, shapes):
        m, k, cin = self.weight.shape
        return int(np.prod(shapes[self.output][:-1])) * m * k * cin


@dataclass(frozen=True, eq=False)
class RelativeAttention(Op):
    """Attention with learned relative positions (the speech encoder): q, k, v u8 (N, D) -> u8 (N, D); head h:

    s[i, j] = sat(rne(f32(sum_d (q-128)(k[j]-128 + rel_key[h, j-i+W-1])) * score_mult[h]) + 128)   |j - i| < W
    p = softmax_int over the window only (pairs with |j - i| >= W get p = 0, as upstream's -1e8 does)
    o = sat(rne(f32(sum_j p (v-128)) * out_mult[h]) + 128)
    rel_key i16 (H, 2W-1, hd): the float embeddings in units of the key scale / sqrt(hd), so that the position
    logits q.E share the q.k accumulator (upstream adds them unscaled to q.k / sqrt(hd)). W = window.
    """

    heads: int = 1
    window: int = 1
    score_mult: np.ndarray = field(default=None, repr=False)  # f32 (heads,)
    exp_lut: np.ndarray = field(default=None, repr=False)  # i32 (heads, 256)
    out_mult: np.ndarray = field(default=None, repr=False)  # f32 (heads,)
    rel_key: np.ndarray = field(default=None, repr=False)  # i16 (heads, 2W-1, hd)
    prob_bits: int = 8
    kind: ClassVar[str] = "rel_attention"

    def reference(self, q, k, v):
        n, d = q.shape
        hd = d // self.heads
        mask = nx.relative_window_mask(n, self.window)
        out = np.empty((n, d), dtype=np.uint8)
        for h in range(self.heads):
            cols = slice(h * hd, (h + 1) * hd)
            acc = nx.relative_scores_acc(nx.centered(q[:, cols]), nx.centered(k[:, cols]), self.rel_key[h], self.window)
            s = nx.requantize(acc, self.score_mult[h])
            p = nx.softmax_int_masked(s, self.exp_lut[h], mask, (1 << self.prob_bits) - 1)
            out[:, cols] = nx.requantize(nx.matmul_acc(p.astype(np.int64), nx.centered(v[:, cols])), self.out_mult[h])
        return out

    def macs(self, shapes):
        n, d = shapes[self.inputs[0]]
        pairs = int(nx.relative_window_mask(n, self.window).sum())
        return 2 * pairs * d  # scores and p.v over the pairs inside the window


OP_KINDS: dict[str, type[Op]] = {
    cls.kind: cls
    for cls in (QuantizeInput, Reshape, Linear, LinearDequant, Lut, LayerNorm, ResidualAdd, Attention, TokenMean,
                PatchFeatures, DepthwiseConv1d, Interpolate, Transpose, Conv1d, RelativeAttention)
}


@dataclass(frozen=True, eq=False)
class Program:
    """A whole integer model: tensors by name, ops in execution order, one float input and one float output."""

    tensors: dict[str, TensorInfo]
    ops: tuple[Op, ...]
    input: str
    output: str
    metadata: dict[str, str] = field(default_factory=dict)

    def run(self, x: np.ndarray, keep: bool = False) -> dict[str, np.ndarray]:
        """Golden execution of one window x (C, T) float32; returns {output: y}, or every tensor if keep."""
        values = {self.input: np.asarray(x, dtype=np.float32)}
        for op in self.ops:
            values[op.output] = op.reference(*(values[name] for name in op.inputs))
            expected = self.tensors[op.output]
            if values[op.output].shape != expected.shape:
                raise AssertionError(f"{op.name}: reference produced {values[op.output].shape}, IR says {expected.shape}")
        return values if keep else {self.output: values[self.output]}

    def macs(self) -> int:
        shapes = {name: t.shape for name, t in self.tensors.items()}
        return sum(op.macs(shapes) for op in self.ops)
