"""The memory report: per level (L1 / L2 / L3) peak vs capacity, per layer, the liveness lower bound; as a
terminal table, a JSON-able dict, an ASCII picture of the arena plan and a PNG."""

from __future__ import annotations

from pathlib import Path

from ..ir.program import Program
from .plan import MemoryPlan
from .schedule import layer_transfers


def report_dict(program: Program, plan: MemoryPlan) -> dict:
    b = plan.board
    return {
        "board": {"name": b.name, "l1_bytes": b.l1_bytes, "l2_bytes": b.l2_bytes, "l3_bytes": b.l3_bytes,
                  "l3_device": b.l3_device, "cores": b.cores, "weight_slab_bytes": b.weight_slab_bytes},
        "planner": plan.planner,
        "levels": {
            "L1": {"peak": plan.l1_peak, "capacity": b.l1_bytes},
            "L2": {"peak": plan.l2_bytes, "capacity": b.l2_bytes, "arena": plan.arena_bytes,
                   "arena_lower_bound": plan.lower_bound, "arena_linear_baseline": plan.linear_bytes,
                   "arena_over_lower_bound": round(plan.arena_bytes / plan.lower_bound, 4) if plan.lower_bound else 1.0,
                   "weight_slabs": plan.slab_region_bytes, "io": plan.io_bytes},
            "L3": {"peak": plan.weight_bytes, "capacity": b.l3_bytes},
        },
        "layers": [
            {"name": op.name, "kind": op.kind, "live_l2_bytes": plan.live[i], "l1_bytes": tile.l1_bytes,
             "tile": tile.dims, "slab_bytes": tile.slab_bytes, "slabs": tile.slabs,
             "weight_bytes": plan.op_weight_bytes[i], "transfers": vars(_transfers(program, op, tile)),
             "l1_buffers": [{"name": n, "offset": o, "bytes": b} for n, o, b in tile.buffers]}
            for i, (op, tile) in enumerate(zip(program.ops, plan.tiles))
        ],
        "buffers": [{"name": buf.name, "size": buf.size, "first": buf.first, "last": buf.last,
                     "offset": plan.offsets[buf.name]} for buf in plan.buffers],
    }


def _transfers(program: Program, op, tile):
    return layer_transfers(op, tile, {name: t.shape for name, t in program.tensors.items()})


def _pct(used: int, cap: int) -> str:
    return f"{100.0 * used / cap:5.1f} %" if cap else "  n/a"


def report_table(program: Program, plan: MemoryPlan) -> str:
    b = plan.board
    lines = [f"memory plan on board {b.name} (planner {plan.planner})",
             f"{'level':<6}{'peak bytes':>14}{'capacity':>14}{'use':>9}  notes"]
    lines.append(f"{'L1':<6}{plan.l1_peak:>14}{b.l1_bytes:>14}{_pct(plan.l1_peak, b.l1_bytes):>9}  largest "
                 "double-buffered tile")
    ratio = plan.arena_bytes / plan.lower_bound if plan.lower_bound else 1.0
    lines.append(f"{'L2':<6}{plan.l2_bytes:>14}{b.l2_bytes:>14}{_pct(plan.l2_bytes, b.l2_bytes):>9}  arena "
                 f"{plan.arena_bytes} (liveness lower bound {plan.lower_bound}, {ratio:.3f}x; no-reuse "
                 f"{plan.linear_bytes}) + slabs {plan.slab_region_bytes} + I/O {plan.io_bytes}")
    lines.append(f"{'L3':<6}{plan.weight_bytes:>14}{b.l3_bytes:>14}{_pct(plan.weight_bytes, b.l3_bytes):>9}  "
                 f"weights ({b.l3_device})")
    lines.append("")
    lines.append(f"{'#':>3} {'layer':<36}{'kind':<22}{'live L2':>10}{'L1 tile':>9}{'slab':>8}{'xfers':>7}"
                 f"{'L3>L2':>10}{'L2>L1':>10}{'L1>L2':>10}  tile / L1 buffers (offset:bytes)")
    for i, (op, tile) in enumerate(zip(program.ops, plan.tiles)):
        dims = " ".join(f"{k}={v}" for k, v in tile.dims.items())
        t = _transfers(program, op, tile)
        bufs = " ".join(f"{n}@{o}:{b}" for n, o, b in tile.buffers)
        lines.append(f"{i:>3} {op.name[:35]:<36}{op.kind:<22}{plan.live[i]:>10}{tile.l1_bytes:>9}"
                     f"{tile.slab_bytes:>8}{t.count:>7}{t.l3_to_l2:>10}{t.l2_to_l1:>10}{t.l1_to_l2:>10}  {dims}"
                     + (f" | {bufs}" if bufs else ""))
    return "\n".join(lines) + "\n"


def ascii_plan(program: Program, plan: MemoryPlan, width: int = 64) -> str:
    """Rows are ops (time), columns arena bytes; each buffer is drawn with its own letter while it is live."""
    symbols = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    scale = max(1, -(-plan.arena_bytes // width))
    legend = []
    grid = [["." for _ in range(width)] for _ in program.ops]
    for n, buf in enumerate(plan.buffers):
        sym = symbols[n % len(symbols)]
        legend.append(f"  {sym}: {buf.name} ({buf.size} bytes @ {plan.offsets[buf.name]}, ops {buf.first}..{buf.last})")
        lo = plan.offsets[buf.name] // scale
        hi = max(lo + 1, -(-(plan.offsets[buf.name] + buf.size) // scale))
        for t in range(buf.first, buf.last + 1):
            for col in range(lo, min(hi, width)):
                grid[t][col] = sym
    lines = [f"arena {plan.arena_bytes} bytes, one column = {scale} bytes, one row = one op"]
    lines += [f"{i:>4} {''.join(row)} {plan.live[i]:>9} {program.ops[i].name[:30]}" for i, row in enumerate(grid)]
    return "\n".join(lines + ["buffers:"] + legend) + "\n"


def plot_plan(program: Program, plan: MemoryPlan, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5))
    for n, buf in enumerate(plan.buffers):
        ax.add_patch(plt.Rectangle((buf.first - 0.45, plan.offsets[buf.name] / 1024), buf.last - buf.first + 0.9,
                                   buf.size / 1024, color=plt.cm.tab20(n % 20), alpha=0.8))
    ax.plot(range(len(plan.live)), [v / 1024 for v in plan.live], "k-", lw=1, label="live bytes (lower bound)")
    ax.axhline(plan.arena_bytes / 1024, color="r", lw=1, ls="--", label="arena")
    ax.set_xlim(-1, len(program.ops))
    ax.set_ylim(0, max(plan.arena_bytes, 1) / 1024 * 1.05)
    ax.set_xlabel("op index (time)")
    ax.set_ylabel("arena offset (KiB)")
    ax.set_title(f"L2 arena plan ({plan.planner}, board {plan.board.name})")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
