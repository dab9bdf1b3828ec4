"""Upstream EMG preprocessing as plain functions with explicit parameters (scipy.signal).

Arrays are channels-first, time on the last axis by default: (C, T) or (N, C, T). Filters are zero-phase
(forward-backward), so they need the whole recording: filter before windowing, normalise after.

Upstream settings (TINYMYO.md): pretraining (2 kHz) band-pass 20-450 Hz, 50 Hz notch, per-channel min-max to [-1, 1];
downstream classification (200 Hz) band-pass 20-90 Hz, 50 Hz notch, per-channel z-score.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from ..errors import TinyMyoError

EPS = 1e-8  # guards a flat (constant) channel against division by zero


def _check_band(fs: float, *freqs: float) -> None:
    nyquist = fs / 2.0
    for f in freqs:
        if not 0.0 < f < nyquist:
            raise TinyMyoError(f"filter frequency {f} Hz must lie between 0 and Nyquist ({nyquist} Hz) at fs = {fs} Hz")


def bandpass(x: np.ndarray, fs: float, low: float, high: float, *, order: int = 4, axis: int = -1) -> np.ndarray:
    """Butterworth band-pass of `order` (4 upstream), zero-phase (sosfiltfilt), float64 out."""
    _check_band(fs, low, high)
    if low >= high:
        raise TinyMyoError(f"band-pass low edge {low} Hz must be below the high edge {high} Hz")
    sos = signal.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, np.asarray(x, dtype=np.float64), axis=axis)


def notch(x: np.ndarray, fs: float, freq: float = 50.0, *, quality: float = 30.0, axis: int = -1) -> np.ndarray:
    """IIR notch at `freq` (mains) with quality factor `quality`, zero-phase (filtfilt), float64 out."""
    _check_band(fs, freq)
    b, a = signal.iirnotch(freq, quality, fs=fs)
    return signal.filtfilt(b, a, np.asarray(x, dtype=np.float64), axis=axis)


def zscore(x: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """Per-channel z-score over `axis` (time): zero mean, unit standard deviation."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=axis, keepdims=True)
    std = x.std(axis=axis, keepdims=True)
    return (x - mean) / np.maximum(std, EPS)


def minmax(x: np.ndarray, *, lo: float = -1.0, hi: float = 1.0, axis: int = -1) -> np.ndarray:
    """Per-channel min-max scaling over `axis` (time) to [lo, hi]; a flat channel maps to the middle."""
    x = np.asarray(x, dtype=np.float64)
    x_min = x.min(axis=axis, keepdims=True)
    span = x.max(axis=axis, keepdims=True) - x_min
    unit = np.where(span > EPS, (x - x_min) / np.maximum(span, EPS), 0.5)
    return lo + (hi - lo) * unit


def recording_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std over every window and sample of x (N, C, T): "recording" normalisation, which keeps
    the channels' relative amplitudes (what sEMG gesture classifiers mostly rely on)."""
    return x.mean(axis=(0, 2)), np.maximum(x.std(axis=(0, 2)), EPS)


NORMALISERS = {"zscore": zscore, "minmax": minmax, "none": None}


def normalise(x: np.ndarray, method: str, *, axis: int = -1) -> np.ndarray:
    """Apply the per-channel normaliser named `method` ("zscore", "minmax" or "none")."""
    if method not in NORMALISERS:
        raise TinyMyoError(f"unknown normalisation {method!r} (choose from {', '.join(NORMALISERS)})")
    fn = NORMALISERS[method]
    return np.asarray(x, dtype=np.float64) if fn is None else fn(x, axis=axis)
