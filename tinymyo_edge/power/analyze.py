"""Per-inference latency, power and energy from a trace: the numbers of `tinymyo-edge power analyze`.

Energy of a window [a, b] = integral of current(t) * voltage(t) dt by the trapezoidal rule over the samples inside
the window, plus the two partial sample periods at the edges with power linearly interpolated at a and b.
Average power = energy / latency. Idle power = time-weighted mean power over the samples outside every window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .. import __version__
from ..errors import TinyMyoError
from .segment import Interval, debounce, gpio_intervals, hysteresis_level, threshold_intervals
from .trace import Trace

DEFAULT_DEBOUNCE_SAMPLES = 5  # GPIO/threshold runs shorter than this many sample periods are glitches
GAP_FACTOR = 1.5  # a sample spacing above GAP_FACTOR x the median spacing is missing data
_OP = re.compile(r"^\s*(?P<f>\d+(\.\d+)?)\s*MHz\s*/\s*(?P<v>\d+(\.\d+)?)\s*V\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Options:
    gpio_channel: int | None = None  # None: metadata's channel, else threshold if given, else channel 0
    voltage_v: float | None = None  # overrides the trace's voltage
    threshold_a: float | None = None
    hysteresis_a: float | None = None  # default: 10 % of the threshold
    min_pulse_s: float | None = None  # default: DEFAULT_DEBOUNCE_SAMPLES sample periods
    operating_point: str | None = None


def parse_operating_point(text: str) -> dict:
    """'370MHz/0.8V' -> {'label', 'frequency_hz', 'core_voltage_v'}; anything else is an error."""
    m = _OP.match(text)
    if not m:
        raise TinyMyoError(f"operating point '{text}': expected '<MHz>MHz/<V>V', e.g. '370MHz/0.8V'")
    return {"label": text.strip(), "frequency_hz": float(m["f"]) * 1e6, "core_voltage_v": float(m["v"])}


def _voltage(trace: Trace, opts: Options) -> tuple[np.ndarray | float, str]:
    """The voltage to multiply the current by, and where it came from."""
    if opts.voltage_v is not None:
        if not 0 < opts.voltage_v <= 60:
            raise TinyMyoError(f"--voltage {opts.voltage_v}: expected the supply voltage in volts (0..60)")
        return float(opts.voltage_v), "command line (--voltage)"
    if trace.voltage_v is not None:
        return trace.voltage_v, "measured (voltage channel of the trace)"
    supply = trace.metadata.get("supply_voltage_v")
    if supply:
        return float(supply), f"trace metadata (supply voltage set at capture by {trace.metadata.get('instrument')})"
    raise TinyMyoError(
        f"{trace.source}: the trace has no voltage channel and no recorded supply voltage: "
        "pass --voltage V (the voltage of the rail whose current was measured)"
    )


def _intervals(trace: Trace, opts: Options, min_samples: int) -> tuple[list[Interval], int, str]:
    channel = opts.gpio_channel
    if channel is None and opts.threshold_a is None:
        channel = trace.metadata.get("gpio_channel", 0)
    if channel is not None and opts.threshold_a is not None:
        raise TinyMyoError("give either --gpio-channel or --threshold-a, not both")
    if channel is not None:
        if not 0 <= channel <= 7:
            raise TinyMyoError(f"--gpio-channel {channel}: digital inputs are numbered 0..7")
        if trace.gpio is None:
            lo, hi = np.nanpercentile(trace.current_a, [5, 95])
            raise TinyMyoError(
                f"{trace.source}: the trace has no GPIO/digital channel; segment by current instead with "
                f"--threshold-a A (5th/95th percentile of this trace: {lo:.4g} A / {hi:.4g} A)"
            )
        level, glitches = debounce(trace.gpio_bit(channel), min_samples)
        return gpio_intervals(trace.t_s, level), glitches, f"GPIO D{channel} rising/falling edges"
    upper = float(opts.threshold_a)
    hyst = float(opts.hysteresis_a) if opts.hysteresis_a is not None else 0.1 * upper
    if upper <= 0 or hyst < 0 or hyst >= upper:
        raise TinyMyoError(f"--threshold-a {upper} / --hysteresis-a {hyst}: need threshold > hysteresis >= 0")
    level, glitches = debounce(hysteresis_level(trace.current_a, upper, upper - hyst), min_samples)
    method = f"current threshold: rising above {upper:.6g} A, falling below {upper - hyst:.6g} A"
    return threshold_intervals(trace.t_s, trace.current_a, level, upper, upper - hyst), glitches, method


def _cumtrapz(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    seg = 0.5 * (p[1:] + p[:-1]) * np.diff(t)
    return np.concatenate(([0.0], np.cumsum(seg)))


def _integrate(t: np.ndarray, p: np.ndarray, cum: np.ndarray, a: float, b: float) -> float:
    """Trapezoidal integral of p over [a, b] with linear interpolation of p at a and b."""
    ja = int(np.searchsorted(t, a, side="right"))  # first sample after a
    jb = int(np.searchsorted(t, b, side="left")) - 1  # last sample before b
    pa, pb = np.interp(a, t, p), np.interp(b, t, p)
    if jb < ja:  # no sample strictly inside
        return float(0.5 * (pa + pb) * (b - a))
    inner = cum[jb] - cum[ja]
    return float(inner + 0.5 * (pa + p[ja]) * (t[ja] - a) + 0.5 * (p[jb] + pb) * (b - t[jb]))


def _exclusion(iv: Interval, t, p, max_dt: float) -> str | None:
    """Why a window cannot be measured, or None."""
    if iv.start_s is None and iv.end_s is None:
        return "high for the whole trace (no edge seen)"
    if iv.start_s is None:
        return "cut at the start of the trace (already running when the capture began)"
    if iv.end_s is None:
        return "cut at the end of the trace (still running when the capture stopped)"
    lo, hi = iv.i_start - 1, min(iv.i_end + 1, t.shape[0])
    bad = int(np.count_nonzero(~np.isfinite(p[lo:hi])))
    if bad:
        return f"{bad} NaN/missing sample(s) inside the window"
    gap = float(np.max(np.diff(t[lo:hi])))
    if gap > max_dt:
        return f"gap of {gap:.6g} s in the samples (missing data) inside the window"
    return None


def _stats(values: list[float]) -> dict:
    arr = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(arr.mean()),
        "std": float(arr.std(ddof=1)) if arr.size > 1 else None,
        "min": float(arr.min()),
        "max": float(arr.max()),
    }


def _idle(t: np.ndarray, p: np.ndarray, intervals: list[Interval]) -> tuple[float | None, float | None, float]:
    """Time-weighted mean and std of power outside every window (one sample of guard on each side)."""
    outside = np.ones(t.shape[0], dtype=bool)
    for iv in intervals:
        outside[max(iv.i_start - 1, 0) : iv.i_end + 1] = False
    outside &= np.isfinite(p)
    dt = np.diff(t, append=t[-1] + np.median(np.diff(t)))
    w = dt[outside]
    if w.sum() <= 0:
        return None, None, 0.0
    mean = float(np.sum(p[outside] * w) / w.sum())
    std = float(np.sqrt(np.sum(w * (p[outside] - mean) ** 2) / w.sum()))
    return mean, std, float(w.sum())


def analyze(trace: Trace, opts: Options = Options()) -> dict:
    """The report dict (JSON-ready) of one trace; raises TinyMyoError when no complete window is found."""
    t, current = trace.t_s, trace.current_a
    voltage, voltage_source = _voltage(trace, opts)
    p = current * voltage
    period = float(np.median(np.diff(t)))
    min_pulse = opts.min_pulse_s if opts.min_pulse_s is not None else DEFAULT_DEBOUNCE_SAMPLES * period
    min_samples = max(int(round(min_pulse / period)), 1)
    intervals, glitches, method = _intervals(trace, opts, min_samples)
    cum = _cumtrapz(t, np.where(np.isfinite(p), p, 0.0))
    windows, excluded = [], []
    for iv in intervals:
        reason = _exclusion(iv, t, p, GAP_FACTOR * period)
        if reason:
            excluded.append({"start_s": iv.start_s, "end_s": iv.end_s, "reason": reason})
            continue
        latency = iv.end_s - iv.start_s
        energy = _integrate(t, p, cum, iv.start_s, iv.end_s)
        windows.append({"index": len(windows), "start_s": iv.start_s, "end_s": iv.end_s, "latency_s": latency,
                        "avg_power_w": energy / latency, "energy_j": energy})
    if not windows:
        what = f"{len(excluded)} window(s) found but all excluded" if excluded else "no window found"
        raise TinyMyoError(f"{trace.source}: no complete inference window ({what}; segmentation: {method})"
                           + _toggling_hint(trace)
                           + "".join(f"\n  excluded {e['start_s']}..{e['end_s']}: {e['reason']}" for e in excluded))
    idle_w, idle_std, idle_time = _idle(t, p, intervals)
    warnings = list(trace.metadata.get("warnings", []))
    short = [w["index"] for w in windows if w["latency_s"] < 20 * period]
    if short:
        warnings.append(f"windows {short} last fewer than 20 sample periods: latency/energy error up to a period each")
    if idle_w is None:
        warnings.append("no sample outside the windows: idle power unknown")
    for w in windows:
        w["energy_above_idle_j"] = None if idle_w is None else w["energy_j"] - idle_w * w["latency_s"]
    op = opts.operating_point or trace.metadata.get("operating_point")
    report = {
        "tool": f"tinymyo-edge {__version__} power analyze",
        "provenance": _provenance(trace),
        "source_file": trace.source,
        "instrument": trace.metadata.get("instrument"),
        "serial": trace.metadata.get("serial"),
        "operating_point": parse_operating_point(op) if op else None,
        "units": {"time": "s", "current": "A", "voltage": "V", "power": "W", "energy": "J"},
        "method": {
            "segmentation": method,
            "debounce_min_pulse_s": min_samples * period,
            "glitches_removed": glitches,
            "edge_timing": "midpoint between samples (GPIO) / interpolated crossing (threshold)",
            "energy": "trapezoidal integral of current*voltage over each window, power interpolated at the edges",
            "voltage_source": voltage_source,
            "idle": "time-weighted mean power over samples outside every window (1-sample guard)",
        },
        "sample_rate_hz": trace.sample_rate_hz,
        "n_samples": trace.n,
        "duration_s": float(t[-1] - t[0]),
        "n_nan_samples": int(np.count_nonzero(~np.isfinite(p))),
        "n_windows": len(windows),
        "windows": windows,
        "excluded_windows": excluded,
        "idle_power_w": idle_w,
        "idle_power_w_std": idle_std,
        "idle_time_s": idle_time,
        "warnings": warnings,
    }
    for key in ("latency_s", "avg_power_w", "energy_j", "energy_above_idle_j"):
        values = [w[key] for w in windows if w[key] is not None]
        if values:
            for stat, value in _stats(values).items():
                report[f"{key}_{stat}"] = value
    return report


def _toggling_hint(trace: Trace) -> str:
    """Which digital inputs do change level: the usual mistake is the wrong --gpio-channel."""
    if trace.gpio is None:
        return ""
    changing = np.flatnonzero(np.bitwise_or.reduce(trace.gpio[1:] ^ trace.gpio[:-1]) >> np.arange(8) & 1)
    names = ", ".join(f"D{k}" for k in changing) or "none"
    return f"; digital inputs that change level in this trace: {names}"


def _provenance(trace: Trace) -> str:
    inst = trace.metadata.get("instrument") or "unknown instrument"
    serial = trace.metadata.get("serial")
    return f"measured on the board with {inst}" + (f" (serial {serial})" if serial else "")
