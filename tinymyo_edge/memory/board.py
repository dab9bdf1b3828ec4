"""Memory levels of a target board: what the planner must fit (bytes usable by the network)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import TinyMyoError

KB = 1024
MB = 1024 * KB


@dataclass(frozen=True)
class Board:
    """One board: L1 (cluster TCDM, tiles), L2 (activations arena, weight slabs, I/O), L3 (all weights)."""

    name: str
    l1_bytes: int
    l2_bytes: int
    l3_bytes: int
    l3_device: str
    cores: int
    weight_slab_bytes: int  # largest L3 -> L2 weight slab (two are resident: double buffering)
    alignment: int = 16  # every buffer offset in the arena

    def with_changes(self, **changes) -> "Board":
        return replace(self, **changes)


BOARDS: dict[str, Board] = {
    "gap9": Board("gap9", l1_bytes=128 * KB, l2_bytes=1536 * KB, l3_bytes=8 * MB, l3_device="hyperram",
                  cores=8, weight_slab_bytes=64 * KB),
    # pulp-open: the open-source GVSoC's PULP SoC (gap9_app/platform/pulp-open). L1 = the 64 kB TCDM less the 8
    # cluster stacks (9 kB) and control words: TM_PULP_STAGE_BYTES; L2 = 1.5 MB less code, FC stack and the 64 kB
    # L3 slab buffer (TM_PULP_SLAB_BYTES); L3 = the board's 8 MB HyperFlash, read by the uDMA.
    "pulp-open": Board("pulp-open", l1_bytes=54 * KB, l2_bytes=1280 * KB, l3_bytes=8 * MB, l3_device="hyperflash",
                       cores=8, weight_slab_bytes=64 * KB),
    # host: the same tiling logic with generous limits (the L1 tile size doubles as cache blocking)
    "host": Board("host", l1_bytes=256 * KB, l2_bytes=1024 * MB, l3_bytes=16 * 1024 * MB, l3_device="ram",
                  cores=1, weight_slab_bytes=1 * MB),
}


def get_board(board: "str | Board | None", target: str = "gap9") -> Board:
    """A Board from a preset name, a Board, or the target's default preset."""
    if isinstance(board, Board):
        return board
    name = board or ("host" if target == "host" else "gap9")
    if name not in BOARDS:
        raise TinyMyoError(f"unknown board {name!r}; known boards: {', '.join(sorted(BOARDS))}")
    return BOARDS[name]
