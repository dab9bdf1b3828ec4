"""Fine-tune TinyMyo on windows: checks the data, resolves the model sizes, splits, trains, writes the checkpoint
(upstream key names, via save_checkpoint) and a JSON log beside it."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import __version__
from ..errors import TinyMyoError
from ..fileio import atomic_path, check_writable
from ..data.pipeline import check_compatible, dumps
from ..model import TinyMyo, TinyMyoConfig
from .init import backbone_sizes, build_model, load_pretrained
from .loop import EpochRecord, Split, describe_device, deterministic, resolve_device, train
from .recipe import Recipe
from .split import validation_split


@dataclass
class Data:
    """Windows to train or validate on. x (N, C, T) float32; y (N,) int64 labels, (N, L, K) float32 regression
    targets, or None; groups (N,) ids of the continuous segment each window was cut from, or None."""

    x: np.ndarray
    y: np.ndarray | None
    name: str
    groups: np.ndarray | None = None
    preprocessing: dict | None = None  # the description `data window` wrote (data/pipeline.py), carried on


@dataclass
class FinetuneResult:
    model: TinyMyo
    history: list[EpochRecord]
    best_epoch: int  # 1-based
    stopped_early: bool  # by early stopping (patience)
    notes: list[str]
    checkpoint: Path
    log: Path
    val: dict = field(default_factory=dict)  # validation metrics of the kept epoch ({} without validation)
    stop_reason: str = "completed"  # completed (every epoch), early_stop (patience) or budget (recipe.max_minutes)
    device: str = "cpu"  # where it trained, e.g. "cpu" or "cuda:0 (NVIDIA H200)"


def log_path_for(checkpoint: str | Path) -> Path:
    """The JSON log beside the checkpoint: model.safetensors -> model.finetune.json."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + ".finetune.json")


def _check_targets(data: Data, head: str, classes: int | None) -> None:
    n = len(data.x)
    if data.y is None:
        raise TinyMyoError(f"{data.name}: no labels ('y'); fine-tuning needs one target per window")
    if len(data.y) != n:
        raise TinyMyoError(f"{data.name}: {n} windows but {len(data.y)} targets")
    if head == "classification":
        if data.y.ndim != 1 or not np.issubdtype(data.y.dtype, np.integer):
            raise TinyMyoError(f"{data.name}: classification labels must be integers of shape (N,), got "
                               f"{data.y.dtype} {data.y.shape}")
        if classes is not None and n and (data.y.min() < 0 or data.y.max() >= classes):
            raise TinyMyoError(f"{data.name}: labels span {data.y.min()}..{data.y.max()}, outside 0..{classes - 1} "
                               f"for {classes} classes")
    elif data.y.ndim != 3:
        raise TinyMyoError(f"{data.name}: regression targets must have shape (N, L, K), got {data.y.shape}")


def _check_windows(data: Data, channels: int | None, samples: int | None) -> None:
    if data.x.ndim != 3:
        raise TinyMyoError(f"{data.name}: windows must have shape (N, C, T), got {data.x.shape}")
    if len(data.x) == 0:
        raise TinyMyoError(f"{data.name}: no windows")
    for what, want, got in (("channels", channels, data.x.shape[1]), ("samples", samples, data.x.shape[2])):
        if want is not None and want != got:
            raise TinyMyoError(f"{data.name}: windows have {got} {what}, the model has {want}")
    if data.groups is not None and len(data.groups) != len(data.x):
        raise TinyMyoError(f"{data.name}: {len(data.x)} windows but {len(data.groups)} group ids")


def resolve_config(data: Data, sizes: dict, head: str, reduction: str, pretrained: TinyMyo | None) -> TinyMyoConfig:
    """Sizes from the data (channels, samples, classes), the user, the pretrained checkpoint, the defaults."""
    _, channels, samples = data.x.shape
    extra = {}
    if head == "classification":
        classes = sizes.get("classes") or int(data.y.max()) + 1
        if classes < 2:
            raise TinyMyoError(f"{data.name}: every label is {int(data.y.max())}; a classifier needs >= 2 classes")
    else:
        classes, extra["reg_target_len"] = data.y.shape[2], data.y.shape[1]
        if sizes.get("classes") not in (None, classes):
            raise TinyMyoError(f"{data.name}: targets have {classes} outputs, --classes says {sizes['classes']}")
    return TinyMyoConfig(channels=channels, samples=samples, classes=classes, head=head, reduction=reduction,
                         **backbone_sizes(sizes, pretrained), **extra)


