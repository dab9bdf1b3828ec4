"""Proof of ranges: the paper's sizes (8x1000 = 400 tokens, 16x1000 = 800 tokens) fit; sizes or constants that
could overflow an integer intermediate are refused with the reason; the bounds are tight where they claim to be."""

from __future__ import annotations

import numpy as np
import pytest

from tinymyo_edge import numerics as nx
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.ir.program import DType, Linear, Program, QuantizeInput, Reshape, TensorInfo
from tinymyo_edge.model import TinyMyoConfig
from tinymyo_edge.quant import quantize_model
from tinymyo_edge.quant.ranges import INT32_LIMIT, check_ranges, check_sizes, program_bounds

from test_quant_support import calib_windows, export_float, make_model, small_config


@pytest.mark.parametrize("channels,tokens", [(8, 400), (16, 800)])
def test_paper_sizes_pass_the_size_proof(channels, tokens):
    cfg = TinyMyoConfig(channels=channels)
    assert cfg.tokens == tokens
    check_sizes(cfg.tokens, cfg.dim, cfg.heads, cfg.hidden, cfg.patch_size, cfg.feat_dim)
    assert nx.exp_lut_bits(tokens) == nx.EXP_LUT_BITS  # full table precision at both sizes


def test_exp_table_precision_shrinks_only_when_the_sums_need_it():
    for tokens in (1, 400, 800, 1023, 1024, 1600, 4000, 100_000):
        bits = nx.exp_lut_bits(tokens)
        top = 1 << bits
        assert 510 * top + tokens * top < 2**31 and 2 * tokens * top < 2**31
        if bits < nx.EXP_LUT_BITS:  # one more bit would overflow
            assert 510 * 2 * top + tokens * 2 * top >= 2**31 or 4 * tokens * top >= 2**31
    assert nx.exp_lut_bits(1023) == 20 and nx.exp_lut_bits(1024) == 19


@pytest.mark.parametrize("sizes,reason", [
    (dict(tokens=400, dim=40_000, heads=400, hidden=40_000, patch=20, feat=40_000), "LayerNorm int32 sum"),
    (dict(tokens=400, dim=192, heads=1, hidden=200_000, patch=20, feat=192), "linear"),
    (dict(tokens=5_000_000, dim=192, heads=3, hidden=768, patch=20, feat=192), "cannot keep the integer sums"),
])
def test_sizes_that_could_overflow_are_refused_with_the_reason(sizes, reason):
    with pytest.raises(TinyMyoError, match=reason):
        check_sizes(**sizes)


def _one_linear(bias: int, k: int = 8) -> Program:
    tensors = {"input": TensorInfo("input", (1, k), DType.F32), "q": TensorInfo("q", (1, k), DType.U8, 0.1, 128),
               "y": TensorInfo("y", (1, 2), DType.U8, 0.1, 128)}
    ops = (QuantizeInput("q", ("input",), "q", scale=0.1),
           Linear("fc", ("q",), "y", weight=np.full((2, k), -128 + 1, np.int8),
                  bias=np.array([bias, 0], np.int32), mult=np.full(2, 2**30, np.int32), shift=np.full(2, 30, np.int32)))
    return Program(tensors, ops, "input", "y")


def test_linear_bound_includes_the_bias_and_refuses_overflow():
    ok = _one_linear(bias=1000)
    acc = [b for b in program_bounds(ok) if b.op == "fc" and b.type == "int32"][0]
    assert acc.value == 8 * 128 * 128 + 1000
    check_ranges(ok)
    with pytest.raises(TinyMyoError, match=r"fc: accumulator"):
        check_ranges(_one_linear(bias=INT32_LIMIT - 8 * 128 * 128))


def test_worst_case_linear_input_reaches_the_bound():
    prog = _one_linear(bias=1000)
    x = np.zeros((1, 8), np.uint8)  # code 0 = -128, times weight -127 -> +16256 per term
    acc = nx.linear_acc(x, prog.ops[1].weight, prog.ops[1].bias)
    assert acc[0, 0] == 8 * 128 * 127 + 1000 <= [b.value for b in program_bounds(prog) if b.op == "fc"][0]


