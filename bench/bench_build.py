"""The lowering on the default 8 x 1000 model and the 16 x 1000 one (upstream initialisation, seed 0, classification):
the whole export -> quantize -> build -> validate path timed per stage; host inference of the generated C against
onnxruntime on the same int8 ONNX, one thread, measured in the same run; L2 arena vs its liveness lower bound; L1 peak.

    python bench/bench_build.py [--channels 8 16] [--calib 4] [--repeats 20]   -> bench/results/build.json

Calibration: real 3DC windows (participant 1, 1 s at 1000 Hz, z-scored; channels beyond the 10 recorded are
zero-padded, as upstream pads missing channels). C timings: the host harness's own clock (median of `repeats`),
built with -O3 -march=native -ffp-contract=off (the AVX-512 VNNI path of tm_arch.h where the CPU has it) and with the
validate flags -O2 -march=native, and -O2 with the portable C dot products. onnxruntime: InferenceSession, 1 intra-op thread, ORT_ENABLE_ALL, median of
`repeats` session.run calls after 2 warm-up runs. C and onnxruntime are timed in interleaved rounds (the machine is
shared); each reports its best round.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import metric, shared_dir, write_results  # noqa: E402

from tinymyo_edge.build import build, validate  # noqa: E402
from tinymyo_edge.export import export_onnx  # noqa: E402
from tinymyo_edge.model.config import TinyMyoConfig  # noqa: E402
from tinymyo_edge.model.tinymyo import TinyMyo  # noqa: E402
from tinymyo_edge.quant import quantize_model  # noqa: E402
from tinymyo_edge.quant.runtime import session  # noqa: E402
from tinymyo_edge.targets.host import bench_binary, compile_host  # noqa: E402
from tinymyo_edge.validate import cpu_path  # noqa: E402

HOST = "host CPU, 1 thread"


def windows(channels: int, samples: int, count: int) -> np.ndarray:
    from tinymyo_edge.data import windows_from_3dc

    x = windows_from_3dc(shared_dir() / "data" / "3dc" / "participant01.npz", window=samples,
                         channels=min(channels, 10)).x
    x = x[np.linspace(0, len(x) - 1, count).round().astype(int)]
    if channels > x.shape[1]:
        x = np.concatenate([x, np.zeros((count, channels - x.shape[1], samples), np.float32)], axis=1)
    return x.astype(np.float32)


class OrtTimer:
    def __init__(self, model: Path, x: np.ndarray):
        self.sess = session(model, threads=1)
        self.feed = {self.sess.get_inputs()[0].name: x[None]}
        for _ in range(2):
            self.sess.run(None, self.feed)

    def median(self, repeats: int) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            self.sess.run(None, self.feed)
            times.append(time.perf_counter() - start)
        return float(np.median(times))


def interleaved(timers: dict, repeats: int, rounds: int) -> dict[str, float]:
    """Each timer's median over `repeats`, in `rounds` interleaved rounds; the best round of each (the machine is
    shared: interleaving exposes C and onnxruntime to the same load, the best round is the least disturbed)."""
    best = {name: float("inf") for name in timers}
    for _ in range(rounds):
        for name, timer in timers.items():
            best[name] = min(best[name], timer(repeats))
    return best


def bench_model(channels: int, calib: int, repeats: int, rounds: int, work: Path) -> tuple[dict, dict]:
    cfg = TinyMyoConfig(channels=channels)
    torch.manual_seed(0)
    x = windows(channels, cfg.samples, calib)
    stages = {}
    t = time.perf_counter()
    export_onnx(TinyMyo(cfg).eval(), work / "float.onnx")
    stages["export"] = time.perf_counter() - t
    t = time.perf_counter()
    quantize_model(work / "float.onnx", x, work / "model.int8.onnx", progress=False)
    stages["quantize"] = time.perf_counter() - t
    t = time.perf_counter()
    result = build(work / "model.int8.onnx", work / "build", target="gap9")
    stages["build"] = time.perf_counter() - t
    np.savez(work / "inputs.npz", x=x[:2])
    t = time.perf_counter()
    check = validate(work / "build", work / "inputs.npz")
    stages["validate"] = time.perf_counter() - t
    print(check.report())
    exes = {v: compile_host(work / "build", v) for v in ("bench", "validate", "portable")}
    ort_timer = OrtTimer(work / "model.int8.onnx", x[0])
    timers = {v: (lambda n, exe=exe: bench_binary(exe, x[0], n)) for v, exe in exes.items()}
    timers["ort"] = ort_timer.median
    best = interleaved(timers, repeats, rounds)
    c_fast, c_validate, c_portable, ort = best["bench"], best["validate"], best["portable"], best["ort"]
    plan = result.plan
    tag = f"{channels}x{cfg.samples}"
    src = f"{HOST}, same run, interleaved, best of {rounds} medians"
    metrics = {
        f"{tag}.path_seconds": metric(round(sum(stages.values()), 2), "s", "measured",
                                      "host CPU: export + quantize + build + validate (target < 60 s)"),
        f"{tag}.build_seconds": metric(round(stages["build"], 2), "s", "measured", "host CPU: build alone"),
        f"{tag}.validate_errors": metric(check.errors, "elements", "measured",
                                         f"host C vs golden and onnxruntime, {check.windows} real windows"),
        f"{tag}.c_ms": metric(round(c_fast * 1e3, 2), "ms", "measured", f"{src}, gcc -O3 -march=native"),
        f"{tag}.c_validate_ms": metric(round(c_validate * 1e3, 2), "ms", "measured",
                                       f"{src}, gcc -O2 -march=native (the validate build)"),
        f"{tag}.c_portable_ms": metric(round(c_portable * 1e3, 2), "ms", "measured",
                                       f"{src}, gcc -O2, portable C dot products (TM_PORTABLE_C)"),
        f"{tag}.ort_ms": metric(round(ort * 1e3, 2), "ms", "measured", f"{src}, onnxruntime on the int8 ONNX"),
        f"{tag}.c_over_ort": metric(round(c_fast / ort, 3), "ratio", "measured",
                                    f"{src} (target <= 1: C at least as fast)"),
        f"{tag}.arena_over_lower_bound": metric(round(plan.arena_bytes / plan.lower_bound, 4), "ratio", "measured",
                                                "memory plan, board gap9 (target <= 1.05)"),
        f"{tag}.arena_bytes": metric(plan.arena_bytes, "bytes", "measured", "memory plan, board gap9 (L2)"),
        f"{tag}.l2_total_bytes": metric(plan.l2_bytes, "bytes", "measured",
                                        "memory plan: arena + weight slabs + I/O, of 1,572,864"),
        f"{tag}.l1_peak_bytes": metric(plan.l1_peak, "bytes", "measured", "memory plan, of 131,072 (tiles only)"),
    }
    details = {"stages_seconds": {k: round(v, 2) for k, v in stages.items()}, "macs": result.program.macs(),
               "cpu_path": cpu_path(), "gmac_per_s_c": round(result.program.macs() / c_fast / 1e9, 2),
               "gmac_per_s_ort": round(result.program.macs() / ort / 1e9, 2)}
    return metrics, {tag: details}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--calib", type=int, default=4, help="calibration windows (quantize time grows with it)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (best round reported)")
    args = parser.parse_args()
    metrics, details = {}, {}
    for channels in args.channels:
        with tempfile.TemporaryDirectory(prefix="bench_build_") as tmp:
            m, d = bench_model(channels, args.calib, args.repeats, args.rounds, Path(tmp))
            metrics.update(m)
            details.update(d)
    write_results("build", metrics, details)


if __name__ == "__main__":
    main()
