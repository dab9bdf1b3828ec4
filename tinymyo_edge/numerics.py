"""The one definition of the integer arithmetic: rounding, requantisation, tables and each op's reference.

Everything that must agree bit for bit derives from this file: the int8 ONNX builder (quant/), the numpy golden
executor (ir/), and the C header generated for the kernels (codegen/). The semantics are those measured exact
against onnxruntime (see ../shared/NUMERICS.md): C integer semantics (truncating division, wrap), round half to even,
IEEE float32 single operations with no fused multiply-add.

Activations are int8 carried as uint8 with zero point 128 (u8 = s8 + 128). Softmax probabilities are uint8 with
zero point 0 and scale 1/255. Weights are int8 symmetric (zero point 0), biases int32.
"""

from __future__ import annotations

import math

import numpy as np

ACT_ZERO_POINT = 128  # u8 activations carry s8 + 128
PROB_SCALE = 1.0 / 255.0  # softmax output: uint8, zero point 0
EXP_LUT_BITS = 20  # softmax exp table: round(2**EXP_LUT_BITS * exp(-d * s)), d = rowmax - x in 0..255
LN_FRAC_BITS = 14  # LayerNorm: n = (c << LN_FRAC_BITS) / sd, truncating
INT32_MAX = 2**31 - 1
F32 = np.float32


# ----------------------------------------------------------------------------------------------- rounding primitives
def round_half_even(x: np.ndarray) -> np.ndarray:
    """Round float32 values half to even (C nearbyintf in the default mode, ONNX Round/QuantizeLinear)."""
    return np.rint(np.asarray(x, dtype=F32))


def saturate_u8(q: np.ndarray) -> np.ndarray:
    """Clamp integer-valued numbers to 0..255 and return uint8 (clamped in their own type: the same values as via
    float64, without converting int64 scores or accumulators first)."""
    q = np.asarray(q)
    if q.dtype.kind not in "iuf":
        q = q.astype(np.float64)
    return np.clip(q, 0, 255).astype(np.uint8)


def trunc_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer division truncating toward zero (C `/`, ONNX integer Div); numpy's // floors instead."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    q = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (b < 0), -q, q)


def quantize_float(x: np.ndarray, scale: float, zero_point: int = ACT_ZERO_POINT) -> np.ndarray:
    """ONNX QuantizeLinear to uint8: sat(rne(x / scale) + zp), true float32 division; NaN -> 0, +-inf saturate."""
    x = np.asarray(x, dtype=F32)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        q = round_half_even(x / F32(scale)).astype(np.float64) + zero_point
    q = np.where(np.isnan(q), 0.0, q)
    return saturate_u8(q)


def requant_multiplier(scale_in: float, scale_w: np.ndarray, scale_out: float) -> np.ndarray:
    """Per-channel requantisation multiplier as onnxruntime's QGemm/QLinearMatMul derive it: f32(f32(sa*sb)/sy)."""
    prod = (F32(scale_in) * np.asarray(scale_w, dtype=F32)).astype(F32)
    return (prod / F32(scale_out)).astype(F32)


def requantize(acc: np.ndarray, multiplier: np.ndarray, zero_point: int = ACT_ZERO_POINT) -> np.ndarray:
    """int32 accumulator -> uint8: sat(rne(f32(acc) * m) + zp). f32(acc) rounds half to even above 2**24."""
    f = np.asarray(acc).astype(F32) * np.asarray(multiplier, dtype=F32)
    return saturate_u8(round_half_even(f).astype(np.float64) + zero_point)


def round_shift(a: np.ndarray, shift) -> np.ndarray:
    """floor((a + 2**(shift-1)) / 2**shift) for int64 a and shift >= 1 (per element or broadcast): round half up.
    C: `(a + ((int64_t)1 << (s - 1))) >> s` with an arithmetic shift; ONNX: _Body.round_shift."""
    a = np.asarray(a, dtype=np.int64)
    s = np.asarray(shift, dtype=np.int64)
    return (a + (np.int64(1) << (s - 1))) >> s


