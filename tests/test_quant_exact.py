"""int8 ONNX == golden executor (ir.Program.run), element for element, on many model sizes, every head, both
reductions, random/real/extreme/tie inputs, every onnxruntime optimisation level and 1 or 2 threads; read_program
restores the Program losslessly; every IR tensor is observable in onnxruntime."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import pytest

from tinymyo_edge.quant import ort_intermediates, quantize_model, read_program
from tinymyo_edge.quant.runtime import LEVELS, session

from test_quant_support import calib_windows, export_float, make_model, real_windows, small_config

CASES = {
    "1ch-cls-concat": dict(channels=1, samples=60, dim=16, heads=1, classes=2),
    "3ch-cls-mean-depth2": dict(channels=3, samples=100, depth=2, reduction="mean"),
    "16ch-cls-patch10-3heads": dict(channels=16, samples=40, patch_size=10, heads=3, classes=7),
    "4ch-reg-concat-interp": dict(channels=4, samples=120, dim=32, heads=4, head="regression", reg_target_len=15),
    "2ch-reg-mean-no-interp": dict(channels=2, samples=80, patch_size=8, head="regression", reduction="mean",
                                   reg_target_len=10, classes=3),
    "5ch-recon-opset17": dict(channels=5, samples=100, dim=16, head="reconstruction", opset=17),
    "8ch-cls-3dc-sized-prob12": dict(channels=8, samples=200, dim=48, depth=2, heads=3, classes=11, opset=17,
                                     prob_bits=12),
    "4ch-reg-prob16": dict(channels=4, samples=160, head="regression", reg_target_len=9, prob_bits=16),
    "3ch-cls-prob8": dict(channels=3, samples=100, heads=2, prob_bits=8),
    "5ch-cls-deferred-100tok-hd24": dict(channels=5, samples=400, dim=48, heads=2, classes=5),  # head_dim 24
}  # cases without prob_bits use the default softmax (deferred); with prob_bits the normalized one
PINNED = {  # NUMERICS.md section 2, plus data movement (shape/reshape/slice/concat/transpose/pad) and constants
    "QuantizeLinear", "QGemm", "MatMulInteger", "QLinearMatMul", "Add", "Sub", "Mul", "Div", "ReduceSum",
    "ReduceMax", "Max", "GatherElements", "Gather", "Cast", "Sqrt", "Floor", "Reshape", "Shape", "Slice", "Concat",
    "Transpose", "Pad", "Unsqueeze", "Constant", "ConstantOfShape",
    "MatMul",  # int32 x int32 only (p.v with prob_bits > 8): exact integer sums, bounded by ranges.py
    "Min", "Less", "Clip", "Pow",  # int32/int64 Min, Less, Clip; Pow: 2**S in float64 (_Body.pow2, exact)
}
FORBIDDEN = {"LayerNormalization", "Softmax", "Erf", "Gelu", "QLinearAdd", "DequantizeLinear", "Sigmoid", "Exp"}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request, tmp_path_factory):
    spec = dict(CASES[request.param])
    opset = spec.pop("opset", 13)
    prob_bits = spec.pop("prob_bits", None)
    softmax = "deferred" if prob_bits is None else "normalized"
    cfg = small_config(**spec)
    tmp = tmp_path_factory.mktemp(request.param)
    model = make_model(cfg, seed=len(request.param))
    float_path = export_float(model, tmp / "float.onnx", opset=opset)
    int8_path = tmp / "model.int8.onnx"
    kwargs = {} if prob_bits is None else dict(softmax="normalized", prob_bits=prob_bits)
    program = quantize_model(float_path, calib_windows(cfg), int8_path, progress=False, **kwargs)
    attention = [op for op in program.ops if op.kind == "attention"]
    assert attention and all(op.softmax == softmax for op in attention)
    assert all(op.prob_bits == (prob_bits or 8) for op in attention)
    return cfg, program, int8_path


def _inputs(cfg, program) -> dict[str, np.ndarray]:
    shape = (cfg.channels, cfg.samples)
    rng = np.random.default_rng(7)
    s_in = program.ops[0].scale
    ties = (rng.integers(-140, 140, shape) + 0.5).astype(np.float32) * np.float32(s_in)  # QuantizeLinear ties
    out = {
        "normal": rng.standard_normal(shape).astype(np.float32),
        "small": 0.01 * rng.standard_normal(shape).astype(np.float32),
        "loud": 30.0 * rng.standard_normal(shape).astype(np.float32),
        "plus_1e6": np.full(shape, 1e6, np.float32),
        "minus_1e6": np.full(shape, -1e6, np.float32),
        "alternating_1e6": np.where(np.indices(shape).sum(0) % 2, 1e6, -1e6).astype(np.float32),
        "zero": np.zeros(shape, np.float32),
        "constant": np.full(shape, 0.37, np.float32),
        "ties": ties,
        "spikes": np.where(rng.random(shape) < 0.02, 1e4, rng.standard_normal(shape)).astype(np.float32),
    }
    real = real_windows(cfg.channels, cfg.samples, n=2)
    if real is not None:
        out.update({f"3dc_{i}": w for i, w in enumerate(real)})
    return out


def test_ort_equals_golden_at_every_level_and_thread_count(case):
    cfg, program, path = case
    inputs = _inputs(cfg, program)
    golden = {name: program.run(x)[program.output] for name, x in inputs.items()}
    for level in LEVELS:
        for threads in (1, 2):
            sess = session(path, level=level, threads=threads)
            for name, x in inputs.items():
                got = sess.run(None, {"emg": x[None]})[0]
                assert got.shape[1:] == golden[name].shape or got.size == golden[name].size
                mismatches = int(np.sum(got.reshape(golden[name].shape) != golden[name]))
                assert mismatches == 0, f"{level}, {threads} threads, input {name}: {mismatches} mismatches"


def test_real_3dc_windows_are_part_of_the_inputs(case):
    cfg, program, _ = case
    if real_windows(cfg.channels, cfg.samples, n=1) is None:
        pytest.skip("real EMG missing: ../shared/data/3dc/participant02.npz (set TINYMYO_SHARED)")
    assert any(name.startswith("3dc_") for name in _inputs(cfg, program))


def test_output_matches_the_float_model_io(case):
    cfg, program, path = case
    model = onnx.load(str(path))
    assert [i.name for i in model.graph.input] == ["emg"]
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    expected = {"classification": [1, cfg.classes], "regression": [1, cfg.reg_target_len, cfg.classes],
                "reconstruction": [1, cfg.tokens, cfg.patch_size]}[cfg.head]
    assert dims == expected
    assert model.graph.output[0].name == {"classification": "logits", "regression": "kinematics",
                                          "reconstruction": "reconstruction"}[cfg.head]


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def test_read_program_is_lossless(case):
    _, program, path = case
    back = read_program(path)
    assert back.input == program.input and back.output == program.output
    assert back.tensors == program.tensors
    assert back.metadata == program.metadata
    assert [type(op) for op in back.ops] == [type(op) for op in program.ops]
    for mine, theirs in zip(program.ops, back.ops):
        for f in dataclasses.fields(mine):
            assert _same(getattr(mine, f.name), getattr(theirs, f.name)), f"{mine.name}.{f.name}"


def test_every_ir_tensor_is_observable_in_onnxruntime(case):
    cfg, program, path = case
    x = calib_windows(cfg, n=1, seed=11)[0]
    golden = program.run(x, keep=True)
    seen = ort_intermediates(path, x)
    assert set(seen) == set(program.tensors)
    for name, value in seen.items():
        assert np.array_equal(value, golden[name]), name


def test_only_pinned_integer_ops_on_the_quantized_path(case):
    _, program, path = case
    model = onnx.load(str(path))
    used = {n.op_type for f in model.functions for n in f.node}
    assert used <= PINNED, used - PINNED
    assert not used & FORBIDDEN
    assert {n.domain for n in model.graph.node} == {"", "tinymyo_edge"}
    assert {n.op_type for n in model.graph.node if n.domain == ""} == {"Reshape"}  # batch axis in/out only
    assert [n.name for n in model.graph.node if n.domain == "tinymyo_edge"] == [op.name for op in program.ops]
