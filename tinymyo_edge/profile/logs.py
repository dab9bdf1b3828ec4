"""Parse the per-layer counter lines an app prints, on any platform:

    <layer>: Cycles: N, Operations: M, Operations/Cycle: r                 gvsoc / board (GAP9 cluster cycles)
    <layer>: Instructions: N, Operations: M, Operations/Instruction: r     rv32 under QEMU (retired instructions)
    <layer>: Nanoseconds: N, Operations: M, Operations/Nanosecond: r       host (monotonic clock)

NNTool/AutoTiler apps print the same with extra "Cyc%: x%," and "Op%: y%," fields and padding; those parse too.
"Total" is the sum of the layers, "Inference" the whole inference measured around the network call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TinyMyoError

UNITS = {"Cycles": "gap9_cycles", "Instructions": "rv32_instructions", "Nanoseconds": "host_ns"}
# A "Cycles" log of a platform that is not GAP9 (the app's first line names the platform) gets its own kind.
PLATFORM_CYCLES = {"pulp-open": "pulp_open_cycles"}
SUMMARY_NAMES = ("Total", "Inference")

_LINE = re.compile(
    r"^\s*(?P<name>[^:\s][^:]*?)\s*:\s*(?P<unit>Cycles|Instructions|Nanoseconds)\s*:\s*(?P<count>\d+)\s*,"
    r"(?:\s*Cyc%\s*:\s*[\d.]+\s*%\s*,)?\s*Operations\s*:\s*(?P<ops>\d+)\s*,"
    r"(?:\s*Op%\s*:\s*[\d.]+\s*%\s*,)?\s*Operations/\w+\s*:\s*(?:[\d.]+|inf)\s*$")
_ERRORS = re.compile(r"^Errors: (?P<errors>\d+) out of (?P<total>\d+)\s*$")
_OUTPUT = re.compile(r"^output\[(?P<index>\d+)\] = 0x(?P<bits>[0-9a-fA-F]{8})\b")
_CLASS = re.compile(r"^Predicted class: (?P<cls>\d+)\s*$")
_PLATFORM = re.compile(r"^TinyMyo on (?P<platform>[\w-]+):")


@dataclass
class CounterLog:
    """What one run printed: per-layer counts in order, the summary lines, the check and the printed outputs."""

    unit: str  # "Cycles" | "Instructions" | "Nanoseconds"
    layers: dict[str, tuple[int, int]] = field(default_factory=dict)  # layer -> (count, operations)
    total: tuple[int, int] | None = None
    inference: tuple[int, int] | None = None
    errors: tuple[int, int] | None = None  # (errors, compared)
    output_bits: dict[int, int] = field(default_factory=dict)  # printed outputs: index -> float32 bits
    predicted_class: int | None = None
    platform: str | None = None  # from the app's first line; None for other logs (NNTool apps)

    @property
    def kind(self) -> str:
        if self.unit == "Cycles" and self.platform in PLATFORM_CYCLES:
            return PLATFORM_CYCLES[self.platform]
        return UNITS[self.unit]


def parse_counter_log(text: str, source: str = "log") -> CounterLog:
    """Parse an app's output; TinyMyoError naming `source` if it holds no counter lines or mixes units."""
    log: CounterLog | None = None
    extras: dict = {"errors": None, "output_bits": {}, "predicted_class": None, "platform": None}
    for line in text.splitlines():
        if m := _LINE.match(line):
            if log is None:
                log = CounterLog(m["unit"])
            elif m["unit"] != log.unit:
                raise TinyMyoError(f"{source}: counter lines mix {log.unit} and {m['unit']}")
            value = (int(m["count"]), int(m["ops"]))
            name = m["name"].strip()
            if name == "Total":
                log.total = value
            elif name == "Inference":
                log.inference = value
            else:
                log.layers[name] = value
        elif m := _ERRORS.match(line):
            extras["errors"] = (int(m["errors"]), int(m["total"]))
        elif m := _OUTPUT.match(line):
            extras["output_bits"][int(m["index"])] = int(m["bits"], 16)
        elif m := _CLASS.match(line):
            extras["predicted_class"] = int(m["cls"])
        elif m := _PLATFORM.match(line):
            extras["platform"] = m["platform"]
    if log is None:
        raise TinyMyoError(f"{source}: no per-layer counter lines ('<layer>: Cycles: N, Operations: M, ...')")
    log.errors, log.output_bits = extras["errors"], extras["output_bits"]
    log.predicted_class, log.platform = extras["predicted_class"], extras["platform"]
    return log


def read_counter_log(path) -> CounterLog:
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise TinyMyoError(f"{path}: cannot read the log ({exc.strerror})") from exc
    return parse_counter_log(text, str(path))
