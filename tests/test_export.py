"""ONNX export: the NNTool form, metadata, parity with PyTorch on real EMG, and the CLI's errors."""

import hashlib
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner
from onnx import helper

import tinymyo_edge.export as export_module
from tinymyo_edge.cli import cli, main
from tinymyo_edge.data import Windows, save_windows
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.export import export_onnx, fold_constant_nodes, prepare_model, read_metadata, remove_identities
from tinymyo_edge.model import TinyMyo, TinyMyoConfig
from tinymyo_edge.model.checkpoint import save_checkpoint

TINY_ARGS = ["--channels", "4", "--samples", "200", "--dim", "24", "--depth", "2", "--heads", "2", "--classes", "3"]


@pytest.fixture
def tiny_model(tiny_config):
    torch.manual_seed(0)
    return TinyMyo(tiny_config).eval()


def shapes_of(model: onnx.ModelProto) -> dict[str, list[int]]:
    inferred = onnx.shape_inference.infer_shapes(model)
    values = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}
    shapes.update({t.name: list(t.dims) for t in model.graph.initializer})
    return shapes


def ort_run(path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, {"emg": x[i : i + 1]})[0] for i in range(len(x))])


# ------------------------------------------------------------------------------------------------ form


@pytest.mark.parametrize("opset", [13, 14])
def test_default_form_is_what_nntool_imports(tiny_model, tmp_path, opset):
    path = tmp_path / "m.onnx"
    export_onnx(tiny_model, path, opset=opset)
    model = onnx.load(str(path))
    ops = [n.op_type for n in model.graph.node]
    assert model.opset_import[0].version == opset
    assert "Identity" not in ops and "LayerNormalization" not in ops and "Constant" not in ops and "Gelu" not in ops
    assert "Erf" in ops and "ReduceMean" in ops and "Sqrt" in ops  # GELU via Erf, LayerNorm decomposed
    shapes = shapes_of(model)
    weights = {t.name for t in model.graph.initializer}
    attention = 0
    for node in (n for n in model.graph.node if n.op_type == "MatMul"):
        a, b = (shapes[i] for i in node.input)
        if node.input[1] in weights:  # a per-token linear layer at batch 1
            assert len(b) == 2 and all(d == 1 for d in a[:-2]), (node.name, a, b)
        else:  # attention: per head, plain 2-D
            assert len(a) == 2 and len(b) == 2, (node.name, a, b)
            attention += 1
    assert attention == 2 * tiny_model.cfg.heads * tiny_model.cfg.depth
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "emg" and shapes["emg"] == [1, 4, 200]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert out.name == "logits" and shapes["logits"] == [1, 3]


def test_opset_17_emits_layernormalization(tiny_model, tmp_path):
    report = export_onnx(tiny_model, tmp_path / "m17.onnx", opset=17)
    assert report.ops.get("LayerNormalization") == 2 * tiny_model.cfg.depth + 1
    assert "Identity" not in report.ops and "Pow" not in report.ops  # no decomposed LayerNorm left
    assert any("NNTool" in note for note in report.notes)


@pytest.mark.parametrize("head,name,shape", [("regression", "kinematics", [1, 500, 3]),
                                             ("reconstruction", "reconstruction", [1, 40, 20])])
def test_output_is_named_by_head(tiny_config, tmp_path, head, name, shape):
    torch.manual_seed(0)
    path = tmp_path / "m.onnx"
    export_onnx(TinyMyo(tiny_config.replace(head=head, reg_hidden=8)), path)
    model = onnx.load(str(path))
    assert model.graph.output[0].name == name and shapes_of(model)[name] == shape


def test_metadata_records_config_weights_versions_and_form(tiny_model, tmp_path):
    path = tmp_path / "m.onnx"
    export_onnx(tiny_model, path, source="random-init seed 0")
    meta = read_metadata(path)
    assert TinyMyoConfig.from_dict(json.loads(meta["config"])) == tiny_model.cfg
    assert meta["weights"] == "random-init seed 0"
    assert meta["torch_version"] == torch.__version__ and meta["onnx_version"] == onnx.__version__
    assert meta["version"] and "opset 13" in meta["export_form"] and "per-head 2-D" in meta["export_form"]
    assert {p["inputs"] for p in json.loads(meta["parity"])} == {"random"}


