"""The ONE fixed-point arithmetic of the streaming preprocessing, and its numpy reference (int64 emulating C).

The chip (gap9_app/stream/tm_stream.c) and `data window --pipeline stream` both compute, per raw int16 sample and
channel, exactly this (every intermediate is an integer; `>>` is an arithmetic shift, as gcc defines it):

    x    = raw * 2^SIGNAL_FRAC                                     int32, |x| <= 2^23 (ADC units, Q8)
    per biquad section s (direct form I, causal, state carried across chunks and segments):
    acc  = b0*x + b1*x1 + b2*x2 - a1*y1 - a2*y2                    int64 (coefficients int32, Q COEF_FRAC)
    y    = sat((acc + 2^(COEF_FRAC-1)) >> COEF_FRAC, +-SIGNAL_LIMIT)  int32; x of the next section
    keep every DECIMATION-th sample (n % D == 0, n the stream's sample index from 0)
    z    = sat(((y - mean_q) * scale_q + 2^(NORM_SHIFT-1)) >> NORM_SHIFT, +-OUT_LIMIT)   int32 (Q OUT_FRAC)
    model input = float32(z) * 2^-OUT_FRAC                          exact: |z| <= 2^24

Bounds (why int64 never overflows): |coefficient| < 2^30 (refused otherwise), |x|, |y| <= 2^30, so each product is
below 2^60 and the five-term sum below 2^63; |y - mean_q| < 2^31 and scale_q < 2^30, product below 2^61.
Coefficients are quantised once, here, from scipy's Butterworth / iirnotch design; the C header is rendered from
these integers (tinymyo_edge/targets/stream.py), never recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from ..errors import TinyMyoError

SIGNAL_FRAC = 8  # raw ADC units -> Q8
COEF_FRAC = 28  # biquad coefficients: Q28 (|c| < 4 allowed)
COEF_LIMIT = 1 << 30
SIGNAL_LIMIT = 1 << 30  # section outputs saturate here (2^22 ADC units: 128x the int16 range)
NORM_SHIFT = 16
OUT_FRAC = 16  # the model input is z * 2^-16
OUT_LIMIT = 1 << 24  # |z| <= 2^24: float32(z) is exact; 256 standard deviations
SCALE_LIMIT = 1 << 30
NOTCH_QUALITY = 30.0
BANDPASS_ORDER = 4


@dataclass(frozen=True)
class FixedSpec:
    """What the chip needs: integer biquad sections (b0, b1, b2, a1, a2) in Q COEF_FRAC, the decimation factor and
    the per-channel normalisation (mean_q in Q SIGNAL_FRAC, scale_q = round(2^(NORM_SHIFT+OUT_FRAC-SIGNAL_FRAC)/std))."""

    sections: tuple[tuple[int, int, int, int, int], ...]
    decimation: int
    mean_q: tuple[int, ...]
    scale_q: tuple[int, ...]

    @property
    def channels(self) -> int:
        return len(self.mean_q)

    def to_dict(self) -> dict:
        return {"signal_frac": SIGNAL_FRAC, "coef_frac": COEF_FRAC, "norm_shift": NORM_SHIFT, "out_frac": OUT_FRAC,
                "sections": [list(s) for s in self.sections], "decimation": self.decimation,
                "mean_q": list(self.mean_q), "scale_q": list(self.scale_q)}

    @classmethod
    def from_dict(cls, d: dict, where: str = "preprocessing") -> "FixedSpec":
        consts = {"signal_frac": SIGNAL_FRAC, "coef_frac": COEF_FRAC, "norm_shift": NORM_SHIFT, "out_frac": OUT_FRAC}
        for key, want in consts.items():
            if d.get(key) != want:
                raise TinyMyoError(f"{where}: fixed-point {key} is {d.get(key)!r}, this tinymyo-edge computes {want}")
        try:
            spec = cls(tuple(tuple(int(c) for c in s) for s in d["sections"]), int(d["decimation"]),
                       tuple(int(v) for v in d["mean_q"]), tuple(int(v) for v in d["scale_q"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise TinyMyoError(f"{where}: malformed fixed-point description ({exc!r})") from None
        _check_spec(spec, where)
        return spec


def _check_spec(spec: FixedSpec, where: str) -> None:
    if any(len(s) != 5 or any(abs(c) >= COEF_LIMIT for c in s) for s in spec.sections):
        raise TinyMyoError(f"{where}: a biquad coefficient is out of the Q{COEF_FRAC} range (|c| < 4)")
    if spec.decimation < 1 or len(spec.mean_q) != len(spec.scale_q) or not spec.mean_q:
        raise TinyMyoError(f"{where}: decimation must be >= 1 and mean/scale given per channel")
    if any(not 0 < k < SCALE_LIMIT for k in spec.scale_q) or any(abs(m) >= SIGNAL_LIMIT for m in spec.mean_q):
        raise TinyMyoError(f"{where}: a normalisation constant is out of range (std too small or mean too large)")


def quantise_coefficients(sos: np.ndarray) -> tuple[tuple[int, int, int, int, int], ...]:
    """scipy sos rows (b0, b1, b2, 1, a1, a2) -> integer (b0, b1, b2, a1, a2) in Q COEF_FRAC (round half even)."""
    sos = np.atleast_2d(np.asarray(sos, dtype=np.float64))
    if sos.shape[1] != 6 or not np.allclose(sos[:, 3], 1.0):
        raise TinyMyoError(f"biquad sections must be normalised sos rows (a0 = 1), got shape {sos.shape}")
    q = np.round(sos[:, [0, 1, 2, 4, 5]] * (1 << COEF_FRAC))
    if np.abs(q).max() >= COEF_LIMIT:
        raise TinyMyoError(f"a filter coefficient exceeds the Q{COEF_FRAC} range (|c| < 4): {np.abs(sos).max():.3g}")
    return tuple(tuple(int(c) for c in row) for row in q)


def design_sections(fs: float, band: tuple[float, float] | None, notch_hz: float | None) -> np.ndarray:
    """Float sos of the causal chain: 4th-order Butterworth band-pass, then the mains notch (Q = NOTCH_QUALITY)."""
    rows = []
    nyquist = fs / 2.0
    for f in [*(band or ()), *([notch_hz] if notch_hz else [])]:
        if not 0.0 < f < nyquist:
            raise TinyMyoError(f"filter frequency {f} Hz must lie between 0 and Nyquist ({nyquist} Hz) at fs = {fs} Hz")
    if band is not None:
        if band[0] >= band[1]:
            raise TinyMyoError(f"band-pass low edge {band[0]} Hz must be below the high edge {band[1]} Hz")
        rows.append(signal.butter(BANDPASS_ORDER, list(band), btype="bandpass", fs=fs, output="sos"))
    if notch_hz:
        b, a = signal.iirnotch(notch_hz, NOTCH_QUALITY, fs=fs)
        rows.append(signal.tf2sos(b, a))
    return np.concatenate(rows) if rows else np.empty((0, 6))


def decimation_factor(fs_in: float, fs_out: float, band: tuple[float, float] | None) -> int:
    """fs_in / fs_out as an integer; the band-pass is the anti-aliasing filter, so its top must lie below fs_out/2."""
    ratio = fs_in / fs_out
    if ratio < 1 or ratio != int(ratio):
        raise TinyMyoError(f"--pipeline stream resamples by keeping every D-th sample: fs_in / fs_out must be an "
                           f"integer (got {fs_in:g} / {fs_out:g} Hz)")
    if ratio > 1 and (band is None or band[1] >= fs_out / 2):
        raise TinyMyoError(f"--pipeline stream decimates {fs_in:g} -> {fs_out:g} Hz with the band-pass as its "
                           f"anti-aliasing filter: its high edge must lie below {fs_out / 2:g} Hz (got "
                           f"{'no band-pass' if band is None else f'{band[1]:g} Hz'})")
    return int(ratio)


def quantise_stats(mean: np.ndarray, std: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Float per-channel mean/std (ADC units) -> (mean_q, scale_q) of FixedSpec (round half even, once)."""
    mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    mean_q = np.round(mean * (1 << SIGNAL_FRAC))
    scale_q = np.round((1 << (NORM_SHIFT + OUT_FRAC - SIGNAL_FRAC)) / std)
    if not (np.isfinite(scale_q).all() and (scale_q > 0).all() and (scale_q < SCALE_LIMIT).all()):
        raise TinyMyoError(f"normalisation std {std.min():.3g} ADC units is too small for the fixed-point scale")
    return tuple(int(v) for v in mean_q), tuple(int(v) for v in scale_q)


