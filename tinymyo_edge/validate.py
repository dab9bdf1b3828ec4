"""validate / run_host: compile a build folder's host C, run input windows, compare with the golden executor and
with onnxruntime on the int8 ONNX; --per-layer names the first layer and element that differ."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .build.core import MANIFEST, MODEL_FILE
from .build.program_io import load_program
from .errors import TinyMyoError
from .fileio import atomic_path
from .ir.program import Program
from .targets.host import compile_host, run_binary


@dataclass
class Comparison:
    reference: str
    errors: int
    total: int

    def line(self) -> str:
        return f"{self.reference}: Errors: {self.errors} out of {self.total}"


@dataclass
class LayerDiff:
    window: int
    layer: str
    node: str
    index: tuple[int, ...]
    c_value: float
    ref_value: float
    reference: str

    def line(self) -> str:
        return (f"first difference from {self.reference}: window {self.window}, layer {self.layer} (node "
                f"{self.node!r}), element {list(self.index)}: C {self.c_value} vs {self.reference} {self.ref_value}")


@dataclass
class ValidationResult:
    comparisons: list[Comparison]
    windows: int
    cpu_path: str
    ort_version: str | None
    layer_diffs: list[LayerDiff] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(c.errors for c in self.comparisons)

    def report(self) -> str:
        lines = [*self.notes, f"windows: {self.windows}"]
        lines += [c.line() for c in self.comparisons]
        lines += [d.line() for d in self.layer_diffs]
        total = sum(c.total for c in self.comparisons)
        lines.append(f"Errors: {self.errors} out of {total}")
        return "\n".join(lines)


def cpu_path() -> str:
    """Which x86 integer path onnxruntime's MLAS takes here (NUMERICS.md section 4): from /proc/cpuinfo."""
    try:
        flags = set()
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags.update(line.split(":", 1)[1].split())
    except OSError:
        return "unknown"
    for flag in ("avx512_vnni", "avx_vnni", "avx2"):
        if flag in flags:
            return flag
    return "none"


def _manifest(outdir: Path) -> dict:
    path = Path(outdir) / MANIFEST
    if not path.is_file():
        raise TinyMyoError(f"{outdir}: not a tinymyo-edge build folder (no {MANIFEST})")
    return json.loads(path.read_text())


def load_inputs(path, shape: tuple[int, ...]) -> np.ndarray:
    """Windows (N, *shape) float32 from .npz (`x`) or anything tinymyo_edge.data.load_windows reads."""
    path = Path(path)
    if not path.is_file():
        raise TinyMyoError(f"{path}: no such input file")
    try:
        from .data import load_windows
    except ImportError:
        load_windows = None
    if load_windows is not None:
        x = load_windows(path).x
    else:
        try:
            with np.load(path) as data:
                if "x" not in data:
                    raise TinyMyoError(f"{path}: no array 'x' (windows N x C x T)")
                x = data["x"]
        except (OSError, ValueError) as exc:
            raise TinyMyoError(f"{path}: cannot read input windows ({exc})") from exc
    x = np.asarray(x, dtype=np.float32)
    if x.shape == tuple(shape):
        x = x[None]
    if x.shape[1:] != tuple(shape):
        raise TinyMyoError(f"{path}: windows have shape {list(x.shape[1:])}, the model takes {list(shape)}")
    return x


def _program(outdir: Path) -> Program:
    return load_program(Path(outdir) / "program.json", Path(outdir) / "program.npz")


def _count_errors(a: np.ndarray, b: np.ndarray) -> int:
    same = (a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f" else (a == b)
    return int(a.size - np.count_nonzero(same))


def _ort_session(model: Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])


