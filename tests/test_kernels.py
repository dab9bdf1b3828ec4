"""C kernel unit tests against numerics.py: rounding ties, saturation, NaN/inf, exact division, core split."""

from __future__ import annotations

import re

import numpy as np
import pytest

from kernel_lib import LayerNormArgs, LinearArgs, QuantizeArgs, ResidualArgs, build_library, ptr
from tinymyo_edge import numerics as nx
from tinymyo_edge.codegen.lowering import fixed_pairs, folded_bias, layernorm_bias_half, residual_offset
from tinymyo_edge.ir.program import LayerNorm, ResidualAdd
from tinymyo_edge.codegen.numerics_header import numerics_constants, render_numerics_header
from tinymyo_edge.memory.scratch import kernel_constant
from tinymyo_edge.resources import resource_dir

F32 = np.float32
TIES = np.array([0.5, 1.5, 2.5, 3.5, 126.5, 127.5, 128.5, 4194304.5, 8388607.5], dtype=F32)


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    return build_library(tmp_path_factory.mktemp("lib1"), cores=1)


@pytest.fixture(scope="module")
def lib8(tmp_path_factory):
    return build_library(tmp_path_factory.mktemp("lib8"), cores=8)


def special_floats(rng) -> np.ndarray:
    big = np.array([2.0**22, 2.0**23, 2.0**23 + 2, 2.0**24 + 2, 1e6, 1e30, 3e38, np.inf], dtype=F32)
    values = np.concatenate([TIES, -TIES, TIES + 1e-3, TIES - 1e-3, big, -big, [0.0, -0.0, np.nan, 1e-40, -1e-40],
                             rng.uniform(-300, 300, 5000), rng.uniform(-1e7, 1e7, 2000)]).astype(F32)
    return values


def test_rne_matches_round_half_even_on_ties_and_extremes(lib):
    x = special_floats(np.random.default_rng(0))
    y = np.empty_like(x)
    lib.t_rne(ptr(x), ptr(y), len(x))
    want = nx.round_half_even(x)
    assert np.array_equal(y, want, equal_nan=True)
    assert list(y[:4]) == [0.0, 2.0, 2.0, 4.0]  # ties go to even, computed independently


def test_saturation_nan_and_infinities(lib):
    x = np.array([-1e30, -np.inf, -129, -128, -127, 0, 126, 127, 128, 1e30, np.inf, np.nan], dtype=F32)
    y = np.empty(len(x), dtype=np.uint8)
    lib.t_sat(ptr(x), ptr(y), len(x))
    assert list(y) == [0, 0, 0, 0, 1, 128, 254, 255, 255, 255, 255, 0]


def test_requant_ties_and_large_accumulators(lib):
    rng = np.random.default_rng(1)
    acc = np.concatenate([np.arange(-600, 601), rng.integers(-2**31, 2**31, 5000), [2**24 + 1, -(2**24) - 1,
                                                                                   2**31 - 1, -(2**31)]])
    acc = acc.astype(np.int32)
    mult = np.concatenate([np.full(1201, 0.5), rng.uniform(1e-9, 1e-2, len(acc) - 1201)]).astype(F32)
    y = np.empty(len(acc), dtype=np.uint8)
    lib.t_requant(ptr(acc), ptr(mult), ptr(y), len(acc))
    assert np.array_equal(y, nx.requantize(acc, mult))


