"""Speech model (PyTorch) -> float ONNX, BatchNorm folded, simplified, parity-tested; and the way back.

Form: the legacy TorchScript exporter (dynamo=False), static batch 1, per-head 2-D attention MatMuls, every BatchNorm
folded into its Conv at export (so the graph holds Conv + GELU(Erf) + Add, no BatchNormalization), onnxsim, no
Identity/Constant nodes. The file is written only after onnxruntime reproduces the unfolded PyTorch model.

Recognition (`verify_speech`): the exporter and onnxsim rename and deduplicate most initializers of this graph, so
the weights are not recovered from it (the TinyMyo recogniser's node-by-node walk does not cover the speech graph
yet). The quantizer takes the checkpoint instead and checks that onnxruntime on the float graph reproduces it.
"""

from __future__ import annotations

import copy
import io
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from . import __version__
from .errors import TinyMyoError
from .export import META, PARITY_RTOL, RANDOM_PARITY_WINDOWS, ParityCheck, _simplify, fold_constant_nodes, \
    op_histogram, remove_identities
from .fileio import atomic_path, check_writable
from .model.speech import SpeechConfig, SpeechModel

INPUT_NAME = "emg"
OUTPUT_NAMES = {"ctc": "ctc_logits", "speech-features": "speech_features"}
DEFAULT_OPSET = 17
_BN_FREE = ("BatchNormalization", "Identity", "Constant", "Gelu")


@dataclass
class SpeechExportReport:
    path: Path
    config: SpeechConfig
    ops: dict[str, int]
    parameters: int
    parity: list[ParityCheck]
    seconds: dict[str, float]

    def summary(self) -> str:
        cfg = self.config
        ops = ", ".join(f"{op} {n}" for op, n in sorted(self.ops.items(), key=lambda kv: (-kv[1], kv[0])))
        lines = [f"wrote {self.path}: speech model ({cfg.head}), {cfg.channels} ch x {cfg.samples} samples -> "
                 f"{cfg.tokens} tokens x {cfg.outputs} outputs, dim {cfg.dim}, depth {cfg.depth}; "
                 f"{self.parameters:,} parameters; BatchNorm folded into the convolutions",
                 f"ops ({sum(self.ops.values())} nodes): {ops}"]
        for p in self.parity:
            lines.append(f"parity onnxruntime vs PyTorch ({p.inputs}, {p.windows} windows): max abs error "
                         f"{p.max_abs_error:.3g} (tolerance {p.tolerance:.3g}, |y|max {p.output_scale:.3g})")
        lines.append("time (measured): " + ", ".join(f"{k} {v:.2f} s" for k, v in self.seconds.items()))
        return "\n".join(lines)


def export_form(model: SpeechModel) -> SpeechModel:
    """A copy in eval mode with every BatchNorm folded (the model itself is left untouched)."""
    return copy.deepcopy(model).eval().fold_batchnorm()


