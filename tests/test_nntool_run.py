"""The generated NNTool driver run against a real NNTool (nntool.api): skipped where none is importable.

Point TINYMYO_NNTOOL_PYTHON at a Python that imports nntool.api (docs/NNTOOL.md: the public NNTool in a venv) to
run these locally. generate also needs TILER_CNN_KERNEL_PATH_SQ8 (the AutoTiler's CNN_Libraries_SQ8); without it
the steps up to execute run.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import torch

from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.model import TinyMyo, TinyMyoConfig
from tinymyo_edge.targets import nntool as nt

from test_nntool import SMALL, _export, _windows


def _python_with_nntool():
    try:
        return nt.nntool_python()
    except TinyMyoError:
        return None


NNTOOL_PYTHON = _python_with_nntool()
pytestmark = pytest.mark.skipif(NNTOOL_PYTHON is None, reason="NNTool (nntool.api) not importable")
ALL_STEPS = "import,fusions,quantize,execute" + (",generate" if os.environ.get("TILER_CNN_KERNEL_PATH_SQ8") else "")
# SQ8 against float: GAP9.md measured cosine 0.9993 on random weights; a stated floor well below that.
MIN_COSINE = 0.99


def _run(onnx_path, calib, val, outdir):
    project = nt.build_nntool_project(onnx_path, calib, outdir, run_nntool=False, val_x=val)
    return project.outdir, nt.run_driver(project.outdir, NNTOOL_PYTHON, steps=ALL_STEPS)


def _check_run(outdir, report, val):
    assert report["steps_ok"] == ALL_STEPS.split(",")
    assert not [w for w in report["warnings"] if "not currently supported" in w]
    fidelity = report["fidelity_vs_onnxruntime_float"]
    assert fidelity is not None, "onnxruntime missing in the NNTool Python: no float reference"
    assert fidelity["cosine_min"] >= MIN_COSINE, fidelity
    with np.load(outdir / "BUILD_MODEL" / "nntool_reference.npz") as ref:
        assert ref["output_q"].dtype == np.int8 and len(ref["output_q"]) == len(val)
        assert ref["x"].tobytes() == val.tobytes()
    header = (outdir / "BUILD_MODEL" / "TinyMyoRef.h").read_text()
    assert re.search(rf"#define REF_WINDOWS {len(val)}\b", header)
    if "generate" in report["steps_ok"]:
        assert (outdir / "BUILD_MODEL" / f"{nt.MODEL_NAME}Model.c").is_file()


def test_default_export_runs_through_nntool(tmp_path):
    onnx_path = _export(SMALL, tmp_path / "small.onnx")
    val = _windows(3, seed=1)
    outdir, report = _run(onnx_path, _windows(6), val, tmp_path / "proj")
    _check_run(outdir, report, val)


def test_unsupported_operator_fails_loudly(tmp_path):
    """At opset 17 the exporter emits LayerNormalization, which the public NNTool skips with only a warning."""
    import onnx

    from tinymyo_edge.export import remove_identities  # Identity nodes stop NNTool before LayerNormalization

    torch.manual_seed(0)
    model = TinyMyo(SMALL).eval()
    model.set_export_form(True)
    path = tmp_path / "opset17.onnx"
    torch.onnx.export(model, (torch.zeros(1, SMALL.channels, SMALL.samples),), str(path), dynamo=False,
                      opset_version=17, input_names=["emg"], output_names=["logits"])
    import onnxsim

    graph, ok = onnxsim.simplify(remove_identities(onnx.load(str(path))), perform_optimization=False)
    assert ok
    assert "LayerNormalization" in {n.op_type for n in graph.graph.node}
    onnx.save(graph, str(path))
    project = nt.build_nntool_project(path, _windows(2), tmp_path / "proj", run_nntool=False)
    with pytest.raises(TinyMyoError, match="not currently supported"):
        nt.run_driver(project.outdir, NNTOOL_PYTHON, steps="import")


@pytest.mark.slow
def test_full_default_model_runs_through_nntool(tmp_path):
    cfg = TinyMyoConfig()
    onnx_path = _export(cfg, tmp_path / "full.onnx")
    val = _windows(2, cfg, seed=1)
    outdir, report = _run(onnx_path, _windows(4, cfg), val, tmp_path / "proj")
    _check_run(outdir, report, val)
