"""`tinymyo-edge power capture|analyze`: argument parsing only; the work is in tinymyo_edge.power."""

from __future__ import annotations

import click


@click.group("power")
def power() -> None:
    """Measure energy per inference on the board (PPK2 or Joulescope) and analyse traces."""


@power.command("capture")
@click.option("--instrument", type=click.Choice(["ppk2", "joulescope"]), required=True)
@click.option("--port", default=None, help="PPK2 serial port (default: the one PPK2 found).")
@click.option("--serial", "serial_number", default=None, help="Instrument serial number (when several are attached).")
@click.option("--duration", type=float, required=True, help="Capture length in seconds.")
@click.option("--voltage", type=float, required=True,
              help="Supply voltage in V (PPK2 source mode: set on the PPK2; otherwise the rail voltage).")
@click.option("--gpio-channel", type=int, default=0, show_default=True,
              help="Digital input wired to the app's inference GPIO (PPK2 D0..D7, Joulescope GPI0..1).")
@click.option("--sample-rate", type=float, default=None, help="Hz (Joulescope; the PPK2 is fixed at 100000).")
@click.option("--ppk2-mode", type=click.Choice(["ampere", "source"]), default="ampere", show_default=True,
              help="ampere: PPK2 in series with the board's supply; source: the PPK2 powers the board.")
@click.option("--operating-point", default=None, help="Label stored in the trace, e.g. '370MHz/0.8V'.")
@click.option("--io-voltage", type=click.Choice(["1.8V", "2.1V", "2.5V", "2.7V", "3.0V", "3.3V", "3.6V", "5.0V"]),
              default=None, help="Joulescope JS110: GPI logic level = the board's IO voltage.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Trace file (.npz).")
@click.option("--force", is_flag=True, help="Overwrite the output.")
def capture_cmd(instrument, port, serial_number, duration, voltage, gpio_channel, sample_rate, ppk2_mode,
                operating_point, io_voltage, output, force) -> None:
    """Record current (and voltage) with the GPIO that marks each inference."""
    from ..power.capture import CaptureOptions, capture_to_file

    opts = CaptureOptions(instrument, duration, voltage, port, serial_number, gpio_channel, sample_rate,
                          ppk2_mode, operating_point, io_voltage)
    path = capture_to_file(opts, output, force=force)
    click.echo(f"wrote {path}")


@power.command("analyze")
@click.argument("trace", type=click.Path(dir_okay=False))
@click.option("--gpio-channel", type=int, default=None,
              help="Digital input marking inferences (default: the trace's, else 0).")
@click.option("--voltage", type=float, default=None, help="Supply voltage in V (required when the trace has none).")
@click.option("--threshold-a", type=float, default=None,
              help="Segment by current above this (A) when there is no GPIO.")
@click.option("--hysteresis-a", type=float, default=None, help="Threshold hysteresis in A (default 10 %% of it).")
@click.option("--min-pulse-s", type=float, default=None,
              help="Debounce: ignore GPIO/threshold pulses shorter than this (default 5 sample periods).")
@click.option("--operating-point", default=None, help="e.g. '370MHz/0.8V' (default: the trace's).")
@click.option("--current-unit", type=click.Choice(["nA", "uA", "mA", "A"]), default=None,
              help="CSV only: override the unit in the Current(...) header.")
@click.option("--sample-rate", type=float, default=None, help="CSV without a Timestamp column: sample rate in Hz.")
@click.option("-o", "--output", required=True, type=click.Path(), help="Report folder, or report.json (+ .png).")
@click.option("--force", is_flag=True, help="Overwrite the output.")
def analyze_cmd(trace, gpio_channel, voltage, threshold_a, hysteresis_a, min_pulse_s, operating_point,
                current_unit, sample_rate, output, force) -> None:
    """Latency, power and energy per inference of TRACE (.npz, PPK2 app .csv, Joulescope .jls)."""
    from ..power import Options, analyze_file, table

    opts = Options(gpio_channel, voltage, threshold_a, hysteresis_a, min_pulse_s, operating_point)
    report = analyze_file(trace, output, opts, force=force, current_unit=current_unit, sample_rate_hz=sample_rate)
    click.echo(table(report))
    click.echo(f"wrote {output}")


@power.command("session")
@click.option("--app-dir", type=click.Path(file_okay=False), default=None, help="Generated GAP9 app folder.")
@click.option("--model", type=click.Path(dir_okay=False), default=None, help="Or an int8 ONNX to build the app from.")
@click.option("--instrument", type=click.Choice(["ppk2", "joulescope"]), required=True)
@click.option("--port", default=None)
@click.option("--serial", "serial_number", default=None)
@click.option("--duration", type=float, required=True, help="Capture length in s: settle + flash + all inferences.")
@click.option("--voltage", type=float, required=True, help="Supply voltage in V.")
@click.option("--gpio-channel", type=int, default=0, show_default=True)
@click.option("--sample-rate", type=float, default=None)
@click.option("--ppk2-mode", type=click.Choice(["ampere", "source"]), default="ampere", show_default=True)
@click.option("--operating-point", default=None, help="e.g. '370MHz/0.8V' (what the app sets).")
@click.option("--io-voltage", default=None, help="Joulescope JS110: GPI logic level, e.g. 1.8V.")
@click.option("--settle", type=float, default=1.0, show_default=True, help="Seconds recorded before make run.")
@click.option("--timeout", type=float, default=600.0, show_default=True, help="Limit for each make step (s).")
@click.option("--runs", type=int, default=1, show_default=True,
              help="Times `make run` is repeated inside the capture (the app infers once per run).")
@click.option("--make-arg", "make_args", multiple=True,
              help="Extra make argument, e.g. --make-arg POWER_GPIO=<pin> --make-arg OPERATING_POINT=<name>.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Session folder.")
@click.option("--force", is_flag=True, help="Replace an existing session folder.")
def session_cmd(app_dir, model, instrument, port, serial_number, duration, voltage, gpio_channel, sample_rate,
                ppk2_mode, operating_point, io_voltage, settle, timeout, runs, make_args, output, force) -> None:
    """Build, flash and run the app on the board (GAP9 SDK) while capturing, then analyse."""
    from pathlib import Path

    from ..power.capture import CaptureOptions
    from ..power.session import SessionOptions, run_session

    cap = CaptureOptions(instrument, duration, voltage, port, serial_number, gpio_channel, sample_rate, ppk2_mode,
                         operating_point, io_voltage)
    opts = SessionOptions(Path(output), cap, Path(app_dir) if app_dir else None, Path(model) if model else None,
                          settle, timeout, tuple(make_args), force, runs)
    record = run_session(opts)
    click.echo(record["summary"])
    click.echo(f"session folder: {output}")


COMMANDS = [power]
