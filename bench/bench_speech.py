"""The speech family (issue 16) without the Gaddy data: CER of a model trained on a synthetic CTC task, float vs int8
(golden executor == onnxruntime) vs C (host build), and the cost of a 4 s utterance.

1. Accuracy: tinymyo_edge.speech.synthetic (8 ch, 480 samples -> 60 tokens, words of 2-4 symbols of 6), a
   SpeechModel (dim 32, 2 blocks, 2 heads, relative window 16) trained with CTC for --train-steps on one thread;
   export -> quantize -> build host; greedy CTC on 64 held-out utterances. C outputs are checked == golden.
2. Cost, the authors' size (dim 192, 8 blocks, 3 heads, window 100) on a 4 s utterance at 1 kHz (4000 samples,
   500 tokens), random weights (counts do not depend on trained values): the gap9 memory plan, an ESTIMATED GAP9
   latency (profile/cost_model.py), and rv32 retired instructions under QEMU -icount (exact minstret, one core,
   FPU) MEASURED on the front end + 1 block and EXTRAPOLATED to 8 blocks (front + 8 x the measured block layers).

    python bench/bench_speech.py [--train-steps 1500] [--skip-rv32]   -> prints, writes bench/results/speech.json
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
from common import metric, write_results  # noqa: E402

from tinymyo_edge.build import build_program, run_host  # noqa: E402
from tinymyo_edge.export_speech import export_speech_onnx  # noqa: E402
from tinymyo_edge.memory import BOARDS, plan_memory  # noqa: E402
from tinymyo_edge.model.speech import SpeechConfig, SpeechModel  # noqa: E402
from tinymyo_edge.model.speech_checkpoint import save_speech_checkpoint  # noqa: E402
from tinymyo_edge.passes import run_passes  # noqa: E402
from tinymyo_edge.profile.report import profile  # noqa: E402
from tinymyo_edge.quant.runtime import run_int8  # noqa: E402
from tinymyo_edge.quant.speech_api import quantize_speech  # noqa: E402
from tinymyo_edge.quant.speech_builder import build_speech_program  # noqa: E402
from tinymyo_edge.speech.ctc import character_error_rate, greedy_decode  # noqa: E402
from tinymyo_edge.speech.synthetic import make_utterances, train_ctc  # noqa: E402
from tinymyo_edge.targets.operating_points import OPERATING_POINTS  # noqa: E402
from tinymyo_edge.targets.rv32 import missing_tools, run_rv32  # noqa: E402

TASK = dict(samples=480, min_len=2, max_len=4)
MODEL = SpeechConfig(samples=480, dim=32, depth=2, heads=2, max_relative_pos=16)
FULL_4S = SpeechConfig(samples=4000)  # the authors' sizes (config/recognition_model.json), 4 s at 1 kHz
QEMU = "QEMU rv32imfc -icount shift=0 (retired instructions, 1 core, FPU, scalar C kernels)"


def accuracy(train_steps: int, tmp: Path) -> tuple[dict, dict]:
    torch.set_num_threads(1)  # a fixed step count (not wall time): the same model on a busy or an idle machine
    model, log = train_ctc(make_utterances(512, seed=0, **TASK), MODEL, seconds=3600, steps=train_steps)
    test = make_utterances(64, seed=1, **TASK)
    calib = make_utterances(16, seed=2, **TASK).x
    save_speech_checkpoint(model, tmp / "speech.pt")
    export_speech_onnx(model, tmp / "float.onnx")
    program = quantize_speech(tmp / "float.onnx", tmp / "speech.pt", calib, tmp / "int8.onnx", progress=False)
    with torch.no_grad():
        y_float = model(torch.from_numpy(test.x)).numpy()
    y_int8 = np.stack([program.run(x)[program.output] for x in test.x])
    ort_equal = all(np.array_equal(run_int8(tmp / "int8.onnx", x).reshape(y_int8[0].shape), y_int8[i])
                    for i, x in enumerate(test.x[:8]))
    build_program(program, tmp / "host")
    np.savez(tmp / "test.npz", x=test.x)
    y_c = run_host(tmp / "host", tmp / "test.npz", tmp / "y_c.npz")
    texts = {name: [greedy_decode(v) for v in y] for name, y in (("float", y_float), ("int8", y_int8), ("c", y_c))}
    cer = {name: character_error_rate(test.texts, t) for name, t in texts.items()}
    where = (f"synthetic CTC task (tinymyo_edge/speech/synthetic.py), {len(test.texts)} held-out utterances, model "
             f"dim {MODEL.dim} x {MODEL.depth} blocks trained {log['seconds']:.0f} s / {log['steps']} steps on 1 core")
    metrics = {f"cer.{k}": metric(round(v, 4), "CER", "measured", where) for k, v in cer.items()}
    metrics["c_equals_golden"] = metric(bool(np.array_equal(y_c, y_int8)), "bool", "measured",
                                        "host build, all windows")
    metrics["ort_equals_golden"] = metric(bool(ort_equal), "bool", "measured", "onnxruntime, 8 windows")
    metrics["text_agreement.int8_vs_float"] = metric(
        round(float(np.mean([a == b for a, b in zip(texts["int8"], texts["float"])])), 4), "fraction", "measured",
        where)
    details = {"training": log, "task": TASK, "model": MODEL.to_dict(),
               "examples": [{"reference": r, "float": f, "int8": i, "c": c} for r, f, i, c in
                            list(zip(test.texts, texts["float"], texts["int8"], texts["c"]))[:12]]}
    return metrics, details


def cost(tmp: Path, rv32: bool) -> tuple[dict, dict]:
    metrics, details = {}, {}
    x = np.random.default_rng(0).standard_normal((1, 8, FULL_4S.samples)).astype(np.float32)
    torch.manual_seed(0)
    full = build_speech_program(SpeechModel(FULL_4S).eval(), x, progress=False)
    build_program(full, tmp / "full", target="gap9")
    plan = plan_memory(run_passes(full)[0], BOARDS["gap9"])
    op = OPERATING_POINTS["370MHz"]
    p = profile(tmp / "full", operating_point="370MHz")
    where4 = "4 s utterance (4000 samples, 500 tokens), dim 192, 8 blocks, window 100"
    metrics["full_4s.macs"] = metric(full.macs(), "MAC", "measured", f"{where4}, Program.macs")
    metrics["full_4s.gap9_cycles"] = metric(round(p.est_cycles), "cycles", "estimated",
                                            f"cost model {p.model.name!r} (profile/cost_model.py; conv1d and "
                                            f"rel_attention at assumed rates), {where4}, 370MHz")
    metrics["full_4s.gap9_latency_ms"] = metric(round(p.est_cycles / op.cluster_hz * 1e3, 1), "ms", "estimated",
                                                f"cost model {p.model.name!r}, {where4}, 370MHz")
    details["memory_plan_gap9"] = {"l2_bytes": plan.l2_bytes, "arena_bytes": plan.arena_bytes,
                                   "l1_peak": plan.l1_peak, "weight_bytes": plan.weight_bytes}
    details["gap9_board"] = {"l1_bytes": BOARDS["gap9"].l1_bytes, "l2_bytes": BOARDS["gap9"].l2_bytes}
    if not rv32 or missing_tools():
        details["rv32"] = "not run (--skip-rv32 or tools missing)"
        return metrics, details
    torch.manual_seed(0)
    one = build_speech_program(SpeechModel(FULL_4S.replace(depth=1)).eval(), x, progress=False)
    build_program(one, tmp / "one", target="gap9")
    start = time.perf_counter()
    run = run_rv32(tmp / "one", fpu=True, timeout=3000)
    if run.returncode != 0 or run.counters is None or run.counters.errors != (0, run.output.size):
        sys.exit(f"rv32 run failed or differs from the golden executor:\n{run.log[-3000:]}")
    layers = run.counters.layers  # layer -> (instructions, macs)
    block = sum(v[0] for k, v in layers.items() if k.startswith("blocks_0"))
    front = sum(v[0] for k, v in layers.items() if not k.startswith("blocks_0"))
    measured = run.counters.inference[0]
    where1 = f"{QEMU}, 4 s utterance, front end + 1 block"
    metrics["rv32.one_block.instructions"] = metric(measured, "instructions", "measured", where1)
    metrics["rv32.front_end.instructions"] = metric(front, "instructions", "measured", where1 + " (non-block layers)")
    metrics["rv32.per_block.instructions"] = metric(block, "instructions", "measured", where1 + " (blocks_0 layers)")
    metrics["rv32.full_4s.instructions"] = metric(front + 8 * block, "instructions", "estimated",
                                                  "extrapolated: measured front end + 8 x measured block")
    metrics["rv32.one_block.instructions_per_mac"] = metric(round(measured / one.macs(), 2), "instr/MAC",
                                                            "measured", where1)
    details["rv32"] = {"wall_seconds": round(time.perf_counter() - start, 1), "macs_one_block": one.macs(),
                       "layers": {k: v[0] for k, v in layers.items()}}
    return metrics, details


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-steps", type=int, default=1500)
    parser.add_argument("--skip-rv32", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_speech_") as tmp:
        tmp = Path(tmp)
        metrics, details = accuracy(args.train_steps, tmp)
        m2, d2 = cost(tmp, not args.skip_rv32)
    metrics.update(m2)
    details.update(d2)
    write_results("speech", metrics, details)
    for key, value in metrics.items():
        print(f"{key}: {value}")
    for ex in details["examples"][:6]:
        print(ex)


if __name__ == "__main__":
    main()
