"""The int8 ONNX encoding on Programs the quantizer did not make: random constants of every op (the lowering's test
programs), and constants chosen so that every requantisation lands on rounding ties. onnxruntime == golden executor,
and read_program gives the same Program back."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tinymyo_edge import numerics as nx
from tinymyo_edge.ir.program import (DType, LinearDequant, Linear, Program, QuantizeInput, Reshape, ResidualAdd,
                                     TensorInfo, TokenMean)
from tinymyo_edge.quant.encoding import onnx_to_program, program_to_onnx
from tinymyo_edge.quant.runtime import session

from program_factory import make_random_program, small_config


def _graph_output_shape(program: Program) -> tuple[int, ...]:
    shape = program.tensors[program.output].shape
    return shape if shape[0] == 1 and len(shape) == 2 else (1, *shape)


def _check(program: Program, inputs: list[np.ndarray]) -> None:
    model = program_to_onnx(program, "emg", "out", _graph_output_shape(program))
    back = onnx_to_program(model)
    assert back.tensors == program.tensors and back.metadata == program.metadata
    for mine, theirs in zip(program.ops, back.ops, strict=True):
        for f in dataclasses.fields(mine):
            a, b = getattr(mine, f.name), getattr(theirs, f.name)
            assert (np.array_equal(a, b) and np.asarray(a).dtype == np.asarray(b).dtype) if isinstance(a, np.ndarray) \
                else a == b, f"{mine.name}.{f.name}"
    golden = [program.run(x)[program.output] for x in inputs]
    for level in ("disable_all", "all"):
        sess = session(model, level=level, threads=2)
        for x, want in zip(inputs, golden):
            got = sess.run(None, {"emg": x[None]})[0].reshape(want.shape)
            assert np.array_equal(got, want), f"{level}: {int(np.sum(got != want))} mismatches"


@pytest.mark.parametrize("head,reduction", [("classification", "concat"), ("classification", "mean"),
                                            ("regression", "concat"), ("regression", "mean"),
                                            ("reconstruction", "concat")])
def test_random_programs_of_every_head(head, reduction):
    cfg = small_config(head=head, reduction=reduction, reg_target_len=7)
    program = make_random_program(cfg, seed=3)
    rng = np.random.default_rng(0)
    s_in = program.ops[0].scale
    inputs = [rng.standard_normal((cfg.channels, cfg.samples)).astype(np.float32) * s_in * k for k in (10, 60, 500)]
    _check(program, inputs)


def _fixed(multipliers) -> dict:
    """Linear's integer requantisation constants for real multipliers (powers of two: exact, ties at .5)."""
    mult, shift = nx.fixed_multiplier(np.asarray(multipliers, np.float64))
    return {"mult": mult.astype(np.int32), "shift": shift.astype(np.int32)}


def test_rounding_ties_in_every_requantisation():
    """Scales of 1/2 and 1/4 make odd accumulators land exactly on .5: round half to even must agree everywhere."""
    c, t, patch, m = 2, 8, 4, 6
    n = c * t // patch
    rng = np.random.default_rng(1)
    tensors = {"input": TensorInfo("input", (c, t), DType.F32)}
    for name, shape in (("q", (c, t)), ("p", (n, patch)), ("a", (n, m)), ("b", (n, m)), ("r", (n, m)), ("pool", (1, m))):
        tensors[name] = TensorInfo(name, shape, DType.U8, 0.5, nx.ACT_ZERO_POINT)
    tensors["y"] = TensorInfo("y", (1, 3), DType.F32)
    w = rng.integers(-3, 4, (m, patch)).astype(np.int8)
    ops = (QuantizeInput("q", ("input",), "q", scale=0.5),
           Reshape("p", ("q",), "p", shape=(n, patch)),
           Linear("a", ("p",), "a", weight=w, bias=rng.integers(-5, 6, m).astype(np.int32),
                  **_fixed([0.5, 0.25, 0.5, 0.125, 1.0, 0.5])),
           Linear("b", ("p",), "b", weight=w[::-1].copy(), bias=np.zeros(m, np.int32), **_fixed([0.5] * m)),
           ResidualAdd("r", ("a", "b"), "r", mult_a=2, mult_b=1, shift=2),  # 1/2, 1/4: round_shift ties
           TokenMean("pool", ("r",), "pool", channels=c, reduction="mean", mult=1 << 30, shift=31),  # 0.5
           LinearDequant("y", ("pool",), "y", weight=rng.integers(-127, 128, (3, m)).astype(np.int8),
                         bias=np.array([1, -1, 0], np.int32), scale=np.array([0.5, 0.25, 1.0], np.float32)))
    program = Program(tensors, ops, "input", "y")
    # inputs on QuantizeLinear ties (k + 0.5) * 0.5 and integers, so that downstream sums are often odd
    inputs = [((rng.integers(-60, 60, (c, t)) + 0.5) * 0.5).astype(np.float32),
              rng.integers(-60, 60, (c, t)).astype(np.float32) * 0.5,
              np.full((c, t), 0.25, np.float32), np.full((c, t), -0.75, np.float32)]
    ties = [np.abs(np.asarray(x) / 0.5 - np.rint(np.asarray(x) / 0.5)) == 0.5 for x in inputs[:1]]
    assert ties[0].all()
    _check(program, inputs)


