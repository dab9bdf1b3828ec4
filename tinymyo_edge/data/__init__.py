"""EMG window sets: readers (npz, HDF5, 3DC), upstream preprocessing, windowing of continuous recordings."""

from .preprocess import bandpass, minmax, normalise, notch, zscore
from .readers import Segment, Windows, check_windows, load_3dc, load_windows, save_windows, windows_from_3dc
from .windowing import resample, sliding_windows, window_recording

__all__ = [
    "Segment",
    "Windows",
    "bandpass",
    "check_windows",
    "load_3dc",
    "load_windows",
    "minmax",
    "normalise",
    "notch",
    "resample",
    "save_windows",
    "sliding_windows",
    "window_recording",
    "windows_from_3dc",
]
