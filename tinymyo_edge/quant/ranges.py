"""Proof of ranges: every integer intermediate of a Program fits the type the int8 ONNX (and the C kernels) hold
it in. Bounds are worst cases over all u8 inputs (|x - 128| <= 128), not calibration observations.

A Program whose sizes or constants could overflow is refused at quantize time with the reason. f32(acc) of an
accumulator above 2**24 rounds (half to even) on both sides identically, so it is reported, not refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import numerics as nx
from ..errors import TinyMyoError
from ..ir.program import Program

INT32_LIMIT = 2**31  # |v| < 2**31 for int32
INT64_LIMIT = 2**63
DOUBLE_EXACT = 2**52  # floor(sqrt((double) v)) == isqrt(v) below this
F32_EXACT = 2**24


@dataclass(frozen=True)
class Bound:
    op: str
    quantity: str  # what is bounded, with its formula
    value: int  # the worst-case magnitude
    limit: int  # strict upper limit of its type
    type: str

    @property
    def ok(self) -> bool:
        return self.value < self.limit


def _matmul_bound(k: int, weight_max: int, bias: np.ndarray) -> int:
    return k * 128 * weight_max + int(np.max(np.abs(np.asarray(bias, np.int64)), initial=0))


def program_bounds(program: Program) -> list[Bound]:
    """All worst-case bounds of the program's integer intermediates."""
    shapes = {n: t.shape for n, t in program.tensors.items()}
    out: list[Bound] = []
    for op in program.ops:
        shape = shapes[op.inputs[0]] if op.inputs else ()
        if op.kind in ("linear", "linear_lut", "linear_dequant"):
            m, k = op.weight.shape
            acc = _matmul_bound(k, 128, op.bias)
            out.append(Bound(op.name, f"accumulator K*128*128 + |bias| (K={k}, input zero point folded into bias)",
                             acc, INT32_LIMIT, "int32"))
            if op.kind == "linear_dequant":
                out.append(Bound(op.name, "accumulator exact in float32 (else f32(acc) rounds half to even)", acc,
                                 max(acc + 1, F32_EXACT), "float32 (informational)"))
            else:
                out += _fixed_requant_bounds(op.name, acc, op.mult, op.shift, op.zero_point)
        elif op.kind in ("depthwise_conv1d", "depthwise_conv1d_lut"):
            acc = _matmul_bound(3, 128, op.bias)
            out.append(Bound(op.name, "accumulator 3*128*128 + |bias|", acc, INT32_LIMIT, "int32"))
            out += _fixed_requant_bounds(op.name, acc, op.mult, op.shift, nx.ACT_ZERO_POINT)
        elif op.kind == "attention" and getattr(op, "softmax", "normalized") == "deferred":
            out += deferred_attention_bounds(op.name, shape[0], shape[1] // op.heads, op.score_fixed, op.score_shift,
                                             op.exp_lut8, op.out_fixed, op.out_shift)
        elif op.kind == "attention":
            n, d = shape
            hd = d // op.heads
            top = int(np.max(op.exp_lut))
            total = n * top
            pmax = (1 << op.prob_bits) - 1
            out += [
                Bound(op.name, f"q.k^T accumulator head_dim*128*128 (head_dim={hd})", hd * 128 * 128, INT32_LIMIT, "int32"),
                Bound(op.name, f"softmax 2*{pmax}*e + sum, sum <= tokens*lut[0] (tokens={n})", 2 * pmax * top + total,
                      INT32_LIMIT, "int32"),
                Bound(op.name, "softmax 2*sum", 2 * total, INT32_LIMIT, "int32"),
                Bound(op.name, f"p.v accumulator 128*sum(p), sum(p) <= {pmax} + tokens/2 (tokens={n})",
                      128 * (pmax + n), INT32_LIMIT, "int32"),
            ]
            if op.prob_bits > 16:
                out.append(Bound(op.name, "probabilities held in 16 bits", pmax, 1 << 16, "uint16"))
            if int(np.min(op.exp_lut[:, 0])) < 1:
                out.append(Bound(op.name, "softmax sum >= lut[0] >= 1 (no division by zero)", 0, 0, "int32"))
        elif op.kind == "conv1d":
            m, k, cin = op.weight.shape
            acc = _matmul_bound(k * cin, 128, op.bias)
            out.append(Bound(op.name, f"accumulator k*Cin*128*128 + |bias| (k*Cin={k * cin})", acc, INT32_LIMIT,
                             "int32"))
            out += _fixed_requant_bounds(op.name, acc, op.mult, op.shift, nx.ACT_ZERO_POINT)
        elif op.kind == "rel_attention":
            out += _rel_attention_bounds(op, shape)
        elif op.kind == "layernorm":
            out += layernorm_bounds(op, shape[-1])
        elif op.kind == "residual_add":
            out += residual_bounds(op)
        elif op.kind == "token_mean":
            n, d = shape
            count = n // op.channels if op.reduction == "concat" else n
            out.append(Bound(op.name, f"sum of {count} centred codes", count * 128, INT32_LIMIT, "int32"))
            out += _fixed_requant_bounds(op.name, count * 128, [op.mult], [op.shift], nx.ACT_ZERO_POINT)
        elif op.kind == "patch_features" and op.reduction == "mean":
            out.append(Bound(op.name, f"sum of {op.channels} centred codes", op.channels * 128, INT32_LIMIT, "int32"))
            out += _fixed_requant_bounds(op.name, op.channels * 128, [op.mult], [op.shift], nx.ACT_ZERO_POINT)
    return out


