"""platform=pulp-open: the app's PMSIS code path (the one GAP9 runs: cluster task, pi_cl_team_fork over 8 cores,
cluster DMA L2 <-> L1, L3 weight reads from external RAM, pi_perf counters) on the open-source GVSoC's pulp-open
target, built with Debian's riscv64-unknown-elf-gcc against the open PULP SDK's PMSIS (pulp-platform/pulp-sdk:
pulpos + pmsis_bsp) compiled locally. It prints PULP cluster cycles (cluster core 0's performance counter), a
measurement of the pulp-open model, NOT of GAP9 (64 kB TCDM instead of 128 kB, no TCDM bank conflicts modelled).

Neither GVSoC nor the open PULP SDK is a Python or Debian package: build them as docs/PULP_OPEN.md describes, put
`gvsoc` on PATH (or pass gvsoc=...) and name the PMSIS make fragment with PULP_PMSIS_MK (environment, or
pmsis_mk=...). The compile and simulator command lines live in gap9_app/platform/Makefile.front (one place)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from ..errors import TinyMyoError
from .app_run import AppRun, run_app

COMPILER = "riscv64-unknown-elf-gcc"
SIMULATOR = "gvsoc"
PMSIS_VARIABLE = "PULP_PMSIS_MK"
GVSOC_HINT = ("the open-source GVSoC simulator: build it from https://github.com/gvsoc/gvsoc (target pulp-open) and "
              "put its `gvsoc` on PATH (docs/PULP_OPEN.md)")
PMSIS_HINT = (f"the open PULP SDK's PMSIS built for pulp-open (https://github.com/pulp-platform/pulp-sdk, "
              f"docs/PULP_OPEN.md), its make fragment named by {PMSIS_VARIABLE}")
COMPILER_HINT = "apt-get install gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf (.ci/install does it)"


def pmsis_fragment(pmsis_mk: str | os.PathLike | None = None) -> Path | None:
    """The PMSIS make fragment: pmsis_mk, else $PULP_PMSIS_MK; None when neither names an existing file."""
    value = pmsis_mk or os.environ.get(PMSIS_VARIABLE)
    return Path(value) if value and Path(value).is_file() else None


def missing_tools(gvsoc: str | None = None, pmsis_mk: str | os.PathLike | None = None) -> list[str]:
    """What platform=pulp-open lacks: the compiler, gvsoc (or the explicit simulator path), the PMSIS fragment."""
    missing = [] if shutil.which(COMPILER) else [COMPILER]
    if shutil.which(gvsoc or SIMULATOR) is None:
        missing.append(gvsoc or SIMULATOR)
    if pmsis_fragment(pmsis_mk) is None:
        missing.append(PMSIS_VARIABLE)
    return missing


def run_pulp_open(outdir, *, x: np.ndarray | None = None, expected: np.ndarray | None = None,
                  output_shape: tuple[int, ...] | None = None, timeout: float = 1800, gvsoc: str | None = None,
                  pmsis_mk: str | os.PathLike | None = None, soft_float: bool = False) -> AppRun:
    """Build OUTDIR's app for pulp-open and run it on GVSoC (`make run platform=pulp-open`). The contract's float32
    steps run on the core's float unit in integer registers (Zfinx, PULP_FLOAT=zfinx); soft_float=True uses libgcc's
    soft float instead (PULP_FLOAT=soft). Raises TinyMyoError naming what is missing (compiler, gvsoc, PMSIS)."""
    missing = missing_tools(gvsoc, pmsis_mk)
    if COMPILER in missing:
        raise TinyMyoError(f"platform=pulp-open needs {COMPILER}: {COMPILER_HINT}")
    if PMSIS_VARIABLE in missing:
        raise TinyMyoError(f"platform=pulp-open needs {PMSIS_HINT}")
    if missing:
        raise TinyMyoError(f"platform=pulp-open needs {missing[0]} on PATH: {GVSOC_HINT}")
    make_vars = {PMSIS_VARIABLE: str(pmsis_fragment(pmsis_mk))}
    if gvsoc:
        make_vars["GVSOC"] = gvsoc
    if soft_float:
        make_vars["PULP_FLOAT"] = "soft"
    return run_app(outdir, "pulp-open", x=x, expected=expected, output_shape=output_shape, timeout=timeout,
                   make_vars=make_vars)
