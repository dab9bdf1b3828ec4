"""Ablation on a trained TinyMyo: which op class loses the int8-vs-float agreement? One class of ops quantized at a
time ("only"), everything but one class ("all_but"), none and all (the real program), scored against the float model
on held-out windows (quant/ablation.py); plus the per-layer QSNR/cosine of the real program (quant/report.py).

    python bench/bench_ablation.py --checkpoint /work/ckpt/acc100/p01 [--max-eval 600] [--softmax deferred]
        -> bench/results/ablation.json (+ a markdown table on stdout)

CHECKPOINT is a directory with model.safetensors, train.npz (calibration: 16 windows spread evenly, as quantize
picks them) and test.npz (evaluation: --max-eval windows spread evenly, labels for the accuracy).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO_ROOT, metric, write_results  # noqa: E402

from tinymyo_edge.data import load_windows  # noqa: E402
from tinymyo_edge.model.checkpoint import load_checkpoint  # noqa: E402
from tinymyo_edge.quant.ablation import ablate, format_table  # noqa: E402
from tinymyo_edge.quant.api import DEFAULT_MAX_WINDOWS, calibration_subset  # noqa: E402
from tinymyo_edge.quant.report import format_table as layer_format, layer_table  # noqa: E402

HOST = "host CPU (shared 2-core machine, under load)"


def commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                           capture_output=True, text=True).stdout.strip()
    return head.stdout.strip() + ("+modified" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=Path("/work/ckpt/acc100/p01"))
    parser.add_argument("--max-eval", type=int, default=600, help="evaluation windows (spread evenly over test.npz)")
    parser.add_argument("--prob-bits", type=int, default=None, help="builder prob_bits (default: quantize's)")
    parser.add_argument("--softmax", default=None, help="builder softmax, where the builder has one")
    parser.add_argument("--classes", nargs="*", default=None, help="only these classes (default: every class)")
    parser.add_argument("--no-leave-one-out", action="store_true")
    parser.add_argument("--name", default="ablation", help="results file bench/results/NAME.json")
    args = parser.parse_args()
    source = commit()  # the code this process imported (read before any later edit of the tree)
    ck = args.checkpoint
    model = load_checkpoint(ck / "model.safetensors").eval()
    cfg = model.cfg
    train = load_windows(ck / "train.npz", channels=cfg.channels, samples=cfg.samples)
    test = load_windows(ck / "test.npz", channels=cfg.channels, samples=cfg.samples)
    calib = calibration_subset(train.x, DEFAULT_MAX_WINDOWS)
    idx = np.arange(len(test.x)) if args.max_eval >= len(test.x) else \
        np.linspace(0, len(test.x) - 1, args.max_eval).round().astype(int)
    x, y = test.x[idx], None if test.y is None else test.y[idx]
    kwargs = {k: v for k, v in (("prob_bits", args.prob_bits), ("softmax", args.softmax)) if v is not None}
    start = time.perf_counter()
    res = ablate(model, calib, x, y, classes=args.classes, leave_one_out=not args.no_leave_one_out,
                 echo=lambda s: print(s, flush=True), **kwargs)
    seconds = time.perf_counter() - start
    layers = layer_table(res.program, model, x[:8])
    table = format_table(res)
    src = (f"{HOST}; {ck} ({cfg.tokens} tokens, dim {cfg.dim}, depth {cfg.depth}, heads {cfg.heads}); "
           f"{len(calib)} calibration windows from train.npz, {len(x)} test.npz windows; commit {source}")
    metrics = {}
    for r in res.rows:
        tag = r["config"] if r["class"] == "-" else f"{r['config']}.{r['class']}"
        for key in ("top1_agreement", "accuracy", "cosine_mean", "qsnr_db"):
            if key in r:
                metrics[f"{tag}.{key}"] = metric(round(r[key], 5), "dB" if key == "qsnr_db" else "", "measured", src)
    if res.float_accuracy is not None:
        metrics["float_accuracy"] = metric(round(res.float_accuracy, 5), "", "measured", src)
    metrics["seconds"] = metric(round(seconds, 1), "s", "measured", HOST)
    details = {"checkpoint": str(ck), "commit": source, "config": cfg.to_dict(), "builder": kwargs,
               "rows": res.rows, "layers": layers, "table_markdown": table, "calibration_windows": len(calib),
               "eval_windows": len(x), "metadata": {k: v for k, v in res.program.metadata.items()
                                                    if k != "calibration"}}
    write_results(args.name, metrics, details)
    print(f"\nfloat accuracy {res.float_accuracy}\n{table}\n\nper layer (real program, 8 test windows):")
    print(layer_format(layers))


if __name__ == "__main__":
    main()
