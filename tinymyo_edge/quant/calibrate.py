"""Choosing scales: int8 symmetric per-channel weights, and activation clip ranges by min-max, percentile or an
MSE-minimising search. Activation codes are int8 carried as u8 + 128, so a scale s covers [-128 s, 127 s]."""

from __future__ import annotations

import numpy as np

from ..errors import TinyMyoError
from ..numerics import ACT_ZERO_POINT

METHODS = ("mse", "percentile", "minmax")
# TinyMyo's defaults by head, chosen by measurement (docs/QUANT.md "Calibration"): classification, the 99.9th
# percentile of |x| (int8-vs-float top-1 agreement of the six 3DC 100-token models 99.07 % against 98.64 % for the
# MSE search, bench/bench_calibration.py -> bench/results/calibration.json; the MSE search keeps rare large
# activations a classifier's decision does not need and pays for them in resolution); regression, the MSE search
# (the envelope proxy's int8-vs-float R^2 0.988, against 0.977 at the 99.9th percentile: clipping moves continuous
# outputs, bench/results/accuracy.json). Speech models keep "mse" (not re-measured). Which percentile a classifier
# gets is chosen per model on held-out calibration windows (quant/select.py: 99.9 or 99.99); DEFAULT_PERCENTILE is
# the one used when no window is held out.
DEFAULT_METHODS = {"classification": "percentile", "regression": "mse"}
SPEECH_METHOD = "mse"
DEFAULT_PERCENTILE = 99.9


def calibration_indices(n: int, max_windows: int | None) -> np.ndarray:
    """The indices of at most max_windows of n windows, spread evenly over the set (quantize calibrates on these)."""
    if max_windows is None or n <= max_windows:
        return np.arange(n)
    return np.linspace(0, n - 1, max_windows).round().astype(int)


def default_method(head: str) -> str:
    """quantize's activation clipping for a TinyMyo head (DEFAULT_METHODS)."""
    return DEFAULT_METHODS.get(head, "mse")
_SAMPLE = 1 << 17  # values per tensor used by the clip search (a random subset beyond that)
_SEARCH = np.geomspace(1.0, 0.02, 64)  # clip candidates as fractions of max|x|
_TINY = 1e-8
ONE_SIDED_RATIO = 0.25  # activation_range: one-sided when -min(x) <= this * max(x)


