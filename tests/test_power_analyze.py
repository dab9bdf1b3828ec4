"""power analyze on synthetic traces with closed-form latency and energy; robustness against bad traces."""

from __future__ import annotations

import json

import numpy as np
import pytest
from power_synth import Synth, rel

from tinymyo_edge.cli import main
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.power import Options, analyze, analyze_file
from tinymyo_edge.power.segment import debounce
from tinymyo_edge.power.trace import Trace, save_npz

TOL = 0.005  # 0.5 %


def _check(report: dict, synth: Synth, tol: float = TOL) -> None:
    assert report["n_windows"] == len(synth.starts)
    for w, s, lat, e in zip(report["windows"], synth.starts, synth.latencies, synth.energies()):
        assert abs(w["start_s"] - s) <= 1.0 / synth.fs
        assert rel(w["latency_s"], lat) < tol, (w["latency_s"], lat)
        assert rel(w["energy_j"], e) < tol, (w["energy_j"], e)
        assert rel(w["avg_power_w"], e / lat) < tol


@pytest.mark.parametrize("fs", [10e3, 100e3, 1e6])
@pytest.mark.parametrize("count", [1, 3, 7])
def test_known_energy_and_latency_across_rates_and_counts(fs, count):
    rng = np.random.default_rng(int(fs) + count)
    starts = list(0.1 + 0.25 * np.arange(count) + rng.uniform(0, 0.05, count))  # off the sample grid
    lats = list(rng.uniform(0.06, 0.12, count))
    synth = Synth(starts, lats, fs=fs, duration=0.25 * count + 0.2, noise=1e-3, seed=count)
    report = analyze(synth.trace())
    _check(report, synth)
    assert rel(report["idle_power_w"], synth.idle_power()) < TOL
    assert rel(report["energy_j_mean"], float(np.mean(synth.energies()))) < TOL
    if count > 1:
        assert rel(report["latency_s_std"], float(np.std(lats, ddof=1))) < 0.05
        assert report["latency_s_min"] <= report["latency_s_mean"] <= report["latency_s_max"]


def test_measured_voltage_channel_is_used():
    synth = Synth([0.2, 0.9], [0.3, 0.45], v_ripple=0.3, v_freq=0.25, duration=1.6)
    report = analyze(synth.trace())
    _check(report, synth)
    assert report["method"]["voltage_source"].startswith("measured")
    # a constant voltage would be off by the ripple: the check above is sensitive to it
    flat = Synth(synth.starts, synth.latencies, duration=1.6).energies()
    assert min(rel(a, b) for a, b in zip(synth.energies(), flat)) > 0.02


def test_command_line_voltage_overrides_and_is_required_without_any():
    synth = Synth([0.3], [0.2], duration=0.8)
    trace = synth.trace()
    trace.metadata["supply_voltage_v"] = None
    with pytest.raises(TinyMyoError, match="--voltage"):
        analyze(trace)
    report = analyze(trace, Options(voltage_v=3.6))
    assert rel(report["windows"][0]["energy_j"], 2 * synth.energies()[0]) < TOL
    assert "command line" in report["method"]["voltage_source"]


def test_gpio_glitches_are_debounced_and_counted():
    synth = Synth([0.2, 0.6, 1.1], [0.2, 0.25, 0.3], duration=1.6, noise=5e-4)
    trace = synth.trace()
    idx = np.searchsorted(trace.t_s, [0.1, 0.5, 1.45])  # single-sample spikes while idle
    trace.gpio[idx] = 1
    inside = np.searchsorted(trace.t_s, [0.3, 0.75])  # 3-sample drop-outs inside windows
    for i in inside:
        trace.gpio[i : i + 3] = 0
    report = analyze(trace)
    _check(report, synth)
    assert report["method"]["glitches_removed"] == 5
    raw = analyze(trace, Options(min_pulse_s=0.0))  # debounce off: the glitches split and add windows
    assert raw["n_windows"] == 3 + 3 + 2


def test_debounce_keeps_runs_at_the_trace_edges():
    level = np.array([1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1], dtype=bool)
    out, glitches = debounce(level, 3)
    assert out.tolist() == [1] + [0] * 11 + [1]
    assert glitches == 1


def test_windows_cut_by_the_trace_edges_are_excluded_and_reported():
    synth = Synth([-0.05, 0.3, 0.7, 1.15], [0.15, 0.2, 0.2, 0.3], duration=1.3)
    report = analyze(synth.trace())
    reasons = [e["reason"] for e in report["excluded_windows"]]
    assert len(reasons) == 2 and "start" in reasons[0] and "end" in reasons[1]
    assert report["n_windows"] == 2
    inner = Synth(synth.starts[1:3], synth.latencies[1:3], duration=1.3)
    _check(report, inner)


