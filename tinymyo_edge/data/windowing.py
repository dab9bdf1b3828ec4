"""Cutting continuous recordings (C, T) into model windows (N, C, window), with optional resampling; segments of a
recording (held gestures, label runs) preprocessed and windowed one by one."""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import numpy as np
from scipy import signal

from ..errors import TinyMyoError
from .preprocess import bandpass, normalise, notch, recording_stats


def resample(x: np.ndarray, fs_in: float, fs_out: float, *, axis: int = -1) -> np.ndarray:
    """Polyphase resampling fs_in -> fs_out (scipy resample_poly, its anti-aliasing FIR); identity if equal."""
    if fs_in <= 0 or fs_out <= 0:
        raise TinyMyoError(f"sampling rates must be positive (got {fs_in} -> {fs_out} Hz)")
    if fs_in == fs_out:
        return np.asarray(x)
    ratio = Fraction(fs_out).limit_denominator(1000) / Fraction(fs_in).limit_denominator(1000)
    if ratio.numerator > 10_000 or ratio.denominator > 10_000:
        raise TinyMyoError(f"resampling {fs_in} -> {fs_out} Hz needs a rational ratio with small terms (got {ratio})")
    return signal.resample_poly(np.asarray(x, dtype=np.float64), ratio.numerator, ratio.denominator, axis=axis)


def sliding_windows(x: np.ndarray, window: int, hop: int) -> np.ndarray:
    """(C, T) -> (N, C, window) copies, starts 0, hop, 2*hop, ...; an incomplete tail is dropped."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise TinyMyoError(f"a recording to window must be (channels, samples); got shape {x.shape}")
    if window < 1 or hop < 1:
        raise TinyMyoError(f"window and hop must be >= 1 (got window {window}, hop {hop})")
    count = 0 if x.shape[1] < window else 1 + (x.shape[1] - window) // hop
    if count == 0:
        return np.empty((0, x.shape[0], window), dtype=x.dtype)
    view = np.lib.stride_tricks.sliding_window_view(x, window, axis=1)  # (C, T-window+1, window)
    return np.ascontiguousarray(view[:, ::hop][:, :count].transpose(1, 0, 2))


def window_recording(
    x: np.ndarray,
    *,
    window: int,
    hop: int | None = None,
    fs_in: float | None = None,
    fs_out: float | None = None,
) -> np.ndarray:
    """(C, T) at fs_in -> (N, C, window) at fs_out. hop defaults to window (no overlap); window and hop count
    samples at fs_out. Resampling happens only when both rates are given and differ."""
    if (fs_in is None) != (fs_out is None):
        raise TinyMyoError("give both fs_in and fs_out to resample, or neither")
    if fs_in is not None:
        x = resample(x, fs_in, fs_out, axis=-1)
    return sliding_windows(x, window, window if hop is None else hop)


def window_segments(
    segments: Sequence[tuple[np.ndarray, int | None]],
    fs: float,
    *,
    window: int,
    hop: int | None = None,
    fs_out: float | None = None,
    band: tuple[float, float] | None = (20.0, 450.0),
    notch_hz: float | None = None,
    normalisation: str = "zscore",
    stats: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """Segments (emg (C, T) at fs, label or None) -> (x (N, C, window), y or None, groups, stats).

    Each segment is filtered on its own at fs (band-pass, then mains notch; zero-phase, so on the whole segment),
    resampled to fs_out and cut into windows (window/hop in samples at fs_out), so no window crosses a segment
    boundary; groups[i] is the index of the segment window i comes from. notch_hz None or 0 skips the notch.
    normalisation: "zscore"/"minmax"/"none" per window and channel, or "recording": per-channel z-score with the
    mean/std of all these windows, or with `stats` (e.g. the training session's); the stats used are returned.
    """
    fs_out = fs_out or fs
    cuts, labels, groups = [], [], []
    for i, (emg, label) in enumerate(segments):
        rec = emg if band is None else bandpass(emg, fs, *band)
        rec = notch(rec, fs, notch_hz) if notch_hz else rec
        cut = window_recording(rec, window=window, hop=hop, fs_in=fs, fs_out=fs_out)
        cuts.append(cut)
        labels.append(np.full(len(cut), -1 if label is None else label, dtype=np.int64))
        groups.append(np.full(len(cut), i, dtype=np.int64))
    x = np.concatenate(cuts) if cuts else np.empty((0, 0, window))
    if len(x) == 0:
        raise TinyMyoError(f"empty window set: no segment is long enough for one window of {window} samples at "
                           f"{fs_out:g} Hz")
    if normalisation == "recording":
        stats = stats or recording_stats(x)
        x = (x - stats[0][None, :, None]) / stats[1][None, :, None]
    else:
        x, stats = normalise(x, normalisation, axis=-1), None
    y = None if segments[0][1] is None else np.concatenate(labels)
    return x, y, np.concatenate(groups), stats
