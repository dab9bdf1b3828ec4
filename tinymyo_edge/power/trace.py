"""The power trace: one in-memory form for every source (our npz, PPK2 CSV, Joulescope .jls) and our npz file format.

npz layout (docs/POWER.md is the user-facing description; this module is its one definition):
    current_a      float (N,)      current in amperes
    t_s            float (N,)      sample times in seconds, strictly increasing   } exactly one of
    sample_rate_hz float scalar    uniform sampling; t = t0_s + i / sample_rate_hz } these two
    t0_s           float scalar    optional, time of sample 0 with sample_rate_hz (default 0)
    voltage_v      float (N,)      optional measured voltage in volts
    gpio           uint8 (N,)      optional bit field, bit k = digital input k; or uint8 (N, K) 0/1, column k = input k
    metadata       0-d str         JSON object: instrument, serial, supply_voltage_v, units, operating_point, ...
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import TinyMyoError
from ..fileio import atomic_path

FORMAT_NAME = "tinymyo-edge power trace"
FORMAT_VERSION = 1
UNITS = {"t_s": "s", "current_a": "A", "voltage_v": "V", "gpio": "bit field (bit k = digital input k)"}

# Peak currents outside this range are not a board running inference on any supported instrument (PPK2: up to 1 A,
# Joulescope: up to 10 A); a peak outside it almost always means a unit mistake (A read as uA or the reverse).
PLAUSIBLE_PEAK_CURRENT_A = (1e-6, 10.0)


@dataclass
class Trace:
    """Samples of one capture. `voltage_v` is None when the instrument measured no voltage (PPK2)."""

    t_s: np.ndarray
    current_a: np.ndarray
    voltage_v: np.ndarray | None = None
    gpio: np.ndarray | None = None  # uint8 bit field (N,)
    metadata: dict = field(default_factory=dict)
    source: str = ""
    uniform_rate_hz: float | None = None  # set when the source gave a fixed sample rate

    @property
    def n(self) -> int:
        return int(self.current_a.shape[0])

    @property
    def sample_rate_hz(self) -> float:
        """Nominal sample rate: the given one, else from the median sample spacing."""
        if self.uniform_rate_hz:
            return float(self.uniform_rate_hz)
        return float(1.0 / np.median(np.diff(self.t_s)))

    def gpio_bit(self, channel: int) -> np.ndarray:
        """Boolean level of digital input `channel`."""
        if self.gpio is None:
            raise TinyMyoError(f"{self.source}: the trace has no digital/GPIO channels")
        return ((self.gpio >> channel) & 1).astype(bool)


def _check_current_magnitude(peak: float, src: str) -> None:
    lo, hi = PLAUSIBLE_PEAK_CURRENT_A
    if peak < lo:
        raise TinyMyoError(
            f"{src}: peak current {peak:.3g} A is below {lo:g} A: either the board was not powered through the "
            "instrument, or the current unit is wrong (e.g. amperes in a column labelled uA: pass --current-unit A)"
        )
    if peak > hi:
        raise TinyMyoError(
            f"{src}: peak current {peak:.3g} A is above {hi:g} A, beyond the supported instruments: the current unit "
            "is wrong (e.g. microamperes in a column labelled A: fix the header or pass --current-unit uA)"
        )


def validate(trace: Trace, *, check_units: bool = True) -> Trace:
    """Check shapes, time order and units; raise TinyMyoError naming the file and the first bad sample."""
    src = trace.source or "trace"
    n = trace.n
    if trace.current_a.ndim != 1:
        raise TinyMyoError(f"{src}: current must be one-dimensional, got shape {trace.current_a.shape}")
    if n < 2:
        raise TinyMyoError(f"{src}: only {n} sample(s): the trace is empty or truncated")
    for name, arr in (("t_s", trace.t_s), ("voltage_v", trace.voltage_v), ("gpio", trace.gpio)):
        if arr is not None and arr.shape[0] != n:
            raise TinyMyoError(f"{src}: {name} has {arr.shape[0]} samples but current has {n} (truncated file?)")
    if not np.all(np.isfinite(trace.t_s)):
        bad = int(np.flatnonzero(~np.isfinite(trace.t_s))[0])
        raise TinyMyoError(f"{src}: time of sample {bad} is not finite")
    dt = np.diff(trace.t_s)
    if np.any(dt <= 0):
        bad = int(np.flatnonzero(dt <= 0)[0])
        raise TinyMyoError(
            f"{src}: time is not strictly increasing at sample {bad + 1} "
            f"(t={trace.t_s[bad]!r} s then {trace.t_s[bad + 1]!r} s); re-export the trace or sort it"
        )
    finite = np.isfinite(trace.current_a)
    if not finite.any():
        raise TinyMyoError(f"{src}: every current sample is NaN or infinite")
    if check_units:
        _check_current_magnitude(float(np.max(np.abs(trace.current_a[finite]))), src)
    if trace.voltage_v is not None:
        vfin = trace.voltage_v[np.isfinite(trace.voltage_v)]
        if vfin.size and (np.max(vfin) > 60 or np.max(vfin) <= 0):
            raise TinyMyoError(f"{src}: voltage channel peaks at {np.max(vfin):.3g} V: not a supply voltage in volts")
    return trace


def save_npz(trace: Trace, path: str | Path, *, force: bool = False) -> Path:
    """Write `trace` in our npz format (atomic; refuses to overwrite without force)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise TinyMyoError(f"{path}: a trace file must end in .npz")
    meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "units": UNITS, **trace.metadata}
    arrays: dict[str, np.ndarray] = {"current_a": np.asarray(trace.current_a, dtype=np.float64)}
    if trace.uniform_rate_hz:
        arrays["sample_rate_hz"] = np.float64(trace.uniform_rate_hz)
        arrays["t0_s"] = np.float64(trace.t_s[0])
    else:
        arrays["t_s"] = np.asarray(trace.t_s, dtype=np.float64)
    if trace.voltage_v is not None:
        arrays["voltage_v"] = np.asarray(trace.voltage_v, dtype=np.float64)
    if trace.gpio is not None:
        arrays["gpio"] = np.asarray(trace.gpio, dtype=np.uint8)
    arrays["metadata"] = np.array(json.dumps(meta, sort_keys=True))
    with atomic_path(path, force=force) as tmp:
        with open(tmp, "wb") as fh:  # a file object keeps numpy from appending a second .npz
            np.savez_compressed(fh, **arrays)
    return path


