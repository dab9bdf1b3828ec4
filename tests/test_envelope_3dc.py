"""examples/3dc_envelope.py (the regression proxy) and examples/3dc_pipeline.py --recipe deployed: the target and R^2
are what their definitions say (checked on hand-made arrays), the deployed recipe windows 3DC as documented, and the
regression model, reduced (participant 5, dim 16, depth 1, 1 epoch, 20 test windows), deploys with C == onnxruntime
on every window and R^2 figures that recompute from the saved outputs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EVAL = 20


def _load(name):
    spec = importlib.util.spec_from_file_location(name.replace("3dc_", "t3dc_"), EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_envelope_is_the_blockwise_rms_per_channel():
    x = np.zeros((1, 2, 8), np.float32)
    x[0, 0] = [3, -3, 3, -3, 0, 0, 0, 0]  # channel 0: RMS 3 in block 0, 0 in block 1
    x[0, 1] = [1, 1, 1, 1, 2, -2, 2, -2]  # channel 1: 1 then 2
    env = _load("3dc_envelope").envelope(x, 2)
    assert env.shape == (1, 2, 2) and np.array_equal(env[0], [[3, 1], [0, 2]])


def test_r2_is_per_channel_then_averaged():
    truth = np.array([[[0.0, 1.0]], [[2.0, 3.0]], [[4.0, 8.0]]])  # (N=3, L=1, K=2)
    pred = truth.copy()
    pred[:, 0, 1] = truth[:, 0, 1].mean()  # channel 1 predicted by its mean: R^2 0; channel 0 exact: R^2 1
    assert _load("3dc_envelope").r2(pred, truth) == pytest.approx(0.5)


def test_deployed_recipe_is_8_channels_of_1000_samples_at_1000_hz(shared_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TINYMYO_SHARED", str(shared_dir))
    p = _load("3dc_pipeline")
    args = p.parse_args(["--recipe", "deployed", "--out", str(tmp_path)])
    assert (args.window, args.fs_out, args.dim, args.depth, args.heads, args.patch_size) == (1000, 1000.0, 192, 8, 3, 20)
    assert p.channel_list(args) == (0, 2, 3, 4, 5, 7, 8, 9) and args.max_minutes == 35.0
    train, test = p.window_participant(shared_dir / "data" / "3dc" / "participant05.npz", tmp_path, args)
    assert train.x.shape[1:] == test.x.shape[1:] == (8, 1000)
    assert train.meta["fs_out"] == 1000.0 and list(train.meta["params"]["channels"]) == [0, 2, 3, 4, 5, 7, 8, 9]
    small = p.parse_args(["--out", str(tmp_path)])  # the small recipe is unchanged
    assert (small.window, small.fs_out, small.channels, small.dim) == (250, 500.0, None, 64)


@pytest.fixture(scope="module")
def run(shared_dir, tmp_path_factory):
    env = _load("3dc_envelope")
    out = tmp_path_factory.mktemp("env")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYMYO_SHARED", str(shared_dir))
        assert env.main(["--participants", "5", "--out", str(out), "--hop", "250", "--dim", "16", "--depth", "1",
                         "--epochs", "1", "--int8", "--host-c", "--max-eval", str(EVAL)]) == 0
    return env, out / "p05", json.loads((out / "results.json").read_text())["participants"][0]


def test_regression_c_outputs_equal_onnxruntime_and_r2_recomputes(run):
    env, p, row = run
    with np.load(p / "eval_inputs.npz") as f:
        x = f["x"]
    sess = ort.InferenceSession(str(p / "model.int8.onnx"), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    ort_out = np.stack([sess.run(None, {name: w[None]})[0][0] for w in x])
    with np.load(p / "host_outputs.npz") as f:
        c = f["y"].reshape(ort_out.shape)
    assert len(x) == EVAL and ort_out.shape == (EVAL, 10, 10)  # 10 blocks of 50 ms x 10 channels
    assert np.array_equal(c, ort_out) and row["host_c_equals_ort"] is True
    with np.load(p / "test.npz") as f:
        both = f["x"]  # input + next window
    idx = np.linspace(0, len(both) - 1, EVAL).round().astype(int)
    assert np.array_equal(x, both[idx, :, :250])
    target = np.sqrt((both[idx, :, 250:].astype(np.float64).reshape(EVAL, 10, 10, 25) ** 2).mean(-1)).transpose(0, 2, 1)
    ss_res = ((target - ort_out) ** 2).reshape(-1, 10).sum(0)
    ss_tot = ((target - target.reshape(-1, 10).mean(0)) ** 2).reshape(-1, 10).sum(0)
    assert row["r2_int8_ort"] == pytest.approx(np.mean(1 - ss_res / ss_tot), rel=1e-6)
    assert row["r2_host_c"] == row["r2_int8_ort"]
