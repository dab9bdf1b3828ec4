"""Shared by the app tests: a small random Program built into a complete GAP9 app folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from program_factory import make_random_program, tiny_config
from tinymyo_edge.build.core import build_program


def build_small_app(outdir: Path, seed: int = 1, **config):
    """(program, outdir): `build` for target gap9: the network code and the application around it."""
    program = make_random_program(tiny_config(**config), seed=seed)
    build_program(program, outdir, target="gap9")  # writes the network code, then the app (write_app)
    return program, outdir


def golden(program, x: np.ndarray) -> np.ndarray:
    return np.asarray(program.run(np.asarray(x, dtype=np.float32))[program.output], dtype=np.float32)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Exact equality of float32 arrays, bit for bit (NaN payloads and signed zeros included)."""
    a, b = np.ascontiguousarray(a, dtype="<f4"), np.ascontiguousarray(b, dtype="<f4")
    return a.shape == b.shape and np.array_equal(a.view("<u4"), b.view("<u4"))
