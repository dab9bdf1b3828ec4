"""quantize's choice of the clip percentile on held-out calibration windows (quant/select.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import onnx

from tinymyo_edge.quant import quantize_model, read_program
from tinymyo_edge.quant.select import SELECT_PERCENTILES, held_out_windows, mean_kl

from test_quant_support import calib_windows, export_float, make_model, small_config


def test_held_out_windows_skip_the_calibration_windows_and_spread():
    x = np.arange(100)[:, None, None] * np.ones((1, 2, 3))
    used = np.array([0, 33, 66, 99])
    out = held_out_windows(x, used, limit=10)
    ids = out[:, 0, 0].astype(int)
    assert len(ids) == 10 and not set(ids) & set(used) and ids[0] == 1 and ids[-1] == 98
    assert len(held_out_windows(x, np.arange(100))) == 0


def test_mean_kl_by_hand():
    float_logits = np.array([[0.0, 0.0], [1.0, 2.0]])
    assert mean_kl(float_logits, float_logits) == 0.0
    # window 0: p = (1/2, 1/2), q = softmax(0, ln 3) = (1/4, 3/4): KL = ln(4/3) / 2; window 1: identical
    got = mean_kl(float_logits, np.array([[0.0, math.log(3.0)], [1.0, 2.0]]))
    assert math.isclose(got, math.log(4.0 / 3.0) / 4.0, rel_tol=1e-9)


def test_default_percentile_is_chosen_on_held_out_windows(tmp_path):
    """More windows than --max-windows: both candidates are built and scored on the others; the kept program is
    the one an explicit --percentile of the chosen value writes (the same ONNX), its score the smaller."""
    cfg = small_config(depth=1, heads=2, dim=16)
    path = export_float(make_model(cfg, seed=3), tmp_path / "m.onnx")
    x = calib_windows(cfg, n=12, seed=2)
    program = quantize_model(path, x, tmp_path / "auto.onnx", progress=False, max_windows=4)
    sel = json.loads(program.metadata["calibration_selection"])
    assert sel["windows"] == 8 and set(sel["kl"]) == {repr(p) for p in SELECT_PERCENTILES}
    assert sel["kl"][sel["chosen"]] == min(sel["kl"].values())
    assert program.metadata["calibration_percentile"] == sel["chosen"]
    explicit = quantize_model(path, x, tmp_path / "explicit.onnx", progress=False, max_windows=4,
                              percentile=float(sel["chosen"]))
    assert "calibration_selection" not in explicit.metadata
    auto_graph, explicit_graph = (onnx.load(str(tmp_path / f)).graph for f in ("auto.onnx", "explicit.onnx"))
    assert auto_graph.SerializeToString() == explicit_graph.SerializeToString()
    assert read_program(tmp_path / "auto.onnx").metadata["calibration_selection"] == program.metadata[
        "calibration_selection"]


def test_no_selection_without_held_out_windows_or_for_regression(tmp_path):
    cfg = small_config(depth=1, heads=2, dim=16)
    path = export_float(make_model(cfg, seed=3), tmp_path / "m.onnx")
    program = quantize_model(path, calib_windows(cfg, n=4), tmp_path / "q.onnx", progress=False, max_windows=4)
    assert "calibration_selection" not in program.metadata and program.metadata["calibration_percentile"] == "99.9"
    cfg = small_config(depth=1, heads=2, dim=16, head="regression")
    path = export_float(make_model(cfg, seed=3), tmp_path / "r.onnx")
    program = quantize_model(path, calib_windows(cfg, n=12), tmp_path / "r8.onnx", progress=False, max_windows=4)
    assert "calibration_selection" not in program.metadata and program.metadata["calibration_method"] == "mse"
