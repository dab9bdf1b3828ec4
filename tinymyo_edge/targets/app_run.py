"""Build and run a generated app through its own Makefile (`make run platform=...`), as a user would, and read
back what it wrote: the output file, the printed per-layer counters and the "Errors: N out of M" check."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import TinyMyoError
from ..profile.logs import CounterLog, parse_counter_log

PLATFORMS = ("host", "rv32", "pulp-open", "gvsoc", "board")


@dataclass
class AppRun:
    platform: str
    returncode: int  # the app's exit status: 0 when the output equals the expected output exactly
    log: str  # everything make and the app printed
    output: np.ndarray | None  # float32, the network's output shape; None if the app wrote nothing
    counters: CounterLog | None  # None if the app printed no counter lines


def _manifest_output_shape(outdir: Path) -> tuple[int, ...] | None:
    """The network's output shape from the build's manifest (build.json), if there is one."""
    path = outdir / "build.json"
    if not path.is_file():
        return None
    return tuple(json.loads(path.read_text())["output"]["shape"])


def run_app(outdir, platform: str = "host", *, x: np.ndarray | None = None, expected: np.ndarray | None = None,
            output_shape: tuple[int, ...] | None = None,
            timeout: float = 900, make_vars: dict | None = None) -> AppRun:
    """`make -C OUTDIR run platform=PLATFORM`. x: an input window (default: the app's input.bin, checked against
    its expected.bin); expected: the output to check x's result against (default: no check when x is given)."""
    outdir = Path(outdir)
    if platform not in PLATFORMS:
        raise TinyMyoError(f"unknown platform {platform!r}; known: {', '.join(PLATFORMS)}")
    if not (outdir / "Makefile").is_file():
        raise TinyMyoError(f"{outdir}: no Makefile: build the app first (tinymyo-edge build --target gap9)")
    if shutil.which("make") is None:
        raise TinyMyoError("running an app needs GNU make on PATH")
    with tempfile.TemporaryDirectory(prefix="tm_app_") as tmp:
        tmp = Path(tmp)
        variables = {"platform": platform, "OUTPUT": str(tmp / "output.bin"), "TIMEOUT": str(int(timeout))}
        if x is not None:
            np.ascontiguousarray(x, dtype="<f4").tofile(tmp / "input.bin")
            variables["INPUT"] = str(tmp / "input.bin")
            variables["EXPECTED"] = ""
        if expected is not None:
            np.ascontiguousarray(expected, dtype="<f4").tofile(tmp / "expected.bin")
            variables["EXPECTED"] = str(tmp / "expected.bin")
        variables.update(make_vars or {})
        cmd = ["make", "-s", "-C", str(outdir), "run"] + [f"{k}={v}" for k, v in variables.items()]
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  timeout=timeout + 120)
        except subprocess.TimeoutExpired as exc:
            raise TinyMyoError(f"{outdir}: make run platform={platform} did not finish in {timeout + 120:.0f} s") \
                from exc
        output = None
        if (tmp / "output.bin").is_file():
            output = np.fromfile(tmp / "output.bin", dtype="<f4")
            shape = output_shape or _manifest_output_shape(outdir)
            if shape is not None and output.size == int(np.prod(shape)):
                output = output.reshape(shape)
    try:
        counters = parse_counter_log(proc.stdout, f"{platform} run of {outdir}")
    except TinyMyoError:
        counters = None
    return AppRun(platform, proc.returncode, proc.stdout, output, counters)
