"""Window sets (.npz `x`/`y`, HDF5 `data`/`label`) and the 3DC recordings, read with every check a user needs.

A window set is x float32 (N, C, T) and optional labels y (N,): int64 class labels, or float32 targets (regression)
when the file holds non-integer values. Errors name the file and, for non-finite data, the first bad window.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import TinyMyoError
from ..fileio import atomic_path
from .windowing import window_segments

NPZ_SUFFIXES = (".npz",)
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")
FS_3DC = 1000.0  # Hz
CHANNELS_3DC = 10
_3DC_ARRAYS = ("emg", "start", "length", "label", "rep", "split")


@dataclass(frozen=True)
class Windows:
    """Model inputs x float32 (N, C, T), optional labels/targets y (first axis N) and optional groups (N,) int64: the
    recording segment each window was cut from (finetune keeps a segment's windows on one side of its split)."""

    x: np.ndarray
    y: np.ndarray | None = None
    source: str = ""
    groups: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def channels(self) -> int:
        return int(self.x.shape[1])

    @property
    def samples(self) -> int:
        return int(self.x.shape[2])


def check_windows(
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    name: str = "windows",
    channels: int | None = None,
    samples: int | None = None,
    groups: np.ndarray | None = None,
) -> Windows:
    """Validate and normalise dtypes: rank 3, non-empty, expected channels/samples, finite, labels/groups aligned."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise TinyMyoError(f"{name}: windows must be numbers (got dtype {x.dtype})")
    if x.ndim != 3:
        hint = " (one window? add a leading axis: x[None])" if x.ndim == 2 else ""
        raise TinyMyoError(f"{name}: windows must have rank 3 (N, channels, samples); got shape {x.shape}{hint}")
    if 0 in x.shape:
        raise TinyMyoError(f"{name}: empty window set (shape {x.shape})")
    if channels is not None and x.shape[1] != channels:
        raise TinyMyoError(f"{name}: {x.shape[1]} channels, but the model expects {channels} (shape {x.shape})")
    if samples is not None and x.shape[2] != samples:
        raise TinyMyoError(f"{name}: {x.shape[2]} samples per window, but the model expects {samples} (shape {x.shape})")
    with np.errstate(over="ignore"):  # values beyond float32 become Inf, reported just below
        x = np.ascontiguousarray(x, dtype=np.float32)  # the model's input type
    bad = np.flatnonzero(~np.isfinite(x).reshape(x.shape[0], -1).all(axis=1))
    if bad.size:
        raise TinyMyoError(
            f"{name}: NaN or Inf in {bad.size} of {x.shape[0]} windows; first bad window index {int(bad[0])}"
        )
    if groups is not None and np.shape(groups) != (x.shape[0],):
        raise TinyMyoError(f"{name}: {x.shape[0]} windows but group ids of shape {np.shape(groups)}")
    return Windows(x=x, y=None if y is None else _check_labels(np.asarray(y), x.shape[0], name), source=name,
                   groups=None if groups is None else np.asarray(groups, dtype=np.int64))


def _check_labels(y: np.ndarray, n: int, name: str) -> np.ndarray:
    if y.ndim == 0 or y.shape[0] != n:
        raise TinyMyoError(f"{name}: {n} windows but labels of shape {y.shape}")
    if y.dtype.kind in "iub":
        return y.astype(np.int64)
    if y.dtype.kind != "f":
        raise TinyMyoError(f"{name}: labels must be numbers (got dtype {y.dtype})")
    if not np.isfinite(y).all():
        first = int(np.flatnonzero(~np.isfinite(y.reshape(n, -1)).all(axis=1))[0])
        raise TinyMyoError(f"{name}: NaN or Inf in the labels; first bad window index {first}")
    if y.ndim == 1 and np.array_equal(y, np.round(y)):
        return y.astype(np.int64)
    return y.astype(np.float32)  # regression targets


def load_windows(
    path: str | os.PathLike, *, channels: int | None = None, samples: int | None = None
) -> Windows:
    """Read a window set: .npz with `x` (and optional `y`), or HDF5 with `data` (and optional `label`)."""
    path = Path(path)
    if not path.is_file():
        raise TinyMyoError(f"{path}: no such data file")
    suffix = path.suffix.lower()
    if suffix in NPZ_SUFFIXES:
        x, y = _read_npz(path)
    elif suffix in HDF5_SUFFIXES:
        x, y = _read_hdf5(path)
    else:
        raise TinyMyoError(f"{path}: unknown data format {path.suffix!r} (expected .npz with x/y or .h5/.hdf5 with data/label)")
    return check_windows(x, y, name=str(path), channels=channels, samples=samples)


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "x" not in npz.files:
                raise TinyMyoError(f"{path}: no array 'x' (windows, N x C x T) in it (arrays: {', '.join(npz.files) or 'none'})")
            return npz["x"], (npz["y"] if "y" in npz.files else None)
    except TinyMyoError:
        raise
    except Exception as exc:  # zipfile/pickle/format errors
        raise TinyMyoError(f"{path}: not a readable .npz file ({exc})") from None


def _read_hdf5(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        import h5py
    except ImportError:
        raise TinyMyoError(f"{path}: reading HDF5 needs h5py (pip install 'tinymyo-edge[hdf5]')") from None
    try:
        with h5py.File(path, "r") as f:
            if "data" not in f:
                raise TinyMyoError(f"{path}: no dataset 'data' (windows, N x C x T) in it (keys: {', '.join(f.keys()) or 'none'})")
            return f["data"][()], (f["label"][()] if "label" in f else None)
    except TinyMyoError:
        raise
    except Exception as exc:
        raise TinyMyoError(f"{path}: not a readable HDF5 file ({exc})") from None


def save_windows(windows: Windows, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Write a window set as .npz (x, and y when present), atomically."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise TinyMyoError(f"{path}: window sets are written as .npz")
    arrays = {"x": windows.x} if windows.y is None else {"x": windows.x, "y": windows.y}
    with atomic_path(path, force=force) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


# ---------------------------------------------------------------------------------------------------------- 3DC


@dataclass(frozen=True)
class Segment:
    """One held gesture of a 3DC recording: emg float32 (T, 10) in ADC units at 1000 Hz."""

    emg: np.ndarray
    label: int
    rep: int
    split: int  # 0 = first session ("train"), 1 = second session ("test")


def load_3dc(path: str | os.PathLike, split: int | None = None) -> list[Segment]:
    """The segments of one 3DC participant file (see shared/data/README.md), optionally of one session."""
    path = Path(path)
    if split not in (None, 0, 1):
        raise TinyMyoError(f"split must be 0 (train), 1 (test) or None (both); got {split!r}")
    if not path.is_file():
        raise TinyMyoError(f"{path}: no such 3DC file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in _3DC_ARRAYS if k not in npz.files]
            if missing:
                raise TinyMyoError(f"{path}: not a 3DC participant file; missing arrays: {', '.join(missing)}")
            arrays = {k: npz[k] for k in _3DC_ARRAYS}
    except TinyMyoError:
        raise
    except Exception as exc:
        raise TinyMyoError(f"{path}: not a readable .npz file ({exc})") from None
    emg = arrays["emg"]
    if emg.ndim != 2 or emg.shape[1] != CHANNELS_3DC:
        raise TinyMyoError(f"{path}: 'emg' must be (samples, {CHANNELS_3DC}); got {emg.shape}")
    segments = []
    for i, (start, length) in enumerate(zip(arrays["start"], arrays["length"])):
        if start < 0 or length < 1 or start + length > emg.shape[0]:
            raise TinyMyoError(f"{path}: segment {i} [{start}, {start + length}) lies outside 'emg' ({emg.shape[0]} rows)")
        if split is None or arrays["split"][i] == split:
            segments.append(Segment(emg=emg[start : start + length].astype(np.float32), label=int(arrays["label"][i]),
                                    rep=int(arrays["rep"][i]), split=int(arrays["split"][i])))
    return segments


def select_channels(n_channels: int, channels: int | Sequence[int] | None, source: str) -> list[int]:
    """Channel indices to keep: all (None), the first n (int), or a list of indices."""
    if channels is None:
        return list(range(n_channels))
    picked = list(range(channels)) if isinstance(channels, int) else [int(c) for c in channels]
    if not picked or any(not 0 <= c < n_channels for c in picked):
        raise TinyMyoError(f"{source}: has channels 0..{n_channels - 1}; cannot select {channels!r}")
    return picked


def segments_3dc(path: str | os.PathLike, *, split: int | None = None,
                 channels: int | Sequence[int] | None = None) -> list[tuple[np.ndarray, int]]:
    """(emg (C, T) float64, label) of each held gesture of a 3DC file, channels selected (see select_channels)."""
    picked = select_channels(CHANNELS_3DC, channels, str(path))
    return [(s.emg[:, picked].T.astype(np.float64), s.label) for s in load_3dc(path, split=split)]


def windows_from_3dc(
    path: str | os.PathLike,
    *,
    window: int = 1000,
    hop: int | None = None,
    channels: int | Sequence[int] | None = None,
    split: int | None = None,
    fs_out: float = FS_3DC,
    band: tuple[float, float] | None = (20.0, 450.0),
    notch_hz: float | None = 60.0,
    normalisation: str = "zscore",
    stats: tuple[np.ndarray, np.ndarray] | None = None,
) -> Windows:
    """3DC segments -> filtered, resampled, windowed, normalised model inputs, y = gesture label, groups = segment.

    Per segment (window_segments): band-pass (4th-order Butterworth, zero-phase) and mains notch at 1000 Hz on the
    whole segment, resample to fs_out, cut windows (window/hop in samples at fs_out; hop defaults to window), then
    normalise ("zscore"/"minmax"/"none" per window and channel; "recording" per channel over the selection, or with
    `stats`, e.g. the train session's). notch_hz defaults to 60: 3DC was recorded in Quebec, Canada (60 Hz mains);
    upstream's 50 Hz is for European recordings. channels: the first n, or a list of indices (3DC has 10).
    """
    segments = segments_3dc(path, split=split, channels=channels)
    if not segments:
        raise TinyMyoError(f"{path}: empty window set (no segment in split {split!r})")
    x, y, groups, _ = window_segments(segments, FS_3DC, window=window, hop=hop, fs_out=fs_out, band=band,
                                      notch_hz=notch_hz, normalisation=normalisation, stats=stats)
    return check_windows(x, y, name=f"{path} (3DC windows)", groups=groups)
