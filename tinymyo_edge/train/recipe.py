"""The fine-tuning recipe (upstream BioFoundation TinyMyo_finetune.yaml) and its learning-rate schedule.

Upstream: AdamW lr 5e-4, betas (0.9, 0.98), weight decay 0.01, batch 32, 50 epochs, linear warm-up from 1e-5 over 5
epochs then cosine decay to 1e-5, cross-entropy with label smoothing 0.1, early stopping on the validation loss with
patience 7, best checkpoint by validation loss. Upstream's layer-wise lr decay (0.9) only matches Mamba block names,
so it is a no-op for TinyMyo; it is left out here. Dropout/drop-path 0.1 as the model's training configuration.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..errors import TinyMyoError

REGRESSION_LOSSES = ("mse", "l1")
MONITORS = ("loss", "accuracy")


@dataclass(frozen=True)
class Recipe:
    epochs: int = 50
    batch_size: int = 32
    lr: float = 5e-4
    min_lr: float = 1e-5
    warmup_lr: float = 1e-5
    warmup_epochs: float = 5.0
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.98)
    label_smoothing: float = 0.1  # classification only
    regression_loss: str = "mse"  # regression only: "mse" or "l1"
    dropout: float = 0.1  # projection and MLP dropout, training mode only
    drop_path: float = 0.1  # stochastic depth on each residual branch, training mode only
    patience: int = 7  # epochs without a better validation score before stopping; 0 = never stop early
    monitor: str = "loss"  # the validation score that picks the best epoch: "loss" (upstream) or "accuracy"
    seed: int = 0
    threads: int | None = None  # torch intra-op threads; None leaves torch's default
    max_minutes: float | None = None  # wall-clock budget: stop after the step that passes it, keep the best epoch

    def __post_init__(self) -> None:
        problems = []
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1 (got {getattr(self, name)})")
        for name in ("lr", "min_lr", "warmup_lr", "warmup_epochs", "weight_decay", "patience"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0 (got {getattr(self, name)})")
        for name in ("label_smoothing", "dropout", "drop_path"):
            if not 0 <= getattr(self, name) < 1:
                problems.append(f"{name} must be in [0, 1) (got {getattr(self, name)})")
        if self.regression_loss not in REGRESSION_LOSSES:
            problems.append(f"regression_loss must be one of {REGRESSION_LOSSES} (got {self.regression_loss!r})")
        if self.monitor not in MONITORS:
            problems.append(f"monitor must be one of {MONITORS} (got {self.monitor!r})")
        if self.max_minutes is not None and not self.max_minutes > 0:
            problems.append(f"max_minutes must be > 0 (got {self.max_minutes})")
        if self.threads is not None and self.threads < 1:
            problems.append(f"threads must be >= 1 (got {self.threads})")
        if problems:
            raise TinyMyoError("invalid fine-tuning recipe: " + "; ".join(problems))

    def to_dict(self) -> dict:
        return asdict(self)


def learning_rate(recipe: Recipe, step: int, steps_per_epoch: int) -> float:
    """Per-step lr: linear from warmup_lr to lr over the warm-up, then cosine from lr down to min_lr at the end."""
    warmup_steps = round(recipe.warmup_epochs * steps_per_epoch)
    total_steps = recipe.epochs * steps_per_epoch
    if step < warmup_steps:
        return recipe.warmup_lr + (recipe.lr - recipe.warmup_lr) * step / warmup_steps
    decay_steps = max(total_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / decay_steps, 1.0)
    return recipe.min_lr + 0.5 * (recipe.lr - recipe.min_lr) * (1.0 + math.cos(math.pi * progress))
