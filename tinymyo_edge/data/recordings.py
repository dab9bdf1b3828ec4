"""Continuous EMG recordings -> window sets with provenance (`tinymyo-edge data window`).

Each recording is cut into segments (3DC: its held-gesture segments; a continuous .npz: runs of constant per-sample
label, or the whole recording when it has no labels). Every segment is preprocessed on its own (band-pass and notch
at the input rate, zero-phase, then resampling) and windowed on its own, so no window crosses a segment boundary and
none mixes two labels. Each window records its segment in `group` (used by finetune's validation split).

Normalisation: "zscore"/"minmax" per window and channel (upstream), "none", or "recording": per-channel z-score with
the mean/std of the whole selection (or of an earlier window set via `stats`), which keeps the channels' absolute
amplitudes, what sEMG gesture classifiers mostly rely on; the stats are written with the windows.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from . import __version__
from .data import bandpass, check_windows, load_3dc, normalise, notch, window_recording
from .errors import TinyMyoError
from .fileio import atomic_path
from .model.checkpoint import file_sha256

FORMATS = ("3dc", "npz-continuous")
SPLITS = {"train": 0, "test": 1, "all": None}
NORMALISATIONS = ("zscore", "minmax", "none", "recording")
FS_3DC = 1000.0
MAINS_3DC = 60.0  # 3DC was recorded in Quebec (60 Hz mains)
MAINS_DEFAULT = 50.0  # upstream's European recordings


@dataclass(frozen=True)
class WindowParams:
    window: int
    hop: int
    fs_in: float | None = None  # None: the file's own rate (3DC: 1000 Hz; npz: its `fs`)
    fs_out: float | None = None  # None: = fs_in
    band: tuple[float, float] | None = (20.0, 450.0)
    notch_hz: float | None = None  # None: the format's mains (3DC 60 Hz, else 50 Hz); 0 disables
    normalisation: str = "zscore"
    channels: tuple[int, ...] | None = None  # None: all
    split: str = "all"  # 3DC sessions: train, test or all

    def __post_init__(self) -> None:
        if self.window < 1 or self.hop < 1:
            raise TinyMyoError(f"--window and --hop must be >= 1 (got {self.window}, {self.hop})")
        if self.normalisation not in NORMALISATIONS:
            raise TinyMyoError(f"--normalize must be one of {', '.join(NORMALISATIONS)} (got {self.normalisation!r})")
        if self.split not in SPLITS:
            raise TinyMyoError(f"--split must be one of {', '.join(SPLITS)} (got {self.split!r})")


@dataclass
class Segment:
    emg: np.ndarray  # (C, T) float64 at fs_in
    label: int | None


@dataclass
class WindowSet:
    x: np.ndarray  # (N, C, window) float32
    y: np.ndarray | None  # (N,) int64
    group: np.ndarray  # (N,) int64: index of the segment each window comes from
    segment_lengths: np.ndarray  # (S,) samples of each segment at fs_in
    meta: dict
    norm_mean: np.ndarray | None = None  # (C,) for "recording" normalisation
    norm_std: np.ndarray | None = None


# ------------------------------------------------------------------------------------------------ readers


def _pick_channels(n_channels: int, channels: Sequence[int] | None, source: str) -> list[int]:
    if channels is None:
        return list(range(n_channels))
    bad = [c for c in channels if not 0 <= c < n_channels]
    if bad or not channels:
        raise TinyMyoError(f"{source}: has channels 0..{n_channels - 1}; cannot select {list(channels)}")
    return list(channels)


def read_3dc(path: Path, params: WindowParams) -> tuple[list[Segment], float]:
    if params.fs_in not in (None, FS_3DC):
        raise TinyMyoError(f"{path}: 3DC is sampled at {FS_3DC:g} Hz, not {params.fs_in:g} Hz (--fs-in)")
    segments = load_3dc(path, split=SPLITS[params.split])
    if not segments:
        raise TinyMyoError(f"{path}: no segments in split {params.split!r}")
    picked = _pick_channels(segments[0].emg.shape[1], params.channels, str(path))
    return [Segment(s.emg[:, picked].T.astype(np.float64), s.label) for s in segments], FS_3DC


def _label_runs(label: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, stop, label) of each run of constant label; negative labels (unlabelled) are skipped."""
    edges = np.flatnonzero(np.diff(label)) + 1
    bounds = np.concatenate([[0], edges, [len(label)]])
    return [(int(a), int(b), int(label[a])) for a, b in zip(bounds[:-1], bounds[1:]) if label[a] >= 0]


