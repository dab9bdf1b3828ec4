"""Time of the 16 x 1000 export -> quantize -> build -> validate path (bench_build.py's model and calibration: upstream
initialisation seed 0, 4 real 3DC windows), per stage, wall and CPU seconds (this process's threads and its child processes: compiler, host program). The CPU seconds are the number
to compare across runs on the shared machine (wall time there depends on the other jobs).

    python bench/bench_quant_speed.py [--channels 16] [--calib 4]   -> bench/results/quant_speed.json

Also records a digest of every tensor scale and the calibration record the quantizer chose, so a speedup that
changed a result shows up as a different digest (tests/test_quant_speed.py checks the pieces).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ablation import commit  # noqa: E402
from bench_build import windows  # noqa: E402
from common import metric, write_results  # noqa: E402

from tinymyo_edge.build import build, validate  # noqa: E402
from tinymyo_edge.export import export_onnx  # noqa: E402
from tinymyo_edge.model.config import TinyMyoConfig  # noqa: E402
from tinymyo_edge.model.tinymyo import TinyMyo  # noqa: E402
from tinymyo_edge.quant import quantize_model  # noqa: E402

HOST = "host CPU, shared 2-core machine under load from other jobs"


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished children (the compiler, the host program)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def timed(stages: dict, name: str, fn):
    c, t = cpu_seconds(), time.perf_counter()
    out = fn()
    stages[name] = {"wall_s": round(time.perf_counter() - t, 2), "cpu_s": round(cpu_seconds() - c, 2)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--calib", type=int, default=4)
    args = parser.parse_args()
    source = commit()
    cfg = TinyMyoConfig(channels=args.channels)
    torch.manual_seed(0)
    model = TinyMyo(cfg).eval()
    x = windows(args.channels, cfg.samples, args.calib)
    stages: dict = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        work = Path(tmpdir)
        timed(stages, "export", lambda: export_onnx(model, work / "float.onnx"))
        program = timed(stages, "quantize",
                        lambda: quantize_model(work / "float.onnx", x, work / "model.int8.onnx", progress=False))
        timed(stages, "build", lambda: build(work / "model.int8.onnx", work / "build", target="gap9"))
        np.savez(work / "inputs.npz", x=x[:2])
        check = timed(stages, "validate", lambda: validate(work / "build", work / "inputs.npz"))
    chosen = json.dumps({"scales": {k: v.scale for k, v in program.tensors.items()},
                         "calibration": program.metadata["calibration"]}, sort_keys=True)
    tag = f"{args.channels}x{cfg.samples}"
    src = f"{HOST}; commit {source}; {args.calib} calibration windows"
    metrics = {f"{tag}.path_wall_s": metric(round(sum(s["wall_s"] for s in stages.values()), 1), "s", "measured",
                                            src + " (target < 60 s)"),
               f"{tag}.path_cpu_s": metric(round(sum(s["cpu_s"] for s in stages.values()), 1), "s", "measured",
                                           src + ", CPU time of the process (all threads) and its children"),
               f"{tag}.quantize_wall_s": metric(stages["quantize"]["wall_s"], "s", "measured", src),
               f"{tag}.quantize_cpu_s": metric(stages["quantize"]["cpu_s"], "s", "measured", src),
               f"{tag}.validate_errors": metric(check.errors, "elements", "measured", src)}
    write_results("quant_speed", metrics, {"commit": source, "stages": stages,
                                           "chosen_digest": hashlib.sha256(chosen.encode()).hexdigest()})


if __name__ == "__main__":
    main()
