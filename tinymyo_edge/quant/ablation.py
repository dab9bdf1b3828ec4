"""Ablation: where is int8-vs-float agreement lost? Quantize one class of ops at a time (or all but one), every
other op in float, and score the model's output against the float model.

The float function of every op is the one the builder already computes to calibrate it: each op method hands its
float target (computed from the op's dequantized inputs) to `scale_for`, then `push`es the integer op. MixedBuilder
intercepts those two calls: an op of a quantized class runs its integer reference on its inputs' codes (a tensor
computed in float is also kept quantized to its own scale and zero point, so this is quantize -> integer op ->
dequantize), any other op's output IS its float target. So a
new op kind or new integer numerics (a builder op method, an Op.reference) are ablated without a change here.

Calibration vs evaluation: the builder runs on calibration windows followed by evaluation windows in one batch;
scales (scale_for, the attention score search) are chosen on the calibration rows only, so with every class
quantized the ops are exactly build_program's (tests/test_quant_ablation.py checks it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import torch

from .. import numerics as nx
from ..errors import TinyMyoError
from ..ir.program import DType, Op, Program, TensorInfo
from ..model import TinyMyo
from .builder import F32, ProgramBuilder, run_windows
from .report import cosine, qsnr_db

LAYOUT_KINDS = ("reshape",)  # no arithmetic: not a class of its own, runs on whatever its input is
# builder methods that choose constants from a batch of calibration values besides scale_for (attention's score
# search): they see only the calibration rows
CALIBRATION_SEARCHES = ("_score_scale", "_score_fixed")
ALL, NONE = "all", "none"


def op_class(op: Op) -> str:
    """The ablation class of an op: linear layers by their role (linear.q ... linear.fc2, patch_embed, head),
    tables by function (lut.gelu), everything else by its IR kind (attention, layernorm, residual_add, ...)."""
    name = op.name
    if op.kind in ("linear", "linear_dequant", "depthwise_conv1d", "conv1d"):
        if name.startswith("patch_embedding"):
            return "patch_embed"
        if name.startswith("model_head"):
            return "head"
        return "linear." + name.rsplit(".", 1)[-1]
    if op.kind == "lut":
        return f"lut.{op.function}"
    return op.kind


class MixedBuilder(ProgramBuilder):
    """ProgramBuilder whose ops run integer only if `quantized(op)`, else as their float function (see module)."""

    def __init__(self, model: TinyMyo, calib_x: np.ndarray, eval_x: np.ndarray | None = None, *,
                 quantized: Callable[[Op], bool], **kwargs):
        calib_x = np.asarray(calib_x, F32)
        batch = calib_x if eval_x is None or len(eval_x) == 0 else np.concatenate([calib_x, np.asarray(eval_x, F32)])
        super().__init__(model, batch, progress=False, **kwargs)
        self.calib_rows, self.rows = len(calib_x), len(batch)
        self.quantized = quantized
        self.floats: dict[str, np.ndarray] = {}  # tensors computed in float: real values (B, *shape)
        self._targets: list[np.ndarray] = []  # float targets handed to scale_for since the last push
        for search in CALIBRATION_SEARCHES:
            if hasattr(self, search):
                setattr(self, search, self._calibration_rows_only(getattr(self, search)))

    def _calibration_rows_only(self, fn):
        def cut(a):
            return a[: self.calib_rows] if isinstance(a, np.ndarray) and a.ndim and len(a) == self.rows else a

        return lambda *args, **kw: fn(*map(cut, args), **{k: cut(v) for k, v in kw.items()})

    def build(self) -> Program:
        program = super().build()
        program.metadata["calibration_windows"] = str(self.calib_rows)
        return program

    # the calls every builder op method makes
    def scale_for(self, target: np.ndarray) -> float:
        self._targets.append(target)
        return super().scale_for(target[: self.calib_rows])

    def range_for(self, target: np.ndarray) -> tuple[float, int]:
        self._targets.append(target)
        return super().range_for(target[: self.calib_rows])

    def deq(self, name: str) -> np.ndarray:
        return self.floats[name] if name in self.floats else super().deq(name)

    def push(self, op: Op, info: TensorInfo) -> str:
        target = next((t for t in reversed(self._targets) if t.shape == (self.rows, *info.shape)), None)
        self._targets.clear()
        self.tensors[op.output] = info
        self.ops.append(op)
        float_inputs = any(i in self.floats for i in op.inputs)
        if self.quantized(op) or (op.kind in LAYOUT_KINDS and not float_inputs):
            self.values[op.output] = run_windows(op, [self.values[i] for i in op.inputs], info.shape)
            return op.output
        if op.kind in LAYOUT_KINDS or (target is None and self._runs_on_reals(op)):
            real = run_windows(op, [self.deq(i) for i in op.inputs], info.shape)
        elif target is None:
            raise TinyMyoError(f"ablation: the builder gave no float target for {op.name} ({op.kind}); its builder "
                               "method must pass the op's float output to scale_for or range_for")
        else:
            real = target
        self.floats[op.output] = np.asarray(real, F32)
        # the codes an integer consumer reads (builder methods may read self.values directly)
        self.values[op.output] = (self.floats[op.output] if info.dtype is DType.F32
                                  else nx.quantize_float(self.floats[op.output], info.scale, info.zero_point))
        return op.output

    def linear(self, name, x, weight, bias, *, dequant: bool = False, **kwargs):
        if dequant:  # the float last layer: the builder needs no target for it (no output scale to choose)
            self._targets.append(self.deq(x) @ weight.T + bias)
        return super().linear(name, x, weight, bias, dequant=dequant, **kwargs)

    @staticmethod
    def _runs_on_reals(op: Op) -> bool:
        """Ops without a float target whose reference is valid on real values: data movement (concatenated patch
        features) and the float interpolation after the last layer."""
        return op.kind == "interpolate" or (op.kind == "patch_features" and getattr(op, "reduction", "") == "concat")

    def evaluation_output(self) -> np.ndarray:
        """The program output (real values) on the evaluation windows, flattened per window."""
        return np.asarray(self.deq(self.cursor)[self.calib_rows :], np.float64).reshape(self.rows - self.calib_rows, -1)


def quantized_by(classes: Iterable[str], invert: bool = False) -> Callable[[Op], bool]:
    """Predicate for MixedBuilder: ops of `classes` integer (invert: all other classes integer)."""
    chosen = frozenset(classes)
    if ALL in chosen:
        return lambda op: not invert
    return lambda op: (op_class(op) in chosen) != invert


def program_classes(program: Program) -> list[str]:
    """The ablation classes of a program, in order of first appearance."""
    seen: dict[str, None] = {}
    for op in program.ops:
        if op.kind not in LAYOUT_KINDS:
            seen.setdefault(op_class(op), None)
    return list(seen)


def float_logits(model: TinyMyo, x: np.ndarray, batch: int = 64) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([model.eval()(torch.from_numpy(np.asarray(x[i : i + batch], F32))).numpy()
                               for i in range(0, len(x), batch)]).reshape(len(x), -1).astype(np.float64)


def score(ref: np.ndarray, got: np.ndarray, labels: np.ndarray | None, classification: bool) -> dict:
    """Output of a configuration vs the float model's, per window: cosine (mean, min), QSNR; top-1 agreement and
    accuracy for classification."""
    cos = [cosine(a, b) for a, b in zip(ref, got)]
    out = {"cosine_mean": float(np.mean(cos)), "cosine_min": float(np.min(cos)), "qsnr_db": qsnr_db(ref, got)}
    if classification:
        out["top1_agreement"] = float(np.mean(ref.argmax(1) == got.argmax(1)))
        if labels is not None:
            out["accuracy"] = float(np.mean(got.argmax(1) == labels))
    return out


@dataclass
class Ablation:
    rows: list[dict] = field(default_factory=list)  # one per configuration
    float_accuracy: float | None = None
    windows: int = 0
    classes: list[str] = field(default_factory=list)
    program: Program | None = None  # the 'all' configuration: what build_program writes for these windows


def ablate(model: TinyMyo, calib_x: np.ndarray, eval_x: np.ndarray, labels: np.ndarray | None = None, *,
           classes: Iterable[str] | None = None, leave_one_out: bool = True, echo=None, **builder_kwargs) -> Ablation:
    """Rows: 'none' (all float: the float model through the builder's float functions), each class alone
    ('only'), everything but each class ('all_but', if leave_one_out), and 'all' (the real program)."""
    model = model.eval()
    classification = model.cfg.head == "classification"
    ref = float_logits(model, eval_x)
    full = MixedBuilder(model, calib_x, eval_x, quantized=quantized_by([ALL]), **builder_kwargs)
    program = full.build()
    names = list(classes) if classes is not None else program_classes(program)
    unknown = sorted(set(names) - set(program_classes(program)))
    if unknown:
        raise TinyMyoError(f"ablation: no op of class {', '.join(unknown)} in this model "
                           f"(classes: {', '.join(program_classes(program))})")
    result = Ablation(windows=len(eval_x), classes=names, program=program)
    if labels is not None and classification:
        result.float_accuracy = float(np.mean(ref.argmax(1) == labels))

    def row(config: str, cls: str, builder: MixedBuilder) -> None:
        if builder is not full:
            builder.build()
        ops = [op.name for op in builder.ops if builder.quantized(op) and op.kind not in LAYOUT_KINDS]
        r = {"config": config, "class": cls, "quantized_ops": len(ops),
             **score(ref, builder.evaluation_output(), labels, classification)}
        result.rows.append(r)
        if echo:
            echo(format_row(r))

    row(NONE, "-", MixedBuilder(model, calib_x, eval_x, quantized=quantized_by([]), **builder_kwargs))
    for cls in names:
        row("only", cls, MixedBuilder(model, calib_x, eval_x, quantized=quantized_by([cls]), **builder_kwargs))
    if leave_one_out:
        for cls in names:
            row("all_but", cls, MixedBuilder(model, calib_x, eval_x, quantized=quantized_by([cls], invert=True),
                                             **builder_kwargs))
    row(ALL, "-", full)
    return result


def format_row(r: dict) -> str:
    agree = f"{100 * r['top1_agreement']:6.2f}" if "top1_agreement" in r else "     -"
    acc = f"{100 * r['accuracy']:6.2f}" if "accuracy" in r else "     -"
    return (f"| {r['config']:<7} | {r['class']:<16} | {r['quantized_ops']:>4} | {agree} | {acc} | "
            f"{r['cosine_mean']:.5f} | {r['cosine_min']:.5f} | {r['qsnr_db']:6.2f} |")


def format_table(result: Ablation) -> str:
    head = ["| config  | class            |  ops | top-1 agreement % | accuracy % | cosine mean | cosine min | QSNR dB |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    return "\n".join(head + [format_row(r) for r in result.rows])