def read_npz_continuous(path: Path, params: WindowParams) -> tuple[list[Segment], float]:
    """`emg` (T, C) or (C, T) (the longer axis is time), `fs` (Hz), optional per-sample integer `label` (T,)."""
    if params.split != "all":
        raise TinyMyoError(f"{path}: --split applies to 3DC recordings only")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ("emg", "fs", "label") if k in npz.files}
    except Exception as exc:
        raise TinyMyoError(f"{path}: not a readable .npz file ({exc})") from None
    if "emg" not in arrays:
        raise TinyMyoError(f"{path}: no array 'emg' (samples x channels) in it")
    emg = arrays["emg"]
    if emg.ndim != 2 or emg.dtype.kind not in "fiu":
        raise TinyMyoError(f"{path}: 'emg' must be a 2-D numeric array, got {emg.dtype} {emg.shape}")
    fs = _npz_rate(path, arrays.get("fs"), params.fs_in)
    emg = emg.T if emg.shape[0] > emg.shape[1] else emg  # -> (C, T)
    if not np.isfinite(emg).all():
        raise TinyMyoError(f"{path}: 'emg' holds NaN or Inf")
    emg = emg[_pick_channels(emg.shape[0], params.channels, str(path))].astype(np.float64)
    if "label" not in arrays:
        return [Segment(emg, None)], fs
    label = arrays["label"]
    if label.shape != (emg.shape[1],) or label.dtype.kind not in "iu":
        raise TinyMyoError(f"{path}: 'label' must be integers, one per sample ({emg.shape[1]}), got {label.dtype} {label.shape}")
    return [Segment(emg[:, a:b], lab) for a, b, lab in _label_runs(label.astype(np.int64))], fs


def _npz_rate(path: Path, stored, given: float | None) -> float:
    if stored is None and given is None:
        raise TinyMyoError(f"{path}: no 'fs' array; pass --fs-in")
    if stored is not None and given is not None and float(stored) != given:
        raise TinyMyoError(f"{path}: its 'fs' is {float(stored):g} Hz but --fs-in says {given:g} Hz")
    return float(given if given is not None else stored)


READERS = {"3dc": read_3dc, "npz-continuous": read_npz_continuous}


# ------------------------------------------------------------------------------------------------ windowing


def expected_windows(length: int, window: int, hop: int) -> int:
    """Windows a segment of `length` samples (at the output rate) yields: complete windows only."""
    return 0 if length < window else 1 + (length - window) // hop


def _preprocess(seg: Segment, fs: float, params: WindowParams, mains: float | None) -> np.ndarray:
    """Filter at the input rate (whole segment, zero-phase), then resample: (C, T) float64."""
    rec = seg.emg
    if params.band is not None:
        rec = bandpass(rec, fs, *params.band)
    if mains:
        rec = notch(rec, fs, mains)
    return rec


