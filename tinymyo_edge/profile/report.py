"""`tinymyo-edge profile OUTDIR`: per layer MACs, bytes moved per memory level (from the memory plan), the
ESTIMATED GAP9 cycles of cost_model.py (calibrated on measured pulp-open GVSoC cycles; the same at every operating
point) with the latency and energy they imply at an operating point, and, when logs are given, the counts of real
runs: rv32 retired instructions, host nanoseconds, GAP9 cycles (gvsoc/board `Cycles:` lines)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import TinyMyoError
from ..ir.program import Op, Program
from ..targets.operating_points import OperatingPoint, get_operating_point
from .cost_model import COST_MODELS, DEFAULT_COST_MODEL, CostModel, LayerWork, average_power_w, estimate_layer
from .logs import CounterLog

LOG_COLUMNS = {"rv32_instructions": "rv32 instr", "host_ns": "host ns", "pulp_open_cycles": "pulp-open cycles",
               "gap9_cycles": "GAP9 cycles"}
CYCLE_KINDS = {"pulp_open_cycles": "pulp-open MAC/cycle", "gap9_cycles": "GAP9 MAC/cycle"}


@dataclass
class ProfileRow:
    layer: str  # the identifier the app prints
    node: str  # the model's layer name
    work: LayerWork
    est_cycles: float
    est_us: float
    basis: str  # "calibrated" or "assumed" (cost_model.py)
    measured: dict[str, int] = field(default_factory=dict)  # log kind -> count


@dataclass
class Profile:
    outdir: str
    operating_point: OperatingPoint
    model: CostModel
    rows: list[ProfileRow]
    logs: dict[str, CounterLog]  # kind -> log
    unmatched: dict[str, list[str]]  # kind -> log layer names with no layer in the build

    @property
    def macs(self) -> int:
        return sum(r.work.macs for r in self.rows)

    @property
    def est_cycles(self) -> float:
        return sum(r.est_cycles for r in self.rows)

    @property
    def est_latency_s(self) -> float:
        return self.est_cycles / self.operating_point.cluster_hz

    @property
    def est_power_w(self) -> float:
        return average_power_w(self.operating_point)

    @property
    def est_energy_j(self) -> float:
        return self.est_latency_s * self.est_power_w

    def measured_total(self, kind: str) -> int | None:
        log = self.logs.get(kind)
        if log is None:
            return None
        return (log.inference or log.total or (sum(c for c, _ in log.layers.values()), 0))[0]


def _load_build(outdir: Path) -> tuple[Program, dict, dict]:
    from ..build.program_io import load_program
    from ..passes import run_passes

    for name in ("build.json", "program.json", "program.npz", "memory/report.json"):
        if not (outdir / name).is_file():
            raise TinyMyoError(f"{outdir}: not a build folder (no {name}); run tinymyo-edge build first")
    manifest = json.loads((outdir / "build.json").read_text())
    memory = json.loads((outdir / "memory" / "report.json").read_text())
    lowered, _ = run_passes(load_program(outdir / "program.json", outdir / "program.npz"))
    return lowered, manifest, memory


def _tiles(extent: int, tile: int) -> int:
    return max(1, math.ceil(extent / tile)) if tile else 1


def layer_work(op: Op, program: Program, memory_layer: dict) -> LayerWork:
    """MACs, elements, and bytes per level of one layer. L2 <-> L1 bytes count every re-read the tiling implies
    (a linear layer re-reads its input once per column tile and its weights once per row tile)."""
    shapes = {name: t.shape for name, t in program.tensors.items()}
    tensors = program.tensors
    in_bytes = sum(tensors[name].nbytes for name in op.inputs)
    out = tensors[op.output]
    weights = int(memory_layer.get("weight_bytes", 0))
    dims = memory_layer.get("tile", {})
    scores = 0
    if op.kind in ("linear", "linear_lut", "linear_dequant"):
        rows, k = shapes[op.inputs[0]]
        m = op.weight.shape[0]
        row_tiles, col_tiles = _tiles(rows, dims.get("rows", rows)), _tiles(m, dims.get("cols", m))
        l1 = rows * k * col_tiles + weights * row_tiles + out.nbytes
        tiles = row_tiles * col_tiles
    elif op.kind == "attention":
        n, _ = shapes[op.inputs[0]]
        row_tiles = _tiles(n, dims.get("rows", n))
        q, k, v = (tensors[name].nbytes for name in op.inputs)
        l1 = q + (k + v) * row_tiles + out.nbytes + weights
        tiles = row_tiles * op.heads
        scores = op.heads * n * n
    elif op.kind == "rel_attention":  # keys of the window only: k/v re-read once per row tile, rel_key per head
        n, d = shapes[op.inputs[0]]
        rows = dims.get("rows", n)
        row_tiles = _tiles(n, rows)
        l1 = 2 * n * d + 2 * min(n, rows + 2 * op.window - 2) * d * row_tiles + op.rel_key.nbytes
        tiles = row_tiles * op.heads
        scores = op.macs(shapes) // (2 * shapes[op.inputs[0]][1]) * op.heads
    else:
        (unit, size), = list(dims.items())[:1] or [("elements", 0)]
        extent = {"elements": out.size, "tokens": shapes[op.inputs[0]][0]}.get(unit, out.shape[0])
        l1 = in_bytes + out.nbytes + weights
        tiles = _tiles(extent, size)
    elements = tensors[op.inputs[0]].size if op.kind in ("token_mean", "patch_features") else out.size
    return LayerWork(op.name, op.kind, op.macs(shapes), int(elements), scores, weights, int(l1), tiles)


def profile(outdir, *, logs: list[CounterLog] = (), operating_point: str | None = None,
            cost_model: str = DEFAULT_COST_MODEL) -> Profile:
    outdir = Path(outdir)
    op_point = get_operating_point(operating_point)
    if cost_model not in COST_MODELS:
        raise TinyMyoError(f"unknown cost model {cost_model!r}; known: {', '.join(COST_MODELS)}")
    model = COST_MODELS[cost_model]
    program, manifest, memory = _load_build(outdir)
    idents = {entry["node"]: entry["layer"] for entry in manifest.get("layers", [])}
    per_name = {entry["name"]: entry for entry in memory["layers"]}
    rows = []
    for op in program.ops:
        if op.kind == "reshape":
            continue
        work = layer_work(op, program, per_name.get(op.name, {}))
        est = estimate_layer(work, model)  # cycles: no operating point
        rows.append(ProfileRow(idents.get(op.name, op.name), op.name, work, est.cycles,
                               est.cycles / op_point.cluster_hz * 1e6, est.basis))
    by_kind: dict[str, CounterLog] = {}
    unmatched: dict[str, list[str]] = {}
    known = {r.layer for r in rows}
    for log in logs:
        by_kind[log.kind] = log
        for r in rows:
            if r.layer in log.layers:
                r.measured[log.kind] = log.layers[r.layer][0]
        unmatched[log.kind] = [name for name in log.layers if name not in known]
    return Profile(str(outdir), op_point, model, rows, by_kind, unmatched)


# --------------------------------------------------------------------------------------------------- output
def _fmt(v: float | int | None, digits: int = 0) -> str:
    if v is None:
        return "-"
    return f"{v:,.{digits}f}" if digits else f"{int(round(v)):,}"


def format_table(p: Profile) -> str:
    kinds = [k for k in LOG_COLUMNS if k in p.logs]
    head = ["layer", "kind", "MACs", "L3->L2 B", "L2<->L1 B", "est. cycles", "est. us", "basis"]
    head += [LOG_COLUMNS[k] for k in kinds] + (["rv32 instr/MAC"] if "rv32_instructions" in kinds else [])
    head += [CYCLE_KINDS[k] for k in kinds if k in CYCLE_KINDS]
    body = []
    for r in p.rows:
        w = r.work
        line = [r.layer, w.kind, _fmt(w.macs), _fmt(w.l3_bytes), _fmt(w.l1_bytes), _fmt(r.est_cycles),
                _fmt(r.est_us, 1), r.basis]
        line += [_fmt(r.measured.get(k)) for k in kinds]
        if "rv32_instructions" in kinds:
            n = r.measured.get("rv32_instructions")
            line.append(_fmt(n / w.macs, 2) if n is not None and w.macs else "-")
        for kind in (k for k in kinds if k in CYCLE_KINDS):
            c = r.measured.get(kind)
            line.append(_fmt(w.macs / c, 2) if c and w.macs else "-")
        body.append(line)
    total = ["TOTAL", "", _fmt(p.macs), _fmt(sum(r.work.l3_bytes for r in p.rows)),
             _fmt(sum(r.work.l1_bytes for r in p.rows)), _fmt(p.est_cycles),
             _fmt(p.est_cycles / p.operating_point.cluster_hz * 1e6, 1), ""]
    total += [_fmt(p.measured_total(k)) for k in kinds]
    if "rv32_instructions" in kinds:
        n = p.measured_total("rv32_instructions")
        total.append(_fmt(n / p.macs, 2) if n and p.macs else "-")
    for kind in (k for k in kinds if k in CYCLE_KINDS):
        c = p.measured_total(kind)
        total.append(_fmt(p.macs / c, 2) if c else "-")
    widths = [max(len(str(row[i])) for row in [head, *body, total]) for i in range(len(head))]
    fmt = lambda row: "  ".join(str(c).ljust(w) if i < 2 or i == 7 else str(c).rjust(w)  # noqa: E731
                                for i, (c, w) in enumerate(zip(row, widths)))
    op = p.operating_point
    lines = [f"profile of {p.outdir} at {op.name} (cluster {op.cluster_hz / 1e6:.0f} MHz, {op.voltage_mv} mV)",
             f"est. = ESTIMATED by the cost model {p.model.name!r} (profile/cost_model.py), not measured: the "
             "cycles of the GAP9 cluster assumed = pulp-open GVSoC cycles with a 128 kB L1", "",
             fmt(head), fmt(["-" * w for w in widths]), *map(fmt, body), fmt(["-" * w for w in widths]), fmt(total),
             ""]
    for kind in kinds:
        lines.append(f"measured: {LOG_COLUMNS[kind]} from a {p.logs[kind].unit} log"
                     + (f" (total over the whole inference: {_fmt(p.measured_total(kind))})"))
        if p.unmatched.get(kind):
            lines.append(f"  log layers not in this build: {', '.join(p.unmatched[kind][:8])}")
    lines.append(f"ESTIMATED latency: {p.est_latency_s * 1e3:.1f} ms at {op.name}; ESTIMATED energy: "
                 f"{p.est_energy_j * 1e3:.2f} mJ ({p.est_power_w * 1e3:.2f} mW average, ESTIMATED)")
    if "gap9_cycles" in kinds:
        lines.append(f"measured latency: {p.measured_total('gap9_cycles') / op.cluster_hz * 1e3:.1f} ms at "
                     f"{op.name} (GAP9 cycles / cluster frequency)")
    lines += ["assumptions of the estimate:"] + [f"  {k}: {v}" for k, v in p.model.assumptions().items()]
    return "\n".join(lines)


def to_json(p: Profile) -> dict:
    op = p.operating_point
    return {
        "format": "tinymyo-edge profile v1", "outdir": p.outdir,
        "operating_point": asdict(op),
        "estimate": {"kind": "estimated", "cost_model": p.model.name, "assumptions": p.model.assumptions(),
                     "cycles": p.est_cycles, "latency_s": p.est_latency_s, "average_power_w": p.est_power_w,
                     "energy_j": p.est_energy_j, "mac_per_cycle": p.macs / p.est_cycles if p.est_cycles else None},
        "measured": {kind: {"kind": "measured", "unit": log.unit, "total": p.measured_total(kind),
                            "unmatched_layers": p.unmatched.get(kind, [])} for kind, log in p.logs.items()},
        "macs": p.macs,
        "layers": [{"layer": r.layer, "node": r.node, "kind": r.work.kind, "macs": r.work.macs,
                    "elements": r.work.elements, "l3_to_l2_bytes": r.work.l3_bytes, "l2_l1_bytes": r.work.l1_bytes,
                    "tiles": r.work.tiles, "estimated_cycles": r.est_cycles, "estimated_us": r.est_us,
                    "estimate_basis": r.basis, "measured": r.measured} for r in p.rows],
    }


def plot(p: Profile, path) -> None:
    """Bar chart per layer: estimated GAP9 cycles, and each measured count on its own axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in LOG_COLUMNS if k in p.logs]
    panels = 1 + len(kinds)
    fig, axes = plt.subplots(panels, 1, figsize=(max(8, 0.22 * len(p.rows) + 3), 3 * panels), sharex=True,
                             squeeze=False)
    x = np.arange(len(p.rows))
    axes[0][0].bar(x, [r.est_cycles for r in p.rows], color="tab:gray")
    axes[0][0].set_ylabel(f"ESTIMATED\nGAP9 cycles\n({p.model.name})")
    for ax, kind in zip((a[0] for a in axes[1:]), kinds):
        ax.bar(x, [r.measured.get(kind, 0) for r in p.rows], color="tab:blue")
        ax.set_ylabel(f"measured\n{LOG_COLUMNS[kind]}")
    axes[-1][0].set_xticks(x, [r.layer for r in p.rows], rotation=90, fontsize=6)
    fig.suptitle(f"per-layer profile at {p.operating_point.name}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_profile(outdir, *, log_paths=(), operating_point: str | None = None, cost_model: str = DEFAULT_COST_MODEL,
                  json_path=None, png_path=None, force: bool = False) -> tuple[Profile, list[Path]]:
    """profile() from log files, then the JSON and PNG files asked for (atomic, refusing to overwrite unless
    force). Returns the profile and the paths written."""
    from ..fileio import atomic_path
    from .logs import read_counter_log

    p = profile(outdir, logs=[read_counter_log(path) for path in log_paths], operating_point=operating_point,
                cost_model=cost_model)
    written = []
    if json_path is not None:
        with atomic_path(json_path, force=force) as tmp:
            tmp.write_text(json.dumps(to_json(p), indent=1) + "\n")
        written.append(Path(json_path))
    if png_path is not None:
        with atomic_path(png_path, force=force) as tmp:
            plot(p, tmp.with_suffix(".png"))
            tmp.with_suffix(".png").replace(tmp)
        written.append(Path(png_path))
    return p, written
