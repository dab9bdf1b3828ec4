"""`tinymyo-edge quantize` end to end, and bad input: refused with a message naming the problem, exit status 2,
no output file left behind."""

from __future__ import annotations

import json

import h5py
import numpy as np
import onnx
import pytest
from onnx import helper as oh

from tinymyo_edge.cli import main
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.quant import quantize_model, read_program, run_int8

from test_quant_support import calib_windows, export_float, make_model, small_config


@pytest.fixture(scope="module")
def float_model(tmp_path_factory):
    cfg = small_config()
    path = export_float(make_model(cfg), tmp_path_factory.mktemp("float") / "model.onnx")
    return cfg, path


def _cli(argv, capsys):
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_quantizes_and_writes_a_report(float_model, tmp_path, capsys):
    cfg, path = float_model
    np.savez(tmp_path / "calib.npz", x=calib_windows(cfg, n=6), y=np.arange(6))
    out = tmp_path / "model.int8.onnx"
    code, stdout, err = _cli([
        "quantize", str(path), "--calib", str(tmp_path / "calib.npz"), "-o", str(out), "--method", "percentile",
        "--report", str(tmp_path / "report")], capsys)
    assert code == 0, err
    assert "wrote" in stdout and "QSNR" in stdout
    program = read_program(out)
    assert program.metadata["calibration_method"] == "percentile"
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert {r["tensor"] for r in report["layers"]} >= {"blocks.0.attn", "norm", "model_head.classifier"}
    assert all(np.isfinite(r["qsnr_db"]) and -1 <= r["cosine"] <= 1 for r in report["layers"])
    assert (tmp_path / "report" / "report.png").stat().st_size > 1000
    x = calib_windows(cfg, n=1, seed=5)[0]
    assert np.array_equal(run_int8(out, x).reshape(-1), program.run(x)[program.output].reshape(-1))


def test_cli_reads_hdf5_calibration(float_model, tmp_path, capsys):
    cfg, path = float_model
    with h5py.File(tmp_path / "calib.h5", "w") as f:
        f["data"] = calib_windows(cfg, n=4)
    code, _, err = _cli(["quantize", str(path), "--calib", str(tmp_path / "calib.h5"), "-o",
                         str(tmp_path / "q.onnx"), "--max-windows", "2"], capsys)
    assert code == 0, err
    assert read_program(tmp_path / "q.onnx").metadata["calibration_windows"] == "2"


def _bad_calibrations(cfg):
    good = calib_windows(cfg, n=4)
    nan, inf = good.copy(), good.copy()
    nan[2, 1, 7] = np.nan
    inf[1, 0, 0] = np.inf
    return {
        "wrong channel count": (good[:, :2], "2 channels, but the model expects 3"),
        "wrong sample count": (good[:, :, :80], "80 samples per window, but the model expects 100"),
        "wrong rank": (good[0], "rank 3"),
        "empty set": (good[:0], "empty"),
        "NaN": (nan, "NaN or Inf"),
        "Inf": (inf, "NaN or Inf"),
    }


@pytest.mark.parametrize("case", ["wrong channel count", "wrong sample count", "wrong rank", "empty set", "NaN", "Inf"])
def test_bad_calibration_data_is_refused_and_nothing_written(float_model, tmp_path, capsys, case):
    cfg, path = float_model
    data, message = _bad_calibrations(cfg)[case]
    with pytest.raises(TinyMyoError, match=message):
        quantize_model(path, data, tmp_path / "q.onnx", progress=False)
    np.savez(tmp_path / "calib.npz", x=data)
    code, _, err = _cli(["quantize", str(path), "--calib", str(tmp_path / "calib.npz"), "-o", str(tmp_path / "q.onnx")],
                        capsys)
    assert code == 2 and err.startswith("error:")
    assert list(tmp_path.iterdir()) == [tmp_path / "calib.npz"]  # no output, no temporary left behind


def test_unsupported_float_model_is_refused_and_nothing_written(float_model, tmp_path, capsys):
    cfg, path = float_model
    model = onnx.load(str(path))
    node = next(n for n in model.graph.node if n.op_type == "Erf")
    node.op_type, node.name = "Tanh", "gelu_tanh_approximation"  # not the exact-erf GELU of TinyMyo
    onnx.save(model, str(tmp_path / "tanh.onnx"))
    np.savez(tmp_path / "calib.npz", x=calib_windows(cfg, n=2))
    code, _, err = _cli(["quantize", str(tmp_path / "tanh.onnx"), "--calib", str(tmp_path / "calib.npz"), "-o",
                         str(tmp_path / "q.onnx")], capsys)
    assert code == 2 and "gelu_tanh_approximation" in err and "Tanh" in err
    assert not (tmp_path / "q.onnx").exists()


def test_existing_output_needs_force(float_model, tmp_path, capsys):
    cfg, path = float_model
    np.savez(tmp_path / "calib.npz", x=calib_windows(cfg, n=2))
    (tmp_path / "q.onnx").write_bytes(b"precious")
    argv = ["quantize", str(path), "--calib", str(tmp_path / "calib.npz"), "-o", str(tmp_path / "q.onnx")]
    code, _, err = _cli(argv, capsys)
    assert code == 2 and "--force" in err and (tmp_path / "q.onnx").read_bytes() == b"precious"
    code, _, err = _cli(argv + ["--force"], capsys)
    assert code == 0, err and read_program(tmp_path / "q.onnx")


def test_read_program_refuses_a_float_model(float_model):
    _, path = float_model
    with pytest.raises(TinyMyoError, match="not a tinymyo-edge int8 model"):
        read_program(path)


def test_read_program_refuses_foreign_nodes(float_model, tmp_path):
    cfg, path = float_model
    quantize_model(path, calib_windows(cfg, n=2), tmp_path / "q.onnx", progress=False)
    model = onnx.load(str(tmp_path / "q.onnx"))
    model.graph.node.insert(1, oh.make_node("Identity", ["input"], ["input_copy"], name="stray_identity"))
    onnx.save(model, str(tmp_path / "edited.onnx"))
    with pytest.raises(TinyMyoError, match="stray_identity"):
        read_program(tmp_path / "edited.onnx")


def test_cli_softmax_default_is_deferred_and_normalized_is_selectable(float_model, tmp_path, capsys):
    cfg, path = float_model
    np.savez(tmp_path / "calib.npz", x=calib_windows(cfg, n=4))
    code, stdout, err = _cli(["quantize", "--help"], capsys)
    assert code == 0 and "--softmax [deferred|normalized]" in stdout and "default: deferred" in stdout
    for argv, softmax, bits in (([], "deferred", 8), (["--softmax", "normalized", "--softmax-bits", "12"],
                                                      "normalized", 12)):
        out = tmp_path / f"{softmax}.int8.onnx"
        code, _, err = _cli(["quantize", str(path), "--calib", str(tmp_path / "calib.npz"), "-o", str(out), *argv],
                            capsys)
        assert code == 0, err
        attention = [op for op in read_program(out).ops if op.kind == "attention"]
        assert attention and all(op.softmax == softmax and op.prob_bits == bits for op in attention)
    code, _, err = _cli(["quantize", str(path), "--calib", str(tmp_path / "calib.npz"), "-o", str(tmp_path / "x.onnx"),
                         "--softmax", "exact"], capsys)
    assert code == 2 and "exact" in err