def test_exact_division_by_multiply(lib):
    rng = np.random.default_rng(2)
    den = np.concatenate([[1, 2, 3, 7, 2**30 - 1, 2**30, 2**30 + 1, 2**31 - 1],
                          2 ** rng.integers(0, 31, 2000) + rng.integers(-1, 2, 2000),
                          rng.integers(1, 2**31, 4000)]).clip(1, 2**31 - 1).astype(np.uint32)
    num = np.concatenate([np.full(8, 2**31 - 1), rng.integers(0, 2**31, len(den) - 8)]).astype(np.uint32)
    num[::5] = (den[::5].astype(np.int64) * rng.integers(0, 3, len(den[::5]))).clip(0, 2**31 - 1)  # exact multiples
    q = np.empty_like(num)
    lib.t_divide(ptr(num), ptr(den), ptr(q), len(num))
    assert np.array_equal(q.astype(np.int64), num.astype(np.int64) // den.astype(np.int64))


def test_quantize_kernel_extremes(lib):
    rng = np.random.default_rng(3)
    scale = F32(0.25)  # a power of two: x = (k + 0.5) * scale are exact ties
    x = np.concatenate([(np.arange(-140, 140) + 0.5) * scale, special_floats(rng)]).astype(F32)
    y = np.empty(len(x), dtype=np.uint8)
    lib.tm_quantize(QuantizeArgs(ptr(x), ptr(y), scale, 0, len(x)).ref)
    assert np.array_equal(y, nx.quantize_float(x, float(scale)))


@pytest.mark.parametrize("cores,zero_point", [(1, 128), (8, 128), (1, 7), (8, 250)])
def test_linear_kernel_tiles_and_cores(lib, lib8, cores, zero_point):
    rng = np.random.default_rng(4)
    rows, k, m = 11, 37, 13  # no dimension a multiple of 4: every edge path of the 4x4 blocks
    x = rng.integers(0, 256, (rows, k), dtype=np.uint8)
    x[0] = 255
    x[1] = 0
    w = rng.integers(-128, 128, (m, k), dtype=np.int8)
    bias = rng.integers(-2**20, 2**20, m).astype(np.int32)
    mult, shift = nx.fixed_multiplier(rng.uniform(2e-5, 2e-4, m))  # |acc| ~ 2^20: codes spread, some saturate
    mult[0], shift[0] = 2**31 - 1, 62  # the largest multiplier and shift: int64 product and rounding
    table = rng.integers(0, 256, 256, dtype=np.uint8)
    y = np.zeros((rows, m), dtype=np.uint8)
    fb = folded_bias(w, bias, "test")
    rq = fixed_pairs(mult, shift, "test")
    use = lib if cores == 1 else lib8
    for r0, r1, m0, m1 in [(0, 5, 0, 6), (5, 11, 0, 6), (0, 3, 6, 13), (3, 11, 6, 13)]:  # tiles cover the output
        use.tm_linear(LinearArgs(ptr(x), ptr(w), ptr(fb), ptr(rq), ptr(table), ptr(y), zero_point, k, m,
                                 r0, r1, m0, m1).ref)
    codes = nx.requantize_fixed(nx.linear_acc(x, w, bias), mult, shift, zero_point)
    assert np.array_equal(y, nx.lut_u8(codes, table))
    assert len(np.unique(codes)) > 20  # the codes spread over the range, not all saturated


def _layernorm_op(rng, d, zero_point=128, gain_scale=40.0):
    g, b, s = nx.layernorm_affine(rng.uniform(-1.5, 1.5, d) * gain_scale, rng.uniform(-60, 60, d), d)
    return LayerNorm("ln", ("x",), "y", gain=g, bias=b, shift=s, recip_bits=nx.layernorm_recip_bits(d),
                     frac_bits=nx.LN_FRAC_BITS, zero_point=zero_point)


def _run_layernorm(lib, op, x):
    d = x.shape[1]
    g, bh, s = (np.ascontiguousarray(v, dtype=np.int32) for v in (op.gain, layernorm_bias_half(op), op.shift))
    y = np.empty_like(x)
    lib.tm_layernorm(LayerNormArgs(ptr(x), ptr(g), ptr(bh), ptr(s), ptr(y), d, op.recip_bits, op.frac_bits,
                                   op.zero_point, 0, len(x)).ref)
    return y


@pytest.mark.parametrize("d", [1, 2, 5, 192, 385, 1024])  # 1024: D q - s^2 beyond 2^32 (isqrt_u64)
def test_layernorm_kernel_constant_and_extreme_rows(lib8, d):
    rng = np.random.default_rng(5 + d)
    x = rng.integers(0, 256, (16, d), dtype=np.uint8)
    x[0], x[1], x[2] = 0, 255, 77  # constant rows: variance 0, sd clamps to 1
    x[3, ::2], x[3, 1::2] = 0, 255  # largest variance
    x[4], x[4, 0] = 0, 255  # largest |c| / sd for a large sd
    x[5], x[5, 0] = 0, 1  # the smallest nonzero variance: the largest |c| / sd
    x[6], x[6, -1] = 200, 199
    x[7] = np.arange(d) % 256
    for zp, scale in ((128, 40.0), (3, 40.0), (128, 4000.0), (250, 0.01)):
        op = _layernorm_op(rng, d, zp, scale)
        want = nx.layernorm_fixed(x, op.gain, op.bias, op.shift, op.recip_bits, op.frac_bits, zp)
        assert np.array_equal(_run_layernorm(lib8, op, x), want)
    assert len(np.unique(want)) > 2 or d < 3  # not all saturated


def test_residual_kernel(lib):
    rng = np.random.default_rng(6)
    a = rng.integers(0, 256, 4096, dtype=np.uint8)
    b = rng.integers(0, 256, 4096, dtype=np.uint8)
    a[:256], b[:256] = np.arange(256), 128  # b real zero: y = round_shift((a - 128) * Ra, T) hits every tie
    a[256:512], b[256:512] = 255, np.arange(256)
    cases = [(0.5, 0.75, 128, 128, 128), (1.0, 1.0, 0, 255, 128), (3.7, 0.01, 17, 128, 3), (0.001, 250.0, 128, 5, 250)]
    for ra, rb, za, zb, zy in cases:
        ma, mb, t = nx.residual_constants(ra, rb)
        op = ResidualAdd("r", ("a", "b"), "y", mult_a=ma, mult_b=mb, shift=t, zero_a=za, zero_b=zb, zero_y=zy)
        y = np.empty_like(a)
        lib.tm_residual_add(ResidualArgs(ptr(a), ptr(b), ptr(y), ma, mb, residual_offset(op), t, zy, 0, len(a)).ref)
        assert np.array_equal(y, nx.residual_fixed(a, b, ma, mb, t, za, zb, zy))
    ma, mb, t = nx.residual_constants(0.5, 0.75)
    assert t >= 20 and (ma, mb) == (1 << (t - 1), 3 << (t - 2))  # exact ratios: the ties of the first case


def test_numerics_header_is_generated_not_copied():
    header = render_numerics_header()
    for name, value in numerics_constants().items():
        assert re.search(rf"^#define {name} {value}$", header, re.M)
    assert numerics_constants()["TM_ACT_ZERO_POINT"] == nx.ACT_ZERO_POINT
    lib = resource_dir("gap9_app")
    assert not (lib / "inc" / "tm_numerics.h").exists()  # generated per build, never committed
    for src in [*(lib / "src").glob("*.c"), *(lib / "inc").glob("*.h")]:
        code = re.sub(r"/\*.*?\*/", "", src.read_text(), flags=re.S)
        assert not re.search(r"\b(128|16384|510|255\.0)\b", code), f"{src.name}: a numerics constant copied by hand"


def test_kernel_library_has_no_double_malloc_or_vla():
    lib = resource_dir("gap9_app")
    for src in [*(lib / "src").glob("*.c"), *(lib / "inc").glob("*.h")]:
        code = re.sub(r"/\*.*?\*/", "", src.read_text(), flags=re.S)
        assert not re.search(r"\bdouble\b|\bmalloc\b|\bcalloc\b|\brealloc\b|\bfree\s*\(", code), src.name


def test_attention_rows_constant_read_from_header():
    assert kernel_constant("TM_ATTN_ROWS") >= 1
