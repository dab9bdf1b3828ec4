"""The NNTool backend: the generated GAP9 SDK project (files, settings, data, clean failure without the SDK), the
driver's fail-loud logic, and, where NNTool is importable, the driver run against the public NNTool."""

from __future__ import annotations

import ast
import importlib.util
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner

from tinymyo_edge.cli import cli
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.memory.board import get_board
from tinymyo_edge.model import TinyMyo, TinyMyoConfig
from tinymyo_edge.targets import nntool as nt
from tinymyo_edge.targets.operating_points import DEFAULT_OPERATING_POINT, OPERATING_POINTS

SMALL = TinyMyoConfig(channels=4, samples=200, dim=48, depth=2, heads=3, classes=5)


def _export(cfg: TinyMyoConfig, path: Path, *, opset: int = 13) -> Path:
    """Float ONNX as `export` writes it (tinymyo_edge.export), with non-trivial LayerNorm/bias values so that
    nothing is folded away as it would be in an untrained model."""
    from tinymyo_edge.export import export_onnx

    torch.manual_seed(0)
    model = TinyMyo(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    export_onnx(model, path, opset=opset)
    return path


@pytest.fixture(scope="module")
def small_onnx(tmp_path_factory) -> Path:
    return _export(SMALL, tmp_path_factory.mktemp("onnx") / "small.onnx")


def _windows(n: int, cfg: TinyMyoConfig = SMALL, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, cfg.channels, cfg.samples)).astype(np.float32)


@pytest.fixture(scope="module")
def project(small_onnx, tmp_path_factory):
    outdir = tmp_path_factory.mktemp("proj") / "nntool_project"
    calib, val = _windows(6), _windows(3, seed=1)
    result = nt.build_nntool_project(small_onnx, calib, outdir, board="gap9", run_nntool=False, val_x=val)
    return result, calib, val


