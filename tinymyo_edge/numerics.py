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


def _activation_lut(fn, scale_in: float, scale_out: float, zp_in: int, zp_out: int) -> np.ndarray:
    x = (np.arange(256, dtype=np.float64) - zp_in) * float(scale_in)
    y = np.array([fn(v) for v in x], dtype=np.float64) / float(scale_out)
    return saturate_u8(np.rint(y) + zp_out)


def gelu_lut(scale_in: float, scale_out: float, zp_in: int = ACT_ZERO_POINT,
             zp_out: int = ACT_ZERO_POINT) -> np.ndarray:
    """uint8[256]: exact (erf) GELU from one u8 code (zero point zp_in) to another (zp_out); the table is the op."""
    return _activation_lut(lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))), scale_in, scale_out, zp_in,
                           zp_out)


def silu_lut(scale_in: float, scale_out: float, zp_in: int = ACT_ZERO_POINT,
             zp_out: int = ACT_ZERO_POINT) -> np.ndarray:
    """uint8[256]: SiLU x * sigmoid(x) from one u8 code (zero point zp_in) to another (zp_out)."""
    return _activation_lut(lambda v: v / (1.0 + math.exp(-v)), scale_in, scale_out, zp_in, zp_out)


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
    """floor(sqrt(v)) for non-negative int64 v < 2**62: a float64 estimate corrected by one step each way."""
    v = np.asarray(v, dtype=np.int64)
    r = np.floor(np.sqrt(v.astype(np.float64))).astype(np.int64)
    r = np.where(r * r > v, r - 1, r)
    return np.where((r + 1) * (r + 1) <= v, r + 1, r)


# LayerNorm, integer only (issue 13). Per row of D codes x:
#   s = sum x, q = sum x^2; var = D q - s^2 (= sum(c^2) / D exactly, c = D x - s: sum(c^2) = D (D q - s^2));
#   sd = max(1, isqrt(var)); R = floor(2^K / sd)          one division per row
#   n = round_shift(c R, K - F)                           c / sd with F fractional bits, int32
#   y = sat(round_shift(n G[i] + B[i], S[i]) + zp)        G = gamma / s_out in units 2^(F - S), B = beta / s_out 2^S
# The input zero point cancels in c. |c| / sd < sqrt(3 (D - 1)) (layernorm_ratio_bound), which bounds |c R| and |n|.
LN_FRAC_BITS = 12  # F: fractional bits of the normalised value n (G then keeps about 31 - F - log2 ratio bits)
LN_SHIFT_MAX = 30  # largest per-channel affine shift S


def layernorm_ratio_bound(dim: int) -> int:
    """Strict integer upper bound of |c| / sd over all u8 rows of `dim` codes.

    Proof: sum c = 0, so c_i = -sum_{j != i} c_j and (Cauchy-Schwarz) c_i^2 <= (D - 1)(sum(c^2) - c_i^2), i.e.
    c_i^2 <= (D - 1) sum(c^2) / D = (D - 1) var. With sd = isqrt(var) >= 1, var <= sd^2 + 2 sd, so
    (c_i / sd)^2 <= (D - 1)(1 + 2 / sd) <= 3 (D - 1). var = 0 means every c is 0."""
    return math.isqrt(3 * max(dim - 1, 0)) + 1


def layernorm_recip_bits(dim: int, frac_bits: int = LN_FRAC_BITS) -> int:
    """K: the largest reciprocal precision with |c R| + 2^(K - F - 1) < 2^31 (R <= 2^K / sd), K <= 30."""
    ratio = layernorm_ratio_bound(dim)
    for k in range(30, frac_bits, -1):
        if ratio * (1 << k) + (1 << (k - frac_bits - 1)) <= INT32_MAX:
            return k
    raise ValueError(f"LayerNorm over {dim} features: no reciprocal precision K > {frac_bits} keeps c * R in int32")