def test_output_and_input_zero_points_other_than_128():
    """fc1 writes codes of zero point 60 (the GELU table reads them so), GELU writes zero point 19 and fc2 folds it
    into its bias: onnxruntime == golden, and the zero points survive the round trip."""
    cfg = small_config()
    program = make_random_program(cfg, seed=5)
    fc1 = next(op for op in program.ops if op.name.endswith("mlp.fc1"))
    act = next(op for op in program.ops if op.inputs == (fc1.output,))
    tensors = dict(program.tensors)
    tensors[fc1.output] = dataclasses.replace(tensors[fc1.output], zero_point=60)
    out = tensors[act.output]
    assert out.zero_point == 19  # program_factory's asymmetric GELU output
    table = nx.gelu_lut(tensors[fc1.output].scale, out.scale, 60, out.zero_point)
    ops = tuple(dataclasses.replace(fc1, zero_point=60) if op is fc1 else
                dataclasses.replace(act, table=table) if op is act else op for op in program.ops)
    program = dataclasses.replace(program, tensors=tensors, ops=ops)
    rng = np.random.default_rng(3)
    s_in = program.ops[0].scale
    _check(program, [rng.standard_normal((cfg.channels, cfg.samples)).astype(np.float32) * s_in * k for k in (10, 60)])


def test_layernorm_and_residual_read_their_zero_points():
    """Asymmetric zero points (another op's one-sided outputs): the LayerNorm output and the residual's inputs and
    output use the op's own zero points, in onnxruntime as in numpy; D = 192 and a D that is no multiple of 4."""
    from tinymyo_edge.ir.program import LayerNorm

    rng = np.random.default_rng(4)
    for d in (192, 37):
        c, t = 2, 96 if d == 192 else 37
        n = c * t // d
        tensors = {"input": TensorInfo("input", (c, t), DType.F32),
                   "q": TensorInfo("q", (c, t), DType.U8, 0.05, nx.ACT_ZERO_POINT),
                   "p": TensorInfo("p", (n, d), DType.U8, 0.05, nx.ACT_ZERO_POINT),
                   "ln": TensorInfo("ln", (n, d), DType.U8, 0.04, 5),
                   "r": TensorInfo("r", (n, d), DType.U8, 0.06, 250),
                   "y": TensorInfo("y", (n, d), DType.F32)}
        g, b, s = nx.layernorm_affine(rng.uniform(-2, 2, d) / 0.04, rng.uniform(-1, 1, d) / 0.04, d)
        ma, mb, sh = nx.residual_constants(0.05 / 0.06, 0.04 / 0.06)
        ops = (QuantizeInput("q", ("input",), "q", scale=0.05), Reshape("p", ("q",), "p", shape=(n, d)),
               LayerNorm("ln", ("p",), "ln", gain=g, bias=b, shift=s, recip_bits=nx.layernorm_recip_bits(d),
                         zero_point=5),
               ResidualAdd("r", ("p", "ln"), "r", mult_a=ma, mult_b=mb, shift=sh, zero_a=128, zero_b=5, zero_y=250),
               LinearDequant("y", ("r",), "y", weight=np.eye(d, dtype=np.int8), bias=np.zeros(d, np.int32),
                             scale=np.full(d, 0.06, np.float32)))
        program = Program(tensors, ops, "input", "y")
        x = [rng.standard_normal((c, t)).astype(np.float32) * k for k in (1.0, 5.0, 0.01)]
        _check(program, x)
        vals = program.run(x[0], keep=True)
        assert vals["r"].min() < 250 and np.ptp(vals["ln"]) > 50  # zero points exercised, not saturated
