"""PyTorch TinyMyo -> float ONNX (opset 13, per-head 2-D attention; the public NNTool imports it after the nntool
backend's rewrite, targets/nntool.py to_nntool_form, not as is: docs/NNTOOL.md), simplified, checked, parity-tested.

Default form (opset 13, static batch 1): the legacy TorchScript exporter (dynamo=False), attention per head with 2-D
MatMuls (model.set_export_form), LayerNorm decomposed (ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add), GELU via Erf, no
Identity node, constants as initializers. Opset 17+ gives LayerNormalization instead (the quantizer accepts both;
NNTool does not). The file is written only after onnxruntime reproduces PyTorch on random and real windows.
"""

from __future__ import annotations

import collections
import io
import json
import os
import platform
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from . import __version__
from .errors import TinyMyoError
from .fileio import atomic_path, check_writable
from .model import TinyMyo, TinyMyoConfig
from .model.checkpoint import file_sha256, load_checkpoint

INPUT_NAME = "emg"
OUTPUT_NAMES = {"classification": "logits", "regression": "kinematics", "reconstruction": "reconstruction"}
MIN_OPSET, MAX_OPSET = 13, 20
LAYERNORM_OP_OPSET = 17  # the legacy exporter emits LayerNormalization from this opset on
SDPA_OPSET = 14  # batched attention (dynamic batch) exports from this opset on
NNTOOL_OPSETS = (13, 14)  # GAP9.md: the only opsets the public NNTool imports cleanly
# Parity: both runtimes evaluate the same float32 graph with different kernels and summation orders. Each op adds a
# few ulps (2^-23 ~ 1.2e-7 relative) over reductions of up to ~800 terms; through 8 residual blocks the measured error
# stays near 1e-6 of the output scale (bench/results/export.json). 1e-4 of max(1, |y|max) leaves a 10-100x margin
# while any real mistake (a wrong op, weight or layout) errs by O(|y|).
PARITY_RTOL = 1e-4
RANDOM_PARITY_WINDOWS = 4
META = "tinymyo_edge."


@dataclass(frozen=True)
class ParityCheck:
    """onnxruntime vs PyTorch on one input set. max_rel_error: the largest, over windows, of max|diff| / max|y_torch|
    within the window; tolerance: PARITY_RTOL * max(1, max|y_torch| over the set), compared with max_abs_error."""

    inputs: str  # "random" or "real"
    windows: int
    max_abs_error: float
    max_rel_error: float
    tolerance: float
    output_scale: float  # max |y_torch|

    @property
    def ok(self) -> bool:
        return self.max_abs_error <= self.tolerance


@dataclass
class ExportReport:
    path: Path
    config: TinyMyoConfig
    opset: int
    form: str
    source: str
    ops: dict[str, int]
    parameters: int
    parity: list[ParityCheck]
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> wall seconds (measured)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        ops = ", ".join(f"{op} {n}" for op, n in sorted(self.ops.items(), key=lambda kv: (-kv[1], kv[0])))
        lines = [
            f"wrote {self.path}: TinyMyo {self.config.head}, {self.config.channels} ch x {self.config.samples} samples, "
            f"{self.config.tokens} tokens, dim {self.config.dim}, depth {self.config.depth}; {self.parameters:,} parameters",
            f"form: {self.form}",
            f"weights: {self.source}",
            f"ops ({sum(self.ops.values())} nodes): {ops}",
        ]
        for p in self.parity:
            lines.append(
                f"parity onnxruntime vs PyTorch ({p.inputs}, {p.windows} windows): max abs error {p.max_abs_error:.3g}, "
                f"max rel error {p.max_rel_error:.3g} (tolerance {p.tolerance:.3g}, |y|max {p.output_scale:.3g})"
            )
        lines.append("time (measured): " + ", ".join(f"{k} {v:.2f} s" for k, v in self.seconds.items()))
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ the model


def prepare_model(
    checkpoint: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    samples: int | None = None,
    heads: int | None = None,
    **sizes,
) -> tuple[TinyMyo, str]:
    """(model, weights provenance). With a checkpoint, `sizes` are expectations checked against it (non-inferable
    ones, like channels of a reconstruction head, are used); without, they override TinyMyoConfig's defaults
    (the paper's deployed model) and the weights are upstream's initialisation seeded with `seed`."""
    sizes = {k: v for k, v in sizes.items() if v is not None}
    if checkpoint is not None:
        model = load_checkpoint(checkpoint, samples=samples, heads=heads, expect=sizes)
        return model, f"checkpoint {Path(checkpoint).name} sha256 {file_sha256(checkpoint)}"
    for name, value in (("samples", samples), ("heads", heads)):
        if value is not None:
            sizes[name] = value
    cfg = TinyMyoConfig(**sizes)
    torch.manual_seed(seed)
    return TinyMyo(cfg).eval(), f"random-init seed {seed}"


