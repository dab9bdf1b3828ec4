"""The quantizer's speedups change no result: the builder's batched op runs equal the golden executor window by
window on every tensor, and the clip search chooses exactly the scales of the straightforward search."""

from __future__ import annotations

import numpy as np
import pytest

from tinymyo_edge.quant.builder import ROWWISE_KINDS, ProgramBuilder
from tinymyo_edge.quant.calibrate import _SEARCH, activation_scale

from test_quant_support import calib_windows, make_model, small_config

CONFIGS = {
    "cls-concat": dict(depth=2),
    "cls-mean": dict(reduction="mean", channels=4),
    "reg-interp": dict(head="regression", channels=4, samples=120, dim=32, heads=4, reg_target_len=15),
    "recon": dict(head="reconstruction", channels=2),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_builder_values_are_the_golden_executor(name):
    cfg = small_config(**CONFIGS[name])
    x = calib_windows(cfg, n=5)
    builder = ProgramBuilder(make_model(cfg, seed=2), x, progress=False)
    program = builder.build()
    assert ROWWISE_KINDS & {op.kind for op in program.ops}
    for w in range(len(x)):
        golden = program.run(x[w], keep=True)
        for tensor, want in golden.items():
            got = builder.values[tensor][w]
            assert got.dtype == want.dtype and np.array_equal(got, want), (name, tensor, w)


def _straight_mse_scale(values: np.ndarray, seed: int = 0) -> float:
    """The MSE clip search written plainly (the definition the fast one must reproduce)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    if flat.size > 1 << 17:
        flat = flat[np.random.default_rng(seed).choice(flat.size, 1 << 17, replace=False)]
    top = float(np.max(np.abs(flat)))
    errors = [float(np.mean((np.clip(np.rint(flat / (top * f / 127.0)), -128, 127) * (top * f / 127.0) - flat) ** 2))
              for f in _SEARCH]
    return float(np.float32(top * float(_SEARCH[int(np.argmin(errors))]) / 127.0))


@pytest.mark.parametrize("kind", ["gauss", "t2", "onesided", "small", "big", "int-like"])
def test_mse_scale_is_the_straight_search(kind):
    rng = np.random.default_rng(len(kind))
    values = {"gauss": rng.standard_normal((3, 5000)), "t2": rng.standard_t(2, 300_000),
              "onesided": np.abs(rng.standard_normal(40_000)) - 0.17, "small": rng.standard_normal(7),
              "big": rng.standard_normal((4, 400, 192)).astype(np.float32) * 3,
              "int-like": rng.integers(-40, 90, 10_000).astype(np.float32) * np.float32(0.05)}[kind]
    assert activation_scale(values, "mse") == _straight_mse_scale(values)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int16, np.uint16, np.uint8, np.float32, np.float64])
def test_saturate_u8_is_the_float64_clamp(dtype):
    from tinymyo_edge.numerics import saturate_u8

    rng = np.random.default_rng(3)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    lo, hi = (max(info.min, -2**40), min(info.max, 2**40)) if info else (-1e6, 1e6)
    q = np.concatenate([rng.integers(lo, hi, 5000), rng.integers(max(lo, -300), min(hi, 300), 5000),
                        np.array([max(lo, -1), 0, 255, min(hi, 256)])]).astype(dtype)
    if info is None:
        q = np.concatenate([q, np.array([np.inf, -np.inf], dtype)])
    want = np.clip(np.asarray(q, dtype=np.float64), 0, 255).astype(np.uint8)
    got = saturate_u8(q)
    assert got.dtype == np.uint8 and np.array_equal(got, want)
