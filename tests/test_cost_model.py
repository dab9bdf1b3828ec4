"""The GAP9 cost model reproduces the measured per-op cycles of its calibration run: the pulp-open GVSoC 128 kB
results committed in bench/results/gvsoc.json and gvsoc_regression.json (expected values read from those files, not
from the model), on the default 8 x 1000 shapes (a random Program: cycles depend on shapes only)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from program_factory import make_random_program
from tinymyo_edge.build.core import build_program
from tinymyo_edge.model.config import TinyMyoConfig
from tinymyo_edge.profile.report import profile

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results"
LINEAR_CLASS = ("linear", "linear_lut", "linear_dequant")  # bench_gvsoc.py's "linear" class


def measured(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


@pytest.fixture(scope="module", params=["classification", "regression"])
def run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param) / "build"
    build_program(make_random_program(TinyMyoConfig(head=request.param), seed=0), out, target="gap9")
    name = "gvsoc" if request.param == "classification" else "gvsoc_regression"
    return profile(out), measured(name)


def test_per_layer_cycles_of_the_calibration_run(run):
    p, record = run
    layers = record["details"]["l1_128k"]["layers"]
    # not in the fit; bench_cost_model reports their errors (HELD_OUT): the regressor, the K = 20 patch embedding
    held_out = {"model_head_regressor_0", "model_head_regressor_5", "patch_embedding_patch_embed_proj"}
    compared = 0
    for r in p.rows:
        if r.layer in layers and r.layer not in held_out:
            assert r.est_cycles == pytest.approx(layers[r.layer]["cycles"], rel=0.01), r.layer
            compared += 1
    assert compared >= 40 if record["benchmark"] == "gvsoc" else compared >= 3


def test_per_class_cycles_of_the_calibration_run(run):
    p, record = run
    if record["benchmark"] != "gvsoc":
        pytest.skip("the regression head's linear layers are held out")
    metrics = record["metrics"]
    by_kind: dict[str, float] = defaultdict(float)
    for r in p.rows:
        by_kind["linear" if r.work.kind in LINEAR_CLASS else r.work.kind] += r.est_cycles
    assert by_kind["attention"] == pytest.approx(metrics["l1_128k.attention.cycles"]["value"], rel=1e-6)
    assert by_kind["linear"] == pytest.approx(metrics["l1_128k.linear.cycles"]["value"], rel=0.001)
    for kind in ("layernorm", "residual_add", "quantize_input", "token_mean"):
        assert by_kind[kind] == pytest.approx(metrics[f"l1_128k.other.{kind}.cycles"]["value"], rel=1e-6), kind
    assert p.est_cycles == pytest.approx(metrics["l1_128k.total_cycles"]["value"], rel=0.001)
