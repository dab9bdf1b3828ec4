"""Integer-only requantisation (numerics.round_shift, fixed_multiplier, requantize_fixed): numpy, the ONNX body run
by onnxruntime and the C helper of tm_round.h agree, and all three equal exact rational arithmetic (fractions)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto as TP
from onnx import helper as oh

from kernel_lib import build_library, ptr
from tinymyo_edge import numerics as nx
from tinymyo_edge.quant.encoding import _Body


def _cases(rng, n=200_000):
    acc = rng.integers(-2**31, 2**31, n, dtype=np.int64)
    acc[: n // 4] = rng.integers(-400, 400, n // 4)  # small accumulators: many exact ties at m = 2^-k
    acc[:6] = [2**31 - 1, -(2**31), 0, 1, -1, 3]
    m = np.exp(rng.uniform(math.log(1e-12), math.log(0.9), n))
    m[n // 4: n // 2] = 2.0 ** -rng.integers(1, 9, n // 4)  # powers of two: M / 2^S == m exactly
    mult, shift = nx.fixed_multiplier(m)
    return acc.astype(np.int32), mult, shift, m


def _exact(acc: int, mult: int, shift: int, zp: int) -> int:
    """floor(acc * M / 2^S + 1/2) + zp clamped, in rationals: an independent statement of round half up."""
    v = math.floor(Fraction(acc * mult, 2**shift) + Fraction(1, 2)) + zp
    return min(255, max(0, v))


def test_fixed_multiplier_is_nearest_31_bit_value():
    m = np.array([3e-9, 3e-6, 0.007, 0.5, 0.75, 0.9999999999, 1.0, 3.0, 1000.0])
    mult, shift = nx.fixed_multiplier(m)
    assert np.all((mult >= 2**30) & (mult < 2**31)) and np.all((shift >= 1) & (shift <= 62))
    assert np.all(np.abs(mult / np.exp2(shift) / m - 1) <= 2.0**-30)
    tiny_mult, tiny_shift = nx.fixed_multiplier([1e-12])  # below 2^-31: S stops at 62, M loses bits
    assert tiny_shift[0] == 62 and tiny_mult[0] == round(1e-12 * 2.0**62)
    with pytest.raises(ValueError):
        nx.fixed_multiplier([0.0])


def test_round_shift_is_round_half_up():
    a = np.array([-5, -3, -1, 1, 3, 5, -4, 4])
    assert list(nx.round_shift(a, 1)) == [-2, -1, 0, 1, 2, 3, -2, 2]  # -2.5 -> -2, -0.5 -> 0, 2.5 -> 3


def test_numpy_equals_rational_arithmetic():
    acc, mult, shift, _ = _cases(np.random.default_rng(0), 3000)
    got = nx.requantize_fixed(acc, mult, shift, 100)
    want = [_exact(int(a), int(m), int(s), 100) for a, m, s in zip(acc, mult, shift)]
    assert list(got) == want


@pytest.mark.parametrize("level", [ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
                                   ort.GraphOptimizationLevel.ORT_ENABLE_ALL])
def test_onnx_body_equals_numpy(level):
    b = _Body()
    b.requant_fixed("acc", "m", "s", "y", zero_point=100)
    vi = oh.make_tensor_value_info
    graph = oh.make_graph(b.nodes, "g", [vi("acc", TP.INT32, [None]), vi("m", TP.INT64, [None]),
                                         vi("s", TP.INT64, [None])], [vi("y", TP.UINT8, [None])])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], ir_version=10)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = level
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    acc, mult, shift, _ = _cases(np.random.default_rng(1))
    y = sess.run(None, {"acc": acc, "m": mult, "s": shift})[0]
    assert np.array_equal(y, nx.requantize_fixed(acc, mult, shift, 100))


def test_c_helper_equals_numpy(tmp_path):
    lib = build_library(tmp_path)
    acc, mult, shift, _ = _cases(np.random.default_rng(2))
    m32, s32 = mult.astype(np.int32), shift.astype(np.int32)
    y = np.empty(len(acc), dtype=np.uint8)
    lib.t_requant_fixed(ptr(acc), ptr(m32), ptr(s32), 100, ptr(y), len(acc))
    assert np.array_equal(y, nx.requantize_fixed(acc, mult, shift, 100))


@pytest.mark.parametrize("zp", [0, 100, 128, 255])
def test_cluster_epilogue_folded_form_equals_numpy(zp):
    """tm_xpulp_linear_run / requant_pairs (gap9_app/inc/tm_xpulp.h, constants by tm_xpulp_requant_constant), for
    33 <= S <= 53: c = clip_[0,255]((mulh(acc, M) + h) >> t),
    t = S - 32, h = 2^(t-1) + zp 2^t, in int32 registers. Stated here in int64 numpy with the int32 bounds checked:
    the zero point folded into the rounding term gives requantize_fixed's codes, and the sum never overflows."""
    rng = np.random.default_rng(3)
    acc, mult, shift, _ = _cases(rng)
    shift = rng.integers(33, 54, len(acc))  # every S of the fast path, at the extreme accumulators too
    mult = rng.integers(2**30, 2**31, len(acc))
    mult[:8] = 2**31 - 1
    t = shift - 32
    h = (np.int64(1) << (t - 1)) + (np.int64(zp) << t)
    s = ((acc.astype(np.int64) * mult) >> 32) + h  # mulh, then add
    assert s.min() >= -(2**31) and s.max() < 2**31 and h.max() < 2**31
    assert np.array_equal(np.clip(s >> t, 0, 255).astype(np.uint8), nx.requantize_fixed(acc, mult, shift, zp))
    # S < 33 with M < 2^(S-2) (the attention output's reciprocal): brought to (M 2^k, 33), k = 33 - S, first
    small_s = rng.integers(2, 33, len(acc))
    small_m = (rng.random(len(acc)) * (np.int64(1) << (small_s - 2))).astype(np.int64)
    m33 = small_m << (33 - small_s)
    assert m33.max() < 2**31
    s = ((acc.astype(np.int64) * m33) >> 32) + (np.int64(1) << 0) + (np.int64(zp) << 1)  # t = 1
    assert s.min() >= -(2**31) and s.max() < 2**31
    assert np.array_equal(np.clip(s >> 1, 0, 255).astype(np.uint8), nx.requantize_fixed(acc, small_m, small_s, zp))
