"""platform=pulp-open: the app as bare-metal code for a PULP cluster on the open-source GVSoC (target pulp-open):
the GAP9 code path for real (Xpulpv2 SIMD dot products, 8 cluster cores, cluster DMA L2 -> L1, weights read from
HyperFlash by the uDMA), built with Debian's riscv64-unknown-elf-gcc. It prints PULP cluster cycles (cluster core 0),
a measurement of the pulp-open model, NOT of GAP9 (64 kB TCDM instead of 128 kB, no TCDM bank conflicts modelled).

GVSoC is not a Python or Debian package: build it from https://github.com/gvsoc/gvsoc and put `gvsoc` on PATH (or
pass gvsoc=...). The compile and simulator command lines live in gap9_app/platform/Makefile.front (one place)."""

from __future__ import annotations

import shutil

import numpy as np

from ..errors import TinyMyoError
from .app_run import AppRun, run_app

COMPILER = "riscv64-unknown-elf-gcc"
SIMULATOR = "gvsoc"
GVSOC_HINT = ("the open-source GVSoC simulator: build it from https://github.com/gvsoc/gvsoc (target pulp-open) and "
              "put its `gvsoc` on PATH")
COMPILER_HINT = "apt-get install gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf (.ci/install does it)"


def missing_tools(gvsoc: str | None = None) -> list[str]:
    """The tools of platform=pulp-open that are not on PATH (gvsoc: an explicit simulator path)."""
    missing = [] if shutil.which(COMPILER) else [COMPILER]
    if shutil.which(gvsoc or SIMULATOR) is None:
        missing.append(gvsoc or SIMULATOR)
    return missing


def run_pulp_open(outdir, *, x: np.ndarray | None = None, expected: np.ndarray | None = None,
                  output_shape: tuple[int, ...] | None = None, timeout: float = 1800, gvsoc: str | None = None,
                  soft_float: bool = False) -> AppRun:
    """Build OUTDIR's app for pulp-open and run it on GVSoC (`make run platform=pulp-open`). The contract's float32
    steps run on the core's float unit in integer registers (Zfinx, PULP_FLOAT=zfinx); soft_float=True uses libgcc's
    soft float instead (PULP_FLOAT=soft). Raises TinyMyoError naming the missing tool when the compiler or gvsoc is
    not on PATH."""
    missing = missing_tools(gvsoc)
    if COMPILER in missing:
        raise TinyMyoError(f"platform=pulp-open needs {COMPILER}: {COMPILER_HINT}")
    if missing:
        raise TinyMyoError(f"platform=pulp-open needs {missing[0]} on PATH: {GVSOC_HINT}")
    make_vars = {"GVSOC": gvsoc} if gvsoc else {}
    if soft_float:
        make_vars["PULP_FLOAT"] = "soft"
    return run_app(outdir, "pulp-open", x=x, expected=expected, output_shape=output_shape, timeout=timeout,
                   make_vars=make_vars)
