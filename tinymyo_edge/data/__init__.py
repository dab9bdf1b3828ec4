"""EMG window sets: readers (npz, HDF5, 3DC), upstream preprocessing, windowing of continuous recordings."""

from .preprocess import bandpass, minmax, normalise, notch, recording_stats, zscore
from .readers import (Segment, Windows, check_windows, load_3dc, load_windows, save_windows, segments_3dc,
                      select_channels, windows_from_3dc)
from .recordings import (FORMATS, NORMALISATIONS, SPLITS, WindowParams, WindowSet, load_groups, make_windows,
                         read_stats, save_window_set)
from .windowing import resample, sliding_windows, window_recording, window_segments

__all__ = [
    "FORMATS",
    "NORMALISATIONS",
    "SPLITS",
    "Segment",
    "WindowParams",
    "WindowSet",
    "Windows",
    "bandpass",
    "check_windows",
    "load_3dc",
    "load_groups",
    "load_windows",
    "make_windows",
    "minmax",
    "normalise",
    "notch",
    "read_stats",
    "recording_stats",
    "resample",
    "save_window_set",
    "save_windows",
    "segments_3dc",
    "select_channels",
    "sliding_windows",
    "window_recording",
    "window_segments",
    "windows_from_3dc",
]
