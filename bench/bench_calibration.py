"""Which activation clipping keeps int8 closest to float? int8-vs-float top-1 agreement of trained TinyMyo models
under each calibration setting of quantize (method, percentile, calibration windows), everything else at the
defaults; the evidence behind calibrate.DEFAULT_METHODS['classification'] / DEFAULT_PERCENTILE (docs/QUANT.md).

    python bench/bench_accuracy.py --participants 1,2,3,4,5,6 --deployed "" --regression "" \
        --work /work/ckpt/acc100                                  # trains the checkpoints (seeded, ~3 min each)
    python bench/bench_calibration.py --work /work/ckpt/acc100 [--participants 1,2,3,4,5,6] \
        [--deployed-work /work/ckpt/deployed --deployed 2]       -> bench/results/calibration.json

Per participant: the float ONNX (model.onnx, parity-checked against PyTorch at export) and the int8 ONNX, both in
onnxruntime, on every test.npz window; calibration on train.npz (quantize picks its windows). The settings were
compared on these same test windows: the chosen default is the best of the grid on them, not a held-out result.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import metric, write_results  # noqa: E402

from tinymyo_edge.quant import quantize_model  # noqa: E402
from tinymyo_edge.quant.calibrate import DEFAULT_METHODS, DEFAULT_PERCENTILE  # noqa: E402
from tinymyo_edge.quant.runtime import session  # noqa: E402

SETTINGS = {  # name -> quantize_model options
    "mse": {"method": "mse"},
    "mse_64_windows": {"method": "mse", "max_windows": 64},
    "minmax": {"method": "minmax"},
    "p99.5": {"method": "percentile", "percentile": 99.5},
    "p99.8": {"method": "percentile", "percentile": 99.8},
    "p99.9": {"method": "percentile", "percentile": 99.9},
    "p99.95": {"method": "percentile", "percentile": 99.95},
    "p99.99": {"method": "percentile", "percentile": 99.99},
}


def logits(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    """(N, outputs) from onnxruntime, one window per run (the graphs have batch 1)."""
    sess = session(onnx_path)
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i : i + 1]})[0].reshape(1, -1) for i in range(len(x))])


def score(ckpt: Path, settings: dict, tmp: Path) -> dict:
    """setting -> (agreement, windows differing, int8 accuracy) for one checkpoint folder; plus the float accuracy."""
    train, test = np.load(ckpt / "train.npz"), np.load(ckpt / "test.npz")
    x = test["x"].astype(np.float32)
    float_pred = logits(ckpt / "model.onnx", x).argmax(1)
    out = {"float_accuracy": float(np.mean(float_pred == test["y"])), "windows": int(len(x))}
    for name, opts in settings.items():
        int8 = tmp / f"{ckpt.name}_{name}.int8.onnx"
        quantize_model(ckpt / "model.onnx", train["x"], int8, force=True, progress=False, **opts)
        pred = logits(int8, x).argmax(1)
        out[name] = {"agreement": float(np.mean(pred == float_pred)), "differing": int(np.sum(pred != float_pred)),
                     "accuracy": float(np.mean(pred == test["y"]))}
        print(f"  {ckpt}: {name:<15} agreement {out[name]['agreement']:.4f} ({out[name]['differing']} of {len(x)})",
              flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/tinymyo_accuracy"),
                        help="bench_accuracy.py's --work (pNN/ checkpoints) [default: its default]")
    parser.add_argument("--participants", default=os.environ.get("TINYMYO_ACCURACY_PARTICIPANTS", "1,2,3,4,5,6"),
                        help="[default: $TINYMYO_ACCURACY_PARTICIPANTS (as bench_accuracy.py), else 1,...,6]")
    parser.add_argument("--deployed-work", type=Path, default=None, help="bench_accuracy.py's --deployed-work")
    parser.add_argument("--deployed", default="", help="deployed-model participants ('' = none)")
    parser.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated names of SETTINGS")
    args = parser.parse_args()
    chosen = {n: SETTINGS[n] for n in args.settings.split(",")}
    missing = [p for p in args.participants.split(",") if not (args.work / f"p{int(p):02d}" / "model.onnx").exists()]
    if missing:
        print(f"bench_calibration: no trained checkpoint for participants {','.join(missing)} under {args.work} "
              "(run bench/bench_accuracy.py with that --work first)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    metrics, details = {}, {"settings": chosen,
                            "default": {"method": DEFAULT_METHODS, "percentile": DEFAULT_PERCENTILE},
                            "command": "python bench/bench_calibration.py " + " ".join(sys.argv[1:])}
    groups = [("small", args.work, args.participants, "small model (100 tokens)")]
    if args.deployed:
        groups.append(("deployed", args.deployed_work, args.deployed, "deployed model (400 tokens, briefly trained)"))
    with tempfile.TemporaryDirectory(prefix="bench_calib_") as tmp:
        for group, work, parts, what in groups:
            rows = {int(p): score(work / f"p{int(p):02d}", chosen, Path(tmp)) for p in parts.split(",")}
            details[group] = rows
            where = f"{what}, 3DC participants {parts} session 1, onnxruntime on the host CPU"
            for name in chosen:
                mean = float(np.mean([r[name]["agreement"] for r in rows.values()]))
                metrics[f"{group}.{name}.mean_agreement"] = metric(round(mean, 4), "", "measured",
                                                                   where + "; mean over participants")
                metrics[f"{group}.{name}.min_agreement"] = metric(
                    round(min(r[name]["agreement"] for r in rows.values()), 4), "", "measured", where)
                drop = np.mean([r[name]["accuracy"] - r["float_accuracy"] for r in rows.values()]) * 100
                metrics[f"{group}.{name}.int8_minus_float"] = metric(round(float(drop), 2), "points", "measured",
                                                                     where + "; mean over participants")
    details["seconds"] = round(time.perf_counter() - t0)
    write_results("calibration", metrics, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
