"""platform=rv32: the app as bare-metal rv32 under QEMU (Debian's riscv64-unknown-elf-gcc, no libc: the app's
platform/rv32 start-up, linker script, semihosting and minimal libc), counting retired instructions with
`-icount shift=0,sleep=off` (exact minstret). A deterministic, single-core, no-SIMD proxy of cost: not GAP9 cycles.
The compile and QEMU command lines live in gap9_app/platform/Makefile.front (one place)."""

from __future__ import annotations

import shutil

import numpy as np

from ..errors import TinyMyoError
from .app_run import AppRun, run_app

TOOLS = ("riscv64-unknown-elf-gcc", "qemu-system-riscv32")
INSTALL_HINT = ("apt-get install gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf qemu-system-misc "
                "(.ci/install does it)")


def missing_tools() -> list[str]:
    """The rv32 tools not on PATH."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def run_rv32(outdir, *, x: np.ndarray | None = None, expected: np.ndarray | None = None,
             output_shape: tuple[int, ...] | None = None, timeout: float = 900, fpu: bool = False) -> AppRun:
    """Build OUTDIR's app for rv32 and run it under QEMU. fpu=True: rv32imfc/ilp32f instead of integer-only
    rv32imc with libgcc soft float."""
    missing = missing_tools()
    if missing:
        raise TinyMyoError(f"platform=rv32 needs {', '.join(missing)}: {INSTALL_HINT}")
    make_vars = {"RV32_ARCH": "rv32imfc_zicsr", "RV32_ABI": "ilp32f"} if fpu else None
    return run_app(outdir, "rv32", x=x, expected=expected, output_shape=output_shape, timeout=timeout,
                   make_vars=make_vars)