def test_dynamic_batch_needs_opset_14_and_runs_any_batch(tiny_model, tmp_path):
    with pytest.raises(TinyMyoError, match="opset >= 14"):
        export_onnx(tiny_model, tmp_path / "d.onnx", dynamic_batch=True)
    export_onnx(tiny_model, tmp_path / "d.onnx", dynamic_batch=True, opset=14)
    x = np.random.default_rng(0).standard_normal((3, 4, 200)).astype(np.float32)
    y = ort.InferenceSession(str(tmp_path / "d.onnx"), providers=["CPUExecutionProvider"]).run(None, {"emg": x})[0]
    assert y.shape == (3, 3)
    assert np.allclose(y, tiny_model(torch.from_numpy(x)).detach().numpy(), atol=1e-5)


def test_identity_nodes_are_removed_and_constants_become_initializers():
    graph = helper.make_graph(
        [helper.make_node("Constant", [], ["c"], value=helper.make_tensor("v", onnx.TensorProto.FLOAT, [1], [2.0])),
         helper.make_node("Identity", ["x"], ["x1"]), helper.make_node("Mul", ["x1", "c"], ["m0"]),
         helper.make_node("Constant", [], ["k"], value_floats=[1.0, 0.5]), helper.make_node("Mul", ["m0", "k"], ["m"]),
         helper.make_node("Identity", ["m"], ["y"])],
        "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])])
    model = fold_constant_nodes(remove_identities(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])))
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node] == ["Mul", "Mul"]
    assert model.graph.output[0].name == "y" and sorted(i.name for i in model.graph.initializer) == ["c", "k"]
    out = ort.InferenceSession(model.SerializeToString()).run(None, {"x": np.array([1.5, -2], np.float32)})[0]
    assert out.tolist() == [3.0, -2.0]


# ------------------------------------------------------------------------------------------------ parity


def test_parity_on_real_emg_windows(tiny_model, real_windows, tmp_path):
    x = real_windows(4, 200, 16)
    path = tmp_path / "m.onnx"
    report = export_onnx(tiny_model, path, parity_inputs=x)
    real = next(p for p in report.parity if p.inputs == "real")
    assert real.windows == 16 and real.ok
    # independent check of the written file against PyTorch
    expected = tiny_model(torch.from_numpy(x)).detach().numpy()
    got = ort_run(path, x)
    assert np.abs(got - expected).max() <= 1e-4 * max(1.0, np.abs(expected).max())
    assert real.max_abs_error == pytest.approx(np.abs(got.astype(np.float64) - expected).max(), rel=0.5, abs=1e-7)


def test_parity_failure_leaves_no_file(tiny_model, tmp_path, monkeypatch):
    reference = export_module._torch_reference
    monkeypatch.setattr(export_module, "_torch_reference", lambda model, x: reference(model, x) + 1e-2)
    path = tmp_path / "m.onnx"
    with pytest.raises(TinyMyoError, match="not written: onnxruntime differs from PyTorch"):
        export_onnx(tiny_model, path)
    assert list(tmp_path.iterdir()) == []


def test_parity_windows_of_the_wrong_size_are_refused(tiny_model, tmp_path):
    with pytest.raises(TinyMyoError, match="parity windows: 8 channels, but the model expects 4"):
        export_onnx(tiny_model, tmp_path / "m.onnx", parity_inputs=np.zeros((2, 8, 200), np.float32))


def test_refuses_a_folder_as_output(tiny_model, tmp_path):
    with pytest.raises(TinyMyoError, match="is a folder"):
        export_onnx(tiny_model, tmp_path, force=True)


