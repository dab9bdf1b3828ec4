"""The NNTool backend: a GAP9 SDK project that runs GreenWaves' NNTool + AutoTiler on the float ONNX model.

For users who have the GAP9 SDK. `build_nntool_project` writes a self-contained project folder:
  model.onnx (as exported), model_nntool.onnx (what NNTool imports: the same function rewritten into the form the
  public NNTool handles, attention probabilities rescaled), calib.npz (OUR calibration windows, as given), val.npz,
  nntool_driver.py (NNTool's Python API: import -> fusions -> statistics -> SQ8 quantize -> bit-accurate execute
  -> AutoTiler model generation; fails loudly on anything NNTool only logs as unsupported),
  main.c (PMSIS app: operating point, GPIO power window, per-layer cycles, compare with NNTool's reference),
  CMakeLists.txt + sdk.config + Kconfig (the SDK's CMake flow), Makefile (`make run platform=gvsoc|board`).
Where NNTool is importable here (or TINYMYO_NNTOOL_PYTHON names a Python that has it) the driver runs at once,
so unsupported operators are reported now, not at build time; otherwise the SDK build runs it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import TinyMyoError
from ..fileio import atomic_dir
from ..memory.board import MASTER_STACK_BYTES, WORKER_STACK_BYTES, Board, get_board
from ..resources import resource_dir
from .app import DEFAULT_POWER_GPIO
from .operating_points import DEFAULT_OPERATING_POINT, OPERATING_POINTS

MODEL_NAME = "TinyMyo"  # C prefix of everything NNTool/AutoTiler generate: TinyMyoCNN(), TinyMyoKernels.c, ...
BUILD_DIR = "BUILD_MODEL"
REPORT_FILE = "nntool_report.json"
NNTOOL_PYTHON_ENV = "TINYMYO_NNTOOL_PYTHON"
SDK_ENV = "GAP_SDK_HOME"
DEFAULT_VALIDATION_WINDOWS = 4
DRIVER_TIMEOUT_S = 3600

# Cluster stacks, bytes: master core, each worker. The same figures as the native app's (memory/board.py), whose
# board reserve already keeps them out of l1_bytes: the AutoTiler gets the board's USABLE L1 and L2.
CLUSTER_STACK_BYTES = MASTER_STACK_BYTES
CLUSTER_SLAVE_STACK_BYTES = WORKER_STACK_BYTES

# AutoTiler names of the L3 devices a Board may describe.
_L3_RAM_DEVICES = {"hyperram": "AT_MEM_L3_HRAM", "octospiram": "AT_MEM_L3_OSPIRAM", "ospiram": "AT_MEM_L3_OSPIRAM",
                   "qspiram": "AT_MEM_L3_QSPIRAM", "default": "AT_MEM_L3_DEFAULTRAM"}
_L3_FLASH_DEVICE = "AT_MEM_L3_DEFAULTFLASH"  # the board's default flash (MRAM or OctoSPI on the GAP9 EVK)

_TEMPLATES = {  # template -> generated file
    "nntool_driver.py.j2": "nntool_driver.py",
    "main.c.j2": "main.c",
    "CMakeLists.txt.j2": "CMakeLists.txt",
    "sdk.config.j2": "sdk.config",
    "Kconfig.j2": "Kconfig",
    "Makefile.j2": "Makefile",
    "README.md.j2": "README.md",
}

SDK_NEEDED = (f"building and running this project needs the GAP9 SDK ({SDK_ENV} set, its environment sourced: "
              "GAP RISC-V toolchain, NNTool, AutoTiler, GVSoC)")


@dataclass
class NNToolProject:
    """What build_nntool_project wrote and whether NNTool already ran on it."""

    outdir: Path
    files: list[str]
    nntool_ran: bool
    report: dict | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"NNTool project written to {self.outdir} ({len(self.files)} files)"]
        if self.report:
            lines.append(f"NNTool steps run here: {', '.join(self.report['steps_ok'])}")
            fid = self.report.get("fidelity_vs_onnxruntime_float")
            if fid:
                lines.append(f"SQ8 vs onnxruntime float on {fid['windows']} windows: cosine min {fid['cosine_min']:.4f}, "
                             f"argmax agreement {100 * fid['argmax_agreement']:.1f} %")
        lines.extend(self.notes)
        return "\n".join(lines)


def memory_settings(board: Board) -> dict:
    """NNTool generate() settings derived from the board description the native backend uses."""
    if board.l3_device not in _L3_RAM_DEVICES:
        raise TinyMyoError(f"board {board.name}: L3 device {board.l3_device!r} has no AutoTiler equivalent "
                           f"(known: {', '.join(sorted(_L3_RAM_DEVICES))})")
    return {
        "l1_size": board.l1_bytes,
        "l2_size": board.l2_bytes,
        "l3_size": board.l3_bytes,
        "l3_ram_device": _L3_RAM_DEVICES[board.l3_device],
        "l3_flash_device": _L3_FLASH_DEVICE,
        "default_global_home_location": _L3_FLASH_DEVICE,  # weights live in flash (NNTool's default: HyperFlash)
        "cluster_num_cores": board.cores,
        "cluster_stack_size": CLUSTER_STACK_BYTES,
        "cluster_slave_stack_size": CLUSTER_SLAVE_STACK_BYTES,
        "graph_monitor_cycles": True,  # AT_GraphPerf[]: per-layer cycles main.c prints
        "graph_produce_node_names": True,  # AT_GraphNodeNames[]
        "graph_produce_operinfos": True,  # AT_GraphOperInfosNames[]: operations per layer
    }


# The chip-level PMSIS code shared with the native app (operating point, power-window GPIO): one surface for both.
SHARED_PLATFORM_FILES = ("tm_chip.c", "tm_chip.h")


def _copy_shared_platform(project: Path) -> None:
    (project / "platform").mkdir()
    for name in SHARED_PLATFORM_FILES:
        shutil.copyfile(resource_dir("gap9_app") / "platform" / name, project / "platform" / name)


def quantization_options(*, ne16: bool, softmax_8bit: bool) -> dict:
    """NNTool graph_options for quantize(): SQ8 by default, NE16 kernels and 8-bit softmax output on request."""
    options = {}
    if ne16:
        options["use_ne16"] = True
    if softmax_8bit:
        options["softmax_out_8bits"] = True
    return options


def nntool_python() -> str | None:
    """A Python that can import nntool.api: $TINYMYO_NNTOOL_PYTHON, else this one, else None."""
    configured = os.environ.get(NNTOOL_PYTHON_ENV)
    if configured:
        if not Path(configured).exists():
            raise TinyMyoError(f"{NNTOOL_PYTHON_ENV}={configured}: no such file")
        return configured
    try:
        found = importlib.util.find_spec("nntool.api") is not None
    except (ImportError, ValueError):  # an unrelated package named nntool has no .api
        found = False
    return sys.executable if found else None


def build_nntool_project(float_onnx_path, calib_x, outdir, *, board: "str | Board | None" = None, ne16: bool = False,
                         softmax_8bit: bool = False, force: bool = False, val_x=None,
                         run_nntool: bool | None = None, softmax_rescale: bool = True) -> NNToolProject:
    """Write the NNTool GAP9 project for `float_onnx_path` into `outdir` (atomically).

    calib_x: float32 (N, C, T) calibration windows (the ones `quantize` uses), written unchanged to calib.npz.
    val_x: windows NNTool executes to make the app's reference outputs (default: the first calibration windows).
    run_nntool: run the driver now (None: when NNTool is importable). A driver failure leaves nothing written.
    softmax_rescale: hand NNTool the model with rescale_attention_probabilities applied (model_nntool.onnx)."""
    onnx_path = Path(float_onnx_path)
    input_shape, output_names, output_shape = _onnx_signature(onnx_path)
    calib_x = _check_windows(calib_x, input_shape, "calibration windows")
    val_x = calib_x[:DEFAULT_VALIDATION_WINDOWS] if val_x is None else _check_windows(val_x, input_shape, "validation windows")
    board = get_board(board, "gap9")
    python = nntool_python() if run_nntool is not False else None
    if run_nntool and python is None:
        raise TinyMyoError(f"NNTool (nntool.api) is not importable here; set {NNTOOL_PYTHON_ENV} to a Python that has it")
    context = _template_context(onnx_path, board, ne16=ne16, softmax_8bit=softmax_8bit, softmax_rescale=softmax_rescale,
                                output_names=output_names, output_shape=output_shape)
    with atomic_dir(outdir, force=force) as tmp:
        shutil.copyfile(onnx_path, tmp / context["onnx_file"])
        _write_nntool_model(onnx_path, tmp / context["nntool_onnx_file"], softmax_rescale)
        _save_windows(tmp / context["calib_file"], calib_x)
        _save_windows(tmp / context["val_file"], val_x)
        for template, name in _TEMPLATES.items():
            _render(template, context, tmp / name)
        _copy_shared_platform(tmp)
    # NNTool runs in place: the AutoTiler model it writes names its tensor files by absolute path.
    report = None
    if python:
        try:
            report = run_driver(outdir, python, shown_as=onnx_path)
        except BaseException:
            shutil.rmtree(outdir, ignore_errors=True)  # nothing half-written
            raise
    files = sorted(str(p.relative_to(outdir)) for p in Path(outdir).rglob("*") if p.is_file())
    notes = [] if os.environ.get(SDK_ENV) else [f"note: {SDK_NEEDED}; then `make run platform=gvsoc` in {outdir}"]
    if report is None:
        notes.append("note: NNTool is not importable here, so the SDK build will run nntool_driver.py "
                     f"(set {NNTOOL_PYTHON_ENV} to run it now)")
    return NNToolProject(Path(outdir), files, report is not None, report, notes)


def run_driver(project_dir, python: str, *, steps: str | None = None, shown_as=None) -> dict:
    """Run the project's nntool_driver.py with `python`; return its report, or raise TinyMyoError with NNTool's
    complaint (unsupported operator, cut graph, failing step)."""
    project_dir = Path(project_dir)
    command = [python, "nntool_driver.py"] + (["--steps", steps] if steps else [])
    try:
        done = subprocess.run(command, cwd=project_dir, capture_output=True, text=True, timeout=DRIVER_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise TinyMyoError(f"{project_dir / 'nntool_driver.py'}: NNTool did not finish in {DRIVER_TIMEOUT_S} s") from exc
    report_path = project_dir / REPORT_FILE
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    if done.returncode != 0:
        detail = report["error"] if report and "error" in report else (done.stderr or done.stdout)[-4000:]
        raise TinyMyoError(f"NNTool rejected {shown_as or project_dir / 'model.onnx'}: {detail}")
    return report


def to_nntool_form(model):
    """Rewrite, each to the same function, what the public NNTool 4.1 mis-imports in a tinymyo-edge export:
    - Gather(x, 0) on a leading dimension of 1 -> Reshape (NNTool treats that dimension as the batch);
    - Gemm on a 2-D (rows, K) input -> Reshape (1, rows, K), MatMul, Add, Reshape (rows, M): NNTool imports a Gemm
      as ONE vector Linear over rows*K ("shape cannot be inferred"), but a 3-D MatMul + Add as a batched linear.
    Returns (model, names of the rewritten nodes). The model is changed in place."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    shapes = _value_shapes(model)
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}

    def constant(name: str, value: np.ndarray) -> str:
        while name in constants:
            name += "_"
        constants[name] = value
        graph.initializer.append(numpy_helper.from_array(value, name))
        return name

    rewritten, new_nodes = [], []
    for node in graph.node:
        base = _safe_name(node.name or node.output[0])
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Gather" and _is_leading_unit_index(node, attrs, shapes, constants):
            out_shape = np.array(shapes[node.input[0]][1:], np.int64)
            new_nodes.append(helper.make_node("Reshape", [node.input[0], constant(f"{base}_shape", out_shape)],
                                              list(node.output), name=f"{base}_as_reshape"))
            rewritten.append(node.name)
        elif node.op_type == "Gemm" and _is_plain_gemm(node, attrs, shapes, constants):
            rows, k = shapes[node.input[0]]
            weight = constants[node.input[1]].T if attrs.get("transB", 0) else constants[node.input[1]]
            out = node.output[0]
            steps = [("Reshape", [node.input[0], constant(f"{base}_3d", np.array([1, rows, k], np.int64))], f"{base}_in3d"),
                     ("MatMul", [None, constant(f"{base}_weight", np.ascontiguousarray(weight, np.float32))], f"{base}_matmul")]
            if len(node.input) > 2 and node.input[2]:
                steps.append(("Add", [None, node.input[2]], f"{base}_bias"))
            steps.append(("Reshape", [None, constant(f"{base}_2d", np.array([rows, weight.shape[1]], np.int64))], out))
            previous = None
            for op, inputs, output in steps:
                inputs = [previous if i is None else i for i in inputs]
                new_nodes.append(helper.make_node(op, inputs, [output], name=output if output != out else f"{base}_out2d"))
                previous = output
            rewritten.append(node.name)
        else:
            new_nodes.append(node)
    del graph.node[:]
    graph.node.extend(new_nodes)
    onnx.checker.check_model(model)
    return model, rewritten


