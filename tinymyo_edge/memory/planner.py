"""Static arena planning. A planner sees only (size, first_use, last_use) per buffer (use indices inclusive) and
returns offsets; two buffers may share bytes only if their use ranges do not overlap."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Buffer:
    name: str
    size: int
    first: int
    last: int

    def overlaps(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


def _align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def arena_size(buffers: list[Buffer], offsets: dict[str, int]) -> int:
    return max((offsets[b.name] + b.size for b in buffers), default=0)


def plan_linear(buffers: list[Buffer], alignment: int = 16) -> dict[str, int]:
    """Baseline: every buffer at its own offset, no reuse."""
    offsets, top = {}, 0
    for buf in buffers:
        offsets[buf.name] = top
        top = _align(top + buf.size, alignment)
    return offsets


def plan_greedy(buffers: list[Buffer], alignment: int = 16) -> dict[str, int]:
    """Greedy by size, best fit: largest buffers first, each into the smallest gap left between the already placed
    buffers that overlap it in time (TFLite Micro's GreedyMemoryPlanner idea)."""
    order = sorted(buffers, key=lambda b: (-b.size, b.first, b.name))
    placed: list[tuple[int, Buffer]] = []
    offsets: dict[str, int] = {}
    for buf in order:
        busy = sorted((off, off + other.size) for off, other in placed if other.overlaps(buf))
        best, best_gap, cursor = None, None, 0
        for start, end in busy:
            gap = start - cursor
            if gap >= buf.size and (best_gap is None or gap < best_gap):
                best, best_gap = cursor, gap
            cursor = max(cursor, _align(end, alignment))
        offset = best if best is not None else cursor
        offsets[buf.name] = offset
        placed.append((offset, buf))
    return {b.name: offsets[b.name] for b in buffers}


def live_bytes(buffers: list[Buffer], steps: int) -> list[int]:
    """Bytes live at each step (the arena can never be smaller than the max of this: the liveness lower bound)."""
    live = [0] * steps
    for buf in buffers:
        for t in range(buf.first, buf.last + 1):
            live[t] += buf.size
    return live


def lower_bound(buffers: list[Buffer], steps: int) -> int:
    return max(live_bytes(buffers, steps), default=0)


def check_plan(buffers: list[Buffer], offsets: dict[str, int]) -> None:
    """Assert that no two buffers live at the same time share a byte (a planner bug, not a user error)."""
    for i, a in enumerate(buffers):
        for b in buffers[i + 1:]:
            if a.overlaps(b):
                oa, ob = offsets[a.name], offsets[b.name]
                assert oa + a.size <= ob or ob + b.size <= oa, f"arena overlap: {a.name} and {b.name}"


PLANNERS = {"greedy": plan_greedy, "linear": plan_linear}