def export_speech_onnx(model: SpeechModel, out_path, *, opset: int = DEFAULT_OPSET, parity_inputs=None,
                       force: bool = False, source: str = "unrecorded", seed: int = 0) -> SpeechExportReport:
    out_path = Path(out_path)
    check_writable(out_path, force)
    cfg = model.cfg
    seconds = {}
    t0 = time.perf_counter()
    folded = export_form(model)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(folded, (torch.zeros(1, cfg.channels, cfg.samples),), buffer, dynamo=False,
                          opset_version=opset, input_names=[INPUT_NAME], output_names=[OUTPUT_NAMES[cfg.head]],
                          do_constant_folding=True)
    graph = fold_constant_nodes(remove_identities(_simplify(onnx.load_from_string(buffer.getvalue()))))
    banned = [f"{n.op_type} node {n.name!r}" for n in graph.graph.node if n.op_type in _BN_FREE]
    if banned:
        raise TinyMyoError("exported speech graph is not in the expected form: " + "; ".join(banned))
    onnx.checker.check_model(graph, full_check=True)
    seconds["export+simplify"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    sets = [("random", rng.standard_normal((RANDOM_PARITY_WINDOWS, cfg.channels, cfg.samples)).astype(np.float32))]
    if parity_inputs is not None:
        sets.append(("real", np.asarray(parity_inputs, np.float32)))
    parity = [speech_parity(graph, model, name, x) for name, x in sets]
    seconds["parity"] = time.perf_counter() - t0
    failed = [p for p in parity if not p.ok]
    if failed:
        raise TinyMyoError(f"{out_path}: not written: onnxruntime differs from PyTorch beyond float rounding: "
                           + "; ".join(f"{p.inputs} max abs error {p.max_abs_error:.3g} > {p.tolerance:.3g}"
                                       for p in failed))
    values = {"config": json.dumps(cfg.to_dict(), sort_keys=True), "weights": source, "version": __version__,
              "export_form": f"speech, legacy exporter opset {opset}, BatchNorm folded, per-head 2-D attention"}
    del graph.metadata_props[:]
    for key, value in values.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = META + key, value
    graph.producer_name, graph.producer_version = "tinymyo-edge", __version__
    with atomic_path(out_path, force=force) as tmp:
        onnx.save(graph, tmp)
    return SpeechExportReport(out_path, cfg, op_histogram(graph), sum(p.numel() for p in model.parameters()),
                              parity, seconds)


def _session(graph):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])


def speech_parity(graph: onnx.ModelProto, model: SpeechModel, name: str, x: np.ndarray) -> ParityCheck:
    """onnxruntime on the folded graph vs the PyTorch model with its BatchNorms (float64 differences)."""
    session = _session(graph)
    y_ort = np.concatenate([session.run(None, {INPUT_NAME: x[i : i + 1]})[0] for i in range(len(x))])
    with torch.no_grad():
        y_ref = model.eval()(torch.from_numpy(x)).double().numpy()
    diff = np.abs(y_ort.astype(np.float64) - y_ref)
    scale = float(np.abs(y_ref).max())
    rel = float(diff.max() / max(scale, np.finfo(np.float32).tiny))
    return ParityCheck(inputs=name, windows=len(x), max_abs_error=float(diff.max()), max_rel_error=rel,
                       tolerance=PARITY_RTOL * max(1.0, scale), output_scale=scale)


def is_speech_onnx(model: onnx.ModelProto) -> bool:
    props = {p.key: p.value for p in model.metadata_props}
    try:
        return json.loads(props.get(META + "config", "{}")).get("family") == "speech"
    except ValueError:
        return False


def verify_speech(path, model: SpeechModel, graph: onnx.ModelProto | None = None) -> float:
    """The quantizer's recognition of a speech graph: the float ONNX must carry speech metadata whose sizes are
    `model`'s, and onnxruntime on it must reproduce `model` (the checkpoint it was exported from) on random
    windows. Refused otherwise, naming the file. Returns the relative error."""
    path = Path(path)
    graph = graph if graph is not None else onnx.load(str(path))
    props = {p.key: p.value for p in graph.metadata_props}
    if not is_speech_onnx(graph):
        raise TinyMyoError(f"{path}: not a float speech export (no tinymyo_edge.config with family 'speech')")
    cfg = SpeechConfig.from_dict(json.loads(props[META + "config"]))
    if cfg != model.cfg:
        raise TinyMyoError(f"{path}: exported for {cfg}, but the checkpoint gives {model.cfg}")
    x = np.random.default_rng(1).standard_normal((2, cfg.channels, cfg.samples)).astype(np.float32)
    session = _session(graph)
    want = np.concatenate([session.run(None, {INPUT_NAME: x[i : i + 1]})[0] for i in range(len(x))])
    with torch.no_grad():
        got = model.eval()(torch.from_numpy(x)).numpy()
    err = float(np.abs(got - want).max() / max(1.0, float(np.abs(want).max())))
    if err > 1e-3:
        raise TinyMyoError(f"{path}: the checkpoint's speech model differs from this float graph by {err:.2e} "
                           "(relative to the output range): it was not exported from that checkpoint")
    return err