FIXED_MULT_BITS = 31  # fixed-point multipliers M: 2**30 <= M < 2**31 (int32), value M / 2**S
FIXED_SHIFT_MAX = 62  # the product acc * M and its rounding stay within int64 for |acc| < 2**31


def fixed_multiplier(m) -> tuple[np.ndarray, np.ndarray]:
    """Real multipliers m > 0 -> (M int64, S int64) with M / 2**S the nearest value of 31 significant bits.
    Multipliers below 2**-31 get S = 62 and a smaller M (0 only when m < 2**-63)."""
    m = np.atleast_1d(np.asarray(m, dtype=np.float64))
    if np.any(~np.isfinite(m)) or np.any(m <= 0):
        raise ValueError(f"fixed_multiplier: multipliers must be finite and > 0, got {m}")
    exp = np.floor(np.log2(m)).astype(np.int64)
    shift = np.clip(FIXED_MULT_BITS - 1 - exp, 1, FIXED_SHIFT_MAX)
    mult = np.floor(m * np.exp2(shift.astype(np.float64)) + 0.5).astype(np.int64)
    carry = mult >= (1 << FIXED_MULT_BITS)  # m just below a power of two rounds up to 2**31
    mult = np.where(carry, mult >> 1, mult)
    shift = np.where(carry, shift - 1, shift)
    if np.any(shift < 1):
        raise ValueError(f"fixed_multiplier: multiplier {m.max()} >= 2**30 is out of range")
    return mult, shift


def requantize_fixed(acc: np.ndarray, mult, shift, zero_point: int = ACT_ZERO_POINT) -> np.ndarray:
    """int32 accumulator -> uint8, integer only: sat(round_shift(acc * M, S) + zp); acc * M in int64."""
    return saturate_u8(round_shift(np.asarray(acc, dtype=np.int64) * np.asarray(mult, dtype=np.int64), shift)
                       + zero_point)


def dequantize_acc(acc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """int32 accumulator -> float32 output: f32(acc) * scale (one float32 multiply)."""
    return (np.asarray(acc).astype(F32) * np.asarray(scale, dtype=F32)).astype(F32)


# ------------------------------------------------------------------------------------------------------------- tables
def exp_lut(score_scale: float, bits: int = EXP_LUT_BITS) -> np.ndarray:
    """int32[256]: round(2**bits * exp(-d * score_scale)) for d = 0..255 (computed once, offline, stored)."""
    d = np.arange(256, dtype=np.float64)
    return np.floor(np.exp(-d * float(score_scale)) * 2.0**bits + 0.5).astype(np.int32)


def _activation_lut(fn, scale_in: float, scale_out: float) -> np.ndarray:
    x = (np.arange(256, dtype=np.float64) - ACT_ZERO_POINT) * float(scale_in)
    y = np.array([fn(v) for v in x], dtype=np.float64) / float(scale_out)
    return saturate_u8(np.rint(y) + ACT_ZERO_POINT)


def gelu_lut(scale_in: float, scale_out: float) -> np.ndarray:
    """uint8[256]: exact (erf) GELU from one u8 code to another; the table is the op."""
    return _activation_lut(lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))), scale_in, scale_out)


def silu_lut(scale_in: float, scale_out: float) -> np.ndarray:
    """uint8[256]: SiLU x * sigmoid(x) from one u8 code to another."""
    return _activation_lut(lambda v: v / (1.0 + math.exp(-v)), scale_in, scale_out)


# ------------------------------------------------------------------------------------------------ op references
def centered(x: np.ndarray) -> np.ndarray:
    """u8 activation codes -> their int8 values as int64 (x - 128)."""
    return np.asarray(x, dtype=np.int64) - ACT_ZERO_POINT