def _fixed_requant_bounds(name: str, acc: int, mult: np.ndarray, shift: np.ndarray, zero_point: int) -> list[Bound]:
    """numerics.requantize_fixed of an accumulator |acc| <= `acc`: M int32 (the kernels hold it in an int32),
    1 <= S <= 62, |acc M| + 2**(S-1) within int64 (the product and its rounding offset), zp a u8 code."""
    m = np.asarray(mult, np.int64)
    s = np.asarray(shift, np.int64)
    top_m, top_s, low_s = int(np.max(m, initial=0)), int(np.max(s, initial=1)), int(np.min(s, initial=1))
    out = [Bound(name, "fixed-point multiplier M (int32)", top_m, INT32_LIMIT, "int32"),
           Bound(name, "shift S <= 62", top_s, nx.FIXED_SHIFT_MAX + 1, "int32"),
           Bound(name, "|acc * M| + 2**(S-1)", acc * top_m + (1 << (top_s - 1)), INT64_LIMIT, "int64"),
           Bound(name, "output zero point in 0..255", int(zero_point) if zero_point >= 0 else 256, 256, "uint8")]
    if int(np.min(m, initial=0)) < 0 or low_s < 1:
        out.append(Bound(name, "multiplier M >= 0 and shift S >= 1", 1, 0, "int32"))
    return out


def layernorm_bounds(op, d: int) -> list[Bound]:
    """numerics.layernorm_fixed over D codes: sums, statistics, the reciprocal, c R and the per-channel affine
    (|n| <= ratio bound * 2^F, numerics.layernorm_ratio_bound), each in the type the ONNX body and C hold it in."""
    k, f = int(op.recip_bits), int(op.frac_bits)
    ratio = nx.layernorm_ratio_bound(d)
    n_max = ratio << f
    gain = np.abs(np.asarray(op.gain, np.int64))
    bias = np.abs(np.asarray(op.bias, np.int64))
    shift = np.asarray(op.shift, np.int64)
    affine = int(np.max(n_max * gain + bias + (np.int64(1) << (shift - 1)), initial=0))
    s_ok = shift.size == d and int(shift.min(initial=1)) >= 1 and int(shift.max(initial=1)) <= nx.LN_SHIFT_MAX
    return [
        Bound(op.name, f"sum(x^2) <= D*255^2 (D={d})", d * 255 * 255, INT32_LIMIT, "int32"),
        Bound(op.name, f"c = D*x - sum(x), |c| <= (D-1)*255 (D={d})", (d - 1) * 255, INT32_LIMIT, "int32"),
        Bound(op.name, "D*sum(x^2) <= D^2*255^2", d * d * 255 * 255, INT64_LIMIT, "int64"),
        Bound(op.name, "var = D*sum(x^2) - sum(x)^2 <= D^2*255^2/4, exact double sqrt", d * d * 255 * 255 // 4,
              DOUBLE_EXACT, "double"),
        Bound(op.name, f"reciprocal R = floor(2^K / sd) <= 2^K (K={k})", 1 << k, INT32_LIMIT, "int32"),
        Bound(op.name, f"shift of c*R: K - F >= 1 (K={k}, F={f})", 0 if k - f >= 1 else 1, 1, "shift"),
        Bound(op.name, f"|c*R| + 2^(K-F-1) < |c|/sd bound {ratio} * 2^K (K={k}, F={f})",
              ratio * (1 << k) + (1 << max(k - f - 1, 0)), INT32_LIMIT, "int32"),
        Bound(op.name, f"|n*G + B| + 2^(S-1), |n| <= {ratio} * 2^F", affine, INT32_LIMIT, "int32"),
        Bound(op.name, f"per-channel shifts S in 1..{nx.LN_SHIFT_MAX}, one per feature", 0 if s_ok else 1, 1,
              "shift"),
    ]