# ------------------------------------------------------------------------------------------------ export


def export_onnx(
    model: TinyMyo,
    out_path: str | os.PathLike,
    *,
    opset: int = 13,
    dynamic_batch: bool = False,
    parity_inputs: np.ndarray | None = None,
    force: bool = False,
    source: str = "unrecorded",
    seed: int = 0,
    preprocessing: str | None = None,
) -> ExportReport:
    """Export `model` to `out_path` (see module doc); raise TinyMyoError, leaving no file, if any check fails.

    parity_inputs: real windows (N, C, T) checked besides RANDOM_PARITY_WINDOWS seeded standard-normal windows.
    source: weights provenance written to the metadata (checkpoint sha256 or "random-init seed N").
    preprocessing: the training data's description (JSON text; data/pipeline.py), written as metadata
    tinymyo_edge.preprocessing so that quantize, build --stream and validate --stream know the input pipeline.
    """
    out_path = Path(out_path)
    if out_path.is_dir():
        raise TinyMyoError(f"{out_path}: is a folder; give the .onnx file to write")
    check_writable(out_path, force)  # fail before the expensive part
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise TinyMyoError(f"opset {opset} is not supported (choose {MIN_OPSET}..{MAX_OPSET}; NNTool needs 13 or 14)")
    if dynamic_batch and opset < SDPA_OPSET:
        raise TinyMyoError(f"--dynamic-batch exports batched attention (scaled_dot_product_attention), which needs "
                           f"opset >= {SDPA_OPSET}; got opset {opset}")
    cfg = model.cfg
    real = None if parity_inputs is None else _check_parity_inputs(parity_inputs, cfg)
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    graph = _trace_to_onnx(model, opset=opset, dynamic_batch=dynamic_batch)
    seconds["export"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    graph = _simplify(graph)
    graph = fold_constant_nodes(remove_identities(graph))
    form = _describe_form(opset, dynamic_batch)
    check_form(graph, opset=opset, per_head_2d=not dynamic_batch)
    onnx.checker.check_model(graph, full_check=True)
    seconds["simplify+check"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    sets = [("random", rng.standard_normal((RANDOM_PARITY_WINDOWS, cfg.channels, cfg.samples)).astype(np.float32))]
    if real is not None:
        sets.append(("real", real))
    parity = [_parity(graph, model, name, x) for name, x in sets]
    seconds["parity"] = time.perf_counter() - t0
    failed = [p for p in parity if not p.ok]
    if failed:
        raise TinyMyoError(
            f"{out_path}: not written: onnxruntime differs from PyTorch beyond float rounding: "
            + "; ".join(f"{p.inputs} windows max abs error {p.max_abs_error:.3g} > tolerance {p.tolerance:.3g}"
                        for p in failed)
        )

    parameters = sum(p.numel() for p in model.parameters())
    _set_metadata(graph, cfg, source=source, form=form, parity=parity, preprocessing=preprocessing)
    with atomic_path(out_path, force=force) as tmp:
        onnx.save(graph, tmp)
    return ExportReport(path=out_path, config=cfg, opset=opset, form=form, source=source, ops=op_histogram(graph),
                        parameters=parameters, parity=parity, seconds=seconds, notes=_opset_notes(opset, dynamic_batch))


def _check_parity_inputs(x: np.ndarray, cfg: TinyMyoConfig) -> np.ndarray:
    from .data import check_windows

    return check_windows(x, name="parity windows", channels=cfg.channels, samples=cfg.samples).x


def _trace_to_onnx(model: TinyMyo, *, opset: int, dynamic_batch: bool) -> onnx.ModelProto:
    """Legacy TorchScript export (dynamo=False), in export form for batch 1; the model's state is restored."""
    cfg = model.cfg
    was_training = model.training
    previous = [block.attn.per_head_2d for block in model.blocks]
    output = OUTPUT_NAMES[cfg.head]
    axes = {INPUT_NAME: {0: "batch"}, output: {0: "batch"}} if dynamic_batch else None
    buffer = io.BytesIO()
    try:
        model.eval()
        model.set_export_form(not dynamic_batch)  # the per-head path is traced for batch 1 only
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # legacy-exporter deprecation and tracer notices: expected here
            torch.onnx.export(model, (torch.zeros(1, cfg.channels, cfg.samples),), buffer, dynamo=False,
                              opset_version=opset, input_names=[INPUT_NAME], output_names=[output],
                              dynamic_axes=axes, do_constant_folding=True)
    except Exception as exc:
        raise TinyMyoError(f"torch.onnx.export failed at opset {opset}: {exc}") from exc
    finally:
        for block, flag in zip(model.blocks, previous):
            block.attn.per_head_2d = flag
        model.train(was_training)
    return onnx.load_from_string(buffer.getvalue())


def _simplify(graph: onnx.ModelProto) -> onnx.ModelProto:
    import onnxsim

    try:
        simplified, ok = onnxsim.simplify(graph)
    except Exception as exc:
        raise TinyMyoError(f"onnxsim failed on the exported graph: {exc}") from exc
    if not ok:
        raise TinyMyoError("onnxsim could not validate the simplified graph")
    return simplified


# ------------------------------------------------------------------------------------------------ graph passes


def remove_identities(graph: onnx.ModelProto) -> onnx.ModelProto:
    """Drop every Identity node (NNTool rejects them at opset >= 14), rewiring its consumers to its input."""
    g = graph.graph
    outputs = {o.name for o in g.output}
    for node in [n for n in g.node if n.op_type == "Identity"]:
        src, dst = node.input[0], node.output[0]
        g.node.remove(node)
        if dst in outputs:  # keep the graph output's name: rename the source instead
            if any(i.name == src for i in g.input) or src in outputs:
                raise TinyMyoError(f"Identity node {node.name!r} joins graph input/output {src!r} to output {dst!r}")
            _rename_value(g, src, dst)
        else:
            _rename_value(g, dst, src)
    return graph


def _rename_value(g: onnx.GraphProto, old: str, new: str) -> None:
    for node in g.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for tensor in g.initializer:
        if tensor.name == old:
            tensor.name = new
    for vi in g.value_info:
        if vi.name == old:
            vi.name = new


_CONSTANT_DTYPES = {"value_float": np.float32, "value_floats": np.float32, "value_int": np.int64, "value_ints": np.int64}


def fold_constant_nodes(graph: onnx.ModelProto) -> onnx.ModelProto:
    """Constant nodes -> initializers of the same name (one place for every constant)."""
    g = graph.graph
    for node in [n for n in g.node if n.op_type == "Constant"]:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if "value" in attrs:
            array = numpy_helper.to_array(attrs["value"])
        elif attrs.keys() & _CONSTANT_DTYPES:
            name = next(iter(attrs.keys() & _CONSTANT_DTYPES))
            array = np.asarray(attrs[name], dtype=_CONSTANT_DTYPES[name])
        else:
            raise TinyMyoError(f"Constant node {node.name!r}: cannot fold attribute(s) {', '.join(attrs)}")
        g.initializer.append(numpy_helper.from_array(array, name=node.output[0]))
        g.node.remove(node)
    return graph


def op_histogram(graph: onnx.ModelProto) -> dict[str, int]:
    return dict(collections.Counter(n.op_type for n in graph.graph.node))


def check_form(graph: onnx.ModelProto, *, opset: int, per_head_2d: bool) -> None:
    """Raise naming the nodes that break the export form: Identity/Constant nodes, LayerNormalization below
    opset 17, Gelu, and (per-head form) any MatMul batched over a dimension larger than 1."""
    problems = []
    banned = {"Identity", "Constant", "Gelu"} | ({"LayerNormalization"} if opset < LAYERNORM_OP_OPSET else set())
    for node in graph.graph.node:
        if node.op_type in banned:
            problems.append(f"{node.op_type} node {node.name!r}")
    if per_head_2d:
        problems += [f"batched MatMul {name!r} {shapes}" for name, shapes in _batched_matmuls(graph)]
    if problems:
        raise TinyMyoError("exported graph is not in the expected form: " + "; ".join(problems))


def _batched_matmuls(graph: onnx.ModelProto) -> list[tuple[str, list]]:
    """MatMuls that are not plain 2-D: activation x activation must be 2-D x 2-D; activation x weight must have a
    2-D weight and leading activation dimensions of 1 (a per-token linear layer at batch 1)."""
    inferred = onnx.shape_inference.infer_shapes(graph)
    shapes = {vi.name: [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
              for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)}
    weights = {t.name: list(t.dims) for t in graph.graph.initializer}
    bad = []
    for node in graph.graph.node:
        if node.op_type != "MatMul":
            continue
        a, b = node.input
        sa, sb = shapes.get(a, weights.get(a)), shapes.get(b, weights.get(b))
        if sa is None or sb is None:
            bad.append((node.name, [sa, sb]))
        elif b in weights:
            if len(sb) != 2 or any(d != 1 for d in sa[:-2]):
                bad.append((node.name, [sa, sb]))
        elif len(sa) != 2 or len(sb) != 2:
            bad.append((node.name, [sa, sb]))
    return bad


# ------------------------------------------------------------------------------------------------ parity


def _parity(graph: onnx.ModelProto, model: TinyMyo, name: str, x: np.ndarray) -> ParityCheck:
    """onnxruntime (window by window for a static batch) vs the PyTorch reference in its ordinary batched form."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])
    static = graph.graph.input[0].type.tensor_type.shape.dim[0].HasField("dim_value")
    chunks = [x[i : i + 1] for i in range(len(x))] if static else [x]
    y_ort = np.concatenate([session.run(None, {INPUT_NAME: c})[0] for c in chunks])
    y_ref = _torch_reference(model, x)
    if y_ort.shape != y_ref.shape:
        raise TinyMyoError(f"onnxruntime output shape {y_ort.shape} != PyTorch {y_ref.shape}")
    diff = np.abs(y_ort.astype(np.float64) - y_ref)
    scale = float(np.abs(y_ref).max())
    per_window_scale = np.maximum(np.abs(y_ref).reshape(len(x), -1).max(axis=1), np.finfo(np.float32).tiny)
    rel = float((diff.reshape(len(x), -1).max(axis=1) / per_window_scale).max())
    return ParityCheck(inputs=name, windows=len(x), max_abs_error=float(diff.max()), max_rel_error=rel,
                       tolerance=PARITY_RTOL * max(1.0, scale), output_scale=scale)


def _torch_reference(model: TinyMyo, x: np.ndarray, batch: int = 16) -> np.ndarray:
    previous = [block.attn.per_head_2d for block in model.blocks]
    was_training = model.training
    try:
        model.eval()
        model.set_export_form(False)
        with torch.no_grad():
            outs = [model(torch.from_numpy(x[i : i + batch])).double().numpy() for i in range(0, len(x), batch)]
    finally:
        for block, flag in zip(model.blocks, previous):
            block.attn.per_head_2d = flag
        model.train(was_training)
    return np.concatenate(outs)


# ------------------------------------------------------------------------------------------------ metadata


def _describe_form(opset: int, dynamic_batch: bool) -> str:
    layernorm = "LayerNormalization op" if opset >= LAYERNORM_OP_OPSET else "LayerNorm decomposed"
    attention = "batched 4-D attention, dynamic batch" if dynamic_batch else "per-head 2-D attention MatMuls, static batch 1"
    return f"legacy exporter opset {opset}, {attention}, {layernorm}, GELU via Erf, no Identity, onnxsim"


def _opset_notes(opset: int, dynamic_batch: bool) -> list[str]:
    notes = []
    if opset not in NNTOOL_OPSETS:
        notes.append(f"opset {opset}: the public NNTool imports only opsets 13/14 cleanly (GAP9.md)")
    if dynamic_batch:
        notes.append("dynamic batch: attention is batched 4-D, which NNTool does not generate properly (GAP9.md)")
    return notes


def _set_metadata(graph: onnx.ModelProto, cfg: TinyMyoConfig, *, source: str, form: str, parity,
                  preprocessing: str | None = None) -> None:
    values = {
        "config": json.dumps(cfg.to_dict(), sort_keys=True),
        "weights": source,
        "version": __version__,
        "torch_version": torch.__version__,
        "onnx_version": onnx.__version__,
        "export_form": form,
        "parity": json.dumps([{"inputs": p.inputs, "windows": p.windows, "max_abs_error": p.max_abs_error,
                               "max_rel_error": p.max_rel_error, "tolerance": p.tolerance} for p in parity]),
        "python": platform.python_version(),
    }
    if preprocessing is not None:
        values["preprocessing"] = preprocessing
    del graph.metadata_props[:]
    for key, value in values.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = META + key, value
    graph.producer_name, graph.producer_version = "tinymyo-edge", __version__


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The tinymyo_edge.* metadata of an exported ONNX file (prefix stripped)."""
    path = Path(path)
    try:
        graph = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise TinyMyoError(f"{path}: not a readable ONNX file ({exc})") from None
    return {p.key[len(META):]: p.value for p in graph.metadata_props if p.key.startswith(META)}
