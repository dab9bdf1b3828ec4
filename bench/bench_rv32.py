"""Retired rv32 instructions per MAC of the whole default network (TinyMyo 8 ch x 1000 samples, 400 tokens,
classification head), measured under QEMU with `-icount shift=0,sleep=off` (exact minstret, one core, no SIMD):
the deterministic proxy of the kernels' scalar cost. Integer-only rv32imc (float32 contract steps in libgcc soft
float) and rv32imfc (hardware FPU, as GAP9's cores have). Per op class: instructions per MAC for the matrix
layers, per output element for the others. The scalar floor is about 2 instructions per MAC (a mul and an add)
in the integer build; the FPU build accumulates exactly with fmadd.s (gap9_app/inc/tm_rv32.h), 1.75 in its inner loop.

The network is a random Program of the default size (tests/program_factory.py: the op sequence the quantizer emits;
instruction counts do not depend on trained values). Each run's output is checked == the golden executor.

    python bench/bench_rv32.py [--channels 8 --samples 1000]   -> prints, writes bench/results/rv32.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from common import metric, write_results  # noqa: E402
from program_factory import make_random_program  # noqa: E402

from tinymyo_edge.build.core import build_program  # noqa: E402
from tinymyo_edge.model.config import TinyMyoConfig  # noqa: E402
from tinymyo_edge.targets.rv32 import missing_tools, run_rv32  # noqa: E402

MATMUL = ("linear", "linear_lut", "linear_dequant", "attention")
QEMU = "QEMU rv32 -icount shift=0 (retired instructions, 1 core, no SIMD)"


def per_class(counters, kinds: dict[str, str], elements: dict[str, int]) -> dict[str, dict]:
    """Sum instructions, MACs and elements per op kind."""
    out: dict[str, dict] = defaultdict(lambda: {"instructions": 0, "macs": 0, "elements": 0, "layers": 0})
    for layer, (count, macs) in counters.layers.items():
        entry = out[kinds[layer]]
        entry["instructions"] += count
        entry["macs"] += macs
        entry["elements"] += elements[layer]
        entry["layers"] += 1
    for entry in out.values():
        entry["per_mac"] = entry["instructions"] / entry["macs"] if entry["macs"] else None
        entry["per_element"] = entry["instructions"] / entry["elements"] if entry["elements"] else None
    return dict(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    missing = missing_tools()
    if missing:
        sys.exit(f"bench_rv32 needs {', '.join(missing)} (.ci/install installs them)")
    config = TinyMyoConfig(channels=args.channels, samples=args.samples)
    program = make_random_program(config, seed=0)
    with tempfile.TemporaryDirectory(prefix="bench_rv32_") as tmp:
        outdir = Path(tmp) / "app"
        result = build_program(program, outdir, target="gap9")  # network code + app
        import json

        layers = json.loads((outdir / "build.json").read_text())["layers"]
        by_node = {op.name: op for op in result.program.ops}
        kinds = {entry["layer"]: by_node[entry["node"]].kind for entry in layers}
        elements = {entry["layer"]: int(np.prod(entry["shape"])) for entry in layers}
        runs = {}
        for label, fpu in (("rv32imc_softfloat", False), ("rv32imfc_fpu", True)):
            start = time.perf_counter()
            run = run_rv32(outdir, fpu=fpu, timeout=1800)
            if run.returncode != 0 or run.counters is None or run.counters.errors != (0, run.output.size):
                sys.exit(f"{label} run failed or differs from the golden executor:\n{run.log[-3000:]}")
            runs[label] = (run.counters, time.perf_counter() - start)
    macs = program.macs()
    metrics, details = {}, {"config": {"channels": args.channels, "samples": args.samples, "macs": macs},
                            "network": "random Program of the default op sequence (tests/program_factory.py)"}
    for label, (counters, seconds) in runs.items():
        total = counters.inference[0]
        classes = per_class(counters, kinds, elements)
        where = f"{QEMU}, {label}, {args.channels}x{args.samples}"
        metrics[f"{label}.instructions_per_mac"] = metric(round(total / macs, 3), "instr/MAC", "measured", where)
        metrics[f"{label}.instructions"] = metric(total, "instructions", "measured", where)
        for kind in MATMUL:
            if kind in classes and classes[kind]["macs"]:
                metrics[f"{label}.{kind}.instructions_per_mac"] = metric(
                    round(classes[kind]["per_mac"], 3), "instr/MAC", "measured", where)
        details[label] = {"classes": classes, "wall_seconds": round(seconds, 1),
                          "layers": {k: v[0] for k, v in counters.layers.items()}}
    write_results("rv32", metrics, details)
    for label in runs:
        print(f"\n{label}: per op class")
        for kind, c in sorted(details[label]["classes"].items(), key=lambda kv: -kv[1]["instructions"]):
            rate = f"{c['per_mac']:.2f} instr/MAC" if c["per_mac"] else f"{c['per_element']:.1f} instr/element"
            print(f"  {kind:<16}{c['layers']:>4} layers {c['instructions']:>15,} instr  {rate}")


if __name__ == "__main__":
    main()
