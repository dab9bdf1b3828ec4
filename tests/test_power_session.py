"""The board measurement session: SDK checks, make steps (a stand-in make on PATH), concurrent capture, analysis."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest
from power_synth import Synth

from tinymyo_edge.cli import main
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.power.capture import CaptureOptions
from tinymyo_edge.power.session import SessionOptions, run_session

FAKE_MAKE = """#!/bin/sh
echo "make $*" >> "$MAKE_CALLS"
case " $* " in *" run "*) sleep 0.2; echo "inference done";; esac
case " $* " in *" FAIL=1 "*) echo "error: no board on the JTAG cable"; exit 3;; esac
exit 0
"""


@pytest.fixture
def board_env(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    make = bindir / "make"
    make.write_text(FAKE_MAKE)
    make.chmod(make.stat().st_mode | stat.S_IEXEC)
    sdk = tmp_path / "gap_sdk"
    sdk.mkdir()
    app = tmp_path / "app"
    app.mkdir()
    (app / "Makefile").write_text("# generated app\n")
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", GAP_SDK_HOME=str(sdk),
               MAKE_CALLS=str(tmp_path / "calls.txt"))
    return env, app, tmp_path


def _fake_capture(synth, seconds=0.0):
    def capture_fn(opts: CaptureOptions):
        time.sleep(seconds)  # a real capture lasts its duration, the app runs meanwhile
        trace = synth.trace()
        trace.metadata.update({"supply_voltage_v": opts.voltage_v, "gpio_channel": opts.gpio_channel})
        return trace

    return capture_fn


def test_session_builds_runs_captures_and_analyses(board_env):
    env, app, tmp = board_env
    synth = Synth([0.2, 0.5, 0.8], [0.1, 0.1, 0.1], duration=1.0)
    cap = CaptureOptions("ppk2", 1.0, 1.8, operating_point="370MHz/0.8V")
    opts = SessionOptions(tmp / "session", cap, app_dir=app, settle_s=0.05, make_args=("POWER_GPIO=42",), runs=2)
    record = run_session(opts, env=env, capture_fn=_fake_capture(synth, seconds=2.0))
    assert record["warnings"] == []
    calls = (tmp / "calls.txt").read_text().splitlines()
    run = f"make -C {app} run platform=board POWER_GPIO=42"
    assert calls == [f"make -C {app} clean all platform=board POWER_GPIO=42", run, run]
    assert record["result"]["n_windows"] == 3
    report = json.loads((tmp / "session" / "report" / "report.json").read_text())
    assert report["operating_point"]["label"] == "370MHz/0.8V"
    assert (tmp / "session" / "trace.npz").is_file() and (tmp / "session" / "report" / "trace.png").is_file()
    assert "inference done" in (tmp / "session" / "run-2.log").read_text()
    assert json.loads((tmp / "session" / "session.json").read_text())["result"]["n_windows"] == 3


def test_session_warns_when_the_capture_ends_before_the_app(board_env):
    env, app, tmp = board_env
    opts = SessionOptions(tmp / "s", CaptureOptions("ppk2", 1.0, 1.8), app_dir=app, settle_s=0.0)
    record = run_session(opts, env=env, capture_fn=_fake_capture(Synth([0.2], [0.1], duration=0.5)))
    assert "raise --duration" in record["warnings"][0]
    assert "raise --duration" in "".join(json.loads((tmp / "s" / "report" / "report.json").read_text())["warnings"])


def test_session_without_sdk_names_gap_sdk_home(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GAP_SDK_HOME", raising=False)
    with pytest.raises(SystemExit) as exc:
        main(["power", "session", "--app-dir", str(tmp_path), "--instrument", "ppk2", "--duration", "3",
              "--voltage", "1.8", "-o", str(tmp_path / "s")])
    assert exc.value.code == 2 and "GAP_SDK_HOME" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
    with pytest.raises(TinyMyoError, match="GAP_SDK_HOME=/nowhere"):
        run_session(SessionOptions(tmp_path / "s", CaptureOptions("ppk2", 1, 1.8), app_dir=tmp_path),
                    env={"GAP_SDK_HOME": "/nowhere", "PATH": os.environ["PATH"]})


def test_session_make_failure_keeps_logs_and_record(board_env):
    env, app, tmp = board_env
    opts = SessionOptions(tmp / "s", CaptureOptions("ppk2", 1.0, 1.8), app_dir=app, make_args=("FAIL=1",))
    with pytest.raises(TinyMyoError, match="no board on the JTAG cable"):
        run_session(opts, env=env, capture_fn=_fake_capture(Synth([0.2], [0.1], duration=0.5)))
    record = json.loads((tmp / "s" / "session.json").read_text())
    assert "failed with status 3" in record["error"] and (tmp / "s" / "build.log").is_file()


def test_session_stops_before_flashing_when_the_instrument_is_missing(board_env):
    env, app, tmp = board_env

    def no_instrument(opts):
        raise TinyMyoError("no PPK2 found")

    opts = SessionOptions(tmp / "s", CaptureOptions("ppk2", 1.0, 1.8), app_dir=app, settle_s=0.1)
    with pytest.raises(TinyMyoError, match="no PPK2 found"):
        run_session(opts, env=env, capture_fn=no_instrument)
    assert "run" not in (tmp / "calls.txt").read_text().split()


def test_session_rejects_a_folder_that_is_no_app(board_env):
    env, _, tmp = board_env
    opts = SessionOptions(tmp / "s", CaptureOptions("ppk2", 1.0, 1.8), app_dir=tmp / "bin")
    with pytest.raises(TinyMyoError, match="not a generated GAP9 app"):
        run_session(opts, env=env)