# ------------------------------------------------------------------------------------------------ reference


@dataclass
class FixedState:
    """Filter memory per section and channel (x1, x2, y1, y2: int64 arrays (S, C)) and the stream's sample count."""

    x1: np.ndarray
    x2: np.ndarray
    y1: np.ndarray
    y2: np.ndarray
    samples: int = 0

    @classmethod
    def zeros(cls, sections: int, channels: int) -> "FixedState":
        z = lambda: np.zeros((sections, channels), dtype=np.int64)  # noqa: E731
        return cls(z(), z(), z(), z())


def _sat(v: np.ndarray, limit: int) -> np.ndarray:
    return np.clip(v, -limit, limit)


def _biquad(coef, x: np.ndarray, st: FixedState, s: int) -> np.ndarray:
    """One section over x (T, C) int64: feed-forward vectorised over time, feedback in a loop (it is recursive)."""
    b0, b1, b2, a1, a2 = (np.int64(c) for c in coef)
    xp = np.concatenate([st.x2[s][None], st.x1[s][None], x])  # x[n-2], x[n-1], x[n]
    ff = b0 * xp[2:] + b1 * xp[1:-1] + b2 * xp[:-2]
    y = np.empty_like(x)
    y1, y2 = st.y1[s].copy(), st.y2[s].copy()
    rnd, shift = np.int64(1 << (COEF_FRAC - 1)), np.int64(COEF_FRAC)
    for n in range(len(x)):
        out = np.clip((ff[n] - a1 * y1 - a2 * y2 + rnd) >> shift, -SIGNAL_LIMIT, SIGNAL_LIMIT)
        y2, y1 = y1, out
        y[n] = out
    if len(x):
        st.x1[s], st.x2[s] = xp[-1], xp[-2]
        st.y1[s], st.y2[s] = y1, y2
    return y