def test_quantized_program_bounds_cover_every_integer_op(tmp_path):
    cfg = small_config(head="regression", reduction="mean")
    program = quantize_model(export_float(make_model(cfg), tmp_path / "m.onnx"), calib_windows(cfg, n=3),
                             tmp_path / "q.onnx", progress=False)
    bounded = {b.op for b in program_bounds(program)}
    needs = {op.name for op in program.ops if op.kind in ("linear", "linear_dequant", "attention", "layernorm",
                                                          "depthwise_conv1d", "patch_features")}
    assert needs <= bounded
    assert all(b.ok for b in check_ranges(program))


def test_reshape_only_program_has_nothing_to_bound():
    tensors = {"input": TensorInfo("input", (2, 4), DType.F32), "q": TensorInfo("q", (2, 4), DType.U8, 1.0, 128),
               "r": TensorInfo("r", (4, 2), DType.U8, 1.0, 128)}
    prog = Program(tensors, (QuantizeInput("q", ("input",), "q"), Reshape("r", ("q",), "r", shape=(4, 2))), "input", "r")
    assert program_bounds(prog) == []


@pytest.mark.parametrize("dim", [192, 600, 4096])
def test_layernorm_sizes_beyond_192_pass(dim):
    check_sizes(400, dim, 4 if dim % 4 == 0 else 3, 4 * dim, 20, dim)
    k = nx.layernorm_recip_bits(dim)
    assert nx.layernorm_ratio_bound(dim) * 2**k < 2**31 <= nx.layernorm_ratio_bound(dim) * 2 ** (k + 1)


def _layernorm_program(dim: int, gain: float, bias: float, gain_times: int = 1) -> Program:
    from tinymyo_edge.ir.program import LayerNorm

    g, b, s = nx.layernorm_affine(np.full(dim, gain), np.full(dim, bias), dim)
    g = (g.astype(np.int64) * gain_times).astype(np.int32)
    tensors = {"input": TensorInfo("input", (2, dim), DType.F32), "q": TensorInfo("q", (2, dim), DType.U8, 0.1, 128),
               "y": TensorInfo("y", (2, dim), DType.U8, 0.1, 128)}
    ops = (QuantizeInput("q", ("input",), "q", scale=0.1),
           LayerNorm("ln", ("q",), "y", gain=g, bias=b, shift=s, recip_bits=nx.layernorm_recip_bits(dim)))
    return Program(tensors, ops, "input", "y")


def test_layernorm_bounds_hold_on_the_worst_rows_and_refuse_bad_constants():
    dim = 192
    prog = _layernorm_program(dim, 60.0, -30.0)
    check_ranges(prog)
    op = prog.ops[1]
    ratio = nx.layernorm_ratio_bound(dim)
    # rows that maximise |c| / sd (one code apart from the rest, small and large variance): under the bound
    for lo, hi in ((0, 1), (0, 255), (254, 255), (7, 9)):
        x = np.full((1, dim), lo, np.int64)
        x[0, 0] = hi
        s = x.sum()
        sd = max(1, int(nx.isqrt_floor(np.array(dim * (x * x).sum() - s * s))))
        assert np.abs(dim * x - s).max() / sd < ratio
    with pytest.raises(TinyMyoError, match=r"ln: .*n\*G"):
        check_ranges(_layernorm_program(dim, 60.0, -30.0, gain_times=3))  # G is chosen as large as fits
    with pytest.raises(ValueError, match="channel 0"):
        nx.layernorm_affine(np.array([1e12]), np.array([0.0]), dim, where="ln")
    assert op.gain.dtype == np.int32 and op.shift.min() >= 1


def test_residual_bound_refuses_overflowing_multipliers():
    from tinymyo_edge.ir.program import ResidualAdd

    tensors = {"input": TensorInfo("input", (1, 4), DType.F32), "q": TensorInfo("q", (1, 4), DType.U8, 0.1, 128),
               "y": TensorInfo("y", (1, 4), DType.U8, 0.1, 128)}
    ma, mb, t = nx.residual_constants(1.0, 1.0)
    assert 255 * (ma + mb) + 2 ** (t - 1) < 2**31 <= 255 * 2 * (ma + mb) + 2**t  # the largest T that fits
    for mult, ok in ((ma, True), (2**23, False)):
        ops = (QuantizeInput("q", ("input",), "q", scale=0.1),
               ResidualAdd("r", ("q", "q"), "y", mult_a=mult, mult_b=mult, shift=t))
        prog = Program(tensors, ops, "input", "y")
        if ok:
            check_ranges(prog)
        else:
            with pytest.raises(TinyMyoError, match=r"r: \|\(a-za\)"):
                check_ranges(prog)
