"""ESTIMATED GAP9 cycles, latency and energy of the whole default network (TinyMyo 8 ch x 1000 samples,
classification head) from the profile's cost model (tinymyo_edge/profile/cost_model.py: calibrated on the measured
pulp-open GVSoC 128 kB cycles of bench/results/gvsoc.json, every constant's source written there), at 370 MHz and
240 MHz, next to ARES's published 304.95 M cycles / 0.785 s / 44.91 mJ (TINYMYO.md). Also: how well the model
reproduces its calibration run, and its error on the layers it was not fitted to (the regression head of
bench/results/gvsoc_regression.json).

The network is a random Program of the default size (tests/program_factory.py); the estimate depends only on shapes,
not on trained values.

    python bench/bench_cost_model.py   -> prints, writes bench/results/cost_model.json
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from common import RESULTS_DIR, metric, write_results  # noqa: E402
from program_factory import make_random_program  # noqa: E402

from tinymyo_edge.build.core import build_program  # noqa: E402
from tinymyo_edge.model.config import TinyMyoConfig  # noqa: E402
from tinymyo_edge.profile import cost_model as cm  # noqa: E402
from tinymyo_edge.profile.report import profile  # noqa: E402
from tinymyo_edge.targets.operating_points import OPERATING_POINTS  # noqa: E402

# gvsoc_regression.json layers not in the fit whose error is reported, not tested: the regressor, and the patch
# embedding (K = 20: 5-word dot products, far outside the fitted K = 192 .. 768; 3.9 % under at 6681be4)
HELD_OUT = ("model_head_regressor_0", "model_head_regressor_5", "patch_embedding_patch_embed_proj")
LINEAR_CLASS = ("linear", "linear_lut", "linear_dequant")


def main() -> None:
    published = "published: ARES on GAP9 (paper v2) / GVSoC, TinyMyo 8x1000 (TINYMYO.md), not reproduced here"
    metrics = {
        "ares_published.cycles": metric(cm.ARES_CYCLES, "cycles", "measured", published),
        "ares_published.mac_per_cycle": metric(round(cm.ARES_MACS / cm.ARES_CYCLES, 2), "MAC/cycle", "measured",
                                               published),
        "ares_published.latency_ms": metric(cm.ARES_LATENCY_S * 1e3, "ms", "measured", published),
        "ares_published.energy_mj": metric(cm.ARES_ENERGY_J * 1e3, "mJ", "measured", published),
        "ares_published.power_mw": metric(57.18, "mW", "measured", published + " (its 'power envelope')"),
    }
    where = f"cost model {cm.DEFAULT_COST_MODEL!r} (profile/cost_model.py): GAP9 cycles assumed = the cycles of " \
            f"{cm.CALIBRATION}"  # one definition of the calibration run
    power = "average power 57.21 mW at 370MHz/0.8 V = ARES 44.91 mJ / 0.785 s (TINYMYO.md), x f V^2 at 240MHz/0.65 V"
    with tempfile.TemporaryDirectory(prefix="bench_cost_") as tmp:
        builds = {}
        for head in ("classification", "regression"):
            builds[head] = Path(tmp) / head
            build_program(make_random_program(TinyMyoConfig(head=head), seed=0), builds[head], target="gap9")
        points = {name: profile(builds["classification"], operating_point=name) for name in OPERATING_POINTS}
        regression = profile(builds["regression"])
    p = points["370MHz"]
    cycles = p.est_cycles
    metrics["estimate.cycles"] = metric(round(cycles), "cycles", "estimated", where + "; the same at every "
                                        "operating point")
    metrics["estimate.mac_per_cycle"] = metric(round(p.macs / cycles, 2), "MAC/cycle", "estimated", where)
    metrics["estimate.vs_ares_cycles"] = metric(round(cycles / cm.ARES_CYCLES, 3), "x ARES cycles", "estimated",
                                                where)
    for name, q in points.items():
        assert q.est_cycles == cycles  # the cycles do not depend on the clock
        here = f"{where}; {name}; {power}"
        metrics[f"estimate.{name}.latency_ms"] = metric(round(q.est_latency_s * 1e3, 1), "ms", "estimated", here)
        metrics[f"estimate.{name}.power_mw"] = metric(round(q.est_power_w * 1e3, 2), "mW", "estimated", here)
        metrics[f"estimate.{name}.energy_mj"] = metric(round(q.est_energy_j * 1e3, 2), "mJ", "estimated", here)
        metrics[f"estimate.{name}.vs_ares_energy"] = metric(round(q.est_energy_j / cm.ARES_ENERGY_J, 3),
                                                            "x ARES energy", "estimated", here)
    # the calibration run and the held-out layers
    gvsoc = json.loads((RESULTS_DIR / "gvsoc.json").read_text())
    reg = json.loads((RESULTS_DIR / "gvsoc_regression.json").read_text())
    total = gvsoc["metrics"]["l1_128k.total_cycles"]["value"]
    metrics["calibration.estimate_over_measured"] = metric(
        round(cycles / total, 4), "ratio", "estimated", f"{where}; vs gvsoc.json l1_128k.total_cycles = {total} "
        "(measured, its own calibration run: agreement by construction, not a validation)")
    by_kind: dict[str, float] = defaultdict(float)
    for r in p.rows:
        by_kind["linear" if r.work.kind in LINEAR_CLASS else r.work.kind] += r.est_cycles
    measured_kind = {k.removeprefix("l1_128k.").removesuffix(".cycles").removeprefix("other."): v["value"]
                     for k, v in gvsoc["metrics"].items() if k.startswith("l1_128k.") and k.endswith(".cycles")
                     and k != "l1_128k.total_cycles"}
    per_kind = {k: {"estimated": round(v), "measured_pulp_open_128k": measured_kind.get(k)}
                for k, v in sorted(by_kind.items())}
    held = {}
    reg_layers = reg["details"]["l1_128k"]["layers"]
    for r in regression.rows:
        if r.layer in HELD_OUT:
            m = reg_layers[r.layer]["cycles"]
            held[r.layer] = {"kind": r.work.kind, "macs": r.work.macs, "outputs": r.work.elements,
                             "estimated": round(r.est_cycles), "measured_pulp_open_128k": m,
                             "error": round(r.est_cycles / m - 1, 3)}
            metrics[f"held_out.{r.layer}.estimate_over_measured"] = metric(
                round(r.est_cycles / m, 3), "ratio", "estimated", f"{where}; vs gvsoc_regression.json "
                f"l1_128k.layers.{r.layer}.cycles = {m} (measured; not used in the fit)")
    details = {"macs": p.macs, "assumptions": p.model.assumptions(), "cycles_by_class": per_kind,
               "held_out_layers": held, "basis_by_layer_count": _count(r.basis for r in p.rows)}
    write_results("cost_model", metrics, details)
    print("\nestimated vs measured (pulp-open 128 kB, calibration run) cycles by class")
    for kind, v in per_kind.items():
        print(f"  {kind:<16}{v['estimated']:>14,} {v['measured_pulp_open_128k'] or 0:>14,}")
    for name, v in held.items():
        print(f"held out {name}: estimated {v['estimated']:,} measured {v['measured_pulp_open_128k']:,} "
              f"({v['error']:+.1%})")


def _count(items) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


if __name__ == "__main__":
    main()
