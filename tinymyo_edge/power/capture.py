"""Capturing a trace from a Nordic PPK2 (PyPI ppk2-api) or a Joulescope JS110/JS220 (PyPI joulescope).

Drivers are imported only when a capture starts, so everything else works without them. Without an instrument the
capture fails at once, saying how the instrument was searched for and what was found instead.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

from ..errors import TinyMyoError
from ..fileio import check_writable
from .analyze import parse_operating_point
from .trace import Trace, save_npz, validate

PPK2_RATE_HZ = 100_000  # the PPK2 streams at a fixed 100 kS/s
PPK2_VOLTAGE_RANGE_V = (0.8, 5.0)
INSTRUMENTS = ("ppk2", "joulescope")
GPIO_CHANNELS = {"ppk2": 8, "joulescope": 2}  # PPK2: D0..D7; Joulescope (v1 API streams): GPI0, GPI1


@dataclass(frozen=True)
class CaptureOptions:
    instrument: str
    duration_s: float
    voltage_v: float  # PPK2: supply (source mode) or the rail voltage (ampere mode); Joulescope: the rail voltage
    port: str | None = None
    serial: str | None = None
    gpio_channel: int = 0
    sample_rate_hz: float | None = None
    ppk2_mode: str = "ampere"  # "ampere": in series with the board's supply; "source": the PPK2 powers the board
    operating_point: str | None = None
    io_voltage: str | None = None  # Joulescope JS110 GPI logic level, e.g. "1.8V" (JS220: wire its VREF pin)


def _check(opts: CaptureOptions) -> None:
    if opts.instrument not in INSTRUMENTS:
        raise TinyMyoError(f"--instrument {opts.instrument}: expected one of {', '.join(INSTRUMENTS)}")
    if not opts.duration_s > 0:
        raise TinyMyoError(f"--duration {opts.duration_s}: must be positive (seconds)")
    if not 0 < opts.voltage_v <= 60:
        raise TinyMyoError(f"--voltage {opts.voltage_v}: expected the supply voltage in volts")
    if not 0 <= opts.gpio_channel < GPIO_CHANNELS[opts.instrument]:
        raise TinyMyoError(f"--gpio-channel {opts.gpio_channel}: the {opts.instrument} has digital inputs "
                           f"0..{GPIO_CHANNELS[opts.instrument] - 1}")
    if opts.io_voltage and opts.instrument != "joulescope":
        raise TinyMyoError("--io-voltage is for the Joulescope JS110; the PPK2 takes its logic level from its VCC pin")
    if opts.port and opts.serial:
        raise TinyMyoError("give --port or --serial, not both")
    if opts.operating_point:
        parse_operating_point(opts.operating_point)


def _version(package: str) -> str:
    try:
        return importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


# ----------------------------------------------------------------------------------------------------------- PPK2
def _ppk2_api():
    try:
        from ppk2_api.ppk2_api import PPK2_API
    except ImportError as exc:
        raise TinyMyoError("capturing with a PPK2 needs the Python package 'ppk2-api': pip install ppk2-api "
                           "(or pip install 'tinymyo-edge[power]')") from exc
    return PPK2_API


def _serial_ports() -> list:
    import serial.tools.list_ports  # pyserial, a dependency of ppk2-api

    return list(serial.tools.list_ports.comports())


def find_ppk2_port(api, port: str | None, serial: str | None) -> tuple[str, str | None]:
    """(port, serial number) of the one PPK2 to use; an error listing the serial ports seen otherwise."""
    found = [d[0] if isinstance(d, (tuple, list)) else d for d in api.list_devices()]
    ports = _serial_ports()
    serial_of = {p.device: p.serial_number for p in ports}
    if port:
        return port, serial_of.get(port)
    if serial:
        found = [d for d in found if serial_of.get(d) == serial]
    if len(found) == 1:
        return found[0], serial_of.get(found[0])
    seen = ", ".join(f"{p.device} (product {p.product!r}, serial {p.serial_number!r})" for p in ports) or "none"
    if not found:
        want = f" with serial {serial}" if serial else ""
        raise TinyMyoError(
            f"no PPK2{want} found: ppk2_api PPK2_API.list_devices() looks for serial ports whose USB product is "
            f"'PPK2' (Windows: description 'nRF Connect USB CDC ACM'); serial ports present: {seen}. Connect the "
            "PPK2's USB DATA/POWER port, check permissions on the port (Linux: dialout group), or pass --port"
        )
    raise TinyMyoError(f"several PPK2 found ({', '.join(found)}): pass --port or --serial")


def _ppk2_record(ppk, duration_s: float) -> tuple[bytes, float]:
    """Raw sample stream for `duration_s`; decoded afterwards so that reading keeps up with 100 kS/s."""
    ppk.stop_measuring()  # a stream left running by an earlier session would misalign the 4-byte samples
    for _ in range(50):
        time.sleep(0.01)
        if not ppk.get_data():
            break
    chunks = []
    ppk.start_measuring()
    start = time.monotonic()
    try:
        while time.monotonic() - start < duration_s:
            chunks.append(ppk.get_data())
            time.sleep(0.002)
    finally:
        ppk.stop_measuring()
    elapsed = time.monotonic() - start
    return b"".join(chunks), elapsed


def capture_ppk2(opts: CaptureOptions) -> Trace:
    api = _ppk2_api()
    if opts.sample_rate_hz and opts.sample_rate_hz != PPK2_RATE_HZ:
        raise TinyMyoError(f"--sample-rate {opts.sample_rate_hz:g}: the PPK2 streams at a fixed {PPK2_RATE_HZ} S/s")
    lo, hi = PPK2_VOLTAGE_RANGE_V
    if not lo <= opts.voltage_v <= hi:
        raise TinyMyoError(f"--voltage {opts.voltage_v}: the PPK2 supports {lo}..{hi} V")
    if opts.ppk2_mode not in ("ampere", "source"):
        raise TinyMyoError(f"--ppk2-mode {opts.ppk2_mode}: expected 'ampere' or 'source'")
    port, serial_number = find_ppk2_port(api, opts.port, opts.serial)
    try:
        ppk = api(port, timeout=1, write_timeout=1, exclusive=True)
    except Exception as exc:  # serial.SerialException and OSError from pyserial
        raise TinyMyoError(f"PPK2 on {port}: cannot open the serial port ({exc})") from exc
    try:
        return _ppk2_run(ppk, port, serial_number, opts)
    finally:
        ppk.ser.close()  # release the port now (exclusive), not whenever the driver object is collected


def _ppk2_run(ppk, port: str, serial_number: str | None, opts: CaptureOptions) -> Trace:
    if not ppk.get_modifiers():
        raise TinyMyoError(f"{port}: no calibration answer to the PPK2 metadata request: is this a PPK2?")
    # the driver needs the voltage in ampere mode too (a calibration term), and refuses to start without it
    ppk.set_source_voltage(int(round(opts.voltage_v * 1000)))
    if opts.ppk2_mode == "source":
        ppk.use_source_meter()
    else:
        ppk.use_ampere_meter()
    # the PPK2's output switch sits in the board's supply path in both modes; ON when already ON changes nothing
    ppk.toggle_DUT_power("ON")
    raw, elapsed = _ppk2_record(ppk, opts.duration_s)
    samples_ua, bits = ppk.get_samples(raw)
    if len(samples_ua) < 2:
        raise TinyMyoError(f"PPK2 on {port}: {len(samples_ua)} samples received in {elapsed:.2f} s: "
                           "no data streamed (is the PPK2 powered and in the right mode?)")
    warnings = []
    observed = len(samples_ua) / elapsed
    if observed < 0.95 * PPK2_RATE_HZ:
        warnings.append(f"received {observed:.0f} samples/s, below the PPK2's {PPK2_RATE_HZ}: samples were lost; "
                        "the time base assumes a contiguous 100 kS/s stream")
    current = np.asarray(samples_ua, dtype=np.float64) * 1e-6  # the driver returns microamperes
    meta = {
        "instrument": "ppk2",
        "driver": f"ppk2-api {_version('ppk2-api')}",
        "port": port,
        "serial": serial_number,
        "ppk2_mode": opts.ppk2_mode,
        "observed_rate_hz": observed,
        "warnings": warnings,
    }
    n = current.shape[0]
    return Trace(np.arange(n) / PPK2_RATE_HZ, current, None, np.asarray(bits, dtype=np.uint8), meta, "", PPK2_RATE_HZ)


# ----------------------------------------------------------------------------------------------------- Joulescope
def _joulescope():
    try:
        import joulescope
    except ImportError as exc:
        raise TinyMyoError("capturing with a Joulescope needs the Python package 'joulescope': pip install joulescope "
                           "(or pip install 'tinymyo-edge[power]')") from exc
    return joulescope


def find_joulescope(joulescope, serial: str | None):
    """The one Joulescope to use; an error saying what joulescope.scan() returned otherwise."""
    devices = joulescope.scan(config="auto")
    names = [str(d) for d in devices]
    if serial:
        devices = [d for d in devices if str(d.serial_number) == serial or str(d).endswith(serial)]
    if len(devices) == 1:
        return devices[0]
    if not devices:
        want = f" with serial {serial}" if serial else ""
        raise TinyMyoError(
            f"no Joulescope{want} found: joulescope.scan() (joulescope {_version('joulescope')}, USB backend "
            f"pyjoulescope_driver) returned {names or 'no device'}. Connect the Joulescope's USB port and check "
            "USB permissions (Linux: the Joulescope udev rules)"
        )
    raise TinyMyoError(f"several Joulescopes found ({', '.join(names)}): pass --serial")


def capture_joulescope(opts: CaptureOptions) -> Trace:
    joulescope = _joulescope()
    if opts.port:
        raise TinyMyoError("--port is for the PPK2; select a Joulescope with --serial")
    device = find_joulescope(joulescope, opts.serial)
    device.parameter_set("buffer_duration", int(np.ceil(opts.duration_s)) + 2)  # applied at open
    device.open()
    try:
        if opts.sample_rate_hz:
            device.parameter_set("sampling_frequency", int(opts.sample_rate_hz))
        device.parameter_set("i_range", "auto")
        if device.model.lower() == "js110":  # the JS110 carries GPI0/1 in the current/voltage LSBs
            device.parameter_set("current_lsb", "gpi0")
            device.parameter_set("voltage_lsb", "gpi1")
            if opts.io_voltage:
                device.parameter_set("io_voltage", opts.io_voltage)
        data = device.read(contiguous_duration=opts.duration_s, out_format="samples_get",
                           fields=["current", "voltage", "current_lsb", "voltage_lsb"])
    finally:
        device.close()
    return joulescope_samples_to_trace(data, device)


def joulescope_samples_to_trace(data: dict, device) -> Trace:
    """Trace from the StreamBuffer.samples_get() dict of the joulescope v1 API.

    GPI0/GPI1 arrive as the fields 'current_lsb'/'voltage_lsb' and become bits 0/1 of the gpio bit field."""
    signals = data["signals"]
    rate = float(data["time"]["sampling_frequency"]["value"])
    current = np.asarray(signals["current"]["value"], dtype=np.float64)
    voltage = np.asarray(signals["voltage"]["value"], dtype=np.float64) if "voltage" in signals else None
    gpio = np.zeros(current.shape[0], dtype=np.uint8)
    for bit, name in enumerate(("current_lsb", "voltage_lsb")):
        if name in signals:
            gpio |= (np.asarray(signals[name]["value"]).astype(np.uint8) & 1) << bit
    meta = {
        "instrument": "joulescope",
        "driver": f"joulescope {_version('joulescope')}",
        "model": getattr(device, "model", None),
        "serial": str(getattr(device, "serial_number", "")) or None,
        "warnings": [],
    }
    n = current.shape[0]
    return Trace(np.arange(n) / rate, current, voltage, gpio, meta, "", rate)


# -------------------------------------------------------------------------------------------------------- common
def capture(opts: CaptureOptions) -> Trace:
    """Record one trace; metadata says what, where and how."""
    _check(opts)
    trace = capture_ppk2(opts) if opts.instrument == "ppk2" else capture_joulescope(opts)
    trace.metadata.update({
        "supply_voltage_v": opts.voltage_v,
        "gpio_channel": opts.gpio_channel,
        "operating_point": opts.operating_point,
        "duration_requested_s": opts.duration_s,
        "sample_rate_hz": trace.uniform_rate_hz,
        "captured_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    })
    trace.source = f"{opts.instrument} capture"
    # units are not judged here: a capture of an unpowered board is still saved, and analyze says what is wrong
    return validate(trace, check_units=False)


def capture_to_file(opts: CaptureOptions, out: str | Path, *, force: bool = False) -> Path:
    """Capture and save as our npz; the output is checked before the instrument is touched."""
    out = Path(out)
    if out.suffix != ".npz":
        raise TinyMyoError(f"{out}: a trace file must end in .npz")
    check_writable(out, force)
    _check(opts)
    trace = capture(opts)
    return save_npz(trace, out, force=force)