def _value_shapes(model) -> dict[str, list[int]]:
    from onnx import shape_inference

    inferred = shape_inference.infer_shapes(model).graph
    return {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in list(inferred.value_info) + list(inferred.input) + list(inferred.output)}


def _is_leading_unit_index(node, attrs, shapes, constants) -> bool:
    data, index = shapes.get(node.input[0]), constants.get(node.input[1])
    return (attrs.get("axis", 0) == 0 and bool(data) and data[0] == 1 and index is not None and index.ndim == 0
            and int(index) == 0)


def _is_plain_gemm(node, attrs, shapes, constants) -> bool:
    shape = shapes.get(node.input[0], [])
    return (attrs.get("transA", 0) == 0 and attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0
            and node.input[1] in constants and len(shape) == 2 and min(shape) > 0)


def rescale_attention_probabilities(model):
    """MatMul(Softmax(s), v) -> MatMul(Softmax(s) * n, v * (1/n)) for an n-wide softmax: the same function, but the
    int8 tensor NNTool feeds to the P·V MatMul holds probabilities times n (about 1) instead of about 1/n, which its
    fixed 2^-7 softmax output step would round to 0 (measured: cosine 0.85 -> 0.999 on the default model).
    Returns (model, rewritten MatMul names). The model is changed in place."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    shapes = _value_shapes(model)
    softmax_width = {n.output[0]: shapes.get(n.output[0], [0])[-1] for n in graph.node if n.op_type == "Softmax"
                     and next((a.i for a in n.attribute if a.name == "axis"), -1) in (-1, len(shapes.get(n.output[0], [])) - 1)}
    rewritten, new_nodes = [], []
    for node in graph.node:
        width = softmax_width.get(node.input[0]) if node.op_type == "MatMul" else None
        if width and width > 1:
            base = _safe_name(node.name or node.output[0])
            probs, values = node.input[0], node.input[1]
            for suffix, factor, source in (("p_times_n", float(width), probs), ("v_over_n", 1.0 / width, values)):
                graph.initializer.append(numpy_helper.from_array(np.array(factor, np.float32), f"{base}_{suffix}_k"))
                new_nodes.append(helper.make_node("Mul", [source, f"{base}_{suffix}_k"], [f"{base}_{suffix}"],
                                                  name=f"{base}_{suffix}"))
            node.input[0], node.input[1] = f"{base}_p_times_n", f"{base}_v_over_n"
            rewritten.append(node.name)
        new_nodes.append(node)
    del graph.node[:]
    graph.node.extend(new_nodes)
    onnx.checker.check_model(model)
    return model, rewritten


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_") or "node"


def _onnx_signature(path: Path) -> tuple[tuple[int, ...], list[str], list[int]]:
    """(input shape (C, T) without the batch, output names, output shape) of a batch-1 float ONNX model."""
    import onnx

    if not path.is_file():
        raise TinyMyoError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise TinyMyoError(f"{path}: not a readable ONNX model ({exc})") from exc
    if len(model.graph.input) != 1:
        raise TinyMyoError(f"{path}: expected one input (EMG windows), found {len(model.graph.input)}")
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    if len(dims) != 3 or dims[0] != 1 or min(dims) < 1:
        raise TinyMyoError(f"{path}: input {model.graph.input[0].name} has shape {dims}; the NNTool backend needs a "
                           "static batch-1 (1, C, T) model (export without --dynamic-batch)")
    outputs = [o.name for o in model.graph.output]
    out_dims = [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    return (dims[1], dims[2]), outputs, out_dims


def _check_windows(x, input_shape: tuple[int, ...], what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != np.float32:
        raise TinyMyoError(f"{what}: dtype {x.dtype}, expected float32")
    if x.ndim != 3 or tuple(x.shape[1:]) != tuple(input_shape) or len(x) == 0:
        raise TinyMyoError(f"{what}: shape {x.shape}, the model takes (N, {input_shape[0]}, {input_shape[1]})")
    if not np.isfinite(x).all():
        raise TinyMyoError(f"{what}: contain NaN or infinite values")
    return x


def _write_nntool_model(onnx_path: Path, out_path: Path, softmax_rescale: bool) -> None:
    """What NNTool imports: the float model in NNTool's form, attention probabilities rescaled unless disabled."""
    import onnx

    model, _ = to_nntool_form(onnx.load(str(onnx_path)))
    if softmax_rescale:
        model, _ = rescale_attention_probabilities(model)
    onnx.save(model, str(out_path))