def residual_bounds(op) -> list[Bound]:
    """numerics.residual_fixed: |a - za|, |b - zb| <= 255 for any u8 codes and zero points in 0..255."""
    zps = (op.zero_a, op.zero_b, op.zero_y)
    acc = 255 * (abs(int(op.mult_a)) + abs(int(op.mult_b))) + (1 << max(int(op.shift) - 1, 0))
    return [
        Bound(op.name, f"|(a-za)*Ra + (b-zb)*Rb| + 2^(T-1) <= 255*(|Ra|+|Rb|) + 2^(T-1) (T={op.shift})", acc,
              INT32_LIMIT, "int32"),
        Bound(op.name, f"shift T={op.shift} in 1..30, zero points {zps} in 0..255",
              0 if 1 <= op.shift <= 30 and all(0 <= z <= 255 for z in zps) else 1, 1, "shift / u8"),
    ]


def _ln_size_problem(dim: int) -> str | None:
    """The size-only LayerNorm check (the constants are bounded per op by layernorm_bounds)."""
    if dim * 255 * 255 >= INT32_LIMIT:
        return f"LayerNorm int32 sum(x^2) for dim {dim}: {dim * 255 * 255} >= {INT32_LIMIT}"
    try:
        nx.layernorm_recip_bits(dim)
    except ValueError as exc:
        return str(exc)
    return None


def deferred_attention_bounds(name: str, n: int, hd: int, score_fixed, score_shift, lut8, out_fixed,
                              out_shift) -> list[Bound]:
    """The deferred softmax (numerics.attention_deferred_head), worst cases over all u8 q, k, v and every head:
    |acc| <= hd 2**14; the score product |acc| Ms + 2**(Ss-1) int32 (C holds it so) and the score int16; the row
    sum s <= 255 N and s >= lut8[0] = 255 (no division by zero); |o| = |sum e (v-128)| <= 128 s; r <= Mo / 255 + 1
    int32; 2 Mo + s int64; |o r| + 2**(So-1) <= 128 (Mo + s) + 2**(So-1) int64."""
    acc = hd * 128 * 128
    ms, ss = np.asarray(score_fixed, np.int64), np.asarray(score_shift, np.int64)
    mo, so = np.asarray(out_fixed, np.int64), np.asarray(out_shift, np.int64)
    prod = int(np.max(acc * ms + (np.int64(1) << (ss - 1)), initial=0))
    score = int(np.max((acc * ms + (np.int64(1) << (ss - 1))) >> ss, initial=0))
    total = 255 * n
    r_max = int(np.max(mo, initial=0)) // 255 + 1
    out = [
        Bound(name, f"q.k^T accumulator head_dim*128*128 (head_dim={hd})", acc, INT32_LIMIT, "int32"),
        Bound(name, "score product |acc|*Ms + 2^(Ss-1)", prod, INT32_LIMIT, "int32"),
        Bound(name, "integer score round_shift(|acc|*Ms, Ss)", score, 2**15, "int16"),
        Bound(name, f"numerator row sum s <= 255*tokens (tokens={n})", total, INT32_LIMIT, "int32"),
        Bound(name, f"e.v accumulator 128*s (tokens={n})", 128 * total, INT32_LIMIT, "int32"),
        Bound(name, "reciprocal r = (2 Mo + s) / (2 s) <= Mo/255 + 1", r_max, INT32_LIMIT, "int32"),
        Bound(name, "2 Mo + s", 2 * int(np.max(mo, initial=0)) + total, INT64_LIMIT, "int64"),
        Bound(name, "|o*r| + 2^(So-1) <= 128 (Mo + s) + 2^(So-1)",
              int(np.max(128 * (mo + total) + (np.int64(1) << (so - 1)), initial=0)), INT64_LIMIT, "int64"),
    ]
    lut8 = np.asarray(lut8)
    if lut8.size == 0 or int(np.min(lut8[:, 0])) != nx.NUMERATOR_MAX or ms.size == 0 or int(np.min(ms)) < 1 \
            or int(np.min(ss)) < 1 or int(np.min(mo, initial=1)) < 1 or int(np.min(so, initial=1)) < 1 \
            or int(np.max(ss)) > nx.FIXED_SHIFT_MAX or int(np.max(so)) > nx.FIXED_SHIFT_MAX:
        out.append(Bound(name, "lut8[h][0] == 255 (s >= 255: no division by zero), 1 <= M, 1 <= S <= 62", 0, 0,
                         "constants"))
    return out