def _sample(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    flat = np.asarray(values).ravel()
    if flat.size > _SAMPLE:
        flat = flat[rng.choice(flat.size, _SAMPLE, replace=False)]  # pick first, convert only the sample
    return flat.astype(np.float64)


def quant_error(values: np.ndarray, scale: float) -> float:
    """Mean squared error of int8 (codes -128..127) round trip at `scale`."""
    q = np.clip(np.rint(values / scale), -128, 127)
    return float(np.mean((q * scale - values) ** 2))


def _search_errors(v: np.ndarray, scales: list[float]) -> list[float]:
    """quant_error(v, s) for every s, the same float64 operations in one reused buffer (no temporaries: the clip
    search was ~13 % of quantize on the 16 x 1000 model)."""
    buf = np.empty_like(v)
    errors = []
    for s in scales:
        np.divide(v, s, out=buf)
        np.rint(buf, out=buf)
        np.maximum(buf, -128.0, out=buf)  # np.clip(., -128, 127) on finite values
        np.minimum(buf, 127.0, out=buf)
        np.multiply(buf, s, out=buf)
        np.subtract(buf, v, out=buf)
        np.multiply(buf, buf, out=buf)  # == ** 2
        errors.append(float(np.mean(buf)))
    return errors


def activation_scale(values: np.ndarray, method: str, percentile: float = DEFAULT_PERCENTILE,
                     seed: int = 0) -> float:
    """Scale (float32-representable) for a tensor whose float values over the calibration set are `values`."""
    if method not in METHODS:
        raise TinyMyoError(f"unknown calibration method {method!r}; choose one of {', '.join(METHODS)}")
    v = _sample(values, np.random.default_rng(seed))
    top = float(np.max(np.abs(v))) if v.size else 0.0
    if not np.isfinite(top):
        raise TinyMyoError("calibration produced non-finite activations (check the model and the data)")
    if top <= _TINY:
        return 1.0  # an all-zero tensor: any scale represents it exactly
    if method == "minmax":
        clip = top
    elif method == "percentile":
        clip = max(float(np.percentile(np.abs(v), percentile)), top * 1e-3)
    else:
        errors = _search_errors(v, [top * f / 127.0 for f in _SEARCH])
        clip = top * float(_SEARCH[int(np.argmin(errors))])
    return float(np.float32(clip / 127.0))


def quant_error_asym(values: np.ndarray, scale: float, zero_point: int) -> float:
    """Mean squared error of the u8 round trip codes = sat(rne(x / s) + z), real = (code - z) s."""
    q = np.clip(np.rint(values / scale) + zero_point, 0, 255)
    return float(np.mean(((q - zero_point) * scale - values) ** 2))


def _asym_params(lo: float, hi: float) -> tuple[float, int]:
    """(float32 scale, zero point) covering [lo, hi] (lo <= 0 < hi) by 256 codes, real zero exactly a code."""
    scale = float(np.float32((hi - lo) / 255.0))
    return scale, int(np.clip(np.rint(-lo / scale), 0, 255))


def activation_range(values: np.ndarray, method: str, percentile: float = DEFAULT_PERCENTILE,
                     seed: int = 0) -> tuple[float, int]:
    """(scale, zero point) for a one-sided tensor (GELU output: min about -0.17, a long positive tail): the 256 u8
    codes cover [min(x, 0), clip] instead of the symmetric [-128 s, 127 s], about twice the resolution. The lower end
    is the observed minimum (a hard bound for GELU, never clipped); the clip of the upper tail is chosen as by
    activation_scale (MSE search, a percentile of x, or max x). A tensor with no positive values gets the symmetric
    scale and zero point 128, and so does one whose negative part reaches beyond ONE_SIDED_RATIO of its positive
    part (then the symmetric grid loses little)."""
    if method not in METHODS:
        raise TinyMyoError(f"unknown calibration method {method!r}; choose one of {', '.join(METHODS)}")
    v = _sample(values, np.random.default_rng(seed))
    if v.size and not np.all(np.isfinite(v)):
        raise TinyMyoError("calibration produced non-finite activations (check the model and the data)")
    lo = min(float(np.min(v)), 0.0) if v.size else 0.0
    top = float(np.max(v)) if v.size else 0.0
    if top <= max(_TINY, -lo / ONE_SIDED_RATIO):  # not one-sided towards the positive side: the symmetric grid
        return activation_scale(values, method, percentile, seed), ACT_ZERO_POINT
    if method == "minmax":
        return _asym_params(lo, top)
    if method == "percentile":
        return _asym_params(lo, max(float(np.percentile(v, percentile)), top * 1e-3, -lo + _TINY))
    candidates = [_asym_params(lo, max(top * f, -lo + _TINY)) for f in _SEARCH]
    errors = [quant_error_asym(v, s, z) for s, z in candidates]
    return candidates[int(np.argmin(errors))]


def weight_scales(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel symmetric int8: scale[m] = max|w[m]| / 127 (1 for an all-zero row); codes in -127..127."""
    w = np.asarray(weight, dtype=np.float64).reshape(weight.shape[0], -1)
    top = np.max(np.abs(w), axis=1)
    scale = np.where(top > 0, top / 127.0, 1.0).astype(np.float32)
    codes = np.clip(np.rint(w / scale[:, None].astype(np.float64)), -127, 127).astype(np.int8)
    return codes.reshape(weight.shape), scale


def bias_codes(bias: np.ndarray, acc_scale: np.ndarray, what: str) -> np.ndarray:
    """int32 bias in accumulator units: rne(b / (s_in * s_w[m]))."""
    q = np.rint(np.asarray(bias, np.float64) / np.asarray(acc_scale, np.float64))
    if np.any(np.abs(q) > 2**30):
        raise TinyMyoError(f"{what}: a bias is {np.max(np.abs(q)):.3g} accumulator units, beyond the int32 range "
                           "the range proof allows (input or weight scale far too small for this bias)")
    return q.astype(np.int32)


def fold_input_zero_point(bias: np.ndarray, weight: np.ndarray, zero_point: int, what: str) -> np.ndarray:
    """int32 bias of a matmul whose input codes have zero point z, for the kernel's (x - 128) form:
    sum_k (x - z) w = sum_k (x - 128) w - (z - 128) sum_k w, so bias' = bias - (z - 128) sum_k w[m, k].
    Refused beyond 2**30 (the bound quant/ranges.py and the C bias folding assume): |z - 128| <= 128 adds at most
    128 * 127 K."""
    w = np.asarray(weight, np.int64).reshape(np.shape(weight)[0], -1)
    folded = np.asarray(bias, np.int64) - (int(zero_point) - ACT_ZERO_POINT) * w.sum(axis=1)
    if np.any(np.abs(folded) > 2**30):
        raise TinyMyoError(f"{what}: the bias with the input zero point {zero_point} folded in is "
                           f"{np.max(np.abs(folded)):.3g} accumulator units, beyond the 2**30 the range proof allows")
    return folded.astype(np.int32)