def _save_windows(path: Path, x: np.ndarray) -> None:
    """npz with key `x`, the array exactly as given (NNTool's driver reads it)."""
    with open(path, "wb") as f:
        np.savez(f, x=x)


def _template_context(onnx_path: Path, board: Board, *, ne16: bool, softmax_8bit: bool, softmax_rescale: bool,
                      output_names: list[str], output_shape: list[int]) -> dict:
    settings = memory_settings(board)
    return {
        "version": __version__,
        "model_sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "model_name": MODEL_NAME,
        "onnx_file": "model.onnx",
        "nntool_onnx_file": "model_nntool.onnx",
        "calib_file": "calib.npz",
        "val_file": "val.npz",
        "build_dir": BUILD_DIR,
        "report_file": REPORT_FILE,
        "ref_header": "TinyMyoRef.h",
        "ref_npz": "nntool_reference.npz",
        "onnx_outputs": output_names,
        "onnx_output_shape": output_shape,
        "settings": settings,
        "board": board,
        "board_source": f"tinymyo_edge.memory.board, board {board.name!r}",
        "graph_options": quantization_options(ne16=ne16, softmax_8bit=softmax_8bit),
        "ne16": ne16,
        "softmax_8bit": softmax_8bit,
        "softmax_rescale": softmax_rescale,
        "operating_points": list(OPERATING_POINTS.values()),  # main.c's Kconfig choice selects one
        "power_gpio": DEFAULT_POWER_GPIO,
        "default_op": OPERATING_POINTS[DEFAULT_OPERATING_POINT],
        "model_l1_bytes": settings["l1_size"],  # the board's usable L1: its reserve holds the cluster stacks
        "sdk_env": SDK_ENV,
        "sdk_needed": SDK_NEEDED,
        "nntool_python_env": NNTOOL_PYTHON_ENV,
    }


def _render(template: str, context: dict, out_path: Path) -> None:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(resource_dir("templates") / "nntool")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["pyrepr"] = repr
    out_path.write_text(env.get_template(template).render(**context))
