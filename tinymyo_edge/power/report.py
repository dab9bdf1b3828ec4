"""Writing an analysis: report.json, a terminal table, and a PNG of the trace with the windows shaded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..fileio import atomic_dir, atomic_path
from .trace import Trace

# The number to beat (TinyMyo paper v2, GAP9, EPN-612 pipeline 8 ch x 1000 samples): published, not measured here.
PUBLISHED_GAP9 = {"latency_s": 0.785, "energy_j": 44.91e-3, "avg_power_w": 57.18e-3,
                  "source": "TinyMyo paper v2 (arXiv 2512.15729), GAP9, EPN-612 8x1000"}
_MAX_PLOT_POINTS = 20000


def _fmt(value, scale: float, digits: int = 4) -> str:
    return "-" if value is None else f"{value * scale:.{digits}g}"


def table(report: dict) -> str:
    """Human summary: one row per quantity with mean, std, min, max over the inferences."""
    op = report.get("operating_point")
    lines = [
        f"{report['source_file']}: {report['n_windows']} inference(s), {len(report['excluded_windows'])} excluded; "
        f"{report['provenance']}; operating point {op['label'] if op else 'not given'}",
        f"segmentation: {report['method']['segmentation']}; voltage: {report['method']['voltage_source']}",
        f"{'quantity':<22}{'mean':>12}{'std':>12}{'min':>12}{'max':>12}",
    ]
    rows = [("latency [ms]", "latency_s", 1e3), ("avg power [mW]", "avg_power_w", 1e3),
            ("energy [mJ]", "energy_j", 1e3), ("energy-idle [mJ]", "energy_above_idle_j", 1e3)]
    for label, key, scale in rows:
        if f"{key}_mean" in report:
            stats = [_fmt(report.get(f"{key}_{s}"), scale) for s in ("mean", "std", "min", "max")]
            lines.append(f"{label:<22}" + "".join(f"{s:>12}" for s in stats))
    lines.append(f"{'idle power [mW]':<22}{_fmt(report['idle_power_w'], 1e3):>12}"
                 f"{_fmt(report['idle_power_w_std'], 1e3):>12}")
    pub = PUBLISHED_GAP9
    lines.append(f"published (not measured here): {pub['latency_s'] * 1e3:g} ms, {pub['energy_j'] * 1e3:g} mJ, "
                 f"{pub['avg_power_w'] * 1e3:g} mW ({pub['source']})")
    for e in report["excluded_windows"]:
        start = "trace start" if e["start_s"] is None else f"{e['start_s']:.6g} s"
        end = "trace end" if e["end_s"] is None else f"{e['end_s']:.6g} s"
        lines.append(f"excluded window {start} .. {end}: {e['reason']}")
    lines += [f"warning: {w}" for w in report["warnings"]]
    return "\n".join(lines)


def _decimate(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min/max per bucket so that short spikes stay visible in a plot of millions of samples."""
    if t.shape[0] <= _MAX_PLOT_POINTS:
        return t, y
    k = int(np.ceil(t.shape[0] / (_MAX_PLOT_POINTS // 2)))
    m = (t.shape[0] // k) * k
    tb = t[:m].reshape(-1, k)[:, 0]
    yb = y[:m].reshape(-1, k)
    return np.repeat(tb, 2), np.column_stack((np.nanmin(yb, axis=1), np.nanmax(yb, axis=1))).ravel()


def plot(trace: Trace, report: dict, power: np.ndarray, out_png: Path) -> None:
    """Power over time; measured windows shaded green, excluded ones red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 4), dpi=100)
    tt, pp = _decimate(trace.t_s, power)
    ax.plot(tt, pp * 1e3, lw=0.6, color="tab:blue", label="power")
    for i, w in enumerate(report["windows"]):
        ax.axvspan(w["start_s"], w["end_s"], color="tab:green", alpha=0.25, label="inference" if i == 0 else None)
    t0, t1 = float(trace.t_s[0]), float(trace.t_s[-1])
    for i, e in enumerate(report["excluded_windows"]):
        ax.axvspan(e["start_s"] if e["start_s"] is not None else t0, e["end_s"] if e["end_s"] is not None else t1,
                   color="tab:red", alpha=0.2, label="excluded" if i == 0 else None)
    if report["idle_power_w"] is not None:
        ax.axhline(report["idle_power_w"] * 1e3, color="gray", ls="--", lw=0.8, label="idle")
    ax.set_xlabel("time [s]")
    ax.set_ylabel("power [mW]")
    op = report.get("operating_point")
    ax.set_title(f"{Path(report['source_file']).name}: {report['n_windows']} inference(s), "
                 f"{report['energy_j_mean'] * 1e3:.4g} mJ / {report['latency_s_mean'] * 1e3:.4g} ms mean"
                 + (f" @ {op['label']}" if op else ""))
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, format="png")
    plt.close(fig)


def write(trace: Trace, report: dict, power: np.ndarray, out: str | Path, *, force: bool = False) -> Path:
    """`out` ending in .json: that file plus a .png beside it; otherwise a folder with report.json, trace.png and
    summary.txt. Nothing is half-written; existing outputs are replaced only with force."""
    out = Path(out)
    text = json.dumps(report, indent=2, allow_nan=False)
    if out.suffix == ".json":
        png = out.with_suffix(".png")
        with atomic_path(out, force=force) as tmp_json, atomic_path(png, force=force) as tmp_png:
            tmp_json.write_text(text + "\n")
            plot(trace, report, power, tmp_png)
        return out
    with atomic_dir(out, force=force) as tmp:
        (tmp / "report.json").write_text(text + "\n")
        (tmp / "summary.txt").write_text(table(report) + "\n")
        plot(trace, report, power, tmp / "trace.png")
    return out
