"""The preprocessing description that travels with windows and models, and the streaming (causal, fixed-point)
pipeline of `data window --pipeline stream`.

A description is a JSON object (PREPROCESSING_FORMAT): rates, channel selection, band-pass and notch, normalisation
and its statistics, window length, and for the stream pipeline the exact integers the chip uses (fixed.FixedSpec).
`data window` writes it into its .npz (array `preprocessing`), finetune into the checkpoint's metadata, export and
quantize into the ONNX metadata_props (key tinymyo_edge.preprocessing); `check_compatible` refuses a mismatch.

Pipelines:
  offline  zero-phase band-pass/notch on whole segments, polyphase resampling, any normalisation (upstream's);
           needs the future of every sample, so it cannot run on a live stream.
  stream   causal biquad cascade (4th-order Butterworth band-pass, then the mains notch) in fixed point, decimation
           by an integer factor, per-channel normalisation with statistics fixed from the training selection
           (--normalize recording); the filters run across the selected segments back to back, as on a stream.
           The windows are exactly what the streaming app computes on the chip (tinymyo_edge/data/fixed.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import TinyMyoError
from . import fixed
from .preprocess import recording_stats
from .readers import CHANNELS_3DC, FS_3DC, select_channels
from .windowing import sliding_windows

PREPROCESSING_FORMAT = "tinymyo-edge preprocessing v1"
PREPROCESSING_KEY = "preprocessing"  # npz array name; ONNX / checkpoint metadata key tinymyo_edge.preprocessing
PIPELINES = ("offline", "stream")
STREAM_NORMALISATIONS = ("recording",)


def describe(*, pipeline: str, fs_in: float, fs_out: float, channels: int, channel_indices, band, notch_hz,
             normalisation: str, window: int, stats=None, spec: fixed.FixedSpec | None = None) -> dict:
    """The description of one preprocessing (see the module doc); JSON-serialisable."""
    return {
        "format": PREPROCESSING_FORMAT, "pipeline": pipeline, "fs_in": float(fs_in), "fs_out": float(fs_out),
        "channels": int(channels), "channel_indices": None if channel_indices is None else list(channel_indices),
        "bandpass": None if band is None else {"low": float(band[0]), "high": float(band[1]),
                                               "order": fixed.BANDPASS_ORDER, "design": "butterworth",
                                               "phase": "causal" if pipeline == "stream" else "zero-phase"},
        "notch": None if not notch_hz else {"freq": float(notch_hz), "quality": fixed.NOTCH_QUALITY},
        "normalisation": normalisation, "window": int(window),
        "norm_mean": None if stats is None else [float(v) for v in stats[0]],
        "norm_std": None if stats is None else [float(v) for v in stats[1]],
        "fixed": None if spec is None else spec.to_dict(),
        "streamable": pipeline == "stream",
    }


def parse(text: str | None, where: str) -> dict | None:
    if text is None:
        return None
    try:
        desc = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise TinyMyoError(f"{where}: preprocessing description is not JSON ({exc})") from None
    if not isinstance(desc, dict) or desc.get("format") != PREPROCESSING_FORMAT:
        raise TinyMyoError(f"{where}: preprocessing description is not {PREPROCESSING_FORMAT!r}")
    return desc


def dumps(desc: dict | None) -> str | None:
    return None if desc is None else json.dumps(desc, sort_keys=True)


def load_preprocessing(path: str | os.PathLike) -> dict | None:
    """The description stored in a window set written by `data window`, or None (other files)."""
    path = Path(path)
    if path.suffix.lower() != ".npz" or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            text = str(npz[PREPROCESSING_KEY]) if PREPROCESSING_KEY in npz.files else None
    except Exception as exc:
        raise TinyMyoError(f"{path}: not a readable .npz file ({exc})") from None
    return parse(text, str(path))


def check_compatible(model: dict | None, data: dict | None, *, model_name: str, data_name: str) -> None:
    """Refuse data preprocessed differently from what the model was trained on, naming the first difference.
    Nothing is checked when either side carries no description (files from before descriptions existed)."""
    if model is None or data is None:
        return
    for key in ("pipeline", "fs_in", "fs_out", "channels", "channel_indices", "bandpass", "notch", "normalisation",
                "window", "norm_mean", "norm_std", "fixed"):
        if model.get(key) != data.get(key):
            raise TinyMyoError(f"{data_name}: preprocessed with {key} = {_short(data.get(key))}, but {model_name} "
                               f"was trained with {key} = {_short(model.get(key))}; re-window the data with the "
                               f"model's preprocessing (for test data: --stats-from the training windows)")


def _short(v) -> str:
    text = json.dumps(v)
    return text if len(text) < 80 else text[:77] + "..."


def stream_spec(desc: dict, where: str) -> fixed.FixedSpec:
    """The fixed-point spec of a streamable description; refuses an offline one with the reason."""
    if desc is None:
        raise TinyMyoError(f"{where}: carries no preprocessing description; window the training data with "
                           f"`data window --pipeline stream` and fine-tune/export/quantize from it")
    if desc.get("pipeline") != "stream" or not desc.get("fixed"):
        raise TinyMyoError(f"{where}: was trained on {desc.get('pipeline')!r} preprocessing (zero-phase filters "
                           f"need the future of each sample): a stream needs `data window --pipeline stream`")
    return fixed.FixedSpec.from_dict(desc["fixed"], where)


# ------------------------------------------------------------------------------------------------ recordings


@dataclass
class Recording:
    """A continuous recording: raw int16 (T, C) at fs, and labelled spans (start, stop, label) in its rows."""

    raw: np.ndarray
    fs: float
    spans: list[tuple[int, int, int]]
    source: str


def read_3dc_raw(path: Path, split: int | None, channels) -> Recording:
    """The selected session's segments of a 3DC file back to back (they are contiguous rows of `emg`)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ("emg", "start", "length", "label", "split")}
    except KeyError as exc:
        raise TinyMyoError(f"{path}: not a 3DC participant file (missing array {exc})") from None
    except Exception as exc:
        raise TinyMyoError(f"{path}: not a readable .npz file ({exc})") from None
    emg = arrays["emg"]
    if emg.ndim != 2 or emg.shape[1] != CHANNELS_3DC or emg.dtype != np.int16:
        raise TinyMyoError(f"{path}: 'emg' must be int16 (samples, {CHANNELS_3DC}); got {emg.dtype} {emg.shape}")
    picked = select_channels(CHANNELS_3DC, channels, str(path))
    rows, spans, at = [], [], 0
    for start, length, label, sp in zip(arrays["start"], arrays["length"], arrays["label"], arrays["split"]):
        if split is not None and sp != split:
            continue
        if start < 0 or length < 1 or start + length > emg.shape[0]:
            raise TinyMyoError(f"{path}: a segment [{start}, {start + length}) lies outside 'emg'")
        rows.append(emg[start:start + length, picked])
        spans.append((at, at + int(length), int(label)))
        at += int(length)
    if not rows:
        raise TinyMyoError(f"{path}: no segments in the selected split")
    return Recording(np.ascontiguousarray(np.concatenate(rows)), FS_3DC, spans, str(path))


