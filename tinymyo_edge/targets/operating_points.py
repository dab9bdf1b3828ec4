"""GAP9 operating points: the ONE table of frequency and voltage pairs. The app's C header (app_config.h), its
Kconfig menu, and the profile's latency estimates are all rendered from it.

Sources: GAP9.md ("370 MHz at 0.8 V is the usual operating point, 240 MHz at 0.65 V the low-energy one"; up to
400 MHz). The FC and the cluster run at the same frequency here, as in the vendor's NNTool example apps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import TinyMyoError


@dataclass(frozen=True)
class OperatingPoint:
    name: str  # as the user types it: "370MHz"
    fc_hz: int
    cluster_hz: int
    voltage_mv: int
    note: str

    @property
    def macro(self) -> str:
        """C identifier suffix: 370MHz -> 370MHZ (TM_OPERATING_POINT_370MHZ)."""
        return re.sub(r"[^0-9A-Za-z]", "_", self.name).upper()


OPERATING_POINTS: dict[str, OperatingPoint] = {
    op.name: op
    for op in (
        OperatingPoint("370MHz", 370_000_000, 370_000_000, 800, "usual operating point (0.8 V)"),
        OperatingPoint("240MHz", 240_000_000, 240_000_000, 650, "low-energy operating point (0.65 V)"),
    )
}
DEFAULT_OPERATING_POINT = "370MHz"


def get_operating_point(name: str | None) -> OperatingPoint:
    """The operating point called `name` (case-insensitive, "370MHz" or "370"), or the default."""
    if name is None:
        return OPERATING_POINTS[DEFAULT_OPERATING_POINT]
    key = name.strip().lower().removesuffix("mhz")
    for op in OPERATING_POINTS.values():
        if op.name.lower().removesuffix("mhz") == key:
            return op
    raise TinyMyoError(f"unknown operating point {name!r}; known: {', '.join(OPERATING_POINTS)}")
