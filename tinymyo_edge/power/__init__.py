"""Power measurement on the board: capture a trace from a PPK2 or Joulescope, find the inference windows, report
latency, power and energy per inference. See docs/POWER.md."""

from __future__ import annotations

from pathlib import Path

from .analyze import Options, analyze
from .readers import read_trace
from .report import table, write


def analyze_file(trace_path: str | Path, out: str | Path, opts: Options = Options(), *, force: bool = False,
                 current_unit: str | None = None, sample_rate_hz: float | None = None) -> dict:
    """Read a trace (.npz / PPK2 .csv / .jls), analyse it and write the report (folder or .json + .png)."""
    trace = read_trace(trace_path, current_unit=current_unit, sample_rate_hz=sample_rate_hz)
    report = analyze(trace, opts)
    voltage = opts.voltage_v if opts.voltage_v is not None else trace.voltage_v
    if voltage is None:
        voltage = float(trace.metadata["supply_voltage_v"])  # analyze() succeeded, so it is there
    write(trace, report, trace.current_a * voltage, out, force=force)
    return report


__all__ = ["Options", "analyze", "analyze_file", "read_trace", "table"]
