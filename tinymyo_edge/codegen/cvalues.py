"""Exact C spellings of constants: float32 as hex literals, int8 as string literals (fast to compile), ints."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import TinyMyoError

_BYTE_ESCAPES = [f"\\x{b:02x}" for b in range(256)]
CTYPES = {np.dtype(np.int8): "int8_t", np.dtype(np.uint8): "uint8_t", np.dtype(np.int16): "int16_t",
          np.dtype(np.int32): "int32_t", np.dtype(np.float32): "float"}


def c_float(value, where: str = "") -> str:
    """A float32 value as an exact C hex-float literal."""
    v = np.float32(value)
    if not np.isfinite(v):
        raise TinyMyoError(f"{where}: non-finite float constant {v!r} cannot be lowered")
    return float(v).hex() + "f"


@dataclass(frozen=True)
class CArray:
    """A constant array: in L3 (weights.bin at its offset, TM_L3_<name> in weights.h) or an L2 const array
    (weights.c), by the rule of memory/schedule.py."""

    name: str
    values: np.ndarray  # 1-D, dtype in CTYPES
    owner: str  # the op name, for errors and comments
    level: str = "L2"  # "L2" or "L3"

    @property
    def ctype(self) -> str:
        return CTYPES[self.values.dtype]

    @property
    def length(self) -> int:
        return int(self.values.size)

    def initializer(self) -> str:
        """The C initializer: string literal for bytes (16x faster to compile than numbers), numbers otherwise."""
        v = self.values
        if v.dtype.itemsize == 1:
            escaped = "".join(map(_BYTE_ESCAPES.__getitem__, v.view(np.uint8).tobytes()))
            step = 4 * 32  # 32 bytes a line
            lines = ['"' + escaped[i:i + step] + '"' for i in range(0, len(escaped), step)]
            return "\n    ".join(lines) if lines else '""'
        if v.dtype == np.float32:
            items = [c_float(x, self.owner) for x in v]
        else:
            items = [str(int(x)) if int(x) != -2**31 else "(-2147483647 - 1)" for x in v]
        rows = [", ".join(items[i:i + 8]) for i in range(0, len(items), 8)]
        return "{\n    " + ",\n    ".join(rows) + "\n}"
