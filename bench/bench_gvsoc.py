"""The paper's deployed model (8 ch x 1000 samples, 400 tokens, 1.91 GMAC) on the open-source GVSoC, target pulp-open:
cluster cycles per layer, MAC/cycle per op class, the whole network next to the authors' GAP9 GVSoC figure (ARES:
304,952,643 cycles, 6.3 MAC/cycle) and to the previous result file's total. The app's PMSIS code path (the one GAP9
runs) on the open PULP SDK's PMSIS: Xpulpv2 sdotp, hardware loops, post-increment loads, pi_cl_team_fork over 8
cluster cores, cluster DMA L2 <-> L1, weights copied from HyperFlash to HyperRAM once and read back as L3.

    PULP_PMSIS_MK=<pmsis.mk> python bench/bench_gvsoc.py [--channels 8] [--samples 1000] [--calib 4]
        [--softmax deferred|normalized] [--softmax-bits 8] [--depth 8] [--head classification|regression]
        [--name gvsoc] [--previous gvsoc]
        [--gvsoc-commit SHA]   -> bench/results/<name>.json

Model: TinyMyo with its upstream random initialisation (torch seed 0), exported and quantized by tinymyo-edge on
real 3DC windows (participant 1; synthetic EMG-like windows when ../shared is absent), built for board "pulp-open".
Every number is "measured: pulp-open GVSoC cycles": a PULP cluster (RI5CY cores, 64 kB TCDM, no TCDM bank conflicts
modelled), NOT a GAP9 measurement. Without `gvsoc` or riscv64-unknown-elf-gcc on PATH, or without the PMSIS make
fragment (PULP_PMSIS_MK), it says so and exits 0, writing nothing.
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
from tinymyo_edge.targets.pulp_open import missing_tools, run_pulp_open  # noqa: E402

ARES_CYCLES, ARES_MACS = 304_952_643, 1_921_305_685  # TINYMYO.md: the authors' GAP9 GVSoC run
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


def build_model(channels: int, samples: int, calib: int, prob_bits: int, head: str, work: Path,
                softmax: str = "deferred", depth: int = 8):
    import torch

    from tinymyo_edge.build import build
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
    result = build(work / "model.int8.onnx", work / "app", target="gap9", board="pulp-open")
    return result, x, source


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


def previous_total(name: str) -> dict | None:
    """The whole-network cycles of bench/results/<name>.json (cycles and where they were measured)."""
    path = REPO_ROOT / "bench" / "results" / f"{name}.json"
    try:
        entry = json.loads(path.read_text())["metrics"]["total_cycles"]
        return {"cycles": int(entry["value"]), "source": entry["source"]}
    except (OSError, KeyError, ValueError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    parser.add_argument("--previous", default="gvsoc", help="result file whose total this run is compared with")
    parser.add_argument("--gvsoc-commit", default=os.environ.get("TINYMYO_GVSOC_COMMIT", "unknown"),
                        help="the gvsoc/gvsoc commit the simulator was built from (recorded with the numbers)")
    args = parser.parse_args()
    missing = missing_tools()
    if missing:
        print(f"bench_gvsoc: {' and '.join(missing)} not on PATH: nothing measured, nothing written "
              "(GVSoC and the open PULP SDK's PMSIS are installed by hand: docs/PULP_OPEN.md)")
        return 0
    commit = git_commit()  # before the build copies the library
    previous = previous_total(args.previous)
    with tempfile.TemporaryDirectory(prefix="bench_gvsoc_") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        result, x, source = build_model(args.channels, args.samples, args.calib, args.softmax_bits, args.head, work,
                                        args.softmax, args.depth)
        build_s = time.perf_counter() - t
        program, outdir = result.program, work / "app"
        sample = x[0]
        want = np.asarray(program.run(sample)[program.output], dtype=np.float32)
        t = time.perf_counter()
        run = run_pulp_open(outdir, x=sample, expected=want, timeout=3600)
        sim_s = time.perf_counter() - t
        if run.returncode != 0 or run.counters is None or run.counters.errors != (0, want.size):
            print(run.log[-4000:])
            sys.exit("bench_gvsoc: the pulp-open run failed or its output differs from the golden executor")
        layers = json.loads((outdir / "build.json").read_text())["layers"]
    by_node = {op.name: op for op in program.ops}
    kinds = {entry["layer"]: by_node[entry["node"]].kind for entry in layers}
    counters = run.counters
    total, macs = counters.inference[0], counters.total[1]
    classes = per_class(counters, kinds)
    where = (f"pulp-open GVSoC cycles (tinymyo-edge commit {commit}, gvsoc/gvsoc {args.gvsoc_commit}), "
             f"PMSIS (open PULP SDK), cluster core 0 PI_PERF_CYCLES, 8 cores, {args.channels}x{args.samples}, "
             f"depth {args.depth}, "
             + ("deferred softmax" if args.softmax == "deferred" else f"{args.softmax_bits}-bit softmax probabilities")
             + f", {args.head} head; a PULP cluster, not GAP9")
    metrics = {
        "total_cycles": metric(total, "cycles", "measured", where),
        "mac_per_cycle": metric(round(macs / total, 3), "MAC/cycle", "measured", where),
    }
    if args.head == "classification":  # the authors' figure is for the classification model
        metrics["vs_ares_gap9_cycles"] = metric(round(total / ARES_CYCLES, 3), "x of 304.95 M", "measured",
                                                where + "; ARES figure is the authors' GAP9 GVSoC run (TINYMYO.md)")
    if previous:
        metrics["vs_previous_cycles"] = metric(round(total / previous["cycles"], 4), "x of previous", "measured",
                                               where + f"; previous: {previous['cycles']:,} ({previous['source']})")
    for name, entry in classes.items():
        if entry["macs"]:
            metrics[f"{name}.mac_per_cycle"] = metric(entry["mac_per_cycle"], "MAC/cycle", "measured", where)
        key = name.replace(" (", ".").rstrip(")")
        metrics[f"{key}.cycles"] = metric(entry["cycles"], "cycles", "measured", where)
    details = {
        "config": {"channels": args.channels, "samples": args.samples, "depth": args.depth, "macs": macs,
                   "calibration": source, "softmax": args.softmax, "softmax_bits": args.softmax_bits,
                   "head": args.head},
        "previous": previous,
        "model": "TinyMyo upstream random init (torch seed 0), quantized by tinymyo-edge, board pulp-open",
        "output_equals_golden": True, "tinymyo_edge_commit": commit, "gvsoc_commit": args.gvsoc_commit,
        "ares_gap9": {"cycles": ARES_CYCLES, "macs": ARES_MACS, "mac_per_cycle": round(ARES_MACS / ARES_CYCLES, 2)},
        "classes": classes, "layers": {k: {"cycles": v[0], "macs": v[1]} for k, v in counters.layers.items()},
        "wall_seconds": {"build": round(build_s, 1), "simulation": round(sim_s, 1)},
    }
    write_results(args.name, metrics, details)
    print(f"measured: {where}\n")
    print(f"{'layer':<40}{'cycles':>14}{'MACs':>14}{'MAC/cycle':>11}")
    for layer, (cycles, n) in counters.layers.items():
        print(f"{layer:<40}{cycles:>14,}{n:>14,}{n / cycles if cycles else 0:>11.2f}")
    print(f"\n{'op class':<40}{'cycles':>14}{'MACs':>14}{'MAC/cycle':>11}")
    for name, entry in classes.items():
        print(f"{name:<40}{entry['cycles']:>14,}{entry['macs']:>14,}{entry['mac_per_cycle'] or 0:>11.2f}")
    print(f"\nwhole network: {total:,} cycles, {macs / total:.2f} MAC/cycle; ARES on GAP9 GVSoC: {ARES_CYCLES:,} "
          f"cycles, {ARES_MACS / ARES_CYCLES:.2f} MAC/cycle ({total / ARES_CYCLES:.2f}x)")
    if previous:
        print(f"previous result: {previous['cycles']:,} cycles ({previous['source']}): now {total / previous['cycles']:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