def test_refuses_to_overwrite_without_force(tiny_model, tmp_path):
    path = tmp_path / "m.onnx"
    path.write_text("keep me")
    with pytest.raises(TinyMyoError, match="already exists"):
        export_onnx(tiny_model, path)
    assert path.read_text() == "keep me"
    export_onnx(tiny_model, path, force=True)
    assert onnx.load(str(path)).graph.input[0].name == "emg"


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_exports_a_checkpoint_with_parity_data(tiny_model, real_windows, tmp_path):
    ckpt = save_checkpoint(tiny_model, tmp_path / "m.safetensors")
    data = save_windows(Windows(real_windows(4, 200, 6)), tmp_path / "real.npz")
    out = tmp_path / "m.onnx"
    result = CliRunner().invoke(cli, ["export", "--checkpoint", str(ckpt), "--parity-data", str(data), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "parity onnxruntime vs PyTorch (real, 6 windows)" in result.output and "ops (" in result.output
    meta = read_metadata(out)
    assert meta["weights"].endswith(hashlib.sha256(ckpt.read_bytes()).hexdigest())
    x = real_windows(4, 200, 6)
    assert np.allclose(ort_run(out, x), tiny_model(torch.from_numpy(x)).detach().numpy(), atol=1e-4)


def test_cli_seed_gives_reproducible_random_init(tmp_path):
    for name in ("a", "b"):
        assert CliRunner().invoke(cli, ["export", *TINY_ARGS, "--seed", "7", "-o", str(tmp_path / f"{name}.onnx")]).exit_code == 0
    a, b = (onnx.load(str(tmp_path / f"{n}.onnx")) for n in "ab")
    assert [t.raw_data for t in a.graph.initializer] == [t.raw_data for t in b.graph.initializer]
    assert read_metadata(tmp_path / "a.onnx")["weights"] == "random-init seed 7"


def cli_error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_cli_errors_exit_2_with_the_reason_and_write_nothing(capsys, tiny_model, tmp_path):
    out = tmp_path / "out.onnx"
    ckpt = save_checkpoint(tiny_model, tmp_path / "m.ckpt")
    (tmp_path / "text.ckpt").write_text("not a checkpoint")
    bad_rank = tmp_path / "rank.npz"
    np.savez(bad_rank, x=np.zeros((4, 200), np.float32))
    nan = tmp_path / "nan.npz"
    x = np.zeros((3, 4, 200), np.float32)
    x[1, 2, 3] = np.nan
    np.savez(nan, x=x)
    wrong_channels = tmp_path / "ch.npz"
    np.savez(wrong_channels, x=np.zeros((2, 8, 200), np.float32))
    cases = [
        (["--checkpoint", str(tmp_path / "absent.ckpt")], "absent.ckpt: no such checkpoint file"),
        (["--checkpoint", str(tmp_path / "text.ckpt")], "text.ckpt: not a PyTorch checkpoint"),
        (["--checkpoint", str(ckpt), "--dim", "192"], "dim: model.patch_embedding.patch_embed.proj.weight [24, 1, 1, 20] gives 24, but 192 was asked"),
        (["--checkpoint", str(ckpt), "--channels", "8"], "channels: model.model_head.classifier.weight [3, 96]"),
        ([*TINY_ARGS, "--parity-data", str(bad_rank)], "rank.npz: windows must have rank 3"),
        ([*TINY_ARGS, "--parity-data", str(nan)], "nan.npz: NaN or Inf in 1 of 3 windows; first bad window index 1"),
        ([*TINY_ARGS, "--parity-data", str(wrong_channels)], "ch.npz: 8 channels, but the model expects 4"),
        ([*TINY_ARGS, "--opset", "9"], "opset 9 is not supported"),
        ([*TINY_ARGS, "--samples", "210"], "samples (210) must be a multiple of patch_size (20)"),
    ]
    for args, message in cases:
        err = cli_error(capsys, ["export", *args, "-o", str(out)])
        assert message in err, (args, err)
        assert err.startswith("error: ")
        assert not out.exists()
    assert "is a directory" in cli_error(capsys, ["export", *TINY_ARGS, "--force", "-o", str(tmp_path)])
    out.write_text("precious")
    assert "already exists; pass --force" in cli_error(capsys, ["export", *TINY_ARGS, "-o", str(out)])
    assert out.read_text() == "precious"


def test_cli_usage_errors_exit_2(capsys, tmp_path):
    err = cli_error(capsys, ["export", "--head", "speech", "-o", str(tmp_path / "m.onnx")])
    assert "speech" in err
    err = cli_error(capsys, ["export"])
    assert "Missing option '-o'" in err


# ------------------------------------------------------------------------------------------------ full model


@pytest.mark.slow
def test_full_default_model_exports_with_parity_on_real_windows(real_windows, tmp_path, capsys):
    """No size options: the paper's deployed model (8 ch x 1000 samples, 400 tokens, 8 blocks, dim 192)."""
    data = save_windows(Windows(real_windows(8, 1000, 8)), tmp_path / "real.npz")
    out = tmp_path / "tinymyo.onnx"
    main(["export", "--parity-data", str(data), "-o", str(out)])
    printed = capsys.readouterr().out
    assert "8 ch x 1000 samples, 400 tokens, dim 192, depth 8" in printed
    model = onnx.load(str(out))
    ops = {n.op_type for n in model.graph.node}
    assert not ops & {"Identity", "LayerNormalization", "Constant"}
    assert TinyMyoConfig.from_dict(json.loads(read_metadata(out)["config"])) == TinyMyoConfig()
    reference, _ = prepare_model(seed=0)
    x = real_windows(8, 1000, 8)
    expected = reference(torch.from_numpy(x)).detach().numpy()
    assert np.abs(ort_run(out, x) - expected).max() <= 1e-4 * max(1.0, np.abs(expected).max())