def matmul_acc(a_centered: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact integer matrix product as int64 (float64 BLAS is exact here: |acc| < 2**53 for int8 operands).

    Same result, faster: float32 BLAS when K * max|a| * max|b| <= 2**24, because every product and every partial
    sum is then an integer float32 holds exactly, whatever the summation order (FMA or not)."""
    a, b = np.asarray(a_centered), np.asarray(b)
    bound = a.shape[-1] * int(np.max(np.abs(a), initial=0)) * int(np.max(np.abs(b), initial=0))
    dtype = np.float32 if bound <= 2**24 else np.float64
    return (a.astype(dtype) @ b.astype(dtype)).astype(np.int64)


def linear_acc(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """acc[n, m] = bias[m] + sum_k (x[n, k] - 128) * w[m, k]; x u8 (N, K), w s8 (M, K), bias i32 (M)."""
    return matmul_acc(centered(x), np.asarray(weight, dtype=np.int64).T) + np.asarray(bias, dtype=np.int64)


def softmax_int(scores: np.ndarray, lut: np.ndarray, prob_max: int = 255) -> np.ndarray:
    """Integer softmax over the last axis of u8 scores -> probabilities in 0..prob_max (scale 1/prob_max, zero
    point 0): uint8 for the default prob_max 255, uint16 above.

    d = rowmax - x; e = lut[d]; s = sum(e); p = (2 M e + s) / (2 s), truncating (= round half up of M e / s), M = prob_max.
    """
    x = np.asarray(scores, dtype=np.int64)
    d = x.max(axis=-1, keepdims=True) - x
    e = np.asarray(lut, dtype=np.int64)[d]
    s = e.sum(axis=-1, keepdims=True)
    p = (2 * prob_max * e + s) // (2 * s)  # operands non-negative: floor == truncation
    return p.astype(np.uint8 if prob_max <= 255 else np.uint16)


def isqrt_floor(v: np.ndarray) -> np.ndarray:
    """floor(sqrt(v)) for non-negative int64 (equals floor(sqrt((double)v)) for v < 2**52)."""
    return np.array([math.isqrt(int(t)) for t in np.asarray(v).ravel()], dtype=np.int64).reshape(np.shape(v))


def layernorm_int(x: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Integer LayerNorm over the last axis (D) of u8 x, one float affine step.

    c = D x - sum(x); var = sum(c^2) / D; sd = max(1, isqrt(var)); n = (c << 14) / sd (truncating);
    y = sat(rne(f32(n) * gain + bias) + 128), gain = gamma / (2**14 * s_out), bias = beta / s_out (float32).
    """
    xi = np.asarray(x, dtype=np.int64)
    dim = xi.shape[-1]
    c = dim * xi - xi.sum(axis=-1, keepdims=True)
    var = (c * c).sum(axis=-1, keepdims=True) // dim
    sd = np.maximum(1, isqrt_floor(var))
    n = trunc_div(c * (1 << LN_FRAC_BITS), sd)
    t = (n.astype(F32) * np.asarray(gain, dtype=F32)).astype(F32)
    t = (t + np.asarray(bias, dtype=F32)).astype(F32)
    return saturate_u8(round_half_even(t).astype(np.float64) + ACT_ZERO_POINT)


def residual_add(a: np.ndarray, b: np.ndarray, scale_a: float, scale_b: float) -> np.ndarray:
    """y = sat(rne((f32(a) - 128) * ra + (f32(b) - 128) * rb) + 128): three float32 operations, no FMA."""
    fa = ((np.asarray(a, dtype=F32) - F32(ACT_ZERO_POINT)) * F32(scale_a)).astype(F32)
    fb = ((np.asarray(b, dtype=F32) - F32(ACT_ZERO_POINT)) * F32(scale_b)).astype(F32)
    return saturate_u8(round_half_even((fa + fb).astype(F32)).astype(np.float64) + ACT_ZERO_POINT)


def lut_u8(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """y = table[x] for u8 x and a uint8[256] table."""
    return np.asarray(table, dtype=np.uint8)[np.asarray(x, dtype=np.uint8)]


def exp_lut_bits(tokens: int, prob_max: int = 255) -> int:
    """Largest softmax table precision (<= EXP_LUT_BITS) keeping the int32 softmax sums in range for a row of
    `tokens` scores: s = sum(e) <= tokens * 2**bits, and both 2 * prob_max * e + s and 2 * s must stay below 2**31."""
    for bits in range(EXP_LUT_BITS, 7, -1):
        top = 1 << bits
        if 2 * prob_max * top + tokens * top <= INT32_MAX and 2 * tokens * top <= INT32_MAX:
            return bits
    raise ValueError(f"{tokens} tokens per softmax row cannot keep the integer sums within int32")


# ------------------------------------------------------------------------------------------ speech ops (issue 16)
REL_KEY_MAX = 2**15 - 1  # relative-position key codes are int16


def conv1d_acc(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """Time-major Conv1d: x u8 (T, Cin), w s8 (M, k, Cin), bias i32 (M) -> acc int64 (T', M),
    acc[t, m] = bias[m] + sum_j sum_c w[m, j, c] (x[t*stride + j - padding, c] - 128), padding = real zero (code 128),
    T' = (T + 2 padding - k) // stride + 1."""
    xc = np.pad(centered(x), ((padding, padding), (0, 0)))
    m, k, cin = np.asarray(weight).shape
    t_out = (xc.shape[0] - k) // stride + 1
    cols = np.stack([xc[j : j + stride * (t_out - 1) + 1 : stride] for j in range(k)], axis=1)  # (T', k, Cin)
    return matmul_acc(cols.reshape(t_out, k * cin), np.asarray(weight, np.int64).reshape(m, k * cin).T) \
        + np.asarray(bias, dtype=np.int64)


def relative_window_mask(tokens: int, window: int) -> np.ndarray:
    """int32 (N, N): 1 where |j - i| < window (the pairs the relative attention sees), else 0."""
    i = np.arange(tokens)
    return (np.abs(i[None, :] - i[:, None]) < window).astype(np.int32)


def relative_index(tokens: int, window: int) -> np.ndarray:
    """int64 (N, N): j - i + window - 1 clipped into 0 .. 2 window - 2 (the relative key row of pair i, j)."""
    i = np.arange(tokens)
    return np.clip(i[None, :] - i[:, None] + window - 1, 0, 2 * window - 2).astype(np.int64)


def relative_scores_acc(qc: np.ndarray, kc: np.ndarray, rel_key: np.ndarray, window: int) -> np.ndarray:
    """acc[i, j] = sum_d qc[i, d] (kc[j, d] + rel_key[j - i + window - 1, d]) for one head (int64; pairs outside
    the window get the clipped row: their scores are masked out of the softmax anyway)."""
    n = qc.shape[0]
    pos = matmul_acc(qc, np.asarray(rel_key, np.int64).T)  # (N, 2W - 1)
    return matmul_acc(qc, kc.T) + np.take_along_axis(pos, relative_index(n, window), axis=1)


def softmax_int_masked(scores: np.ndarray, lut: np.ndarray, mask: np.ndarray, prob_max: int = 255) -> np.ndarray:
    """softmax_int over the entries where mask == 1 only; masked entries get probability 0.

    rowmax over the row of scores * mask (u8 scores are >= 0 and every row has an unmasked entry, so this is the
    max over the unmasked ones); e = lut[rowmax - x] * mask; p = (2 M e + s) / (2 s), truncating."""
    x = np.asarray(scores, dtype=np.int64) * mask
    d = x.max(axis=-1, keepdims=True) - x
    e = np.asarray(lut, dtype=np.int64)[d] * mask
    s = e.sum(axis=-1, keepdims=True)
    p = (2 * prob_max * e + s) // (2 * s)
    return p.astype(np.uint8 if prob_max <= 255 else np.uint16)
