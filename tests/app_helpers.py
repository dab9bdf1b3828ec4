"""Shared by the app tests: a small random Program built into a complete GAP9 app folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from program_factory import make_random_program
from tinymyo_edge.model.config import TinyMyoConfig
from tinymyo_edge.build.core import build_program


def small_config(**changes) -> TinyMyoConfig:
    """A TinyMyo small enough for a bare-metal run in a second (every op kind of the chosen head)."""
    sizes = dict(channels=2, samples=40, patch_size=10, dim=16, depth=1, heads=2, classes=3, reg_hidden=8,
                 reg_target_len=10)
    return TinyMyoConfig(**{**sizes, **changes})


def build_small_app(outdir: Path, seed: int = 1, prob_bits: int | None = None, **config):
    """(program, outdir): `build` for target gap9: the network code and the application around it."""
    program = make_random_program(small_config(**config), seed=seed, prob_bits=prob_bits)
    build_program(program, outdir, target="gap9")  # writes the network code, then the app (write_app)
    return program, outdir


def golden(program, x: np.ndarray) -> np.ndarray:
    return np.asarray(program.run(np.asarray(x, dtype=np.float32))[program.output], dtype=np.float32)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Exact equality of float32 arrays, bit for bit (NaN payloads and signed zeros included)."""
    a, b = np.ascontiguousarray(a, dtype="<f4"), np.ascontiguousarray(b, dtype="<f4")
    return a.shape == b.shape and np.array_equal(a.view("<u4"), b.view("<u4"))