def test_threshold_segmentation_with_hysteresis_when_there_is_no_gpio():
    synth = Synth([0.21, 0.63, 1.07], [0.18, 0.22, 0.2], fs=50e3, duration=1.5, noise=1e-3, amp=2e-3)
    trace = synth.trace()
    trace.gpio = None
    with pytest.raises(TinyMyoError, match="--threshold-a"):
        analyze(trace)
    report = analyze(trace, Options(threshold_a=0.025, hysteresis_a=0.005))
    _check(report, synth)
    assert "threshold" in report["method"]["segmentation"]


def test_nan_samples_exclude_their_window_and_are_skipped_in_idle():
    synth = Synth([0.2, 0.6, 1.0], [0.2, 0.2, 0.2], duration=1.4)
    trace = synth.trace()
    trace.current_a[np.searchsorted(trace.t_s, 0.7)] = np.nan  # inside window 2
    trace.current_a[np.searchsorted(trace.t_s, 1.3)] = np.nan  # idle
    report = analyze(trace)
    assert report["n_windows"] == 2 and report["n_nan_samples"] == 2
    assert "NaN" in report["excluded_windows"][0]["reason"]
    _check(report, Synth([0.2, 1.0], [0.2, 0.2], duration=1.4))
    assert rel(report["idle_power_w"], synth.idle_power()) < TOL


def test_gap_in_samples_excludes_the_window():
    synth = Synth([0.2, 0.6], [0.2, 0.2], duration=1.0)
    tr = synth.trace()
    keep = np.ones(tr.n, dtype=bool)
    keep[np.searchsorted(tr.t_s, 0.65) : np.searchsorted(tr.t_s, 0.66)] = False  # 10 ms of samples lost
    trace = Trace(tr.t_s[keep], tr.current_a[keep], None, tr.gpio[keep], tr.metadata, "gappy")
    report = analyze(trace)
    assert report["n_windows"] == 1 and "gap" in report["excluded_windows"][0]["reason"]


def test_no_complete_window_is_an_error_not_a_number():
    synth = Synth([-0.1], [5.0], duration=1.0)  # high through the whole trace
    with pytest.raises(TinyMyoError, match="no complete inference window"):
        analyze(synth.trace())
    with pytest.raises(TinyMyoError, match="no complete inference window"):
        analyze(Synth([], [], duration=1.0).trace())
    trace = Synth([0.2], [0.3], duration=1.0).trace()
    trace.gpio = trace.gpio << 5  # wired to D5, analysed on D0
    with pytest.raises(TinyMyoError, match="change level in this trace: D5"):
        analyze(trace)
    assert analyze(trace, Options(gpio_channel=5))["n_windows"] == 1


def test_operating_point_is_parsed_and_checked():
    synth = Synth([0.3], [0.2], duration=0.8)
    report = analyze(synth.trace(), Options(operating_point="370MHz/0.8V"))
    assert report["operating_point"] == {"label": "370MHz/0.8V", "frequency_hz": 370e6, "core_voltage_v": 0.8}
    with pytest.raises(TinyMyoError, match="operating point"):
        analyze(synth.trace(), Options(operating_point="fast"))


def test_cli_analyze_writes_json_png_and_table(tmp_path, capsys):
    synth = Synth([0.2, 0.7], [0.25, 0.3], duration=1.2)
    trace_path = save_npz(synth.trace(), tmp_path / "t.npz")
    main(["power", "analyze", str(trace_path), "--operating-point", "240MHz/0.65V", "-o", str(tmp_path / "rep")])
    out = capsys.readouterr().out
    assert "energy [mJ]" in out and "240MHz/0.65V" in out
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    for key in ("windows", "latency_s_mean", "avg_power_w_mean", "energy_j_mean", "idle_power_w",
                "latency_s_std", "units", "source_file", "method", "operating_point"):
        assert key in report
    assert set(report["windows"][0]) >= {"start_s", "latency_s", "avg_power_w", "energy_j"}
    assert (tmp_path / "rep" / "trace.png").read_bytes()[:4] == b"\x89PNG"
    main(["power", "analyze", str(trace_path), "-o", str(tmp_path / "r.json")])
    assert (tmp_path / "r.png").is_file() and json.loads((tmp_path / "r.json").read_text())["n_windows"] == 2
    with pytest.raises(SystemExit) as exc:  # refuses to overwrite
        main(["power", "analyze", str(trace_path), "-o", str(tmp_path / "r.json")])
    assert exc.value.code == 2 and "already exists" in capsys.readouterr().err


def test_analyze_file_error_leaves_nothing(tmp_path):
    synth = Synth([], [], duration=0.5)
    trace_path = save_npz(synth.trace(), tmp_path / "flat.npz")
    with pytest.raises(TinyMyoError):
        analyze_file(trace_path, tmp_path / "rep")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat.npz"]
