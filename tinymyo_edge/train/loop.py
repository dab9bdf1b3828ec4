"""The fine-tuning loop: seeded, CPU or CUDA, AdamW with warm-up + cosine, early stopping, an optional wall-clock
budget, best epoch kept in memory.

Shapes: x (N, C, T) float32 windows; classification targets (N,) int64 in [0, classes); regression targets
(N, L, K) float32 (L = the head's output length, K outputs).
"""

from __future__ import annotations

import contextlib
import copy
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..errors import TinyMyoError
from ..model import TinyMyo
from .recipe import Recipe, learning_rate
from .regularise import training_regularisation


@dataclass
class Split:
    """One side of the data: windows and their targets."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class EpochRecord:
    epoch: int
    lr: float
    train_loss: float
    seconds: float
    val: dict = field(default_factory=dict)  # loss and accuracy (classification) or mae (regression)
    steps: int = 0  # optimiser steps run in this epoch (fewer than a full pass when the budget ended it)


DEVICES = ("auto", "cpu", "cuda")
STOP_REASONS = ("completed", "early_stop", "budget")


def resolve_device(name: str) -> torch.device:
    """auto: CUDA when torch sees a CUDA device, else the CPU; cuda without one is an error (not a silent CPU run)."""
    if name not in DEVICES:
        raise TinyMyoError(f"--device must be one of {', '.join(DEVICES)} (got {name!r})")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise TinyMyoError(f"--device cuda: torch {torch.__version__} sees no CUDA device "
                           f"(torch.cuda.is_available() is False); use --device cpu or auto")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """For logs: 'cpu' or 'cuda:0 (<GPU name>)'."""
    if device.type != "cuda":
        return device.type
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"


def _loss(model: TinyMyo, recipe: Recipe, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if model.cfg.head == "classification":
        return F.cross_entropy(output, target, label_smoothing=recipe.label_smoothing)
    if recipe.regression_loss == "l1":
        return F.l1_loss(output, target)
    return F.mse_loss(output, target)


@torch.no_grad()
def predict(model: TinyMyo, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Model outputs (logits for classification) for windows x (N, C, T), in evaluation mode."""
    model.eval()
    device = next(model.parameters()).device
    outs = [model(torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size])).to(device)).cpu()
            for i in range(0, len(x), batch_size)]
    return torch.cat(outs).numpy()


def evaluate(model: TinyMyo, split: Split, recipe: Recipe) -> dict:
    """Validation metrics: the training loss function (label smoothing included) and accuracy, or MAE."""
    out = torch.from_numpy(predict(model, split.x, max(recipe.batch_size, 256)))
    target = torch.from_numpy(split.y)
    metrics = {"loss": float(_loss(model, recipe, out, target))}
    if model.cfg.head == "classification":
        metrics["accuracy"] = float((out.argmax(dim=1) == target).double().mean())
    else:
        metrics["mae"] = float((out - target).abs().mean())
    return metrics


def _batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    order = torch.randperm(n, generator=generator)
    for i in range(0, n, batch_size):
        yield order[i : i + batch_size]


