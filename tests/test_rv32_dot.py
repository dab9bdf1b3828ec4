"""The rv32 packed 4 x 4 dot-product blocks (gap9_app/inc/tm_rv32.h, assembly in gap9_app/src/tm_rv32.c) under QEMU,
integer (rv32imc) and float32-fmadd (rv32imfc) builds, against sums computed in C by plain int32 loops in the same
program: extreme operands (a = 255 with b = -127 and b = 127: odd products of the largest magnitude, so a float32 sum
past 2^24 would round) at lengths around the 512-step chunks of the fmadd block, and random operands at odd lengths.
The program's exit status is the number of wrong sums."""

from __future__ import annotations

import subprocess

import pytest

from tinymyo_edge import numerics
from tinymyo_edge.resources import resource_dir
from tinymyo_edge.targets.rv32 import missing_tools

HARNESS = r"""
#include <stdint.h>
#include "tm_rv32.h"
static uint32_t st = 2463534242u;
static uint32_t rnd(void) { st ^= st << 13; st ^= st >> 17; st ^= st << 5; return st; }
static uint8_t a[4 * 1100];
static int8_t b[4 * 1100];
static tm_packed_t ap[4 * 1100];
static int wrong(int n, int stride)
{
    int32_t got[16];
    tm_pack_rows4(a, stride, n, ap);
    tm_dot_u8s8_4x4_packed(ap, b, stride, n, got);
    int bad = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            int32_t want = 0;
            for (int t = 0; t < n; t++)
                want += (int32_t)a[i * stride + t] * b[j * stride + t];
            bad += got[4 * i + j] != want;
        }
    return bad;
}
int main(void)
{
    static const int lengths[] = {4, 7, 8, 12, 511, 512, 513, 514, 516, 768, 1024, 1027, 1100};
    int bad = 0;
    for (unsigned l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
        int n = lengths[l];
        for (int t = 0; t < 4 * n; t++)
            a[t] = 255, b[t] = (int8_t)((t / n) % 2 ? 127 : -127);
        bad += wrong(n, n);
        for (int t = 0; t < 4 * n; t++)
            b[t] = -128;
        bad += wrong(n, n);
        for (int rep = 0; rep < 3; rep++) {
            for (int t = 0; t < 4 * n; t++)
                a[t] = (uint8_t)rnd(), b[t] = (int8_t)rnd();
            bad += wrong(n, n);
        }
    }
    return bad;
}
"""

MISSING = missing_tools()


@pytest.mark.needs_rv32
@pytest.mark.skipif(bool(MISSING), reason=f"{' and '.join(MISSING)} not on PATH (.ci/install installs "
                                          "riscv64-unknown-elf-gcc and qemu-system-riscv32)")
@pytest.mark.parametrize("arch,abi", [("rv32imc_zicsr", "ilp32"), ("rv32imfc_zicsr", "ilp32f")])
def test_packed_block_sums_are_exact(tmp_path, arch, abi):
    app = resource_dir("gap9_app")
    rv32 = app / "platform" / "rv32"
    source = tmp_path / "harness.c"
    source.write_text(HARNESS)
    (tmp_path / "tm_numerics.h").write_text(f"#define TM_ACT_ZERO_POINT {numerics.ACT_ZERO_POINT}\n")  # generated
    elf = tmp_path / "harness.elf"
    libgcc = subprocess.run(["riscv64-unknown-elf-gcc", f"-march={arch.replace('_zicsr', '')}", f"-mabi={abi}",
                             "-print-libgcc-file-name"], capture_output=True, text=True, check=True).stdout.strip()
    compile_cmd = ["riscv64-unknown-elf-gcc", f"-march={arch}", f"-mabi={abi}", "-mcmodel=medany", "-O2", "-std=c11",
                   "-ffreestanding", "-nostdlib", "-nostartfiles", "-Wall", "-Wextra", "-Werror",
                   "-DTM_PLATFORM_RV32", f"-I{tmp_path}", f"-I{app / 'inc'}", f"-I{rv32}", f"-I{rv32 / 'include'}",
                   str(source), str(app / "src" / "tm_rv32.c"), str(rv32 / "semihost.c"), str(rv32 / "libc_min.c"),
                   str(rv32 / "crt0.S"), "-T", str(rv32 / "link.ld"), "-Wl,--no-warn-rwx-segments", libgcc,
                   "-o", str(elf)]
    built = subprocess.run(compile_cmd, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    cpu = "rv32,a=false,d=false" + ("" if "f" in arch.replace("rv32", "").replace("_zicsr", "") else ",f=false")
    run = subprocess.run(["qemu-system-riscv32", "-M", "virt", "-bios", "none", "-display", "none", "-monitor",
                          "none", "-serial", "none", "-cpu", cpu, "-chardev", "stdio,id=sh0", "-semihosting-config",
                          "enable=on,target=native,chardev=sh0", "-kernel", str(elf)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"{run.returncode} wrong sums\n{run.stdout}{run.stderr}"