def layernorm_affine(gain: np.ndarray, bias: np.ndarray, dim: int, frac_bits: int = LN_FRAC_BITS, where: str = ""):
    """Real per-channel gain g = gamma / s_out and bias b = beta / s_out -> int32 G, B, S (per channel): the largest
    S <= LN_SHIFT_MAX with |n|max |G| + |B| + 2^(S-1) < 2^31, G = round(g 2^(S - F)), B = round(b 2^S).
    |n|max = ratio bound * 2^F. Raises ValueError (naming `where`) when even S = 1 overflows."""
    g = np.asarray(gain, dtype=np.float64).reshape(-1)
    b = np.asarray(bias, dtype=np.float64).reshape(-1)
    if not (np.all(np.isfinite(g)) and np.all(np.isfinite(b))):
        raise ValueError(f"{where}: LayerNorm gain/bias must be finite")
    n_max = layernorm_ratio_bound(dim) << frac_bits
    mult = np.zeros(len(g), np.int64)
    add = np.zeros(len(g), np.int64)
    shift = np.zeros(len(g), np.int64)
    for i in range(len(g)):
        for s in range(LN_SHIFT_MAX, 0, -1):
            gi = int(np.floor(g[i] * 2.0 ** (s - frac_bits) + 0.5))
            bi = int(np.floor(b[i] * 2.0**s + 0.5))
            if n_max * abs(gi) + abs(bi) + (1 << (s - 1)) <= INT32_MAX:
                mult[i], add[i], shift[i] = gi, bi, s
                break
        else:
            raise ValueError(f"{where}: LayerNorm channel {i} (gain {g[i]:g}, bias {b[i]:g}) cannot stay in int32")
    return mult.astype(np.int32), add.astype(np.int32), shift.astype(np.int32)


def layernorm_fixed(x: np.ndarray, gain: np.ndarray, bias: np.ndarray, shift: np.ndarray, recip_bits: int,
                    frac_bits: int, zero_point: int = ACT_ZERO_POINT) -> np.ndarray:
    """Integer LayerNorm over the last axis of u8 x (see the comment above LN_FRAC_BITS); gain/bias/shift int32 (D)."""
    xi = np.asarray(x, dtype=np.int64)
    dim = xi.shape[-1]
    s = xi.sum(axis=-1, keepdims=True)
    var = dim * (xi * xi).sum(axis=-1, keepdims=True) - s * s
    sd = np.maximum(1, isqrt_floor(var))
    recip = (np.int64(1) << recip_bits) // sd
    n = round_shift((dim * xi - s) * recip, recip_bits - frac_bits)
    u = n * np.asarray(gain, dtype=np.int64) + np.asarray(bias, dtype=np.int64)
    return saturate_u8(round_shift(u, np.asarray(shift, dtype=np.int64)) + zero_point)


# ResidualAdd, integer only: y = sat(round_shift((a - za) Ra + (b - zb) Rb, T) + zy), Ra / 2^T = s_a / s_y.
def residual_constants(ratio_a: float, ratio_b: float, where: str = "") -> tuple[int, int, int]:
    """(Ra, Rb, T): the largest T <= 30 with 255 (|Ra| + |Rb|) + 2^(T-1) < 2^31 (|a - za| <= 255), Ra = round(ra 2^T)."""
    ra, rb = float(ratio_a), float(ratio_b)
    if not (math.isfinite(ra) and math.isfinite(rb)):
        raise ValueError(f"{where}: residual scale ratios must be finite, got {ra}, {rb}")
    for t in range(30, 0, -1):
        ma, mb = math.floor(ra * 2.0**t + 0.5), math.floor(rb * 2.0**t + 0.5)
        if 255 * (abs(ma) + abs(mb)) + (1 << (t - 1)) <= INT32_MAX:
            return ma, mb, t
    raise ValueError(f"{where}: residual scale ratios {ra:g}, {rb:g} cannot keep the sum in int32")


def residual_fixed(a: np.ndarray, b: np.ndarray, mult_a: int, mult_b: int, shift: int, zero_a: int = ACT_ZERO_POINT,
                   zero_b: int = ACT_ZERO_POINT, zero_y: int = ACT_ZERO_POINT) -> np.ndarray:
    """y = sat(round_shift((a - za) Ra + (b - zb) Rb, T) + zy) on u8 a, b."""
    acc = (np.asarray(a, dtype=np.int64) - zero_a) * mult_a + (np.asarray(b, dtype=np.int64) - zero_b) * mult_b
    return saturate_u8(round_shift(acc, shift) + zero_y)


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


# ------------------------------------------------------------------------------- attention, deferred softmax
SCORE_INT16_MAX = 2**15 - 1  # deferred attention: integer scores are held as int16 (the C score rows)
NUMERATOR_MAX = 255  # deferred attention: u8 numerators, the row maximum's is always 255
DEFERRED_D_MAX = 255  # deferred attention: d = min(rowmax - t, DEFERRED_D_MAX) indexes the 256-entry lut8


