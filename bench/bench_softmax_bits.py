"""Cost of the softmax probability precision (Attention.prob_bits 8 vs 12) in the C kernels: retired rv32
instructions (QEMU -icount, FPU build) of the attention layers and of the whole network, the default size
(8 ch x 1000 samples, 400 tokens, 8 blocks), and where gvsoc and the PMSIS fragment (PULP_PMSIS_MK) are present
the pulp-open GVSoC cycles of one block.
8 bits use the packed/SIMD probability rows; 9..16 bits int32 probability rows and a scalar 2 x 4 p.v block.

The network is a random Program of the default op sequence (tests/program_factory.py); counts do not depend on the
trained values. Every run's output is checked == the golden executor.

    python bench/bench_softmax_bits.py   -> prints, writes bench/results/softmax_bits.json
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
from tinymyo_edge.targets import pulp_open  # noqa: E402
from tinymyo_edge.targets.rv32 import missing_tools, run_rv32  # noqa: E402

QEMU = "QEMU rv32imfc -icount shift=0 (retired instructions, 1 core)"
GVSOC = "GVSoC pulp-open (cycles, 8 cores)"


def attention_count(counters, program) -> int:
    """Sum over the attention layers (layer names are the sanitised node names)."""
    names = {op.name.replace(".", "_") for op in program.ops if op.kind == "attention"}
    return sum(count for layer, (count, _) in counters.layers.items() if layer in names)


def measure(config: TinyMyoConfig, bits: int, tmp: Path, runner) -> tuple[int, int]:
    program = make_random_program(config, seed=0, prob_bits=bits)
    outdir = tmp / f"app{bits}_{config.depth}"
    build_program(program, outdir, target="gap9")
    run = runner(outdir)
    if run.returncode != 0 or run.counters is None or run.counters.errors != (0, run.output.size):
        sys.exit(f"{bits}-bit run failed or differs from the golden executor:\n{run.log[-3000:]}")
    return attention_count(run.counters, program), run.counters.total[0]


def main() -> None:
    missing = missing_tools()
    if missing:
        sys.exit(f"bench_softmax_bits needs {', '.join(missing)} (.ci/install installs them)")
    metrics = {}
    with tempfile.TemporaryDirectory(prefix="bench_softmax_bits_") as tmp:
        full = TinyMyoConfig()
        for bits in (8, 12):
            att, total = measure(full, bits, Path(tmp), lambda d: run_rv32(d, fpu=True, timeout=1800))
            metrics[f"rv32_attention_p{bits}"] = metric(att, "instructions", "measured", f"{QEMU}, 8 attention layers")
            metrics[f"rv32_total_p{bits}"] = metric(total, "instructions", "measured", f"{QEMU}, whole network")
        if not pulp_open.missing_tools():  # gvsoc, the PMSIS fragment (PULP_PMSIS_MK), the compiler
            one_block = TinyMyoConfig(depth=1)
            for bits in (8, 12):
                att, total = measure(one_block, bits, Path(tmp), lambda d: pulp_open.run_pulp_open(d, timeout=1800))
                metrics[f"pulp_open_attention_p{bits}"] = metric(att, "cycles", "measured", f"{GVSOC}, 1 block")
                metrics[f"pulp_open_total_p{bits}"] = metric(total, "cycles", "measured", f"{GVSOC}, 1-block network")
    write_results("softmax_bits", metrics, details={
        "config": "TinyMyo default sizes (8 x 1000, 400 tokens, dim 192, 3 heads); pulp-open: depth 1",
        "network": "random Program of the default op sequence (tests/program_factory.py)"})


if __name__ == "__main__":
    main()
