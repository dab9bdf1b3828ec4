"""Validation split: stratified by label, and never separating windows of one recording segment (group).

Windows cut with a hop shorter than the window overlap; putting overlapping windows on both sides of a split would
make the validation score (and so early stopping) optimistic. When the windows file carries `group` (one id per
continuous segment), whole groups go to validation, per class.
"""

from __future__ import annotations

import numpy as np

from ..errors import TinyMyoError


def validation_split(
    labels: np.ndarray | None, groups: np.ndarray | None, fraction: float, seed: int, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return (train_idx, val_idx), sorted, disjoint, covering range(n). fraction in (0, 1)."""
    if not 0 < fraction < 1:
        raise TinyMyoError(f"--val-split must be in (0, 1) (got {fraction})")
    rng = np.random.default_rng(seed)
    units = np.arange(n) if groups is None else np.asarray(groups)
    strata = np.zeros(n, dtype=np.int64) if labels is None else np.asarray(labels)
    val_units = []
    for stratum in np.unique(strata):
        members = np.unique(units[strata == stratum])
        take = int(round(fraction * len(members)))
        take = min(max(take, 1), len(members) - 1)  # at least one per stratum, never the whole stratum
        if take > 0:
            val_units.append(rng.permutation(members)[:take])
    is_val = np.isin(units, np.concatenate(val_units)) if val_units else np.zeros(n, dtype=bool)
    train_idx, val_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    if len(train_idx) == 0 or len(val_idx) == 0:
        raise TinyMyoError(f"cannot split {n} windows into training and validation sets; pass --val-data instead")
    return train_idx, val_idx