def exp_lut8(step: float) -> np.ndarray:
    """uint8[256]: round(255 exp(-d step)) for d = 0..255 (lut8[0] = 255), step = real score of one integer unit."""
    d = np.arange(256, dtype=np.float64)
    return np.floor(NUMERATOR_MAX * np.exp(-d * float(step)) + 0.5).astype(np.uint8)


def score_fixed(m: float, acc_max: int, t_max: int = SCORE_INT16_MAX) -> tuple[int, int]:
    """Real score multiplier m > 0 (integer score units per q.k^T accumulator unit) -> (M, S), M / 2**S ~ m at the
    largest S (1 <= S <= 62) with acc_max M + 2**(S-1) < 2**31 (the score product is int32 for |acc| <= acc_max).
    M may be lowered by rounding slack (at most m 2**(S-10)) so that round_shift(acc_max M, S) <= t_max (scores held
    in int16). ValueError when no S >= 1 keeps the product in int32, M would be 0, or m exceeds the int16 bound."""
    for s in range(FIXED_SHIFT_MAX, 0, -1):
        mult = int(math.floor(m * 2.0**s + 0.5))
        if mult < 1:
            break
        half = 1 << (s - 1)
        if acc_max * mult + half < 2**31:
            top = ((t_max + 1) * (1 << s) - half - 1) // acc_max  # largest M with (acc_max M + half) >> s <= t_max
            if mult > top and top < mult * (1 - 2.0**-10):
                raise ValueError(f"score multiplier {m} maps |acc| <= {acc_max} beyond the int16 scores "
                                 f"(at most {t_max} units)")
            mult = min(mult, top)
            if mult >= 1:
                return mult, s
            break
    raise ValueError(f"score multiplier {m} cannot be held as an int32 product with |acc| <= {acc_max}")


def score_step(scale_q: float, scale_k: float, head_dim: int, mult: int, shift: int) -> float:
    """The real score of one integer score unit t = round_shift(acc * M, S): s_q s_k 2**S / (sqrt(hd) M)."""
    return float(scale_q) * float(scale_k) * 2.0**shift / (math.sqrt(head_dim) * mult)


def integer_scores(qc: np.ndarray, kc: np.ndarray, mult, shift) -> np.ndarray:
    """t[i, j] = round_shift(sum_d qc[i, d] kc[j, d] * M, S) (int64; the builder keeps it within int16)."""
    return round_shift(matmul_acc(qc, np.asarray(kc).T) * np.int64(mult), shift)


def softmax_deferred(t: np.ndarray, lut8: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numerators relative to the row maximum, never normalised: e = lut8[min(max_j t - t, 255)] (int64, 0..255,
    the maximum's 255) and the row sums s (keepdims, >= 255)."""
    t = np.asarray(t, dtype=np.int64)
    d = np.minimum(t.max(axis=-1, keepdims=True) - t, DEFERRED_D_MAX)
    e = np.asarray(lut8, dtype=np.int64)[d]
    return e, e.sum(axis=-1, keepdims=True)


def deferred_reciprocal(s: np.ndarray, out_mult) -> np.ndarray:
    """r = floor((2 Mo + s) / (2 s)) = round half up of Mo / s: one division per output row (int64)."""
    s = np.asarray(s, dtype=np.int64)
    return (2 * np.int64(out_mult) + s) // (2 * s)


def attention_deferred_head(qc, kc, vc, score_mult, score_shift, lut8, out_mult, out_shift,
                            zero_point: int = ACT_ZERO_POINT) -> np.ndarray:
    """One head of the deferred-softmax attention, q, k, v centred (int64 (N, hd)) -> u8 (N, hd):
    t = integer_scores; e, s = softmax_deferred(t); o = e . vc (int32); r = deferred_reciprocal(s, Mo);
    y = requantize_fixed(o, r, So, zp) = sat(round_shift(o r, So) + zp)."""
    e, s = softmax_deferred(integer_scores(qc, kc, score_mult, score_shift), lut8)
    o = matmul_acc(e, vc)
    return requantize_fixed(o, deferred_reciprocal(s, out_mult), out_shift, zero_point)


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
