"""Memory: board levels, liveness, arena planners, L1 tiling, weight slabs, the memory report."""

from .board import BOARDS, Board, get_board
from .plan import MemoryPlan, plan_memory
from .planner import Buffer, lower_bound, plan_greedy, plan_linear

__all__ = ["BOARDS", "Board", "get_board", "MemoryPlan", "plan_memory", "Buffer", "lower_bound", "plan_greedy",
           "plan_linear"]