def read_npz_raw(path: Path, fs_in: float | None, channels) -> Recording:
    """`emg` integer ADC codes (T, C) or (C, T) (longer axis = time), `fs`, optional per-sample `label`."""
    from .recordings import _label_runs, _npz_rate

    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ("emg", "fs", "label") if k in npz.files}
    except Exception as exc:
        raise TinyMyoError(f"{path}: not a readable .npz file ({exc})") from None
    emg = arrays.get("emg")
    if emg is None or emg.ndim != 2 or emg.dtype.kind not in "fiu" or 0 in emg.shape:
        raise TinyMyoError(f"{path}: needs a non-empty 2-D numeric array 'emg' (samples x channels)")
    emg = emg if emg.shape[0] >= emg.shape[1] else emg.T
    if emg.dtype.kind == "f" and not np.isfinite(emg).all():
        raise TinyMyoError(f"{path}: 'emg' holds NaN or Inf")
    if emg.dtype != np.int16 and (np.any(emg != np.round(emg)) or emg.min() < -32768 or emg.max() > 32767):
        raise TinyMyoError(f"{path}: a stream takes int16 ADC codes; 'emg' holds values that are not integers in "
                           f"[-32768, 32767]")
    fs = _npz_rate(path, arrays.get("fs"), fs_in)
    raw = np.ascontiguousarray(emg[:, select_channels(emg.shape[1], channels, str(path))].astype(np.int16))
    label = arrays.get("label")
    if label is None:
        return Recording(raw, fs, [(0, len(raw), -1)], str(path))
    if label.shape != (len(raw),) or label.dtype.kind not in "iu":
        raise TinyMyoError(f"{path}: 'label' must be integers, one per sample ({len(raw)})")
    return Recording(raw, fs, _label_runs(label.astype(np.int64)), str(path))


