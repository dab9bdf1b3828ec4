"""platform=rv32: the same app as bare-metal rv32 under QEMU (-icount: retired instructions), integer-only with
soft float and with the FPU; outputs identical to the host build and the golden executor, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from app_helpers import build_small_app, golden, same_bits
from tinymyo_edge.targets.app_run import run_app
from tinymyo_edge.targets.rv32 import missing_tools, run_rv32

MISSING = missing_tools()
pytestmark = [
    pytest.mark.needs_rv32,
    pytest.mark.skipif(bool(MISSING), reason=f"{' and '.join(MISSING)} not on PATH (.ci/install installs "
                                             "riscv64-unknown-elf-gcc and qemu-system-riscv32)"),
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return build_small_app(tmp_path_factory.mktemp("rv32") / "app")


def input_of(program, outdir):
    return np.fromfile(outdir / "input.bin", dtype="<f4").reshape(program.tensors[program.input].shape)


def test_rv32_equals_host_and_golden(app):
    program, outdir = app
    rv32 = run_rv32(outdir, timeout=300)
    assert rv32.returncode == 0, rv32.log
    host = run_app(outdir, "host")
    want = golden(program, input_of(program, outdir))
    assert same_bits(rv32.output, want)
    assert same_bits(rv32.output, host.output)
    assert rv32.counters.errors == (0, want.size)
    # printed over semihosting == written over semihosting
    printed = rv32.counters.output_bits
    assert [printed[i] for i in sorted(printed)] == list(np.ascontiguousarray(rv32.output, "<f4").view("<u4").ravel())


def test_rv32_counts_retired_instructions_per_layer(app):
    _, outdir = app
    first, second = run_rv32(outdir, timeout=300), run_rv32(outdir, timeout=300)
    host = run_app(outdir, "host")
    assert first.counters.unit == "Instructions"
    assert list(first.counters.layers) == list(host.counters.layers)
    assert all(count > 0 for count, _ in first.counters.layers.values())
    assert first.counters.total[0] == sum(count for count, _ in first.counters.layers.values())
    assert first.counters.inference[0] >= first.counters.total[0]
    assert first.counters.layers == second.counters.layers  # -icount: exactly reproducible


def test_rv32_with_fpu_equals_golden(app):
    program, outdir = app
    run = run_rv32(outdir, fpu=True, timeout=300)
    assert run.returncode == 0, run.log
    assert same_bits(run.output, golden(program, input_of(program, outdir)))


def test_float_instruction_on_integer_only_cpu_traps_with_a_message(app):
    _, outdir = app
    run = run_app(outdir, "rv32", timeout=120, make_vars={"RV32_ARCH": "rv32imfc_zicsr", "RV32_ABI": "ilp32f",
                                                          "QEMU_CPU": "rv32,a=false,d=false,f=false"})
    assert run.returncode != 0
    assert "trap: mcause=0x00000002" in run.log  # illegal instruction, reported instead of a hang


def test_regression_head_on_rv32_equals_host_and_golden(tmp_path):
    """Depthwise conv, SiLU tables and the float interpolation: soft float must be IEEE-exact too."""
    program, outdir = build_small_app(tmp_path / "reg", seed=5, head="regression")
    rv32 = run_rv32(outdir, timeout=300)
    assert rv32.returncode == 0, rv32.log
    want = golden(program, input_of(program, outdir))
    assert same_bits(rv32.output, want)
    assert same_bits(run_app(outdir, "host").output, want)


def test_rv32_edge_blocks_equal_golden(tmp_path):
    """The rv32 kernels' edges (tm_rv32.h): 15 tokens (a 3-row block), head dim 6 (a 2-column block and a 2-step
    tail of the packed 4 x 4 loop), patch 10 (K = 10), with soft float and with the FPU."""
    program, outdir = build_small_app(tmp_path / "edge", seed=3, channels=3, samples=50, dim=18, heads=3)
    want = golden(program, input_of(program, outdir))
    for fpu in (False, True):
        run = run_rv32(outdir, fpu=fpu, timeout=300)
        assert run.returncode == 0, run.log
        assert same_bits(run.output, want)


def test_wide_softmax_on_rv32_equals_host_and_golden(tmp_path):
    """12-bit softmax probabilities (int32 probability rows, scalar p.v) over 43 tokens (4-row blocks and a tail)."""
    program, outdir = build_small_app(tmp_path / "p12", seed=12, prob_bits=12, channels=1, samples=43, patch_size=1,
                                      dim=12, heads=3)
    assert all(op.prob_bits == 12 for op in program.ops if op.kind == "attention")
    rv32 = run_rv32(outdir, timeout=300)
    assert rv32.returncode == 0, rv32.log
    want = golden(program, input_of(program, outdir))
    assert same_bits(rv32.output, want)
    assert same_bits(run_app(outdir, "host").output, want)
