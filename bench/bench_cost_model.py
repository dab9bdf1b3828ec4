"""ESTIMATED GAP9 cluster cycles of the whole default network (TinyMyo 8 ch x 1000 samples, classification head)
from the profile's cost model (tinymyo_edge/profile/cost_model.py, every assumption documented there), next to the
published ARES figure: 304,952,643 cycles for 1,921,305,685 MACs (6.3 MAC/cycle) on GVSoC (TINYMYO.md).

The network is a random Program of the default size (tests/program_factory.py); the estimate depends only on shapes,
tiling and the memory plan, not on trained values.

    python bench/bench_cost_model.py   -> prints, writes bench/results/cost_model.json
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from common import metric, write_results  # noqa: E402
from program_factory import make_random_program  # noqa: E402

from tinymyo_edge.build.core import build_program  # noqa: E402
from tinymyo_edge.model.config import TinyMyoConfig  # noqa: E402
from tinymyo_edge.profile.cost_model import COST_MODELS  # noqa: E402
from tinymyo_edge.profile.report import profile, to_json  # noqa: E402
from tinymyo_edge.targets.operating_points import OPERATING_POINTS  # noqa: E402

ARES_CYCLES = 304_952_643  # TINYMYO.md: published ARES simulator baseline, 8 ch x 1000
ARES_MACS = 1_921_305_685


def main() -> None:
    program = make_random_program(TinyMyoConfig(), seed=0)
    metrics = {
        "ares_published.cycles": metric(ARES_CYCLES, "cycles", "measured", "published: ARES on GVSoC, TinyMyo 8x1000 "
                                        "(TINYMYO.md), not reproduced here"),
        "ares_published.mac_per_cycle": metric(round(ARES_MACS / ARES_CYCLES, 2), "MAC/cycle", "measured",
                                               "published: ARES on GVSoC (TINYMYO.md)"),
    }
    details = {}
    with tempfile.TemporaryDirectory(prefix="bench_cost_") as tmp:
        build_program(program, Path(tmp) / "build", target="gap9")
        for name in COST_MODELS:
            for op_name, op in OPERATING_POINTS.items():
                p = profile(Path(tmp) / "build", operating_point=op_name, cost_model=name)
                where = f"cost model {name!r} (profile/cost_model.py), {op_name}"
                key = f"{name}.{op_name}"
                metrics[f"{key}.cycles"] = metric(round(p.est_cycles), "cycles", "estimated", where)
                metrics[f"{key}.latency_ms"] = metric(round(p.est_cycles / op.cluster_hz * 1e3, 1), "ms",
                                                      "estimated", where)
                if op_name == "370MHz":
                    metrics[f"{name}.mac_per_cycle"] = metric(round(p.macs / p.est_cycles, 2), "MAC/cycle",
                                                              "estimated", where)
                    metrics[f"{name}.vs_ares"] = metric(round(p.est_cycles / ARES_CYCLES, 3), "x ARES cycles",
                                                        "estimated", where)
                    doc = to_json(p)
                    by_kind: dict[str, float] = {}
                    for layer in doc["layers"]:
                        by_kind[layer["kind"]] = by_kind.get(layer["kind"], 0) + layer["estimated_cycles"]
                    details[name] = {"macs": p.macs, "assumptions": doc["estimate"]["assumptions"],
                                     "cycles_by_kind": {k: round(v) for k, v in sorted(by_kind.items())},
                                     "bound_by_layer_count": _count_bounds(doc)}
    write_results("cost_model", metrics, details)
    for name, d in details.items():
        print(f"\n{name}: estimated cycles by op kind at 370MHz")
        for kind, cycles in sorted(d["cycles_by_kind"].items(), key=lambda kv: -kv[1]):
            print(f"  {kind:<16}{cycles:>14,}")


def _count_bounds(doc: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for layer in doc["layers"]:
        counts[layer["estimate_bound"]] = counts.get(layer["estimate_bound"], 0) + 1
    return counts


if __name__ == "__main__":
    main()