def read_recording(path, fmt: str, *, split: int | None = None, channels=None, fs_in: float | None = None) -> Recording:
    path = Path(path)
    if not path.is_file():
        raise TinyMyoError(f"{path}: no such recording file")
    if fmt == "3dc":
        if fs_in not in (None, FS_3DC):
            raise TinyMyoError(f"{path}: 3DC is sampled at {FS_3DC:g} Hz, not {fs_in:g} Hz (--fs-in)")
        return read_3dc_raw(path, split, channels)
    if split is not None:
        raise TinyMyoError(f"{path}: --split applies to 3DC recordings only")
    return read_npz_raw(path, fs_in, channels)


# ------------------------------------------------------------------------------------------------ windows


def _decimated_span(a: int, b: int, d: int) -> tuple[int, int]:
    return -(-a // d), -(-b // d)  # kept indices n with a <= n < b and n % d == 0


def stream_windows(rec: Recording, *, fs_out: float, band, notch_hz, normalisation: str, window: int, hop: int,
                   stats=None, channel_indices=None):
    """(x float32 (N, C, W), y (N,) or None, groups (N,), stats, description) of the stream pipeline."""
    if normalisation not in STREAM_NORMALISATIONS:
        raise TinyMyoError(f"--pipeline stream normalises with statistics fixed from training data: use --normalize "
                           f"recording (per-window {normalisation!r} is offline only)")
    sections = fixed.quantise_coefficients(fixed.design_sections(rec.fs, band, notch_hz))
    d = fixed.decimation_factor(rec.fs, fs_out, band)
    c = rec.raw.shape[1]
    y = fixed.filter_decimate(rec.raw, sections, d, fixed.FixedState.zeros(len(sections), c))
    spans = [(*_decimated_span(a, b, d), label) for a, b, label in rec.spans]
    if stats is None:
        adc = [sliding_windows(y[a:b].T.astype(np.float64) / (1 << fixed.SIGNAL_FRAC), window, hop)
               for a, b, _ in spans]
        adc = [w for w in adc if len(w)]
        if not adc:
            raise TinyMyoError(f"{rec.source}: no segment is long enough for one window of {window} samples")
        stats = recording_stats(np.concatenate(adc))
    mean_q, scale_q = fixed.quantise_stats(*stats)
    spec = fixed.FixedSpec(sections, d, mean_q, scale_q)
    z = fixed.normalise_fixed(y, mean_q, scale_q)
    cuts, labels, groups = [], [], []
    for i, (a, b, label) in enumerate(spans):
        cut = sliding_windows(fixed.to_model_input(z[a:b]).T, window, hop)
        cuts.append(cut)
        labels.append(np.full(len(cut), label, dtype=np.int64))
        groups.append(np.full(len(cut), i, dtype=np.int64))
    x = np.concatenate(cuts)
    if len(x) == 0:
        raise TinyMyoError(f"{rec.source}: no segment is long enough for one window of {window} samples")
    desc = describe(pipeline="stream", fs_in=rec.fs, fs_out=fs_out, channels=c, channel_indices=channel_indices,
                    band=band, notch_hz=notch_hz, normalisation=normalisation, window=window, stats=stats, spec=spec)
    y_out = None if all(s[2] < 0 for s in spans) else np.concatenate(labels)
    return x, y_out, np.concatenate(groups), stats, desc
