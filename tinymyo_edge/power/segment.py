"""Finding inference windows in a trace: GPIO edges or a current threshold with hysteresis, then debouncing.

A window is the interval the app marks by driving its GPIO high around the inference (or, without GPIO, the interval
the current stays above the threshold). Edge times are placed between samples:
  * GPIO: at the midpoint between the last sample on one level and the first on the other (the edge happened
    somewhere in that sample period; the midpoint is unbiased, error <= half a period);
  * threshold: at the linear interpolation of the crossing (upper threshold rising, lower threshold falling).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """Samples i_start .. i_end-1 are high; start_s/end_s are the edge times (None when cut by the trace edge)."""

    i_start: int
    i_end: int
    start_s: float | None
    end_s: float | None


def debounce(level: np.ndarray, min_samples: int) -> tuple[np.ndarray, int]:
    """Ignore runs shorter than `min_samples` (glitches): the level changes only at the start of a run that lasts
    at least `min_samples`. The first and the last run of the trace are kept whatever their length (they are cut by
    the trace edges and so are reported as cut windows, never dropped silently). Returns (level, glitches removed)."""
    n = level.shape[0]
    if min_samples <= 1 or n == 0:
        return level.copy(), 0
    starts = np.concatenate(([0], np.flatnonzero(level[1:] != level[:-1]) + 1))
    ends = np.concatenate((starts[1:], [n]))
    out = np.empty_like(level)
    state = bool(level[0])
    glitches = 0
    last_edge = 0
    for k in range(1, len(starts)):
        value = bool(level[starts[k]])
        if value == state:
            continue
        is_last = k == len(starts) - 1
        if ends[k] - starts[k] >= min_samples or is_last:
            out[last_edge : starts[k]] = state
            state, last_edge = value, int(starts[k])
        else:
            glitches += 1
    out[last_edge:] = state
    return out, glitches


def high_runs(level: np.ndarray) -> list[tuple[int, int]]:
    """(first high sample, first low sample after it) for every high run; the end is len(level) if still high."""
    padded = np.concatenate(([False], level.astype(bool), [False]))
    diff = np.diff(padded.astype(np.int8))
    return list(zip(np.flatnonzero(diff == 1).tolist(), np.flatnonzero(diff == -1).tolist()))


def gpio_intervals(t: np.ndarray, level: np.ndarray) -> list[Interval]:
    """Windows from a digital level: edges at the midpoint of the two samples around each transition."""
    n = t.shape[0]
    out = []
    for a, b in high_runs(level):
        start = None if a == 0 else 0.5 * (t[a - 1] + t[a])
        end = None if b == n else 0.5 * (t[b - 1] + t[b])
        out.append(Interval(a, b, start, end))
    return out


def hysteresis_level(current: np.ndarray, upper: float, lower: float) -> np.ndarray:
    """High from the first sample above `upper` until the first sample below `lower`; NaN keeps the state."""
    mark = np.where(current > upper, 1, np.where(current < lower, -1, 0))
    idx = np.where(mark != 0, np.arange(mark.shape[0]), 0)
    np.maximum.accumulate(idx, out=idx)
    return mark[idx] > 0


def _crossing(t: np.ndarray, x: np.ndarray, i: int, level: float) -> float:
    """Time where the line through samples i-1 and i crosses `level` (clamped into that sample period)."""
    x0, x1 = x[i - 1], x[i]
    if not (np.isfinite(x0) and np.isfinite(x1)) or x1 == x0:
        return 0.5 * (t[i - 1] + t[i])
    frac = min(max((level - x0) / (x1 - x0), 0.0), 1.0)
    return float(t[i - 1] + frac * (t[i] - t[i - 1]))


def threshold_intervals(t: np.ndarray, current: np.ndarray, level: np.ndarray, upper: float, lower: float):
    """Windows from a (debounced) threshold level, with edge times at the interpolated threshold crossings."""
    n = t.shape[0]
    out = []
    for a, b in high_runs(level):
        start = None if a == 0 else _crossing(t, current, a, upper)
        end = None if b == n else _crossing(t, current, b, lower)
        out.append(Interval(a, b, start, end))
    return out
