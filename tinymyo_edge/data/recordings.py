"""Continuous EMG recordings -> window sets with provenance (`tinymyo-edge data window`).

Each recording is cut into segments (3DC: its held-gesture segments; a continuous .npz: runs of constant per-sample
label, or the whole recording when it has no labels). Every segment is preprocessed on its own (band-pass and notch
at the input rate, zero-phase, then resampling) and windowed on its own, so no window crosses a segment boundary and
none mixes two labels (tinymyo_edge.data.windowing.window_segments). Each window records its segment in `groups`
(saved as `group`; used by finetune's validation split).

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

from .. import __version__
from ..errors import TinyMyoError
from ..fileio import atomic_path
from .readers import FS_3DC, check_windows, segments_3dc, select_channels
from .pipeline import PIPELINES, describe, dumps, read_recording, stream_windows
from .windowing import window_segments

FORMATS = ("3dc", "npz-continuous")
SPLITS = {"train": 0, "test": 1, "all": None}
NORMALISATIONS = ("zscore", "minmax", "none", "recording")
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
    pipeline: str = "offline"  # offline (zero-phase, upstream) or stream (causal fixed point, data/pipeline.py)

    def __post_init__(self) -> None:
        if self.pipeline not in PIPELINES:
            raise TinyMyoError(f"--pipeline must be one of {', '.join(PIPELINES)} (got {self.pipeline!r})")
        if self.window < 1 or self.hop < 1:
            raise TinyMyoError(f"--window and --hop must be >= 1 (got {self.window}, {self.hop})")
        if self.normalisation not in NORMALISATIONS:
            raise TinyMyoError(f"--normalize must be one of {', '.join(NORMALISATIONS)} (got {self.normalisation!r})")
        if self.split not in SPLITS:
            raise TinyMyoError(f"--split must be one of {', '.join(SPLITS)} (got {self.split!r})")


Segment = tuple[np.ndarray, "int | None"]  # emg (C, T) float64 at the input rate, label (None: unlabelled)


@dataclass
class WindowSet:
    x: np.ndarray  # (N, C, window) float32
    y: np.ndarray | None  # (N,) int64
    groups: np.ndarray  # (N,) int64: index of the segment each window comes from
    segment_lengths: np.ndarray  # (S,) samples of each segment at fs_in
    meta: dict
    norm_mean: np.ndarray | None = None  # (C,) for "recording" normalisation
    norm_std: np.ndarray | None = None
    preprocessing: dict | None = None  # the description (data/pipeline.py), saved as the `preprocessing` array


# ------------------------------------------------------------------------------------------------ readers


def read_3dc(path: Path, params: WindowParams) -> tuple[list[Segment], float]:
    if params.fs_in not in (None, FS_3DC):
        raise TinyMyoError(f"{path}: 3DC is sampled at {FS_3DC:g} Hz, not {params.fs_in:g} Hz (--fs-in)")
    segments = segments_3dc(path, split=SPLITS[params.split], channels=params.channels)
    if not segments:
        raise TinyMyoError(f"{path}: no segments in split {params.split!r}")
    return segments, FS_3DC


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
    emg = emg[select_channels(emg.shape[0], params.channels, str(path))].astype(np.float64)
    if "label" not in arrays:
        return [(emg, None)], fs
    label = arrays["label"]
    if label.shape != (emg.shape[1],) or label.dtype.kind not in "iu":
        raise TinyMyoError(f"{path}: 'label' must be integers, one per sample ({emg.shape[1]}), got {label.dtype} {label.shape}")
    return [(emg[:, a:b], lab) for a, b, lab in _label_runs(label.astype(np.int64))], fs


def _npz_rate(path: Path, stored, given: float | None) -> float:
    if stored is None and given is None:
        raise TinyMyoError(f"{path}: no 'fs' array; pass --fs-in")
    if stored is not None and given is not None and float(stored) != given:
        raise TinyMyoError(f"{path}: its 'fs' is {float(stored):g} Hz but --fs-in says {given:g} Hz")
    return float(given if given is not None else stored)


READERS = {"3dc": read_3dc, "npz-continuous": read_npz_continuous}


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
    from ..model.checkpoint import file_sha256  # torch: imported only when windows are made

    if params.pipeline == "stream":
        return _make_stream_windows(path, fmt, params, stats_from, file_sha256(path))
    segments, fs = READERS[fmt](path, params)
    if not segments:
        raise TinyMyoError(f"{path}: no labelled samples (every per-sample label is negative)")
    mains = params.notch_hz if params.notch_hz is not None else (MAINS_3DC if fmt == "3dc" else MAINS_DEFAULT)
    stats = read_stats(stats_from) if stats_from is not None else None
    channels = segments[0][0].shape[0]
    if stats is not None and len(stats[0]) != channels:
        raise TinyMyoError(f"{stats_from}: stats for {len(stats[0])} channels, the selection has {channels}")
    x, y, groups, stats = window_segments(segments, fs, window=params.window, hop=params.hop, fs_out=params.fs_out,
                                          band=params.band, notch_hz=mains, normalisation=params.normalisation,
                                          stats=stats)
    windows = check_windows(x, y, name=str(path), groups=groups)
    meta = {
        "tool": f"tinymyo-edge {__version__}", "source": str(path), "source_sha256": file_sha256(path),
        "format": fmt, "fs_in": fs, "fs_out": params.fs_out or fs, "notch_hz": mains or None,
        "stats_from": str(stats_from) if stats_from else None, "segments": len(segments),
        "params": {k: v for k, v in asdict(params).items() if k not in ("fs_in", "fs_out", "notch_hz")},
    }
    desc = describe(pipeline="offline", fs_in=fs, fs_out=params.fs_out or fs, channels=channels,
                    channel_indices=params.channels, band=params.band, notch_hz=mains, normalisation=params.normalisation,
                    window=params.window, stats=stats)
    return WindowSet(windows.x, windows.y, windows.groups, np.array([emg.shape[1] for emg, _ in segments]), meta,
                     *(stats if stats is not None else (None, None)), preprocessing=desc)


def _make_stream_windows(path: Path, fmt: str, params: WindowParams, stats_from, sha256: str) -> WindowSet:
    """The causal fixed-point pipeline (data/pipeline.py): what the streaming app computes on the chip."""
    rec = read_recording(path, fmt, split=SPLITS[params.split], channels=params.channels, fs_in=params.fs_in)
    mains = params.notch_hz if params.notch_hz is not None else (MAINS_3DC if fmt == "3dc" else MAINS_DEFAULT)
    stats = read_stats(stats_from) if stats_from is not None else None
    if stats is not None and len(stats[0]) != rec.raw.shape[1]:
        raise TinyMyoError(f"{stats_from}: stats for {len(stats[0])} channels, the selection has {rec.raw.shape[1]}")
    fs_out = params.fs_out or rec.fs
    x, y, groups, stats, desc = stream_windows(rec, fs_out=fs_out, band=params.band, notch_hz=mains,
                                               normalisation=params.normalisation, window=params.window,
                                               hop=params.hop, stats=stats, channel_indices=params.channels)
    windows = check_windows(x, y, name=str(path), groups=groups)
    meta = {
        "tool": f"tinymyo-edge {__version__}", "source": str(path), "source_sha256": sha256, "format": fmt,
        "fs_in": rec.fs, "fs_out": fs_out, "notch_hz": mains or None, "segments": len(rec.spans),
        "stats_from": str(stats_from) if stats_from else None,
        "params": {k: v for k, v in asdict(params).items() if k not in ("fs_in", "fs_out", "notch_hz")},
    }
    return WindowSet(windows.x, windows.y, windows.groups, np.array([b - a for a, b, _ in rec.spans]), meta,
                     np.asarray(stats[0]), np.asarray(stats[1]), preprocessing=desc)


def save_window_set(ws: WindowSet, path: str | os.PathLike, *, force: bool = False) -> Path:
    """.npz: x, y (if labelled), group, segment_lengths, meta (JSON string), norm_mean/norm_std (if any)."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise TinyMyoError(f"{path}: window sets are written as .npz")
    arrays = {"x": ws.x, "group": ws.groups, "segment_lengths": ws.segment_lengths,
              "meta": np.array(json.dumps(ws.meta, sort_keys=True))}
    if ws.y is not None:
        arrays["y"] = ws.y
    if ws.preprocessing is not None:
        arrays["preprocessing"] = np.array(dumps(ws.preprocessing))
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
