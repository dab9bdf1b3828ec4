"""Synthetic forearm-EMG-like windows for the demo and for users without data (never used to report accuracy).

Each gesture class activates the channels with its own amplitude pattern, as muscles under an armband do; the signal
is band-limited noise (20-450 Hz at 1 kHz) modulated by a slow envelope, plus sensor noise. A classifier can learn
the classes from per-channel energy, which is what real sEMG classifiers mostly use.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps


def synthetic_emg(n_windows: int, channels: int = 8, samples: int = 1000, classes: int = 5, fs: float = 1000.0,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return (x float32 (N, C, T), y int64 (N,)); each channel z-scored over the whole set (as upstream
    normalises a recording, so per-window energy still tells the classes apart); balanced, deterministic by seed."""
    rng = np.random.default_rng(seed)
    patterns = rng.uniform(0.15, 1.5, size=(classes, channels))  # per-class channel activation
    sos = sps.butter(4, [20.0, min(450.0, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    y = np.arange(n_windows) % classes
    rng.shuffle(y)
    t = np.arange(samples) / fs
    x = np.empty((n_windows, channels, samples), dtype=np.float32)
    for i, label in enumerate(y):
        carrier = sps.sosfiltfilt(sos, rng.standard_normal((channels, samples + 200)), axis=-1)[:, 100:-100]
        envelope = 1.0 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t + rng.uniform(0, 2 * np.pi))
        gain = patterns[label] * rng.uniform(0.8, 1.2, size=channels)
        raw = gain[:, None] * envelope * carrier + 0.05 * rng.standard_normal((channels, samples))
        x[i] = raw
    mean = x.mean(axis=(0, 2), keepdims=True)
    std = x.std(axis=(0, 2), keepdims=True) + 1e-8
    return ((x - mean) / std).astype(np.float32), y.astype(np.int64)
