"""Synthetic power traces whose latency and energy are known in closed form (helpers for tests/test_power_*.py).

Inside window i (from s_i, lasting L_i) the current is I_on + A sin(2 pi f (t - s_i)); outside it is I_idle. The supply
is V0 + B cos(2 pi g t) when a voltage channel is wanted, else the constant V0. Energy of window i is therefore
  integral_{s_i}^{s_i+L_i} (I_on + A sin(2 pi f (t - s_i))) (V0 + B cos(2 pi g t)) dt,
evaluated here by adaptive quadrature of the analytic integrand (scipy.integrate.quad), independent of the sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import quad

from tinymyo_edge.power.trace import Trace


@dataclass
class Synth:
    starts: list[float]
    latencies: list[float]
    fs: float = 100e3
    duration: float = 2.0
    i_idle: float = 4e-3
    i_on: float = 45e-3
    amp: float = 5e-3
    freq: float = 37.0
    v0: float = 1.8
    v_ripple: float = 0.0  # B; > 0 adds a voltage channel
    v_freq: float = 13.0
    noise: float = 0.0  # std of white current noise, A
    t0: float = 0.0
    seed: int = 0

    def current_on(self, t, s):
        return self.i_on + self.amp * np.sin(2 * np.pi * self.freq * (t - s))

    def voltage(self, t):
        return self.v0 + self.v_ripple * np.cos(2 * np.pi * self.v_freq * t)

    def trace(self) -> Trace:
        n = int(round(self.duration * self.fs))
        t = self.t0 + np.arange(n) / self.fs
        cur = np.full(n, self.i_idle)
        gpio = np.zeros(n, dtype=np.uint8)
        for s, lat in zip(self.starts, self.latencies):
            inside = (t >= s) & (t < s + lat)
            cur[inside] = self.current_on(t[inside], s)
            gpio[inside] = 1
        if self.noise:
            cur = cur + np.random.default_rng(self.seed).normal(0.0, self.noise, n)
        volt = self.voltage(t) if self.v_ripple else None
        meta = {"instrument": "synthetic", "supply_voltage_v": None if self.v_ripple else self.v0}
        return Trace(t, cur, volt, gpio, meta, "synthetic", self.fs)

    def energies(self) -> list[float]:
        out = []
        for s, lat in zip(self.starts, self.latencies):
            value, _ = quad(lambda x: self.current_on(x, s) * self.voltage(x), s, s + lat, limit=400)
            out.append(value)
        return out

    def idle_power(self) -> float:
        return self.i_idle * self.v0


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)