def ort_outputs(model: Path, x: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray:
    sess = _ort_session(model)
    inp = sess.get_inputs()[0]
    ys = []
    for window in x:
        feed = window if len(inp.shape) == window.ndim else window[None]
        ys.append(np.asarray(sess.run(None, {inp.name: feed})[0]).reshape(out_shape))
    return np.stack(ys)


def validate(outdir, inputs_path, *, per_layer: bool = False) -> ValidationResult:
    outdir = Path(outdir)
    manifest = _manifest(outdir)
    in_shape, out_shape = tuple(manifest["input"]["shape"]), tuple(manifest["output"]["shape"])
    x = load_inputs(inputs_path, in_shape)
    program = _program(outdir)
    exe = compile_host(outdir, "validate")
    y_c, _ = run_binary(exe, x, out_shape, weights=outdir / "network" / "weights.bin")
    golden = np.stack([program.run(w)[program.output] for w in x])
    comparisons = [Comparison("golden executor (numpy)", _count_errors(y_c, golden), y_c.size)]
    notes = [f"host build: {outdir} (gcc -O2 -march=native -ffp-contract=off -Wall -Wextra -Werror)"]
    ort_version, model = None, outdir / MODEL_FILE
    path = cpu_path()
    if model.is_file():
        import onnxruntime as ort

        ort_version = ort.__version__
        y_ort = ort_outputs(model, x, out_shape)
        comparisons.append(Comparison(f"onnxruntime {ort_version} (1 thread, CPU path {path})",
                                      _count_errors(y_c, y_ort), y_c.size))
    else:
        notes.append("onnxruntime: skipped (the build was made from a Program, no int8 ONNX in OUTDIR)")
    result = ValidationResult(comparisons, len(x), path, ort_version, notes=notes)
    if per_layer:
        result.layer_diffs = per_layer_diffs(outdir, x, manifest, program)
    return result


def _split_dump(blob: bytes, layers: list[dict], windows: int) -> list[dict[str, np.ndarray]]:
    per_window = sum(layer["bytes"] for layer in layers)
    if len(blob) != per_window * windows:
        raise TinyMyoError(f"per-layer dump has {len(blob)} bytes, expected {per_window * windows}")
    result, pos = [], 0
    for _ in range(windows):
        tensors = {}
        for layer in layers:
            raw = blob[pos:pos + layer["bytes"]]
            pos += layer["bytes"]
            tensors[layer["tensor"]] = np.frombuffer(raw, dtype=layer["dtype"]).reshape(layer["shape"])
        result.append(tensors)
    return result


def _first_diff(window: int, layers: list[dict], got: dict, want: dict, reference: str) -> LayerDiff | None:
    for layer in layers:
        name = layer["tensor"]
        if name not in want:
            continue
        a = got[name]
        b = np.asarray(want[name]).reshape(a.shape)
        bad = ~((a == b) | (np.isnan(a) & np.isnan(b))) if a.dtype.kind == "f" else a != b
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            return LayerDiff(window, layer["layer"], layer["node"], idx, a[idx].item(), b[idx].item(), reference)
    return None


def _ort_intermediates(outdir: Path, window: np.ndarray):
    model = outdir / MODEL_FILE
    if not model.is_file():
        return None
    try:
        from .quant import ort_intermediates
    except ImportError:
        return None
    return ort_intermediates(model, window)


def per_layer_diffs(outdir: Path, x: np.ndarray, manifest: dict, program: Program) -> list[LayerDiff]:
    """The first differing layer and element against the golden executor (and ORT intermediates if available)."""
    layers = manifest["layers"]
    exe = compile_host(outdir, "dump")
    _, blob = run_binary(exe, x, tuple(manifest["output"]["shape"]), dump=True,
                         weights=outdir / "network" / "weights.bin")
    diffs: list[LayerDiff] = []
    for w, got in enumerate(_split_dump(blob, layers, len(x))):
        diff = _first_diff(w, layers, got, program.run(x[w], keep=True), "golden")
        if diff:
            diffs.append(diff)
        ort_values = _ort_intermediates(outdir, x[w])
        if ort_values:
            diff = _first_diff(w, layers, got, ort_values, "onnxruntime")
            if diff:
                diffs.append(diff)
        if diffs:
            break
    return diffs


def run_host(outdir, inputs_path, out_path, *, force: bool = False) -> np.ndarray:
    """Run the host build on every window; writes out_path (.npz with `y`, shape (N, *output)) and returns y."""
    outdir = Path(outdir)
    manifest = _manifest(outdir)
    x = load_inputs(inputs_path, tuple(manifest["input"]["shape"]))
    y, _ = run_binary(compile_host(outdir, "validate"), x, tuple(manifest["output"]["shape"]),
                      weights=outdir / "network" / "weights.bin")
    with atomic_path(out_path, force=force) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, y=y)
    return y
