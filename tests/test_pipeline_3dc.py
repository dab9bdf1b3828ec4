"""examples/3dc_pipeline.py end to end on real EMG, reduced (participant 5, dim 32, depth 1, 2 epochs, 40 test
windows): the C host build's outputs equal onnxruntime's window by window, and every accuracy figure in
results.json is what the saved predictions and labels give when recomputed here independently."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from tinymyo_edge.model.checkpoint import load_checkpoint

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "3dc_pipeline.py"
EVAL = 40


@pytest.fixture(scope="module")
def run(shared_dir, tmp_path_factory):
    spec = importlib.util.spec_from_file_location("pipeline_3dc", SCRIPT)
    pipeline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pipeline)
    out = tmp_path_factory.mktemp("p3dc")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYMYO_SHARED", str(shared_dir))
        assert pipeline.main(["--participants", "5", "--out", str(out), "--hop", "200", "--dim", "32", "--depth", "1",
                              "--epochs", "2", "--threads", "1", "--int8", "--host-c", "--max-eval", str(EVAL)]) == 0
    return out, json.loads((out / "results.json").read_text())


def _ort_outputs(model: Path, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.stack([sess.run(None, {name: w[None]})[0].ravel() for w in x])


def test_c_host_outputs_equal_onnxruntime_window_by_window(run):
    out, results = run
    p = out / "p05"
    with np.load(p / "eval_inputs.npz") as f:
        x = f["x"]
    with np.load(p / "host_outputs.npz") as f:
        c = f["y"].reshape(len(x), -1)
    assert len(x) == EVAL
    assert np.array_equal(c, _ort_outputs(p / "model.int8.onnx", x))
    row = results["participants"][0]
    assert row["host_c_equals_ort"] is True and row["host_c_windows_differing"] == 0
    assert results["host_c_equals_ort_all"] is True


def test_accuracies_are_recomputed_from_predictions_and_labels(run):
    out, results = run
    p = out / "p05"
    with np.load(p / "test.npz") as f:
        test_x, test_y = f["x"], f["y"]
    with np.load(p / "eval_inputs.npz") as f:
        x = f["x"]
    idx = np.linspace(0, len(test_x) - 1, EVAL).round().astype(int)
    assert np.array_equal(x, test_x[idx])
    model = load_checkpoint(p / "model.safetensors", heads=2).eval()
    with torch.no_grad():
        float_all = model(torch.from_numpy(test_x)).argmax(1).numpy()
    int8 = _ort_outputs(p / "model.int8.onnx", x).argmax(1)
    with np.load(p / "host_outputs.npz") as f:
        c = f["y"].reshape(EVAL, -1).argmax(1)
    y = test_y[idx]
    row = results["participants"][0]
    assert row["test_windows"] == len(test_y) and row["eval_windows"] == EVAL
    assert row["float_test_accuracy"] == pytest.approx(np.mean(float_all == test_y), abs=1.5 / len(test_y))
    assert row["float_accuracy"] == pytest.approx(np.mean(float_all[idx] == y), abs=1.5 / EVAL)
    assert row["int8_ort_accuracy"] == pytest.approx(np.mean(int8 == y), abs=1e-12)
    assert row["host_c_accuracy"] == pytest.approx(np.mean(c == y), abs=1e-12)
    assert row["int8_float_agreement"] == pytest.approx(np.mean(int8 == float_all[idx]), abs=1.5 / EVAL)
    confusion = np.zeros((11, 11), np.int64)
    np.add.at(confusion, (y, int8), 1)
    assert np.array_equal(row["confusion"]["int8"], confusion)
    assert np.sum(row["confusion"]["float"]) == len(test_y)
    assert results["mean_int8_ort_accuracy"] == row["int8_ort_accuracy"]


def test_writes_checkpoint_and_confusion_pngs(run):
    out, results = run
    for path in [out / "p05" / "model.safetensors", out / "p05" / "confusion_float.png",
                 out / "p05" / "confusion_int8.png", out / "p05" / "confusion_c.png",
                 *map(Path, results["confusion_png"].values())]:
        assert path.stat().st_size > 0, path
