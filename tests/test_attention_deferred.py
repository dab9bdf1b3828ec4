"""The deferred integer softmax attention (numerics.attention_deferred_head, ir.Attention softmax="deferred"): the
numpy reference == plain Python integer arithmetic; the bounds quant/ranges.py proves hold at 400 and 800 tokens and
are reached by worst-case inputs; constants that could overflow are refused naming the op; diffuse rows over 400
tokens keep their resolution where u8 normalised probabilities lose it."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from tinymyo_edge import numerics as nx
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.ir.program import Attention, DType, Program, QuantizeInput, Reshape, TensorInfo
from tinymyo_edge.quant.ranges import check_ranges, check_sizes, deferred_attention_bounds


def _python_head(q, k, v, ms, ss, lut8, mo, so):
    """One head in Python ints, written from the DESIGN_NUMERICS.md formulas (floor division, no numpy)."""
    n, hd = len(q), len(q[0])
    out = []
    for i in range(n):
        t = [(sum((q[i][c] - 128) * (k[j][c] - 128) for c in range(hd)) * ms + (1 << (ss - 1))) >> ss
             for j in range(n)]
        e = [int(lut8[min(max(t) - tj, 255)]) for tj in t]
        s = sum(e)
        r = Fraction(2 * mo + s, 2 * s).__floor__()
        row = []
        for c in range(hd):
            o = sum(e[j] * (v[j][c] - 128) for j in range(n))
            row.append(min(255, max(0, ((o * r + (1 << (so - 1))) >> so) + 128)))
        out.append(row)
    return np.array(out, np.uint8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_equals_python_integers(seed):
    rng = np.random.default_rng(seed)
    n, hd = 13, 6
    q, k, v = (rng.integers(0, 256, (n, hd)) for _ in range(3))
    if seed == 2:  # extremes: every product at its bound, ties in the row maximum
        q[:], k[:] = 0, 0
        v[::2] = 255
    ms, ss = nx.score_fixed(float(rng.uniform(0.0005, 0.02)), hd * 128 * 128)
    lut8 = nx.exp_lut8(float(rng.uniform(0.01, 0.1)))
    mo, so = (int(x[0]) for x in nx.fixed_multiplier(float(rng.uniform(0.3, 3.0))))
    got = nx.attention_deferred_head(nx.centered(q), nx.centered(k), nx.centered(v), ms, ss, lut8, mo, so)
    assert np.array_equal(got, _python_head(q.tolist(), k.tolist(), v.tolist(), ms, ss, lut8, mo, so))


def test_reciprocal_rounds_half_up():
    mo = 3 * 2**29 + 7
    for s in (255, 256, 1000, 102000, 204000):
        r = int(nx.deferred_reciprocal(np.array([s]), mo)[0])
        assert r == math.floor(Fraction(mo, s) + Fraction(1, 2))


def test_lut8_and_score_constants():
    lut = nx.exp_lut8(0.03)
    assert lut.dtype == np.uint8 and lut[0] == 255 and np.all(np.diff(lut.astype(int)) <= 0)
    assert lut[100] == round(255 * math.exp(-3.0))
    for hd in (5, 24, 64):
        acc = hd * 128 * 128
        for m in (1e-5, 1e-3, 0.01, 32767 / acc):
            ms, ss = nx.score_fixed(m, acc)
            assert acc * ms + (1 << (ss - 1)) < 2**31  # the int32 product
            assert (acc * ms + (1 << (ss - 1))) >> ss <= 32767  # the int16 score
            assert abs(ms / 2**ss - m) <= max(m * 2**-10, 2.0**-ss)
    with pytest.raises(ValueError, match="int16"):
        nx.score_fixed(1.0, 24 * 128 * 128)


def _attention_program(n: int, hd: int, ms: int, ss: int = 20) -> Program:
    d = hd
    tensors = {"input": TensorInfo("input", (n, d), DType.F32), "x": TensorInfo("x", (n, d), DType.U8, 0.1, 128),
               "y": TensorInfo("y", (n, d), DType.U8, 0.1, 128)}
    mo, so = nx.fixed_multiplier(1.0)
    op = Attention("blk.attn", ("x", "x", "x"), "y", heads=1, softmax="deferred",
                   score_fixed=np.array([ms], np.int32), score_shift=np.array([ss], np.int32),
                   exp_lut8=nx.exp_lut8(0.03)[None], out_fixed=mo.astype(np.int32), out_shift=so.astype(np.int32))
    return Program(tensors, (QuantizeInput("x", ("input",), "x", scale=0.1), op), "input", "y")


@pytest.mark.parametrize("tokens", [400, 800])
def test_deployed_sizes_pass_the_proof(tokens):
    check_sizes(tokens, 192, 8, 768, 20, 192, softmax="deferred")
    hd = 24
    ms, ss = nx.score_fixed(32767 / (hd * 128 * 128), hd * 128 * 128)  # the coarsest constants the builder allows
    bounds = check_ranges(_attention_program(tokens, hd, ms, ss))
    assert {b.type for b in bounds} >= {"int32", "int16", "int64"}


def test_worst_case_inputs_reach_the_bounds():
    n, hd = 16, 24
    ms, ss = nx.score_fixed(32767 / (hd * 128 * 128), hd * 128 * 128)
    bounds = {b.quantity: b.value for b in deferred_attention_bounds("a", n, hd, [ms], [ss], nx.exp_lut8(0.03)[None],
                                                                     [2**30], [30])}
    q = np.zeros((n, hd), np.int64) - 128  # all codes 0: every product 2**14
    acc = nx.matmul_acc(q, q.T)
    assert acc.max() == bounds["q.k^T accumulator head_dim*128*128 (head_dim=24)"]
    assert nx.integer_scores(q, q, ms, ss).max() == bounds["integer score round_shift(|acc|*Ms, Ss)"]
    e, s = nx.softmax_deferred(nx.integer_scores(q, q, ms, ss), nx.exp_lut8(0.03))
    assert s.max() == bounds[f"numerator row sum s <= 255*tokens (tokens={n})"]  # all scores tie: all 255
    assert np.abs(nx.matmul_acc(e, q)).max() == bounds[f"e.v accumulator 128*s (tokens={n})"]


def test_overflowing_constants_and_sizes_are_refused_naming_the_op():
    with pytest.raises(TinyMyoError, match=r"blk\.attn: score product"):
        check_ranges(_attention_program(16, 24, 2**20))
    with pytest.raises(TinyMyoError, match=r"blk\.attn: integer score"):
        check_ranges(_attention_program(16, 24, 2**12, 12))
    with pytest.raises(TinyMyoError, match="e.v accumulator"):
        check_sizes(70_000, 192, 8, 768, 20, 192, softmax="deferred")


def test_diffuse_rows_keep_their_resolution_at_400_tokens():
    """Near-uniform attention over 400 tokens: the deferred softmax's output is close to the float one, where u8
    probabilities (normalized, prob_bits 8) round every weight to 0 or 1 / 255 and lose most of the signal."""
    rng = np.random.default_rng(3)
    n, hd = 400, 24
    scores = rng.normal(0.0, 0.5, (n, n))  # real scores, diffuse softmax rows
    v = rng.integers(0, 256, (n, hd)).astype(np.int64) - 128
    p = np.exp(scores - scores.max(1, keepdims=True))
    want = (p / p.sum(1, keepdims=True)) @ v
    step = 0.025
    t = np.floor(scores / step + 0.5).astype(np.int64)
    e, s = nx.softmax_deferred(t, nx.exp_lut8(step))
    deferred = nx.matmul_acc(e, v) / s
    codes = nx.saturate_u8(np.rint(scores / 0.02) + 128)
    p8 = nx.softmax_int(codes, nx.exp_lut(0.02), 255).astype(np.float64) / 255
    normalized8 = p8 @ v
    err_d, err_8 = (float(np.sqrt(np.mean((x - want) ** 2))) for x in (deferred, normalized8))
    assert err_d < 0.25 * err_8, (err_d, err_8)
