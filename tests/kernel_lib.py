"""The C kernel library compiled as a shared object for unit tests (ctypes), with the generated numerics header and
exported wrappers around the inline rounding helpers."""

from __future__ import annotations

import ctypes as C
import shutil
import subprocess
from pathlib import Path

import numpy as np

from tinymyo_edge.codegen.numerics_header import render_numerics_header
from tinymyo_edge.resources import resource_dir
from tinymyo_edge.targets.host import BASE

WRAPPERS = r"""
#include <stdint.h>
#include "tm_round.h"
void t_rne(const float *x, float *y, int n) { for (int i = 0; i < n; i++) y[i] = tm_rne(x[i]); }
void t_sat(const float *x, uint8_t *y, int n) { for (int i = 0; i < n; i++) y[i] = tm_sat_u8(x[i]); }
void t_requant(const int32_t *acc, const float *m, uint8_t *y, int n)
{ for (int i = 0; i < n; i++) y[i] = tm_requant(acc[i], m[i]); }
void t_requant_fixed(const int32_t *acc, const int32_t *m, const int32_t *s, int zp, uint8_t *y, int n)
{ for (int i = 0; i < n; i++) y[i] = tm_requant_fixed(acc[i], m[i], s[i], zp); }
void t_divide(const uint32_t *num, const uint32_t *den, uint32_t *q, int n)
{ for (int i = 0; i < n; i++) q[i] = tm_divide(num[i], tm_divisor(den[i])); }
"""

P = C.c_void_p


class _Args(C.Structure):
    """Kernel argument structs: passed by pointer (byref), as the kernels take them."""

    @property
    def ref(self):
        return C.byref(self)


class QuantizeArgs(_Args):
    _fields_ = [("x", P), ("y", P), ("scale", C.c_float), ("start", C.c_int), ("end", C.c_int)]


class LinearArgs(_Args):
    _fields_ = [("x", P), ("w", P), ("bias", P), ("rq", P), ("table", P), ("y", P), ("zero_point", C.c_int),
                ("k", C.c_int), ("m", C.c_int), ("r0", C.c_int), ("r1", C.c_int), ("m0", C.c_int), ("m1", C.c_int)]


class LayerNormArgs(_Args):
    _fields_ = [("x", P), ("gain", P), ("bias_half", P), ("shift", P), ("y", P), ("d", C.c_int),
                ("recip_bits", C.c_int), ("frac_bits", C.c_int), ("zero_point", C.c_int), ("r0", C.c_int),
                ("r1", C.c_int)]


class ResidualArgs(_Args):
    _fields_ = [("a", P), ("b", P), ("y", P), ("mult_a", C.c_int32), ("mult_b", C.c_int32), ("offset", C.c_int32),
                ("shift", C.c_int), ("zero_y", C.c_int), ("start", C.c_int), ("end", C.c_int)]


def ptr(a: np.ndarray) -> C.c_void_p:
    assert a.flags.c_contiguous
    return C.c_void_p(a.ctypes.data)


def build_library(work: Path, cores: int = 1, extra: tuple[str, ...] = ()) -> C.CDLL:
    gcc = shutil.which("gcc")
    if gcc is None:
        import pytest

        pytest.skip("gcc not found: the kernel unit tests compile the C library")
    work.mkdir(parents=True, exist_ok=True)
    (work / "tm_numerics.h").write_text(render_numerics_header())
    (work / "wrappers.c").write_text(WRAPPERS)
    lib = resource_dir("gap9_app")
    srcs = [str(p) for p in sorted((lib / "src").glob("*.c"))] + [str(work / "wrappers.c")]
    out = work / f"libtm{cores}.so"
    cmd = [gcc, *BASE, "-O2", "-fPIC", "-shared", f"-DTM_NUM_CORES={cores}", *extra, f"-I{lib / 'inc'}",
           f"-I{work}", *srcs, "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return C.CDLL(str(out))
