"""Shared fixtures: the ../shared folder (real 3DC EMG), real windows cut from it, a tiny model configuration."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pytest

from tinymyo_edge.model import TinyMyoConfig

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_path() -> Path:
    """../shared beside the checkout; TINYMYO_SHARED overrides."""
    return Path(os.environ.get("TINYMYO_SHARED", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = shared_path()
    if not (path / "data" / "3dc").is_dir():
        pytest.skip(f"shared data folder {path / 'data' / '3dc'} not found (set TINYMYO_SHARED)")
    return path


@functools.lru_cache(maxsize=None)
def _cut_3dc(path: str, channels: int, samples: int) -> np.ndarray:
    from tinymyo_edge.data import windows_from_3dc

    return windows_from_3dc(path, window=samples, channels=channels).x


@pytest.fixture(scope="session")
def real_windows(shared_dir):
    """real_windows(channels, samples, n) -> float32 (n, channels, samples): participant 1 of 3DC, band-passed,
    notched, cut without overlap and z-scored per window and channel; n windows spread over all gestures."""

    def cut(channels: int, samples: int, n: int) -> np.ndarray:
        x = _cut_3dc(str(shared_dir / "data" / "3dc" / "participant01.npz"), channels, samples)
        if n > len(x):
            raise ValueError(f"only {len(x)} windows of {channels} x {samples} in participant01")
        return x[np.linspace(0, len(x) - 1, n).round().astype(int)]

    return cut


@pytest.fixture
def tiny_config() -> TinyMyoConfig:
    """A small classification model: 4 channels x 200 samples (40 tokens), dim 24, 2 blocks, 2 heads."""
    return TinyMyoConfig(channels=4, samples=200, dim=24, depth=2, heads=2, classes=3)