def window_segments(segments: list[Segment], fs: float, params: WindowParams, mains: float | None,
                    stats: tuple[np.ndarray, np.ndarray] | None = None):
    """-> (x (N, C, W) float64, y or None, group, stats used by "recording" normalisation or None)."""
    fs_out = params.fs_out or fs
    cuts, labels, groups = [], [], []
    for i, seg in enumerate(segments):
        cut = window_recording(_preprocess(seg, fs, params, mains), window=params.window, hop=params.hop,
                               fs_in=fs, fs_out=fs_out)
        cuts.append(cut)
        labels.append(np.full(len(cut), -1 if seg.label is None else seg.label, dtype=np.int64))
        groups.append(np.full(len(cut), i, dtype=np.int64))
    x = np.concatenate(cuts)
    if len(x) == 0:
        raise TinyMyoError(f"no segment is long enough for one window of {params.window} samples at {fs_out:g} Hz")
    if params.normalisation == "recording":
        stats = stats or (x.mean(axis=(0, 2)), np.maximum(x.std(axis=(0, 2)), 1e-8))
        x = (x - stats[0][None, :, None]) / stats[1][None, :, None]
    else:
        x, stats = normalise(x, params.normalisation, axis=-1), None
    y = None if segments[0].label is None else np.concatenate(labels)
    return x, y, np.concatenate(groups), stats


def read_stats(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """The "recording" normalisation stats stored in an earlier window set."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return npz["norm_mean"], npz["norm_std"]
    except KeyError:
        raise TinyMyoError(f"{path}: has no norm_mean/norm_std (made without --normalize recording)") from None
    except Exception as exc:
        raise TinyMyoError(f"{path}: not a readable .npz file ({exc})") from None


def make_windows(path: str | os.PathLike, fmt: str, params: WindowParams,
                 stats_from: str | os.PathLike | None = None) -> WindowSet:
    """Read `path` as `fmt`, preprocess and window every segment; metadata records parameters and source hash."""
    path = Path(path)
    if fmt not in FORMATS:
        raise TinyMyoError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    if not path.is_file():
        raise TinyMyoError(f"{path}: no such recording file")
    if stats_from is not None and params.normalisation != "recording":
        raise TinyMyoError("--stats-from needs --normalize recording")
    segments, fs = READERS[fmt](path, params)
    if not segments:
        raise TinyMyoError(f"{path}: no labelled samples (every per-sample label is negative)")
    mains = params.notch_hz if params.notch_hz is not None else (MAINS_3DC if fmt == "3dc" else MAINS_DEFAULT)
    stats = read_stats(stats_from) if stats_from is not None else None
    if stats is not None and len(stats[0]) != segments[0].emg.shape[0]:
        raise TinyMyoError(f"{stats_from}: stats for {len(stats[0])} channels, the selection has {segments[0].emg.shape[0]}")
    x, y, group, stats = window_segments(segments, fs, params, mains, stats)
    windows = check_windows(x, y, name=str(path))
    meta = {
        "tool": f"tinymyo-edge {__version__}", "source": str(path), "source_sha256": file_sha256(path),
        "format": fmt, "fs_in": fs, "fs_out": params.fs_out or fs, "notch_hz": mains or None,
        "stats_from": str(stats_from) if stats_from else None, "segments": len(segments),
        "params": {k: v for k, v in asdict(params).items() if k not in ("fs_in", "fs_out", "notch_hz")},
    }
    return WindowSet(windows.x, windows.y, group, np.array([s.emg.shape[1] for s in segments]), meta,
                     *(stats if stats is not None else (None, None)))


def save_window_set(ws: WindowSet, path: str | os.PathLike, *, force: bool = False) -> Path:
    """.npz: x, y (if labelled), group, segment_lengths, meta (JSON string), norm_mean/norm_std (if any)."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise TinyMyoError(f"{path}: window sets are written as .npz")
    arrays = {"x": ws.x, "group": ws.group, "segment_lengths": ws.segment_lengths,
              "meta": np.array(json.dumps(ws.meta, sort_keys=True))}
    if ws.y is not None:
        arrays["y"] = ws.y
    if ws.norm_mean is not None:
        arrays.update(norm_mean=ws.norm_mean.astype(np.float64), norm_std=ws.norm_std.astype(np.float64))
    with atomic_path(path, force=force) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def load_groups(path: str | os.PathLike) -> np.ndarray | None:
    """The `group` array of a window set written by save_window_set, or None (other .npz files, HDF5)."""
    if Path(path).suffix.lower() != ".npz":
        return None
    with np.load(path, allow_pickle=False) as npz:
        return npz["group"].astype(np.int64) if "group" in npz.files else None
