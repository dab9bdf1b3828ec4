"""Ablation (quant/ablation.py): with every class quantized the mixed builder IS build_program (same ops, same
constants, same outputs, evaluation windows not leaking into calibration); with none quantized it IS the float model;
one class quantized changes exactly the ops of that class."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.quant.ablation import (ALL, MixedBuilder, ablate, float_logits, format_table, op_class,
                                         program_classes, quantized_by)
from tinymyo_edge.quant.builder import build_program

from test_quant_support import calib_windows, make_model, small_config

CONFIGS = {
    "cls-concat": dict(depth=2),
    "cls-mean": dict(reduction="mean"),
    "reg-interp": dict(head="regression", channels=4, samples=120, dim=32, heads=4, reg_target_len=15),
}


def _same_op(a, b) -> bool:
    if type(a) is not type(b):
        return False
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if not (np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y):
            return False
    return True


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def setup(request):
    cfg = small_config(**CONFIGS[request.param])
    model = make_model(cfg, seed=3)
    return model, calib_windows(cfg, n=6), calib_windows(cfg, n=5, seed=9)


def test_all_quantized_is_build_program(setup):
    model, calib, evalx = setup
    program = build_program(model, calib, progress=False)
    mixed = MixedBuilder(model, calib, evalx, quantized=quantized_by([ALL]))
    got = mixed.build()
    assert [op.name for op in got.ops] == [op.name for op in program.ops]
    assert all(_same_op(a, b) for a, b in zip(got.ops, program.ops))
    assert got.tensors == program.tensors  # every scale and zero point
    assert got.metadata["calibration"] == program.metadata["calibration"]
    want = np.stack([program.run(w)[program.output] for w in evalx]).reshape(len(evalx), -1)
    assert np.array_equal(mixed.evaluation_output(), want.astype(np.float64))


def test_nothing_quantized_is_the_float_model(setup):
    model, calib, evalx = setup
    mixed = MixedBuilder(model, calib, evalx, quantized=quantized_by([]))
    mixed.build()
    ref = float_logits(model, evalx)
    got = mixed.evaluation_output()
    assert np.allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    assert {op.output for op in mixed.ops} <= mixed.floats.keys()  # no tensor went through an integer op


def test_one_class_quantizes_exactly_its_ops(setup):
    model, calib, evalx = setup
    program = build_program(model, calib, progress=False)
    for cls in program_classes(program):
        mixed = MixedBuilder(model, calib, evalx, quantized=quantized_by([cls]))
        mixed.build()
        integer = {op.output for op in mixed.ops if op.output not in mixed.floats}
        want = {op.output for op in program.ops if op_class(op) == cls}
        layout = {op.output for op in program.ops if op.kind == "reshape" and op.inputs[0] in integer}
        assert integer - layout == want, cls


def test_ablate_rows_and_unknown_class(setup):
    model, calib, evalx = setup
    labels = np.arange(len(evalx)) % model.cfg.classes
    res = ablate(model, calib, evalx, labels, classes=["attention", "layernorm"])
    assert [(r["config"], r["class"]) for r in res.rows] == [
        ("none", "-"), ("only", "attention"), ("only", "layernorm"), ("all_but", "attention"),
        ("all_but", "layernorm"), ("all", "-")]
    assert res.rows[0]["cosine_min"] > 0.9999
    assert "| all" in format_table(res)
    with pytest.raises(TinyMyoError, match="no op of class nonsense"):
        ablate(model, calib, evalx, classes=["nonsense"])
