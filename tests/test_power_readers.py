"""Trace readers: our npz, nRF Connect Power Profiler CSV exports, Joulescope JLS v2; bad files fail clearly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from power_synth import Synth, rel

from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.power import Options, analyze, read_trace
from tinymyo_edge.power.trace import Trace, load_npz, save_npz

TOL = 0.005
FULL_HEADER = "Timestamp(ms),Current(uA),D0-D7,D0,D1,D2,D3,D4,D5,D6,D7"


def _write_ppk2_csv(path, trace: Trace, *, header=FULL_HEADER, time_scale=1e3, cur_scale=1e6, channel=0,
                    digital=True, skip=()):
    """The layout of the Power Profiler app's export: selected columns of the header above, bit string D0 first."""
    cols = header.split(",")
    lines = [header]
    for i in range(trace.n):
        if i in skip:  # the app leaves out samples whose current is NaN
            continue
        bit = int(trace.gpio[i]) if digital else 0
        bits = ["0"] * 8
        bits[channel] = str(bit)
        fields = {"Timestamp": f"{trace.t_s[i] * time_scale:.6f}", "Current": f"{trace.current_a[i] * cur_scale:.3f}",
                  "D0-D7": "".join(bits)}
        row = []
        for c in cols:
            key = c.split("(")[0]
            row.append(fields[key] if key in fields else bits[int(c[1])])
        lines.append(",".join(row))
    path.write_text("\n".join(lines) + "\n")
    return path


def _check(report, synth):
    assert report["n_windows"] == len(synth.starts)
    for w, lat, e in zip(report["windows"], synth.latencies, synth.energies()):
        assert rel(w["latency_s"], lat) < TOL and rel(w["energy_j"], e) < TOL


def test_npz_round_trip_and_per_channel_gpio(tmp_path):
    synth = Synth([0.1, 0.4], [0.1, 0.12], duration=0.7, v_ripple=0.1)
    trace = synth.trace()
    path = save_npz(trace, tmp_path / "t.npz")
    back = load_npz(path)
    assert np.array_equal(back.current_a, trace.current_a) and np.array_equal(back.gpio, trace.gpio)
    assert np.allclose(back.t_s, trace.t_s) and back.metadata["units"]["current_a"] == "A"
    cols = np.zeros((trace.n, 3), dtype=np.uint8)
    cols[:, 2] = trace.gpio  # per-channel layout, inference on input 2
    np.savez(tmp_path / "pc.npz", t_s=trace.t_s, current_a=trace.current_a, voltage_v=trace.voltage_v, gpio=cols)
    report = analyze(read_trace(tmp_path / "pc.npz"), Options(gpio_channel=2))
    _check(report, synth)


@pytest.mark.parametrize("problem, match", [
    ("no_time", "missing time base"),
    ("backwards", "not strictly increasing"),
    ("short_gpio", "gpio has"),
    ("amps_in_ua", "below"),
    ("bad_json", "metadata"),
])
def test_npz_problems_are_named(tmp_path, problem, match):
    t = np.arange(1000) / 1e3
    cur = np.full(1000, 0.01)
    arrays = {"t_s": t, "current_a": cur, "gpio": np.zeros(1000, np.uint8)}
    if problem == "no_time":
        del arrays["t_s"]
    elif problem == "backwards":
        arrays["t_s"] = t.copy()
        arrays["t_s"][500] = arrays["t_s"][499]
    elif problem == "short_gpio":
        arrays["gpio"] = arrays["gpio"][:900]
    elif problem == "amps_in_ua":
        arrays["current_a"] = cur * 1e-6
    elif problem == "bad_json":
        arrays["metadata"] = np.array("{not json")
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(TinyMyoError, match=match):
        read_trace(tmp_path / "bad.npz")


