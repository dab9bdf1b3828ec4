"""TinyMyo sizes: one frozen record every stage reads (export, quantize, build, finetune)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import TinyMyoError

HEAD_KINDS = ("classification", "regression", "reconstruction")
REDUCTIONS = ("concat", "mean")


@dataclass(frozen=True)
class TinyMyoConfig:
    """Sizes of a TinyMyo model. Defaults: the paper's deployed gesture model (8 ch x 1000 samples, 400 tokens)."""

    channels: int = 8
    samples: int = 1000
    patch_size: int = 20
    dim: int = 192
    depth: int = 8
    heads: int = 3
    mlp_ratio: int = 4
    classes: int = 5  # classes (classification) or output dims (regression); unused by reconstruction
    head: str = "classification"
    reduction: str = "concat"  # classification/regression: concat channels ("concat") or average them ("mean")
    reg_hidden: int = 256
    reg_target_len: int = 500

    def __post_init__(self) -> None:
        problems = []
        for name in ("channels", "samples", "patch_size", "dim", "depth", "heads", "mlp_ratio", "reg_hidden"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1 (got {getattr(self, name)})")
        if self.samples % self.patch_size:
            problems.append(f"samples ({self.samples}) must be a multiple of patch_size ({self.patch_size})")
        if self.dim % self.heads:
            problems.append(f"dim ({self.dim}) must be a multiple of heads ({self.heads})")
        if self.head not in HEAD_KINDS:
            problems.append(f"head must be one of {HEAD_KINDS} (got {self.head!r})")
        if self.reduction not in REDUCTIONS:
            problems.append(f"reduction must be one of {REDUCTIONS} (got {self.reduction!r})")
        if self.head != "reconstruction" and self.classes < 1:
            problems.append(f"classes must be >= 1 for a {self.head} head (got {self.classes})")
        if problems:
            raise TinyMyoError("invalid TinyMyo configuration: " + "; ".join(problems))

    @property
    def patches(self) -> int:
        """Patches per channel (tokens per channel)."""
        return self.samples // self.patch_size

    @property
    def tokens(self) -> int:
        """Sequence length N = channels x patches (channel-major)."""
        return self.channels * self.patches

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    @property
    def hidden(self) -> int:
        return self.dim * self.mlp_ratio

    @property
    def feat_dim(self) -> int:
        """Features per patch entering a classification/regression head."""
        return self.dim if self.reduction == "mean" else self.channels * self.dim

    def replace(self, **changes) -> "TinyMyoConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TinyMyoConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TinyMyoError(f"unknown TinyMyo configuration keys: {', '.join(unknown)}")
        return cls(**values)
