"""The integer-only rv32 float32 emulations (gap9_app/inc/tm_rv32.h) against the float32 formulas of tm_round.h /
tm_residual.c, both compiled for the host by gcc:
- tm_rv32_requant_int == tm_sat_u8(tm_rne(f32(acc) * m)) on every case it covers (random bits for acc and m, products
  at and next to half-integers, double-rounding ties, every acc in [-2^24, 2^24] for a few multipliers);
- the ResidualAdd tables + tm_rv32_fixed_code == tm_sat_u8(tm_rne((f32(a) - 128) sa + (f32(b) - 128) sb)) for all
  65536 input pairs of a few hundred scale pairs (near 1, random bits, short significands)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tinymyo_edge import numerics
from tinymyo_edge.resources import resource_dir

HARNESS = r"""
#include <stdio.h>
#include <string.h>
#include "tm_round.h"
#include "tm_rv32.h"
static uint64_t st = 88172645463325252ull;
static uint64_t rnd(void) { st ^= st << 13; st ^= st >> 7; st ^= st << 17; return st; }
static long covered = 0, bad = 0;
static float fbits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static void check(int32_t acc, float m)
{
    int code = tm_rv32_requant_int(acc, m);
    if (code < 0)
        return;
    covered++;
    if (code != tm_sat_u8(tm_rne((float)acc * m)) && bad++ < 5) {
        uint32_t u;
        memcpy(&u, &m, 4);
        printf("acc=%d m=0x%08x: %d\n", acc, u, code);
    }
}
int main(void)
{
    for (long i = 0; i < 4000000; i++) { /* every magnitude of acc; m any bits, or exponents near 1/255 */
        uint64_t r = rnd();
        uint32_t mu = (uint32_t)rnd();
        if (i & 1)
            mu = (mu & 0x807FFFFFu) | ((uint32_t)(100 + rnd() % 40) << 23);
        check((int32_t)r >> ((r >> 32) % 32), fbits(mu));
    }
    for (long i = 0; i < 500000; i++) { /* products at and next to integers and half-integers */
        int32_t acc = (int32_t)(rnd() % (1u << 24)) - (1 << 23);
        float m = (float)((((double)(int)(rnd() % 600) - 300) / 2.0) / (acc ? acc : 1));
        uint32_t u;
        memcpy(&u, &m, 4);
        for (int d = -3; d <= 3; d++)
            check(acc, fbits(u + d));
    }
    for (long i = 0; i < 20000000; i++) { /* short significands: exact ties of both roundings are frequent */
        uint64_t r = rnd();
        uint32_t mu = ((uint32_t)r & 0x80000000u) | ((uint32_t)(112 + (r >> 8) % 20) << 23) | ((uint32_t)r & 0x7FE000u);
        check((int32_t)(r >> 32) >> (8 + (r >> 1) % 12), fbits(mu));
    }
    /* double rounding: X = acc * significand(m) at, and next to, a tie of the rounding to 24 bits, whose rounded
     * value Y lies at, or next to, a half-integer of the rounding to an integer (Y = (2k+1) 2^(sh-1) + d) */
    for (int k = 0; k < 300; k++)
        for (int sh = 2; sh <= 24; sh++) {
            uint64_t y0 = (uint64_t)(2 * k + 1) << (sh - 1);
            if (y0 < (1u << 23) + 4 || y0 > (1u << 24) - 4)
                continue;
            for (int d = -2; d <= 2; d++)
                for (int s = 1; s <= 16; s++)
                    for (int eps = -1; eps <= 1; eps++) {
                        uint64_t x = ((y0 + d) << s) + (1ull << (s - 1)) + eps;
                        int bits = 64 - __builtin_clzll(x);
                        for (uint64_t f = 1; f < 64; f += 2)
                            for (int j = 0; j < s && (f << j) < (1u << 24); j++) {
                                uint64_t a = f << j, mm = x / a;
                                int exp = 174 - sh - bits;
                                if (x % a || mm < (1u << 23) || mm >= (1u << 24) || exp < 1 || exp > 254)
                                    continue;
                                for (int sign = 0; sign < 4; sign++)
                                    check((sign & 1) ? -(int32_t)a : (int32_t)a,
                                          fbits((sign & 2 ? 0x80000000u : 0u) | (uint32_t)exp << 23 |
                                                ((uint32_t)mm & 0x7FFFFFu)));
                            }
                    }
        }
    const float ms[] = {1.0f / 255, -0.02f, 2.9e-7f};
    for (int k = 0; k < 3; k++)
        for (int32_t acc = -(1 << 24); acc <= (1 << 24); acc++)
            check(acc, ms[k]);
    printf("covered %ld mismatches %ld\n", covered, bad);
    return bad != 0;
}
"""


RESIDUAL_HARNESS = r"""
#include <stdio.h>
#include <string.h>
#include "tm_round.h"
#include "tm_rv32.h"
static uint64_t st = 88172645463325252ull;
static uint64_t rnd(void) { st ^= st << 13; st ^= st >> 7; st ^= st << 17; return st; }
static float fbits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static float short_significand(void) { return fbits(((uint32_t)rnd() & 0x807FE000u) | (uint32_t)(110 + rnd() % 30) << 23); }
int main(void)
{
    static tm_rv32_residual_table_t t;
    long covered = 0, bad = 0;
    for (int k = 0; k < 400; k++) {
        float sa = (float)(0.5 + (double)(rnd() % 1000000) / 1e6), sb = (float)(0.5 + (double)(rnd() % 1000000) / 1e6);
        if (k >= 200 && k < 300)
            sa = fbits((uint32_t)rnd() & 0xBFFFFFFFu), sb = fbits((uint32_t)rnd() & 0xBFFFFFFFu);
        if (k >= 300)
            sa = short_significand(), sb = short_significand();
        sb = k == 5 ? sa : k == 6 ? 0.0f : sb;
        if (!tm_rv32_residual_table(sa, sb, &t))
            continue;
        for (int a = 0; a < 256; a++)
            for (int b = 0; b < 256; b++) {
                uint8_t want = tm_sat_u8(tm_rne(((float)a - 128.0f) * sa + ((float)b - 128.0f) * sb));
                covered++;
                if (tm_rv32_fixed_code(t.a[a] + t.b[b], t.q) != want && bad++ < 5)
                    printf("sa=%a sb=%a a=%d b=%d\n", sa, sb, a, b);
            }
    }
    printf("covered %ld mismatches %ld\n", covered, bad);
    return bad != 0;
}
"""


def run_harness(tmp_path, source: str) -> str:
    (tmp_path / "tm_numerics.h").write_text(f"#define TM_ACT_ZERO_POINT {numerics.ACT_ZERO_POINT}\n")
    (tmp_path / "harness.c").write_text(source)
    exe = tmp_path / "harness"
    inc = resource_dir("gap9_app") / "inc"
    subprocess.run(["gcc", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror", f"-I{tmp_path}", f"-I{inc}",
                    str(tmp_path / "harness.c"), "-o", str(exe)], check=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout
    return run.stdout


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not on PATH")
def test_integer_requant_equals_float_formula(tmp_path):
    out = run_harness(tmp_path, HARNESS)
    assert "mismatches 0" in out and int(out.split()[1]) > 40_000_000


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not on PATH")
def test_integer_residual_equals_float_formula(tmp_path):
    out = run_harness(tmp_path, RESIDUAL_HARNESS)
    assert "mismatches 0" in out and int(out.split()[1]) > 300 * 65536