def _driver_module(path: Path):
    spec = importlib.util.spec_from_file_location("generated_nntool_driver", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _assigned_literal(source: str, name: str):
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not assigned in the generated driver")


# ------------------------------------------------------------------------------------------ the project


def test_project_has_the_sdk_files(project):
    result, _, _ = project
    for name in ("CMakeLists.txt", "sdk.config", "Kconfig", "Makefile", "main.c", "nntool_driver.py", "model.onnx",
                 "model_nntool.onnx", "calib.npz", "val.npz", "README.md"):
        assert (result.outdir / name).is_file(), name
    assert not result.nntool_ran and result.report is None


def test_cmake_follows_the_gap9_sdk_flow(project):
    text = (project[0].outdir / "CMakeLists.txt").read_text()
    assert "include($ENV{GAP_SDK_HOME}/utils/cmake/setup.cmake)" in text
    # order matters in the SDK flow: AutoTiler setup before the app target, setupos last
    positions = [text.index(s) for s in ("autotiler_setup(", "add_executable(", "setupos(")]
    assert positions == sorted(positions)
    assert "nntool_driver.py" in text and "message(FATAL_ERROR" in text


def test_sdk_config_and_kconfig(project):
    outdir = project[0].outdir
    config = (outdir / "sdk.config").read_text().splitlines()
    default = OPERATING_POINTS[DEFAULT_OPERATING_POINT]
    assert f"CONFIG_TINYMYO_OP_{default.macro}=y" in config
    # the platform comes from make platform= only: the SDK checks GVSOC first, a board build must never inherit it
    assert not [line for line in config if line.startswith("CONFIG_PLATFORM_")]
    kconfig = (outdir / "Kconfig").read_text()
    for op in OPERATING_POINTS.values():
        assert f"config TINYMYO_OP_{op.macro}\n" in kconfig
        assert f"{op.cluster_hz // 10**6} MHz at {op.voltage_mv} mV" in kconfig
    # every CONFIG_TINYMYO_ option set in sdk.config is declared in Kconfig
    for line in config:
        if line.startswith("CONFIG_TINYMYO_"):
            assert f"config {line.split('=')[0][len('CONFIG_'):]}\n" in kconfig


def test_generated_python_is_valid(project):
    source = (project[0].outdir / "nntool_driver.py").read_text()
    compile(source, "nntool_driver.py", "exec")
    assert _assigned_literal(source, "STEPS") == ("import", "fusions", "quantize", "execute", "generate")


def test_settings_come_from_the_board_description(project, small_onnx, tmp_path):
    source = (project[0].outdir / "nntool_driver.py").read_text()
    settings = _assigned_literal(source, "GENERATE_SETTINGS")
    board = get_board("gap9")
    assert (settings["l1_size"], settings["l2_size"], settings["l3_size"]) == (board.l1_bytes, board.l2_bytes,
                                                                               board.l3_bytes)
    assert settings["cluster_num_cores"] == board.cores
    assert settings["default_global_home_location"] == settings["l3_flash_device"]  # weights home = the flash listed
    # a changed board changes the settings (nothing is hard-coded in the template)
    smaller = board.with_changes(l2_bytes=board.l2_bytes // 2, l1_bytes=64 * 1024)
    out = nt.build_nntool_project(small_onnx, _windows(2), tmp_path / "p", board=smaller, run_nntool=False)
    settings2 = _assigned_literal((out.outdir / "nntool_driver.py").read_text(), "GENERATE_SETTINGS")
    assert (settings2["l1_size"], settings2["l2_size"]) == (64 * 1024, board.l2_bytes // 2)
    assert f"MODEL_L2_MEMORY {board.l2_bytes // 2}" in (out.outdir / "CMakeLists.txt").read_text()


def test_quantization_options(small_onnx, tmp_path):
    out = nt.build_nntool_project(small_onnx, _windows(2), tmp_path / "p", ne16=True, softmax_8bit=True,
                                  run_nntool=False)
    options = _assigned_literal((out.outdir / "nntool_driver.py").read_text(), "QUANT_GRAPH_OPTIONS")
    assert options == {"use_ne16": True, "softmax_out_8bits": True}
    assert nt.quantization_options(ne16=False, softmax_8bit=False) == {}


def test_calibration_and_validation_data_are_written_unchanged(project):
    result, calib, val = project
    for name, given in (("calib.npz", calib), ("val.npz", val)):
        with np.load(result.outdir / name) as data:
            assert list(data.keys()) == ["x"]
            written = data["x"]
        assert written.dtype == given.dtype and written.shape == given.shape
        assert written.tobytes() == given.tobytes()
    assert (result.outdir / "model.onnx").read_bytes() == Path(project[0].outdir / "model.onnx").read_bytes()


def test_default_validation_windows_are_the_first_calibration_windows(small_onnx, tmp_path):
    calib = _windows(7)
    out = nt.build_nntool_project(small_onnx, calib, tmp_path / "p", run_nntool=False)
    with np.load(out.outdir / "val.npz") as data:
        assert data["x"].tobytes() == calib[: nt.DEFAULT_VALIDATION_WINDOWS].tobytes()


# ------------------------------------------------------------------------------------------- bad input


def test_wrong_window_shape_names_the_problem(small_onnx, tmp_path):
    bad = np.zeros((2, SMALL.channels + 1, SMALL.samples), np.float32)
    with pytest.raises(TinyMyoError, match=r"calibration windows: shape .*\(N, 4, 200\)"):
        nt.build_nntool_project(small_onnx, bad, tmp_path / "p", run_nntool=False)
    with pytest.raises(TinyMyoError, match="float32"):
        nt.build_nntool_project(small_onnx, _windows(2).astype(np.float64), tmp_path / "p", run_nntool=False)
    assert not (tmp_path / "p").exists()


def test_existing_project_needs_force(project, small_onnx):
    with pytest.raises(TinyMyoError, match="--force"):
        nt.build_nntool_project(small_onnx, _windows(2), project[0].outdir, run_nntool=False)


def test_missing_or_dynamic_model(tmp_path):
    with pytest.raises(TinyMyoError, match="no such ONNX file"):
        nt.build_nntool_project(tmp_path / "none.onnx", _windows(2), tmp_path / "p", run_nntool=False)
    x = onnx.helper.make_tensor_value_info("emg", onnx.TensorProto.FLOAT, ["batch", 4, 200])
    y = onnx.helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", 4, 200])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["emg"], ["logits"])], "g", [x], [y])
    onnx.save(onnx.helper.make_model(graph), tmp_path / "dyn.onnx")
    with pytest.raises(TinyMyoError, match="static batch-1"):
        nt.build_nntool_project(tmp_path / "dyn.onnx", _windows(2), tmp_path / "p", run_nntool=False)


def test_asking_for_nntool_where_it_is_missing(small_onnx, tmp_path, monkeypatch):
    monkeypatch.delenv(nt.NNTOOL_PYTHON_ENV, raising=False)
    if nt.nntool_python() is not None:
        pytest.skip("NNTool (nntool.api) is importable in this Python")
    with pytest.raises(TinyMyoError, match="not importable"):
        nt.build_nntool_project(small_onnx, _windows(2), tmp_path / "p", run_nntool=True)
    assert not (tmp_path / "p").exists()


# ----------------------------------------------------------------------------------- without the SDK


def test_cli_without_sdk_writes_the_project_and_says_what_is_needed(small_onnx, tmp_path, monkeypatch):
    monkeypatch.delenv("GAP_SDK_HOME", raising=False)
    monkeypatch.delenv(nt.NNTOOL_PYTHON_ENV, raising=False)
    np.savez(tmp_path / "calib.npz", x=_windows(3))
    result = CliRunner().invoke(cli, ["build", str(small_onnx), "--target", "gap9", "--backend", "nntool", "--calib", str(tmp_path / "calib.npz"),
                                      "-o", str(tmp_path / "proj"), "--no-run-nntool"])
    assert result.exit_code == 0, result.output
    assert "needs the GAP9 SDK" in result.output and "GAP_SDK_HOME" in result.output
    assert (tmp_path / "proj" / "Makefile").is_file()


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_make_run_without_sdk_stops_at_once_with_the_reason(project):
    env = {k: v for k, v in os.environ.items() if k != "GAP_SDK_HOME"}
    for platform in ("gvsoc", "board"):
        done = subprocess.run(["make", "run", f"platform={platform}"], cwd=project[0].outdir, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode != 0
        assert "GAP_SDK_HOME is not set" in done.stderr and "GAP9 SDK" in done.stderr
    assert not (project[0].outdir / "build").exists()


# -------------------------------------------------------------------------- the driver's fail-loud logic


class _FakeNode:
    def __init__(self, name):
        self.name = name


class _FakeGraph:
    def __init__(self, outputs):
        self._outputs = [_FakeNode(n) for n in outputs]

    def output_nodes(self):
        return self._outputs


@pytest.mark.parametrize("message", [
    'LayerNorm_0 uses ONNX operator "LayerNormalization" domain "" which is not currently supported',
    "Add_3 has an input from a node that was not imported - skipping",
    "Matmul over batches is not yet properly generated - output will not be correct",
])
def test_driver_fails_on_what_nntool_only_logs(project, tmp_path, message):
    driver = _driver_module(project[0].outdir / "nntool_driver.py")

    def quiet_import(G, state):
        logging.getLogger("nntool.importer").warning(message)
        return _FakeGraph(driver.ONNX_OUTPUTS)

    driver.STEP_FUNCTIONS = dict(driver.STEP_FUNCTIONS, **{"import": quiet_import})
    status, report = driver.run(["import"], tmp_path / "report.json")
    assert status == 3 and message in report["error"] and report["steps_ok"] == []
    assert (tmp_path / "report.json").is_file()


def test_driver_fails_on_a_cut_graph(project, tmp_path):
    driver = _driver_module(project[0].outdir / "nntool_driver.py")
    cut = _FakeGraph(driver.ONNX_OUTPUTS + ["Input_x_to_LayerNorm_0"])
    driver.STEP_FUNCTIONS = dict(driver.STEP_FUNCTIONS, **{"import": lambda G, state: cut})
    status, report = driver.run(["import"], tmp_path / "report.json")
    assert status == 3 and "graph was cut" in report["error"]


def test_driver_passes_a_clean_step(project, tmp_path):
    driver = _driver_module(project[0].outdir / "nntool_driver.py")
    driver.STEP_FUNCTIONS = dict(driver.STEP_FUNCTIONS, **{"import": lambda G, state: _FakeGraph(driver.ONNX_OUTPUTS)})
    status, report = driver.run(["import"], tmp_path / "report.json")
    assert status == 0 and report["steps_ok"] == ["import"]


# ------------------------------------------------------------------ main.c on the host, against stubs


STUBS = Path(__file__).parent / "nntool_stubs"
LAYER_LINE = re.compile(r"^(\S+): Cycles: (\d+), Operations: (\d+), Operations/Cycle: (\d+\.\d{3})$", re.M)


def _build_host_app(project_dir: Path, tmp_path: Path, windows: int, extra_flags=()) -> Path:
    """Reference data written by the driver's own writer, then main.c + a stub network built with gcc."""
    driver = _driver_module(project_dir / "nntool_driver.py")
    rng = np.random.default_rng(3)
    x = _windows(windows)
    inputs_q = [rng.integers(-128, 128, size=(SMALL.channels, SMALL.samples), dtype=np.int8) for _ in range(windows)]
    outputs_q = [rng.integers(-128, 128, size=(1, SMALL.classes), dtype=np.int8) for _ in range(windows)]
    driver.write_reference(x, inputs_q, outputs_q, [o.astype(np.float32) for o in outputs_q])
    exe = tmp_path / "app"
    subprocess.run(["gcc", "-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=all", *extra_flags, f"-I{STUBS}", f"-I{project_dir / 'BUILD_MODEL'}",
                    f"-I{project_dir / 'platform'}", str(project_dir / "main.c"), str(project_dir / "platform" / "tm_chip.c"),
                    str(STUBS / "pmsis_host.c"), str(STUBS / "network_stub.c"), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    return exe


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
def test_main_c_on_host_reports_layers_and_errors(small_onnx, tmp_path):
    out = nt.build_nntool_project(small_onnx, _windows(2), tmp_path / "p", run_nntool=False)
    exe = _build_host_app(out.outdir, tmp_path, windows=3)
    done = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Errors: 0 out of {3 * SMALL.classes}" in done.stdout
    lines = LAYER_LINE.findall(done.stdout)
    assert [name for name, *_ in lines] == ["S1_patch_embed", "S2_blocks", "S3_head", "Total"]
    cycles = [int(c) for _, c, _, _ in lines]
    ops = [int(o) for _, _, o, _ in lines]
    assert cycles[-1] == sum(cycles[:-1]) and ops[-1] == sum(ops[:-1])
    default = OPERATING_POINTS[DEFAULT_OPERATING_POINT]
    assert f"{default.cluster_hz // 10**6} MHz, {default.voltage_mv} mV" in done.stdout

    env = dict(os.environ, STUB_CORRUPT="1")
    done = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1 and f"Errors: 1 out of {3 * SMALL.classes}" in done.stdout


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
@pytest.mark.parametrize("op", [op for op in OPERATING_POINTS.values() if op.name != DEFAULT_OPERATING_POINT])
def test_main_c_other_operating_points(small_onnx, tmp_path, op):
    out = nt.build_nntool_project(small_onnx, _windows(2), tmp_path / "p", run_nntool=False)
    exe = _build_host_app(out.outdir, tmp_path, windows=1, extra_flags=[f"-DCONFIG_TINYMYO_OP_{op.macro}=1"])
    done = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and f"{op.cluster_hz // 10**6} MHz, {op.voltage_mv} mV" in done.stdout


def test_makefile_offers_every_operating_point(project):
    text = (project[0].outdir / "Makefile").read_text()
    for op in OPERATING_POINTS.values():
        assert f"($(OP),{op.cluster_hz // 10**6})" in text and f"-DCONFIG_TINYMYO_OP_{op.macro}=y" in text


def test_cli_calibrates_on_the_windows_quantize_selects(small_onnx, tmp_path):
    x = _windows(10)
    np.savez(tmp_path / "calib.npz", x=x)
    result = CliRunner().invoke(cli, ["build", str(small_onnx), "--target", "gap9", "--backend", "nntool", "--calib", str(tmp_path / "calib.npz"),
                                      "--max-windows", "4", "-o", str(tmp_path / "proj"), "--no-run-nntool"])
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "proj" / "calib.npz") as data:
        written = data["x"]
    assert written.tobytes() == x[[0, 3, 6, 9]].tobytes()  # evenly spread, first and last included


# ----------------------------------------------------------------- attention probabilities rescaled for NNTool


def test_rescale_attention_probabilities_keeps_the_function(small_onnx):
    original = onnx.load(str(small_onnx))
    model, rewritten = nt.rescale_attention_probabilities(onnx.load(str(small_onnx)))
    assert len(rewritten) == SMALL.depth * SMALL.heads
    producers = {o: n for n in model.graph.node for o in n.output}
    constants = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in (n for n in model.graph.node if n.name in rewritten):
        p_mul, v_mul = producers[node.input[0]], producers[node.input[1]]
        assert producers[p_mul.input[0]].op_type == "Softmax"
        assert constants[p_mul.input[1]] == np.float32(SMALL.tokens)
        assert constants[v_mul.input[1]] == np.float32(1.0 / SMALL.tokens)
    x = _windows(1)
    expected, got = _ort_output(original, x), _ort_output(model, x)
    assert np.max(np.abs(got - expected)) <= 1e-5 * np.max(np.abs(expected))  # float reassociation only


def test_project_keeps_the_exported_model_and_writes_what_nntool_imports(small_onnx, tmp_path):
    out = nt.build_nntool_project(small_onnx, _windows(2), tmp_path / "p", run_nntool=False)
    assert (out.outdir / "model.onnx").read_bytes() == small_onnx.read_bytes()
    ops = [n.op_type for n in onnx.load(str(out.outdir / "model_nntool.onnx")).graph.node]
    assert ops.count("Mul") > [n.op_type for n in onnx.load(str(small_onnx)).graph.node].count("Mul")
    plain = nt.build_nntool_project(small_onnx, _windows(2), tmp_path / "q", run_nntool=False, softmax_rescale=False)
    assert not [n for n in onnx.load(str(plain.outdir / "model_nntool.onnx")).graph.node if "times_n" in n.name]


def _ort_output(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_nntool_form_removes_what_nntool_misimports_and_keeps_the_function(small_onnx):
    original = onnx.load(str(small_onnx))
    gemms = [n.name for n in original.graph.node if n.op_type == "Gemm"]
    model, rewritten = nt.to_nntool_form(onnx.load(str(small_onnx)))
    ops = [n.op_type for n in model.graph.node]
    assert "Gemm" not in ops and set(gemms) <= set(rewritten)
    for node in (n for n in model.graph.node if n.op_type == "Gather"):  # none left that indexes the unit batch dim
        assert not nt._is_leading_unit_index(node, {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute},
                                             nt._value_shapes(model),
                                             {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer})
    x = _windows(1)
    expected, got = _ort_output(original, x), _ort_output(model, x)
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) <= 1e-5 * np.max(np.abs(expected))  # float reassociation only


def test_nntool_form_leaves_gemm_with_scaling_alone():
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 2])
    w = numpy_helper.from_array(np.ones((4, 2), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "w"], ["y"], name="g", alpha=2.0)], "g", [x], [y], [w])
    model, rewritten = nt.to_nntool_form(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    assert rewritten == [] and [n.op_type for n in model.graph.node] == ["Gemm"]
