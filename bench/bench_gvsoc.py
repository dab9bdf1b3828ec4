"""The paper's deployed model (8 ch x 1000 samples, 400 tokens, 1.91 GMAC) on the open-source GVSoC, target pulp-open,
on both cluster L1 sizes: cluster cycles per layer, MAC/cycle per op class, the whole network next to the authors'
GAP9 GVSoC figure (ARES: 304,952,643 cycles, 6.3 MAC/cycle) and to the previous result file's total. The app's PMSIS
code path (the one GAP9 runs) on the open PULP SDK's PMSIS: Xpulpv2 sdotp, hardware loops, post-increment loads,
pi_cl_team_fork over 8 cluster cores, cluster DMA L2 <-> L1, weights copied from HyperFlash to HyperRAM once and
read back as L3.

    PULP_PMSIS_MK=<pmsis.mk> PULP_PMSIS_MK_128K=<pmsis-l1-128k.mk> GVSOC_128K=<128 kB gvsoc> \
    python bench/bench_gvsoc.py [--l1 64,128] [--channels 8] [--samples 1000] [--calib 4]
        [--softmax deferred|normalized] [--softmax-bits 8] [--depth 8] [--head classification|regression]
        [--name gvsoc] [--previous gvsoc] [--gvsoc-commit SHA]
        -> bench/results/<name>.json, keys l1_64k.* and l1_128k.*

The two L1 configurations (docs/PULP_OPEN.md):
  64:  "pulp-open GVSoC, 64 kB TCDM": board "pulp-open", `gvsoc` on PATH (or $GVSOC), fragment $PULP_PMSIS_MK;
  128: "pulp-open GVSoC with 128 kB TCDM, GAP9's L1 size": board "pulp-open-128k", the simulator built with a
       128 kB cluster L1 ($GVSOC_128K) and the PMSIS fragment whose link script has 128 kB of L1 ($PULP_PMSIS_MK_128K).
A fragment whose PMSIS_L1_KB differs from the board's L1 is refused (the SDK's L1 must match the simulator's).
Model: TinyMyo with its upstream random initialisation (torch seed 0), exported and quantized by tinymyo-edge on
real 3DC windows (participant 1; synthetic EMG-like windows when ../shared is absent), built for each board.
Every number is "measured: pulp-open GVSoC cycles": a PULP cluster (RI5CY cores, no TCDM bank conflicts modelled),
NOT a GAP9 measurement. A configuration whose tools are missing is reported and skipped; with none available it
exits 0, writing nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO_ROOT, metric, shared_dir, write_results  # noqa: E402
from tinymyo_edge.memory.board import BOARDS, KB  # noqa: E402
from tinymyo_edge.targets.pulp_open import missing_tools, run_pulp_open  # noqa: E402

ARES_CYCLES, ARES_MACS = 304_952_643, 1_921_305_685  # TINYMYO.md: the authors' GAP9 GVSoC run
# One entry per cluster L1 size: board, label, and where its simulator and PMSIS fragment come from.
L1_CONFIGS = {
    64: {"board": "pulp-open", "label": "pulp-open GVSoC, 64 kB TCDM", "gvsoc_env": "GVSOC",
         "pmsis_env": "PULP_PMSIS_MK"},
    128: {"board": "pulp-open-128k", "label": "pulp-open GVSoC with 128 kB TCDM, GAP9's L1 size",
          "gvsoc_env": "GVSOC_128K", "pmsis_env": "PULP_PMSIS_MK_128K"},
}
CLASSES = {"linear": "linear", "linear_lut": "linear", "linear_dequant": "linear", "attention": "attention"}


def windows(channels: int, samples: int, count: int) -> tuple[np.ndarray, str]:
    path = shared_dir() / "data" / "3dc" / "participant01.npz"
    if path.is_file():
        from tinymyo_edge.data import windows_from_3dc

        x = windows_from_3dc(path, window=samples, channels=min(channels, 10)).x
        x = x[np.linspace(0, len(x) - 1, count).round().astype(int)]
        if channels > x.shape[1]:
            x = np.concatenate([x, np.zeros((count, channels - x.shape[1], samples), np.float32)], axis=1)
        return x.astype(np.float32), f"3DC {path.name}"
    from tinymyo_edge.synthetic import synthetic_emg

    return synthetic_emg(count, channels=channels, samples=samples, seed=0)[0].astype(np.float32), "synthetic"


def quantize(channels: int, samples: int, calib: int, prob_bits: int, head: str, work: Path,
             softmax: str = "deferred", depth: int = 8):
    import torch

    from tinymyo_edge.export import export_onnx
    from tinymyo_edge.model.config import TinyMyoConfig
    from tinymyo_edge.model.tinymyo import TinyMyo
    from tinymyo_edge.quant import quantize_model

    cfg = TinyMyoConfig(channels=channels, samples=samples, head=head, depth=depth)
    torch.manual_seed(0)
    x, source = windows(channels, samples, calib)
    export_onnx(TinyMyo(cfg).eval(), work / "float.onnx")
    quantize_model(work / "float.onnx", x, work / "model.int8.onnx", progress=False, prob_bits=prob_bits,
                   softmax=softmax)
    return work / "model.int8.onnx", x, source


def fragment_l1_kb(fragment: Path) -> int | None:
    """PMSIS_L1_KB of a PMSIS make fragment (None when it does not say)."""
    for line in fragment.read_text().splitlines():
        key, _, value = line.partition(":=")
        if key.strip() == "PMSIS_L1_KB":
            return int(value.strip())
    return None


def tools_for(kb: int) -> tuple[dict | None, str]:
    """The simulator and PMSIS fragment of one L1 configuration, or None and why not."""
    config = L1_CONFIGS[kb]
    gvsoc = os.environ.get(config["gvsoc_env"]) or ("gvsoc" if kb == 64 else None)
    fragment = os.environ.get(config["pmsis_env"])
    if not gvsoc or not fragment:
        return None, f"set {config['gvsoc_env']} and {config['pmsis_env']}" if kb != 64 else f"set {config['pmsis_env']}"
    missing = missing_tools(gvsoc, fragment)
    if missing:
        return None, f"{' and '.join(missing)} missing ({config['gvsoc_env']}={gvsoc}, {config['pmsis_env']}={fragment})"
    board_kb = BOARDS[config["board"]].l1_total_bytes // KB
    if fragment_l1_kb(Path(fragment)) != board_kb:
        sys.exit(f"bench_gvsoc: {config['pmsis_env']}={fragment} has PMSIS_L1_KB={fragment_l1_kb(Path(fragment))}, "
                 f"board {config['board']} has {board_kb} kB of L1: the SDK's L1 must match the simulator's")
    return {"gvsoc": gvsoc, "pmsis_mk": fragment}, ""


def per_class(counters, kinds: dict[str, str]) -> dict[str, dict]:
    out: dict[str, dict] = defaultdict(lambda: {"cycles": 0, "macs": 0, "layers": 0})
    for layer, (cycles, macs) in counters.layers.items():
        entry = out[CLASSES.get(kinds[layer], "other (" + kinds[layer] + ")")]
        entry["cycles"] += cycles
        entry["macs"] += macs
        entry["layers"] += 1
    for entry in out.values():
        entry["mac_per_cycle"] = round(entry["macs"] / entry["cycles"], 3) if entry["cycles"] else None
    return dict(sorted(out.items()))


def git_commit() -> str:
    """HEAD of the checkout the app is built from, "+modified" when its C library or code generator differ from it."""
    try:
        head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no", "--",
                                "gap9_app", "templates", "tinymyo_edge"], capture_output=True, text=True,
                               check=True).stdout.strip()
        return head + ("+modified" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def previous_total(name: str, kb: int) -> dict | None:
    """The whole-network cycles of bench/results/<name>.json for this L1 size (cycles and where they were
    measured); a file from before the two L1 sizes holds the 64 kB ones under total_cycles."""
    path = REPO_ROOT / "bench" / "results" / f"{name}.json"
    try:
        metrics = json.loads(path.read_text())["metrics"]
    except (OSError, KeyError, ValueError):
        return None
    entry = metrics.get(f"l1_{kb}k.total_cycles") or (metrics.get("total_cycles") if kb == 64 else None)
    return {"cycles": int(entry["value"]), "source": entry["source"]} if entry else None


def measure(kb: int, tools: dict, model: Path, x: np.ndarray, work: Path, args, commit: str):
    """Build the quantized model for this L1 size's board, run it on its simulator: metrics and details."""
    from tinymyo_edge.build import build

    config = L1_CONFIGS[kb]
    t = time.perf_counter()
    result = build(model, work / f"app_{kb}k", target="gap9", board=config["board"])
    build_s = time.perf_counter() - t
    program, outdir = result.program, work / f"app_{kb}k"
    sample = x[0]
    want = np.asarray(program.run(sample)[program.output], dtype=np.float32)
    t = time.perf_counter()
    run = run_pulp_open(outdir, x=sample, expected=want, timeout=3600, **tools)
    sim_s = time.perf_counter() - t
    if run.returncode != 0 or run.counters is None or run.counters.errors != (0, want.size):
        print(run.log[-4000:])
        sys.exit(f"bench_gvsoc: the {config['label']} run failed or its output differs from the golden executor")
    layers = json.loads((outdir / "build.json").read_text())["layers"]
    by_node = {op.name: op for op in program.ops}
    kinds = {entry["layer"]: by_node[entry["node"]].kind for entry in layers}
    counters = run.counters
    total, macs = counters.inference[0], counters.total[1]
    classes = per_class(counters, kinds)
    where = (f"{config['label']} cycles (tinymyo-edge commit {commit}, gvsoc/gvsoc {args.gvsoc_commit}), "
             f"board {config['board']}, PMSIS (open PULP SDK), cluster core 0 PI_PERF_CYCLES, 8 cores, "
             f"{args.channels}x{args.samples}, depth {args.depth}, "
             + ("deferred softmax" if args.softmax == "deferred" else f"{args.softmax_bits}-bit softmax probabilities")
             + f", {args.head} head; a PULP cluster, not GAP9")
    p = f"l1_{kb}k."
    metrics = {
        p + "total_cycles": metric(total, "cycles", "measured", where),
        p + "mac_per_cycle": metric(round(macs / total, 3), "MAC/cycle", "measured", where),
    }
    if args.head == "classification":  # the authors' figure is for the classification model
        metrics[p + "vs_ares_gap9_cycles"] = metric(round(total / ARES_CYCLES, 3), "x of 304.95 M", "measured",
                                                    where + "; ARES figure is the authors' GAP9 GVSoC run (TINYMYO.md)")
    previous = previous_total(args.previous, kb)
    if previous:
        metrics[p + "vs_previous_cycles"] = metric(round(total / previous["cycles"], 4), "x of previous", "measured",
                                                   where + f"; previous: {previous['cycles']:,} ({previous['source']})")
    for name, entry in classes.items():
        if entry["macs"]:
            metrics[f"{p}{name}.mac_per_cycle"] = metric(entry["mac_per_cycle"], "MAC/cycle", "measured", where)
        key = name.replace(" (", ".").rstrip(")")
        metrics[f"{p}{key}.cycles"] = metric(entry["cycles"], "cycles", "measured", where)
    details = {
        "label": config["label"], "board": config["board"], "l1_total_bytes": BOARDS[config["board"]].l1_total_bytes,
        "l1_usable_bytes": BOARDS[config["board"]].l1_bytes, "gvsoc": tools["gvsoc"], "pmsis_mk": tools["pmsis_mk"],
        "macs": macs, "previous": previous, "classes": classes,
        "layers": {k: {"cycles": v[0], "macs": v[1], "mac_per_cycle": round(v[1] / v[0], 3) if v[0] and v[1] else None}
                   for k, v in counters.layers.items()},
        "wall_seconds": {"build": round(build_s, 1), "simulation": round(sim_s, 1)},
    }
    print(f"\n{where}\n")
    print(f"{'layer':<40}{'cycles':>14}{'MACs':>14}{'MAC/cycle':>11}")
    for layer, (cycles, n) in counters.layers.items():
        print(f"{layer:<40}{cycles:>14,}{n:>14,}{n / cycles if cycles else 0:>11.2f}")
    print(f"\n{'op class':<40}{'cycles':>14}{'MACs':>14}{'MAC/cycle':>11}")
    for name, entry in classes.items():
        print(f"{name:<40}{entry['cycles']:>14,}{entry['macs']:>14,}{entry['mac_per_cycle'] or 0:>11.2f}")
    print(f"\nwhole network ({config['label']}): {total:,} cycles, {macs / total:.2f} MAC/cycle; ARES on GAP9 GVSoC: "
          f"{ARES_CYCLES:,} cycles ({total / ARES_CYCLES:.2f}x)")
    if previous:
        print(f"previous result: {previous['cycles']:,} cycles ({previous['source']}): now {total / previous['cycles']:.3f}x")
    return metrics, details


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--l1", default="64,128", help="cluster L1 sizes in kB to measure (64: pulp-open, 128: "
                        "pulp-open-128k)")
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--calib", type=int, default=4, help="calibration windows")
    parser.add_argument("--softmax", default="deferred", choices=["deferred", "normalized"],
                        help="attention softmax (quantize --softmax; the default of quantize)")
    parser.add_argument("--softmax-bits", type=int, default=8,
                        help="--softmax normalized: probability bits (8: as the results before the deferred softmax)")
    parser.add_argument("--depth", type=int, default=8, help="encoder blocks (8: the deployed model)")
    parser.add_argument("--head", default="classification", choices=["classification", "regression"])
    parser.add_argument("--name", default="gvsoc", help="result file bench/results/<name>.json")
    parser.add_argument("--previous", default="gvsoc", help="result file whose totals this run is compared with")
    parser.add_argument("--gvsoc-commit", default=os.environ.get("TINYMYO_GVSOC_COMMIT", "unknown"),
                        help="the gvsoc/gvsoc commit the simulator was built from (recorded with the numbers)")
    args = parser.parse_args()
    sizes = [int(v) for v in args.l1.split(",") if v]
    if not sizes or any(kb not in L1_CONFIGS for kb in sizes):
        sys.exit(f"bench_gvsoc: --l1 {args.l1}: the sizes are {', '.join(map(str, L1_CONFIGS))}")
    available = {}
    for kb in sizes:
        tools, why = tools_for(kb)
        if tools:
            available[kb] = tools
        else:
            print(f"bench_gvsoc: {L1_CONFIGS[kb]['label']}: not measured ({why}; GVSoC and the open PULP SDK's "
                  "PMSIS are installed by hand: docs/PULP_OPEN.md)")
    if not available:
        print("bench_gvsoc: nothing measured, nothing written")
        return 0
    commit = git_commit()  # before the build copies the library
    metrics, details = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench_gvsoc_") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        model, x, source = quantize(args.channels, args.samples, args.calib, args.softmax_bits, args.head, work,
                                    args.softmax, args.depth)
        quantize_s = time.perf_counter() - t
        for kb, tools in available.items():
            m, d = measure(kb, tools, model, x, work, args, commit)
            metrics.update(m)
            details[f"l1_{kb}k"] = d
    details.update({
        "config": {"channels": args.channels, "samples": args.samples, "depth": args.depth, "calibration": source,
                   "softmax": args.softmax, "softmax_bits": args.softmax_bits, "head": args.head,
                   "l1_kb": list(available),
                   "not_measured": [kb for kb in sizes if kb not in available]},
        "model": "TinyMyo upstream random init (torch seed 0), quantized by tinymyo-edge, built per board",
        "output_equals_golden": True, "tinymyo_edge_commit": commit, "gvsoc_commit": args.gvsoc_commit,
        "ares_gap9": {"cycles": ARES_CYCLES, "macs": ARES_MACS, "mac_per_cycle": round(ARES_MACS / ARES_CYCLES, 2)},
        "wall_seconds_quantize": round(quantize_s, 1),
    })
    write_results(args.name, metrics, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
