"""The fine-tuning loop: seeded, CPU, AdamW with warm-up + cosine, early stopping, best epoch kept in memory.

Shapes: x (N, C, T) float32 windows; classification targets (N,) int64 in [0, classes); regression targets
(N, L, K) float32 (L = the head's output length, K outputs).
"""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

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
    outs = [model(torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size]))) for i in range(0, len(x), batch_size)]
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


def _train_epoch(model, optimizer, train: Split, recipe: Recipe, epoch: int, generator, progress: bool) -> tuple[float, float]:
    """One pass over the training windows; returns (mean loss, last lr)."""
    model.train()
    steps = -(-len(train) // recipe.batch_size)
    x, y = torch.from_numpy(train.x), torch.from_numpy(train.y)
    total, seen, lr = 0.0, 0, recipe.lr
    bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{recipe.epochs}", disable=not progress, leave=False, unit="batch")
    for i, idx in enumerate(_batches(len(train), recipe.batch_size, generator)):
        lr = learning_rate(recipe, epoch * steps + i, steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = _loss(model, recipe, model(x[idx]), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(idx)
        seen += len(idx)
        bar.update(1)
        bar.set_postfix(loss=f"{total / seen:.4f}")
    bar.close()
    return total / seen, lr


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
    """Seed torch, force deterministic kernels and (optionally) a thread count; restore the caller's settings."""
    old_threads, old_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    if threads is not None:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)


def train(
    model: TinyMyo, train_split: Split, val_split: Split | None, recipe: Recipe,
    echo: Callable[[str], None] = print, progress: bool = True,
) -> tuple[list[EpochRecord], int, bool]:
    """Train in place; on return `model` holds the best epoch's weights (the last epoch's without validation).

    Returns (history, best epoch index (0-based), stopped early)."""
    optimizer = _optimizer(model, recipe)
    generator = torch.Generator().manual_seed(recipe.seed)
    history: list[EpochRecord] = []
    best, best_epoch, best_state, stale = None, recipe.epochs - 1, None, 0
    with training_regularisation(model, recipe.dropout, recipe.drop_path):
        for epoch in range(recipe.epochs):
            start = time.perf_counter()
            train_loss, lr = _train_epoch(model, optimizer, train_split, recipe, epoch, generator, progress)
            record = EpochRecord(epoch + 1, lr, train_loss, 0.0)
            if val_split is not None:
                record.val = evaluate(model, val_split, recipe)
            record.seconds = time.perf_counter() - start
            history.append(record)
            improved = val_split is not None and _is_better(record.val, best, recipe.monitor)
            echo(_epoch_line(record, recipe.epochs, improved))
            if val_split is None:
                continue
            if improved:
                best, best_epoch, best_state, stale = record.val, epoch, copy.deepcopy(model.state_dict()), 0
            else:
                stale += 1
                if recipe.patience and stale >= recipe.patience:
                    echo(f"early stop: no better validation {recipe.monitor} for {recipe.patience} epochs")
                    model.load_state_dict(best_state)
                    return history, best_epoch, True
    if best_state is not None:
        model.load_state_dict(best_state)
    return history, best_epoch, False


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