def _splits(train_data: Data, val_data: Data | None, val_fraction: float, seed: int, head: str):
    y = train_data.y.astype(np.float32) if head == "regression" else train_data.y
    if val_data is not None:
        yv = val_data.y.astype(np.float32) if head == "regression" else val_data.y
        return Split(train_data.x, y), Split(val_data.x, yv), "file"
    if not val_fraction:
        return Split(train_data.x, y), None, "none"
    labels = train_data.y if head == "classification" else None
    tr, va = validation_split(labels, train_data.groups, val_fraction, seed, len(train_data.x))
    kind = ("stratified " if labels is not None else "") + ("by segment" if train_data.groups is not None else "by window")
    return Split(train_data.x[tr], y[tr]), Split(train_data.x[va], y[va]), kind


def finetune(
    train_data: Data, out_path: str | Path, *, val_data: Data | None = None, val_fraction: float = 0.2,
    checkpoint: str | Path | None = None, sizes: dict | None = None, head: str = "classification",
    reduction: str = "concat", recipe: Recipe = Recipe(), force: bool = False,
    echo: Callable[[str], None] = print, progress: bool = True, device: str = "cpu",
) -> FinetuneResult:
    """Fine-tune (or train from scratch) a TinyMyo; write the best epoch to `out_path` and a log beside it.

    device: "cpu", "cuda" (an error without one) or "auto" (CUDA when present). The model is initialised on the CPU
    with the seed, so the starting weights are the same on every device; the checkpoint is written from the CPU."""
    out_path, log_path = Path(out_path), log_path_for(out_path)
    where = resolve_device(device)  # an impossible --device fails before anything is read or trained
    for path in (out_path, log_path):
        check_writable(path, force)  # fail before training, not after
    sizes = {k: v for k, v in (sizes or {}).items() if v is not None}
    _check_windows(train_data, sizes.get("channels"), sizes.get("samples"))
    _check_targets(train_data, head, sizes.get("classes"))
    pretrained = load_pretrained(checkpoint, sizes, train_data.x.shape[1]) if checkpoint else None
    cfg = resolve_config(train_data, sizes, head, reduction, pretrained)
    if val_data is not None:
        check_compatible(train_data.preprocessing, val_data.preprocessing, model_name=train_data.name,
                         data_name=val_data.name)
        _check_windows(val_data, cfg.channels, cfg.samples)
        _check_targets(val_data, head, cfg.classes if head == "classification" else None)
    train_split, val_split, split_kind = _splits(train_data, val_data, val_fraction, recipe.seed, head)
    echo(f"data: {len(train_split)} training windows, {len(val_split) if val_split else 0} validation "
         f"({split_kind}); model: {_describe(cfg)}; device {describe_device(where)}")
    with deterministic(recipe.seed, recipe.threads):
        model, notes = build_model(cfg, recipe.seed, pretrained, str(checkpoint))
        for note in notes:
            echo(note)
        history, best, reason = train(model.to(where), train_split, val_split, recipe, echo=echo, progress=progress)
    model.to("cpu").eval()
    from ..model.checkpoint import save_checkpoint

    save_checkpoint(model, out_path, force=force, preprocessing=dumps(train_data.preprocessing))
    result = FinetuneResult(model, history, best + 1, reason == "early_stop", notes, out_path, log_path,
                            history[best].val if val_split is not None else {}, reason, describe_device(where))
    _write_log(result, cfg, recipe, train_data, val_data, split_kind, checkpoint, force)
    return result


def _describe(cfg: TinyMyoConfig) -> str:
    params = sum(p.numel() for p in TinyMyo(cfg).parameters())
    return (f"{cfg.head} ({cfg.classes} outputs, {cfg.reduction}), {cfg.channels} ch x {cfg.samples} samples, "
            f"dim {cfg.dim}, depth {cfg.depth}, heads {cfg.heads}, patch {cfg.patch_size}, {cfg.tokens} tokens, "
            f"{params:,} parameters")


def _write_log(result: FinetuneResult, cfg: TinyMyoConfig, recipe: Recipe, train_data: Data, val_data: Data | None,
               split_kind: str, checkpoint, force: bool) -> None:
    log = {
        "tool": f"tinymyo-edge {__version__}",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "checkpoint": str(result.checkpoint),
        "config": cfg.to_dict(),
        "recipe": recipe.to_dict(),
        "pretrained": str(checkpoint) if checkpoint else None,
        "notes": result.notes,
        "preprocessing": train_data.preprocessing,
        "data": {"train": train_data.name, "val": val_data.name if val_data else None, "val_split": split_kind},
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "stop_reason": result.stop_reason,
        "device": result.device,
        "val": result.val,
        "history": [asdict(r) for r in result.history],
    }
    with atomic_path(result.log, force=force) as tmp:
        tmp.write_text(json.dumps(log, indent=2) + "\n")
