"""The memory plan of a program on a board: L2 arena offsets (liveness, planner), L1 tiles, L3 -> L2 weight slabs.
`plan_memory` refuses a program that does not fit, naming the layer and the level, before any C is written."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import TinyMyoError
from ..ir.program import Op, Program
from .board import Board
from .planner import PLANNERS, Buffer, arena_size, check_plan, live_bytes, plan_linear
from .schedule import in_l3
from .scratch import scratch_bytes
from .tiling import Tile, tile_op


@dataclass(frozen=True)
class MemoryPlan:
    board: Board
    planner: str
    buffers: tuple[Buffer, ...]  # arena buffers: tensors and per-op scratch
    offsets: dict[str, int]  # buffer name -> arena offset
    aliases: dict[str, str]  # tensor -> the buffer holding its bytes (a Reshape output shares its input's)
    arena_bytes: int
    lower_bound: int  # max over time of live bytes: no planner can do better
    linear_bytes: int  # the no-reuse baseline
    live: tuple[int, ...]  # live arena bytes at each op
    tiles: tuple[Tile, ...]  # per op, in program order
    io_bytes: int  # float input + float output (caller buffers, in L2 on the chip)
    weight_bytes: int  # the constants in L3 (the weight matrices; memory/schedule.py)
    op_weight_bytes: tuple[int, ...]

    @property
    def slab_region_bytes(self) -> int:
        """L2 reserved for weight slabs: two of the largest (double buffering)."""
        return 2 * max((t.slab_bytes for t in self.tiles), default=0)

    @property
    def l2_bytes(self) -> int:
        return self.arena_bytes + self.slab_region_bytes + self.io_bytes

    @property
    def l1_peak(self) -> int:
        return max((t.l1_bytes for t in self.tiles), default=0)

    def buffer_of(self, tensor: str) -> str:
        return self.aliases.get(tensor, tensor)

    def scratch_name(self, op: Op) -> str:
        return f"{op.output}#scratch"  # outputs are unique (check_program), names need not be


def op_weight_bytes(op: Op) -> int:
    """Bytes of the op's constants that live in L3 (the weight image; memory/schedule.py has the rule)."""
    return int(sum(v.nbytes for k, v in vars(op).items() if isinstance(v, np.ndarray) and in_l3(op, k)))


def liveness(program: Program, cores: int) -> tuple[list[Buffer], dict[str, str]]:
    """Arena buffers with inclusive use ranges (op indices). The program input and output are caller buffers."""
    shapes = {name: t.shape for name, t in program.tensors.items()}
    aliases: dict[str, str] = {}
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    external = {program.input, program.output}
    scratch: list[Buffer] = []
    for i, op in enumerate(program.ops):
        for name in op.inputs:
            root = aliases.get(name, name)
            last[root] = i
        if op.kind == "reshape" and op.output not in external:
            aliases[op.output] = aliases.get(op.inputs[0], op.inputs[0])
        else:
            first[op.output] = i
            last.setdefault(op.output, i)
        size = scratch_bytes(op, shapes, cores)
        if size:
            scratch.append(Buffer(f"{op.output}#scratch", size, i, i))
    buffers = [Buffer(name, program.tensors[name].nbytes, first[name], last[name])
               for name in first if name not in external]
    return buffers + scratch, aliases


def plan_memory(program: Program, board: Board, planner: str = "greedy") -> MemoryPlan:
    """Place every buffer and tile every op on `board`; TinyMyoError if a layer does not fit L1, L2 or L3."""
    shapes = {name: t.shape for name, t in program.tensors.items()}
    tiles = tuple(tile_op(op, shapes, board) for op in program.ops)
    buffers, aliases = liveness(program, board.cores)
    offsets = PLANNERS[planner](buffers, board.alignment)
    check_plan(buffers, offsets)
    live = live_bytes(buffers, len(program.ops))
    weights = tuple(op_weight_bytes(op) for op in program.ops)
    plan = MemoryPlan(board, planner, tuple(buffers), offsets, aliases, arena_size(buffers, offsets),
                      max(live, default=0), arena_size(buffers, plan_linear(buffers, board.alignment)), tuple(live),
                      tiles, program.tensors[program.input].nbytes + program.tensors[program.output].nbytes,
                      int(sum(weights)), weights)
    _check_fits(program, plan)
    return plan


def _check_fits(program: Program, plan: MemoryPlan) -> None:
    board = plan.board
    if plan.weight_bytes > board.l3_bytes:
        big = max(range(len(program.ops)), key=lambda i: plan.op_weight_bytes[i])
        raise TinyMyoError(f"weights ({plan.weight_bytes} bytes) do not fit L3 ({board.l3_device}, "
                           f"{board.l3_bytes} bytes) of board {board.name}; largest layer {program.ops[big].name!r}")
    if plan.l2_bytes > board.l2_bytes:
        peak = max(range(len(program.ops)), key=lambda i: plan.live[i])
        raise TinyMyoError(
            f"layer {program.ops[peak].name!r} does not fit L2 of board {board.name}: arena {plan.arena_bytes} + "
            f"weight slabs {plan.slab_region_bytes} + I/O {plan.io_bytes} = {plan.l2_bytes} bytes > {board.l2_bytes} "
            f"(live activations peak at this layer: {plan.live[peak]} bytes)")


def check_l2_constants(plan: MemoryPlan, constants: list[tuple[str, int]]) -> int:
    """The L2-resident constants (weights.c: (owner layer, bytes) each; the lowering knows their final C types)
    share L2 with the arena, the slabs and the I/O: refuse, naming the layer with the most, when they do not fit
    together. Returns their total (each array 4-byte aligned, as weights.c places them)."""
    total = sum(-(-size // 4) * 4 for _, size in constants)
    board = plan.board
    if plan.l2_bytes + total > board.l2_bytes:
        per_layer: dict[str, int] = {}
        for owner, size in constants:
            per_layer[owner] = per_layer.get(owner, 0) + size
        worst = max(per_layer, key=per_layer.__getitem__)
        raise TinyMyoError(
            f"layer {worst!r} does not fit L2 of board {board.name}: arena {plan.arena_bytes} + weight slabs "
            f"{plan.slab_region_bytes} + I/O {plan.io_bytes} + L2 constants {total} (this layer's: "
            f"{per_layer[worst]}) = {plan.l2_bytes + total} bytes > {board.l2_bytes}")
    return total