def filter_decimate(raw: np.ndarray, sections, decimation: int, state: FixedState) -> np.ndarray:
    """raw int16 (T, C) -> the kept (n % D == 0) filter outputs y, int64 (T', C) in Q SIGNAL_FRAC; updates state."""
    x = raw.astype(np.int64) * (1 << SIGNAL_FRAC)
    for s, coef in enumerate(sections):
        x = _biquad(coef, x, state, s)
    first = (-state.samples) % decimation  # the first index n with n % D == 0 in this chunk
    state.samples += len(raw)
    return x[first::decimation]


def normalise_fixed(y: np.ndarray, mean_q, scale_q) -> np.ndarray:
    """Kept filter outputs y (T', C) -> z int32 (T', C) in Q OUT_FRAC."""
    mean, scale = np.asarray(mean_q, dtype=np.int64), np.asarray(scale_q, dtype=np.int64)
    return _sat(((y - mean) * scale + (1 << (NORM_SHIFT - 1))) >> NORM_SHIFT, OUT_LIMIT).astype(np.int32)


def check_raw(raw: np.ndarray, channels: int, where: str = "stream samples") -> np.ndarray:
    raw = np.asarray(raw)
    if raw.ndim != 2 or raw.shape[1] != channels:
        raise TinyMyoError(f"{where}: must be (T, {channels}) samples x channels; got shape {raw.shape}")
    if raw.dtype != np.int16:
        raise TinyMyoError(f"{where}: must be int16 ADC codes; got {raw.dtype}")
    return raw


def run_fixed(raw: np.ndarray, spec: FixedSpec, state: FixedState | None = None) -> tuple[np.ndarray, FixedState]:
    """raw int16 (T, C) -> (z int32 (T', C) of the kept samples, state after the last sample); chunk by chunk or at
    once gives the same z (the state carries the filters and the decimation phase)."""
    raw = check_raw(raw, spec.channels)
    st = state or FixedState.zeros(len(spec.sections), spec.channels)
    y = filter_decimate(raw, spec.sections, spec.decimation, st)
    return normalise_fixed(y, spec.mean_q, spec.scale_q), st


def to_model_input(z: np.ndarray) -> np.ndarray:
    """int32 z -> float32 z * 2^-OUT_FRAC (exact, as the C does: (float)z * (1.0f / 65536.0f))."""
    return z.astype(np.float32) * np.float32(1.0 / (1 << OUT_FRAC))