def test_truncated_npz_is_an_error(tmp_path):
    path = save_npz(Synth([0.1], [0.1], duration=0.5).trace(), tmp_path / "t.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TinyMyoError, match="t.npz"):
        read_trace(path)


@pytest.mark.parametrize("header, tscale, cscale", [
    (FULL_HEADER, 1e3, 1e6),
    ("Timestamp(ms),Current(uA),D0-D7", 1e3, 1e6),
    ("Timestamp(s),Current(mA),D0,D1,D2,D3,D4,D5,D6,D7", 1.0, 1e3),
    ("Timestamp(us),Current(nA),D0-D7", 1e6, 1e9),
])
def test_ppk2_csv_export_layouts_and_units(tmp_path, header, tscale, cscale):
    synth = Synth([0.05, 0.2, 0.33], [0.08, 0.09, 0.1], duration=0.5, noise=2e-4)
    path = _write_ppk2_csv(tmp_path / "ppk.csv", synth.trace(), header=header, time_scale=tscale, cur_scale=cscale,
                           channel=3)
    with pytest.raises(TinyMyoError, match="--voltage"):  # the PPK2 records no voltage
        analyze(read_trace(path), Options(gpio_channel=3))
    report = analyze(read_trace(path), Options(gpio_channel=3, voltage_v=1.8))
    _check(report, synth)


def test_ppk2_csv_amperes_labelled_microamperes(tmp_path):
    synth = Synth([0.05], [0.1], duration=0.3)
    path = _write_ppk2_csv(tmp_path / "ppk.csv", synth.trace(), cur_scale=1.0)  # values in A, header says uA
    with pytest.raises(TinyMyoError, match="current unit"):
        read_trace(path)
    report = analyze(read_trace(path, current_unit="A"), Options(voltage_v=1.8))
    _check(report, synth)


def test_ppk2_csv_truncated_last_line_and_missing_rows(tmp_path):
    synth = Synth([0.05, 0.2], [0.08, 0.08], duration=0.35)
    trace = synth.trace()
    lost = set(range(int(0.22 * synth.fs), int(0.225 * synth.fs)))  # NaN samples the app leaves out: a gap
    path = _write_ppk2_csv(tmp_path / "ppk.csv", trace, skip=lost)
    path.write_text(path.read_text() + "350.001,12")  # cut while writing
    tr = read_trace(path)
    assert any("truncated" in w for w in tr.metadata["warnings"])
    report = analyze(tr, Options(voltage_v=1.8))
    assert report["n_windows"] == 1 and "gap" in report["excluded_windows"][0]["reason"]
    assert any("truncated" in w for w in report["warnings"])


def test_ppk2_csv_errors(tmp_path):
    (tmp_path / "a.csv").write_text("Time,Amps\n0,1\n")
    with pytest.raises(TinyMyoError, match="Current"):
        read_trace(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("Timestamp(ms),Current(uA),D0-D7\n0,100,10000000\n0.01,100,X0000000\n"
                                    "0.02,100,00000000\n")
    with pytest.raises(TinyMyoError, match=r"b.csv:3: digital input D0 is 'X'"):
        read_trace(tmp_path / "b.csv")
    (tmp_path / "c.csv").write_text("Timestamp(ms),Current(uA)\n0,100\n0.01,abc\n0.02,100\n")
    with pytest.raises(TinyMyoError, match="c.csv:3"):
        read_trace(tmp_path / "c.csv")
    (tmp_path / "d.csv").write_text("Timestamp(ms),Current(uA)\n0,100\n0.02,100\n0.01,100\n")
    with pytest.raises(TinyMyoError, match="not strictly increasing"):
        read_trace(tmp_path / "d.csv")
    (tmp_path / "e.csv").write_text("Current(uA)\n100\n200\n")
    with pytest.raises(TinyMyoError, match="--sample-rate"):
        read_trace(tmp_path / "e.csv")
    assert read_trace(tmp_path / "e.csv", sample_rate_hz=100e3).t_s[1] == pytest.approx(1e-5)


def test_ppk2_csv_without_digital_uses_threshold(tmp_path):
    synth = Synth([0.05, 0.2], [0.08, 0.09], duration=0.35, amp=2e-3)
    path = _write_ppk2_csv(tmp_path / "p.csv", synth.trace(), header="Timestamp(ms),Current(uA)")
    trace = read_trace(path)
    assert trace.gpio is None
    with pytest.raises(TinyMyoError, match="--threshold-a"):
        analyze(trace, Options(voltage_v=1.8))
    _check(analyze(trace, Options(voltage_v=1.8, threshold_a=0.02)), synth)


def _write_jls(path, trace: Trace, gpi_channel=0):
    pyjls = pytest.importorskip("pyjls", reason="needs pyjls (pip install joulescope)")
    fs = int(trace.uniform_rate_hz)
    with pyjls.Writer(str(path)) as w:
        w.source_def(source_id=1, name="JS220-000123", vendor="Jetperch", model="JS220", version="1",
                     serial_number="000123")
        for sid, name, dtype, units in ((1, "current", pyjls.DataType.F32, "A"),
                                         (2, "voltage", pyjls.DataType.F32, "V"),
                                         (3, f"gpi[{gpi_channel}]", pyjls.DataType.U1, "")):
            w.signal_def(signal_id=sid, source_id=1, signal_type=pyjls.SignalType.FSR, data_type=dtype,
                         sample_rate=fs, name=name, units=units)
        w.fsr_f32(1, 0, trace.current_a.astype(np.float32))
        w.fsr_f32(2, 0, trace.voltage_v.astype(np.float32))
        w.fsr(3, 0, np.packbits(trace.gpio.astype(np.uint8), bitorder="little"))
    return path


def test_joulescope_jls_v2(tmp_path):
    synth = Synth([0.05, 0.21, 0.4], [0.1, 0.12, 0.11], fs=200e3, duration=0.6, v_ripple=0.05, v_freq=3.0)
    path = _write_jls(tmp_path / "rec.jls", synth.trace(), gpi_channel=1)
    trace = read_trace(path)
    assert trace.metadata["serial"] == "000123" and trace.sample_rate_hz == 200e3
    report = analyze(trace, Options(gpio_channel=1))
    assert report["method"]["voltage_source"].startswith("measured")
    _check(report, synth)


def test_jls_problems(tmp_path):
    pytest.importorskip("pyjls", reason="needs pyjls (pip install joulescope)")
    (tmp_path / "junk.jls").write_bytes(b"not a jls file at all" * 10)
    with pytest.raises(TinyMyoError, match="junk.jls"):
        read_trace(tmp_path / "junk.jls")


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(TinyMyoError, match="no such trace"):
        read_trace(tmp_path / "nope.npz")
    (tmp_path / "x.mat").write_text("")
    with pytest.raises(TinyMyoError, match="unknown trace format"):
        read_trace(tmp_path / "x.mat")


def test_metadata_is_json_in_npz(tmp_path):
    trace = Synth([0.1], [0.1], duration=0.4).trace()
    trace.metadata.update({"operating_point": "370MHz/0.8V", "serial": "C1234"})
    path = save_npz(trace, tmp_path / "m.npz")
    meta = json.loads(str(np.load(path)["metadata"]))
    assert meta["format"] == "tinymyo-edge power trace" and meta["operating_point"] == "370MHz/0.8V"
    report = analyze(load_npz(path))
    assert report["operating_point"]["frequency_hz"] == 370e6 and report["serial"] == "C1234"
