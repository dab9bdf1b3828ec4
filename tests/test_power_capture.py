"""power capture: clean failures without an instrument (real drivers), and the PPK2 path end to end through the real
ppk2-api driver talking to a simulated PPK2 serial port (no hardware here)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tinymyo_edge.cli import main
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.power import analyze, read_trace
from tinymyo_edge.power.capture import CaptureOptions, capture, capture_joulescope, joulescope_samples_to_trace


def _run_cli(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code, capsys.readouterr().err


def test_ppk2_absent_fails_at_once_naming_the_search(tmp_path, capsys, monkeypatch):
    api = pytest.importorskip("ppk2_api.ppk2_api", reason="needs the ppk2-api package (pip install ppk2-api)")
    monkeypatch.setattr(api.PPK2_API, "list_devices", staticmethod(lambda: []))  # in case a PPK2 is plugged in
    start = time.monotonic()
    code, err = _run_cli(["power", "capture", "--instrument", "ppk2", "--duration", "5", "--voltage", "1.8",
                          "-o", str(tmp_path / "t.npz")], capsys)
    assert code == 2 and time.monotonic() - start < 5
    assert "no PPK2 found" in err and "list_devices" in err and "serial ports present" in err
    assert not (tmp_path / "t.npz").exists()


def test_ppk2_bad_port_is_named(tmp_path):
    pytest.importorskip("ppk2_api.ppk2_api", reason="needs the ppk2-api package (pip install ppk2-api)")
    opts = CaptureOptions("ppk2", 1.0, 1.8, port=str(tmp_path / "ttyACM9"))
    with pytest.raises(TinyMyoError, match="ttyACM9: cannot open"):
        capture(opts)


def test_joulescope_absent_fails_at_once_naming_the_scan(tmp_path, capsys, monkeypatch):
    joulescope = pytest.importorskip("joulescope", reason="needs the joulescope package (pip install joulescope)")
    monkeypatch.setattr(joulescope, "scan", lambda *a, **k: [])  # in case one is plugged in
    code, err = _run_cli(["power", "capture", "--instrument", "joulescope", "--duration", "5", "--voltage", "1.8",
                          "-o", str(tmp_path / "t.npz")], capsys)
    assert code == 2 and "no Joulescope found" in err and "joulescope.scan()" in err


def test_joulescope_real_scan_without_hardware():
    joulescope = pytest.importorskip("joulescope", reason="needs the joulescope package (pip install joulescope)")
    if joulescope.scan():
        pytest.skip("a Joulescope is attached to this machine")
    with pytest.raises(TinyMyoError, match="no Joulescope found"):
        capture(CaptureOptions("joulescope", 1.0, 1.8))


def test_missing_driver_names_the_pip_package(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_drivers(name, *args, **kwargs):
        if name.startswith(("ppk2_api", "joulescope")):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_drivers)
    with pytest.raises(TinyMyoError, match="pip install ppk2-api"):
        capture(CaptureOptions("ppk2", 1.0, 1.8))
    with pytest.raises(TinyMyoError, match="pip install joulescope"):
        capture(CaptureOptions("joulescope", 1.0, 1.8))


@pytest.mark.parametrize("opts, match", [
    (CaptureOptions("ppk2", 1.0, 1.8, gpio_channel=8), "gpio-channel"),
    (CaptureOptions("joulescope", 1.0, 1.8, gpio_channel=2), "gpio-channel"),
    (CaptureOptions("ppk2", -1.0, 1.8), "duration"),
    (CaptureOptions("ppk2", 1.0, 1.8, operating_point="fast"), "operating point"),
    (CaptureOptions("ppk2", 1.0, 1.8, sample_rate_hz=1e6), "fixed 100000"),
    (CaptureOptions("ppk2", 1.0, 6.0), "0.8..5.0 V"),
    (CaptureOptions("ppk2", 1.0, 1.8, io_voltage="1.8V"), "io-voltage"),
])
def test_bad_capture_options(opts, match):
    pytest.importorskip("ppk2_api.ppk2_api", reason="needs the ppk2-api package (pip install ppk2-api)")
    with pytest.raises(TinyMyoError, match=match):
        capture(opts)


# --------------------------------------------------------------------------- simulated PPK2 behind the real driver
R3_OHM = 2.0  # calibration resistor of range 3 in the simulated device's metadata
ADC_IDLE, ADC_ACTIVE = 500, 4000
PERIOD, HIGH_FROM, HIGH_TO = 5000, 1000, 3500  # samples: one inference of 25 ms every 50 ms, on D2


def _metadata() -> bytes:
    lines = ["Calibrated: 0"]
    for k in range(5):
        lines += [f"R{k}: {R3_OHM if k == 3 else 10.0 ** (3 - k)}", f"GS{k}: 0", f"GI{k}: 1", f"O{k}: 0", f"S{k}: 0",
                  f"I{k}: 0", f"UG{k}: 1"]
    return ("\n".join(lines + ["HW: 9173", "IA: 56", "END"]) + "\n").encode()


def _word(k: int) -> bytes:
    active = HIGH_FROM <= k % PERIOD < HIGH_TO
    value = (ADC_ACTIVE if active else ADC_IDLE) | (3 << 14) | ((4 if active else 0) << 24)
    return value.to_bytes(4, "little")


class FakePPK2Serial:
    """Answers the PPK2 metadata request and streams 4-byte sample words at 100 kS/s of wall time once started."""

    def __init__(self, port, **kwargs):
        self.port, self.buffer, self.commands = port, b"", []
        FakePPK2Serial.last = self
        self.started_at, self.sent = None, 0

    def write(self, data):
        data = bytes(data)
        self.commands.append(data[0])
        if data[0] == 0x19:  # GET_META_DATA
            self.buffer += _metadata()
        elif data[0] == 0x06:  # AVERAGE_START
            self.started_at, self.sent = time.monotonic(), 0
        elif data[0] == 0x07:  # AVERAGE_STOP
            self._produce()
            self.started_at = None

    def _produce(self):
        if self.started_at is None:
            return
        due = int((time.monotonic() - self.started_at) * 100_000)
        self.buffer += b"".join(_word(k) for k in range(self.sent, due))
        self.sent = max(due, self.sent)

    @property
    def in_waiting(self):
        self._produce()
        return len(self.buffer)

    def read(self, size=1):
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out

    def close(self):
        pass


def test_ppk2_capture_through_the_real_driver(tmp_path, capsys, monkeypatch):
    api = pytest.importorskip("ppk2_api.ppk2_api", reason="needs the ppk2-api package (pip install ppk2-api)")
    monkeypatch.setattr(api.serial, "Serial", FakePPK2Serial)
    out = tmp_path / "t.npz"
    main(["power", "capture", "--instrument", "ppk2", "--port", "/dev/fakePPK2", "--duration", "0.4",
          "--voltage", "1.8", "--gpio-channel", "2", "--operating-point", "370MHz/0.8V", "-o", str(out)])
    trace = read_trace(out)
    assert trace.metadata["instrument"] == "ppk2" and trace.metadata["port"] == "/dev/fakePPK2"
    assert trace.uniform_rate_hz == 100_000 and trace.n > 20_000
    # metadata, voltage, ampere mode, power on, stop (drain a stale stream), start, stop
    assert FakePPK2Serial.last.commands == [0x19, 0x0D, 0x11, 0x0C, 0x07, 0x06, 0x07]
    lsb_a = 4 * 1.8 / 163840 / R3_OHM  # the PPK2's conversion: ADC * 4 * (1.8 V / 163840) / R_range
    active = np.isin(np.arange(trace.n) % PERIOD, np.arange(HIGH_FROM, HIGH_TO))
    assert np.allclose(trace.current_a[active], ADC_ACTIVE * lsb_a, rtol=1e-9)
    assert np.allclose(trace.current_a[~active], ADC_IDLE * lsb_a, rtol=1e-9)
    assert np.array_equal(trace.gpio, np.where(active, 4, 0).astype(np.uint8))
    report = analyze(trace)  # gpio channel, voltage and operating point come from the trace's metadata
    assert report["n_windows"] >= 6
    for w in report["windows"]:
        assert w["latency_s"] == pytest.approx(0.025, rel=1e-9)
        assert w["energy_j"] == pytest.approx(0.025 * 1.8 * ADC_ACTIVE * lsb_a, rel=0.005)
    assert report["idle_power_w"] == pytest.approx(1.8 * ADC_IDLE * lsb_a, rel=1e-6)
    assert report["operating_point"]["label"] == "370MHz/0.8V"


class FakeJoulescope:
    """Duck-typed stand-in of a joulescope v1 Device (no hardware): records the calls capture makes."""

    model, serial_number = "js110", "004321"

    def __init__(self):
        self.calls = []

    def __str__(self):
        return "JS110-004321"

    def parameter_set(self, name, value):
        self.calls.append((name, value))

    def open(self):
        self.calls.append(("open",))

    def close(self):
        self.calls.append(("close",))

    def read(self, contiguous_duration, out_format, fields):
        n = int(contiguous_duration * 100_000)
        gpi = (np.arange(n) % 10_000 >= 5_000).astype(np.uint8)
        cur = np.where(gpi, 0.03, 0.004).astype(np.float32)
        signals = {"current": {"value": cur, "units": "A"}, "voltage": {"value": np.full(n, 3.3, np.float32)},
                   "current_lsb": {"value": gpi}, "voltage_lsb": {"value": np.zeros(n, np.uint8)}}
        return {"time": {"sampling_frequency": {"value": 100_000}}, "signals": signals}


def test_joulescope_capture_glue_with_a_stand_in_device(monkeypatch):
    joulescope = pytest.importorskip("joulescope", reason="needs the joulescope package (pip install joulescope)")
    device = FakeJoulescope()
    monkeypatch.setattr(joulescope, "scan", lambda *a, **k: [device])
    trace = capture_joulescope(CaptureOptions("joulescope", 0.35, 3.3, sample_rate_hz=100_000, io_voltage="1.8V"))
    assert ("current_lsb", "gpi0") in device.calls and ("sampling_frequency", 100_000) in device.calls
    assert ("io_voltage", "1.8V") in device.calls
    assert device.calls[-1] == ("close",)
    report = analyze(trace)
    assert report["n_windows"] == 3
    assert report["windows"][0]["energy_j"] == pytest.approx(0.05 * 0.03 * 3.3, rel=1e-3)
    assert joulescope_samples_to_trace(device.read(0.1, None, None), device).metadata["serial"] == "004321"