def _train_epoch(model, optimizer, train: Split, recipe: Recipe, epoch: int, generator, progress: bool,
                 deadline: float | None = None) -> tuple[float, float, int]:
    """One pass over the training windows, or fewer steps once `deadline` (perf_counter) has passed (at least one
    step, so a budget never leaves an untrained model); returns (mean loss, last lr, steps run)."""
    model.train()
    steps = -(-len(train) // recipe.batch_size)
    device = next(model.parameters()).device
    x, y = torch.from_numpy(train.x), torch.from_numpy(train.y)
    total, seen, lr, done = 0.0, 0, recipe.lr, 0
    bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{recipe.epochs}", disable=not progress, leave=False, unit="batch")
    # The order is drawn on the CPU generator and batches are indexed on the CPU: the same windows in the same order
    # on every device.
    for i, idx in enumerate(_batches(len(train), recipe.batch_size, generator)):
        if i and deadline is not None and time.perf_counter() >= deadline:
            break
        lr = learning_rate(recipe, epoch * steps + i, steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = _loss(model, recipe, model(x[idx].to(device)), y[idx].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(idx)
        seen += len(idx)
        done += 1
        bar.update(1)
        bar.set_postfix(loss=f"{total / seen:.4f}")
    bar.close()
    return total / seen, lr, done


def _optimizer(model: TinyMyo, recipe: Recipe) -> torch.optim.Optimizer:
    """AdamW; as upstream, weight decay applies to every parameter."""
    return torch.optim.AdamW(model.parameters(), lr=recipe.lr, betas=recipe.betas, weight_decay=recipe.weight_decay)


def _is_better(metrics: dict, best: dict | None, monitor: str) -> bool:
    if best is None:
        return True
    if monitor == "accuracy" and "accuracy" in metrics:
        return metrics["accuracy"] > best["accuracy"]
    return metrics["loss"] < best["loss"]


@contextlib.contextmanager
def deterministic(seed: int, threads: int | None) -> Iterator[None]:
    """Seed torch (every device) and numpy, force deterministic kernels (cuDNN too) and (optionally) a thread count;
    restore the caller's settings."""
    old_threads, old_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    old_cudnn = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    if threads is not None:
        torch.set_num_threads(threads)
    # cuBLAS is only deterministic with a fixed workspace; it must be set before the first CUDA matmul.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    torch.manual_seed(seed)  # seeds the CPU and every CUDA generator
    np.random.seed(seed)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old_cudnn


def train(
    model: TinyMyo, train_split: Split, val_split: Split | None, recipe: Recipe,
    echo: Callable[[str], None] = print, progress: bool = True,
) -> tuple[list[EpochRecord], int, str]:
    """Train in place (on the device the model is on); on return `model` holds the best epoch's weights (the last
    epoch's without validation).

    With recipe.max_minutes the epoch in which the budget runs out stops after its current step, is validated like any
    other epoch (and kept if best), and training ends. Returns (history, best epoch index (0-based), stop reason: one
    of STOP_REASONS)."""
    optimizer = _optimizer(model, recipe)
    generator = torch.Generator().manual_seed(recipe.seed)
    started = time.perf_counter()
    deadline = None if recipe.max_minutes is None else started + 60.0 * recipe.max_minutes
    history: list[EpochRecord] = []
    best, best_epoch, best_state, stale, reason = None, recipe.epochs - 1, None, 0, "completed"
    with training_regularisation(model, recipe.dropout, recipe.drop_path):
        for epoch in range(recipe.epochs):
            start = time.perf_counter()
            train_loss, lr, steps = _train_epoch(model, optimizer, train_split, recipe, epoch, generator, progress,
                                                 deadline)
            record = EpochRecord(epoch + 1, lr, train_loss, 0.0, steps=steps)
            if val_split is not None:
                record.val = evaluate(model, val_split, recipe)
            record.seconds = time.perf_counter() - start
            history.append(record)
            improved = val_split is not None and _is_better(record.val, best, recipe.monitor)
            echo(_epoch_line(record, recipe.epochs, improved))
            if improved:
                best, best_epoch, best_state, stale = record.val, epoch, copy.deepcopy(model.state_dict()), 0
            elif val_split is not None:
                stale += 1
                if recipe.patience and stale >= recipe.patience:
                    echo(f"early stop: no better validation {recipe.monitor} for {recipe.patience} epochs")
                    reason = "early_stop"
                    break
            full = -(-len(train_split) // recipe.batch_size)
            out_of_time = deadline is not None and time.perf_counter() >= deadline
            if steps < full or (out_of_time and epoch + 1 < recipe.epochs):
                echo(f"budget: --max-minutes {recipe.max_minutes:g} ran out after "
                     f"{(time.perf_counter() - started) / 60:.1f} min in epoch {epoch + 1}/{recipe.epochs} "
                     f"(step {steps}/{full}); keeping epoch {best_epoch + 1 if best_state is not None else epoch + 1}")
                reason, best_epoch = "budget", best_epoch if best_state is not None else epoch
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history, best_epoch, reason


def _epoch_line(record: EpochRecord, epochs: int, improved: bool) -> str:
    parts = [f"epoch {record.epoch:3d}/{epochs}", f"lr {record.lr:.2e}", f"train loss {record.train_loss:.4f}"]
    if "loss" in record.val:
        parts.append(f"val loss {record.val['loss']:.4f}")
    if "accuracy" in record.val:
        parts.append(f"val acc {100 * record.val['accuracy']:5.1f} %")
    if "mae" in record.val:
        parts.append(f"val mae {record.val['mae']:.4f}")
    parts.append(f"{record.seconds:.1f} s")
    return "  ".join(parts) + ("  *" if improved else "")