def _rel_attention_bounds(op, shape) -> list[Bound]:
    """Scores: q (|.| <= 128) times k + rel_key (|.| <= 128 + max|rel_key|); softmax sums over the window (at most
    2W - 1 and at most N pairs per row); p.v as attention."""
    n, d = shape
    hd = d // op.heads
    rel = int(np.max(np.abs(np.asarray(op.rel_key, np.int64)), initial=0))
    row = min(n, 2 * op.window - 1)
    top = int(np.max(op.exp_lut))
    pmax = (1 << op.prob_bits) - 1
    out = [
        Bound(op.name, f"score accumulator head_dim*128*(128 + max|rel_key|) (head_dim={hd}, max|rel_key|={rel})",
              hd * 128 * (128 + rel), INT32_LIMIT, "int32"),
        Bound(op.name, f"softmax 2*{pmax}*e + sum, sum <= pairs per row*lut[0] (pairs={row})",
              2 * pmax * top + row * top, INT32_LIMIT, "int32"),
        Bound(op.name, "softmax 2*sum", 2 * row * top, INT32_LIMIT, "int32"),
        Bound(op.name, f"p.v accumulator 128*sum(p), sum(p) <= {pmax} + pairs/2 (pairs={row})", 128 * (pmax + row),
              INT32_LIMIT, "int32"),
    ]
    if int(np.min(op.exp_lut[:, 0])) < 1:
        out.append(Bound(op.name, "softmax sum >= lut[0] >= 1 (no division by zero)", 0, 0, "int32"))
    return out


def check_speech_sizes(tokens: int, dim: int, heads: int, hidden: int, window: int, prob_bits: int = 8) -> None:
    """check_sizes for the speech model: conv accumulators (k*Cin <= 3*dim), the windowed softmax of at most
    min(N, 2W - 1) pairs per row, and the relative-key score accumulator with int16 keys."""
    problems = []
    hd = dim // heads
    row = min(tokens, 2 * window - 1)
    try:
        nx.exp_lut_bits(row, (1 << prob_bits) - 1)
    except ValueError as exc:
        problems.append(str(exc))
    k = max(3 * dim, hidden)
    for what, value in ((f"conv/linear accumulator K={k}", k * 128 * 128),
                        (f"relative score accumulator head_dim={hd}", hd * 128 * (128 + nx.REL_KEY_MAX)),
                        (f"p.v accumulator for {row} pairs", 128 * ((1 << prob_bits) - 1 + row))):
        if value >= INT32_LIMIT:
            problems.append(f"{what}: {value} >= {INT32_LIMIT}")
    if _ln_size_problem(dim):
        problems.append(_ln_size_problem(dim))
    if problems:
        raise TinyMyoError("the integer speech model would overflow, refusing it: " + "; ".join(problems))


def check_ranges(program: Program) -> list[Bound]:
    """Raise TinyMyoError naming every bound that can overflow; return all bounds otherwise."""
    bounds = program_bounds(program)
    bad = [b for b in bounds if not b.ok]
    if bad:
        lines = "; ".join(f"{b.op}: {b.quantity} reaches {b.value} >= {b.limit} ({b.type})" for b in bad)
        raise TinyMyoError(f"the integer model would overflow, refusing it: {lines}")
    return bounds


def check_sizes(tokens: int, dim: int, heads: int, hidden: int, patch: int, feat: int, prob_bits: int = 8,
                softmax: str = "normalized") -> None:
    """The same proof from sizes alone, before any calibration (fast refusal of a model that cannot fit).
    softmax "deferred": the numerator sums and the e.v accumulator (the score constants are chosen within their
    bounds by the builder and proven by check_ranges); "normalized": the exp tables at prob_bits."""
    problems = []
    hd = dim // heads
    checks = [
        (f"linear K={max(dim, hidden, patch, feat)} accumulator", max(dim, hidden, patch, feat) * 128 * 128, INT32_LIMIT),
        (f"q.k^T head_dim={hd}", hd * 128 * 128, INT32_LIMIT),
    ]
    if softmax == "deferred":
        checks += [(f"attention numerator sums 255*tokens for {tokens} tokens", 255 * tokens, INT32_LIMIT),
                   (f"attention e.v accumulator 128*255*tokens for {tokens} tokens", 128 * 255 * tokens, INT32_LIMIT)]
    else:
        pmax = (1 << prob_bits) - 1
        try:
            top = 1 << nx.exp_lut_bits(tokens, pmax)
        except ValueError as exc:
            problems.append(str(exc))
            top = 0
        checks += [
            (f"softmax sums for {tokens} tokens", 2 * pmax * top + tokens * top, INT32_LIMIT),
            (f"softmax 2*sum for {tokens} tokens", 2 * tokens * top, INT32_LIMIT),
            (f"p.v accumulator for {tokens} tokens", 128 * (pmax + tokens), INT32_LIMIT),
        ]
    problems += [f"{what}: {value} >= {limit}" for what, value, limit in checks if value >= limit]
    if _ln_size_problem(dim):
        problems.append(_ln_size_problem(dim))
    if problems:
        raise TinyMyoError("the integer model would overflow, refusing it: " + "; ".join(problems))