def _gpio_bitfield(gpio: np.ndarray, src: str) -> np.ndarray:
    if gpio.ndim == 1:
        if gpio.dtype.kind not in "ui" or (gpio.size and (gpio.min() < 0 or gpio.max() > 255)):
            raise TinyMyoError(f"{src}: gpio must be a uint8 bit field, got dtype {gpio.dtype}")
        return gpio.astype(np.uint8)
    if gpio.ndim == 2 and gpio.shape[1] <= 8:
        if not np.isin(gpio, (0, 1)).all():
            raise TinyMyoError(f"{src}: per-channel gpio (N, K) must hold only 0 and 1")
        weights = (1 << np.arange(gpio.shape[1])).astype(np.uint8)
        return (gpio.astype(np.uint8) * weights).sum(axis=1).astype(np.uint8)
    raise TinyMyoError(f"{src}: gpio must have shape (N,) bit field or (N, K<=8) per channel, got {gpio.shape}")


def load_npz(path: str | Path) -> Trace:
    """Read our npz format; every missing or inconsistent array is a TinyMyoError naming the file and the key."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise TinyMyoError(f"{path}: not a readable npz file ({exc}); truncated?") from exc
    with data:
        keys = set(data.files)
        try:
            arrays = {k: data[k] for k in keys}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:  # zip member cut short
            raise TinyMyoError(f"{path}: an array cannot be read ({exc}); the file is truncated or damaged") from exc
    if "current_a" not in arrays:
        raise TinyMyoError(f"{path}: missing array 'current_a' (keys: {sorted(keys)})")
    current = np.asarray(arrays["current_a"], dtype=np.float64)
    meta: dict = {}
    if "metadata" in arrays:
        try:
            meta = json.loads(str(arrays["metadata"]))
        except json.JSONDecodeError as exc:
            raise TinyMyoError(f"{path}: 'metadata' is not valid JSON ({exc})") from exc
    rate = None
    if "t_s" in arrays and "sample_rate_hz" in arrays:
        raise TinyMyoError(f"{path}: give either 't_s' or 'sample_rate_hz', not both")
    if "t_s" in arrays:
        t = np.asarray(arrays["t_s"], dtype=np.float64)
    elif "sample_rate_hz" in arrays:
        rate = float(arrays["sample_rate_hz"])
        if not rate > 0:
            raise TinyMyoError(f"{path}: sample_rate_hz must be positive, got {rate}")
        t0 = float(arrays["t0_s"]) if "t0_s" in arrays else 0.0
        t = t0 + np.arange(current.shape[0]) / rate
    else:
        raise TinyMyoError(f"{path}: missing time base: give array 't_s' or scalar 'sample_rate_hz'")
    voltage = np.asarray(arrays["voltage_v"], dtype=np.float64) if "voltage_v" in arrays else None
    gpio = _gpio_bitfield(np.asarray(arrays["gpio"]), str(path)) if "gpio" in arrays else None
    trace = Trace(t, current, voltage, gpio, meta, str(path), rate)
    return validate(trace)
