#!/usr/bin/env python3
"""Regression head on real EMG, end to end: TinyMyo predicts the muscle-activation envelope of the NEXT window.

Why a proxy: the shared 3DC recordings have no joint angles, so the kinematics-style regression of the paper cannot be
trained here. The documented proxy target keeps what matters for deployment (a continuous, smooth, multi-output
signal predicted from the current window by the regression head, float outputs after the last layer):

    input   x = samples [t, t + W) of the preprocessed EMG (band-pass 20-450 Hz, 60 Hz notch, resampled to 500 Hz,
            per-channel z-score with the training session's statistics: the gesture pipeline's preprocessing)
    target  y[l, c] = RMS of channel c over block l of the NEXT W samples [t + W, t + 2 W), L = W / patch blocks
            (= the model's patches per channel, so the head needs no interpolation): shape (L, channels)

W = 250 (0.5 s), patch 25: 10 blocks of 50 ms x 10 channels. Input and target windows never cross a held-gesture
segment (each segment is windowed on its own), so the target is a 0.5 s forecast of the activation within a gesture.
Model: the gesture example's small shape (dim 64, depth 4, 2 heads, 100 tokens) with the regression head
(Conv1d-SiLU-depthwise Conv1d-SiLU-Conv1d), MSE loss, trained on session 0, scored on every window of session 1.

R^2: per output channel over all test windows and blocks, averaged over channels (sklearn's r2_score "uniform_average"
on (N L, channels)); also MAE in target units. "persistence" is the no-model baseline that predicts the next window's
envelope as the current window's (the same blocks of x): a model worth deploying must beat it.
Stages: float (PyTorch), int8 onnxruntime, C host build (its outputs must equal onnxruntime's on every window).

    python examples/3dc_envelope.py --participants 2 --out env_out --int8 --host-c
    python examples/3dc_envelope.py --participants 2 --out env_out --int8 --host-c --reuse --force   # re-score
Writes OUT/pNN/{train,test}.npz (input + next window, 2 W samples), model.safetensors (+ .finetune.json), model.onnx,
model.int8.onnx, host/, row.json, OUT/results.json.
Data: the 3DC dataset (Cote-Allard et al., IEEE TNSRE 27(4), 2019), ../shared/data/3dc (TINYMYO_SHARED overrides).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def pipeline():
    """examples/3dc_pipeline.py (windowing, export/quantize/C helpers), loaded as a module."""
    spec = importlib.util.spec_from_file_location("pipeline_3dc", HERE / "3dc_pipeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--participants", default="2", help="comma-separated participant numbers")
    p.add_argument("--out", type=Path, default=Path("env_out"))
    p.add_argument("--window", type=int, default=250, help="input samples at --fs-out; the target is the next as many")
    p.add_argument("--hop", type=int, default=62)
    p.add_argument("--fs-out", type=float, default=500.0)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--patch-size", type=int, default=25)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    p.add_argument("--max-minutes", type=float, default=None, help="training budget per participant")
    p.add_argument("--int8", action="store_true", help="also export, quantize and score the int8 ONNX (onnxruntime)")
    p.add_argument("--host-c", action="store_true", help="also build and score the C host program (needs --int8)")
    p.add_argument("--prob-bits", type=int, default=None, help="[default: quantize's default]")
    p.add_argument("--max-eval", type=int, default=None, help="score int8/C on at most this many test windows")
    p.add_argument("--force", action="store_true", help="overwrite OUT's files")
    p.add_argument("--reuse", action="store_true", help="score the checkpoint an earlier run left in OUT/pNN")
    return p.parse_args(argv)


def envelope(x: np.ndarray, blocks: int) -> np.ndarray:
    """(N, C, T) -> (N, blocks, C): RMS of each channel over `blocks` equal consecutive blocks of T."""
    n, c, t = x.shape
    return np.sqrt((x.reshape(n, c, blocks, t // blocks).astype(np.float64) ** 2).mean(axis=3)).transpose(0, 2, 1)


def envelope_windows(path: Path, outdir: Path, args):
    """Windows of 2 W samples, split into (input x: the first W, target: envelope of the last W)."""
    from tinymyo_edge.data import WindowParams, make_windows, save_window_set

    common = dict(window=2 * args.window, hop=args.hop, fs_out=args.fs_out, normalisation="recording")
    sets = {}
    for split in ("train", "test"):
        stats = outdir / "train.npz" if split == "test" else None
        ws = make_windows(path, "3dc", WindowParams(split=split, **common), stats_from=stats)
        save_window_set(ws, outdir / f"{split}.npz", force=args.force)
        x = np.ascontiguousarray(ws.x[:, :, : args.window])
        y = envelope(ws.x[:, :, args.window :], args.window // args.patch_size).astype(np.float32)
        sets[split] = (x, y, ws.groups)
    return sets


def r2(pred: np.ndarray, truth: np.ndarray) -> float:
    """R^2 per output channel over (windows x blocks), averaged over channels."""
    p, t = pred.reshape(-1, pred.shape[-1]).astype(np.float64), truth.reshape(-1, truth.shape[-1]).astype(np.float64)
    ss_res = ((t - p) ** 2).sum(axis=0)
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    return float(np.mean(1.0 - ss_res / ss_tot))


def mae(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.abs(pred.astype(np.float64) - truth).mean())


def trained_model(n: int, x, y, groups, outdir: Path, args):
    from tinymyo_edge.model.checkpoint import load_checkpoint
    from tinymyo_edge.train import Data, Recipe, finetune, log_path_for

    checkpoint, log = outdir / "model.safetensors", log_path_for(outdir / "model.safetensors")
    if not (args.reuse and checkpoint.is_file() and log.is_file()):
        recipe = Recipe(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                        warmup_epochs=min(5, max(1, args.epochs // 6)), seed=args.seed, threads=args.threads,
                        max_minutes=args.max_minutes)
        finetune(Data(x, y, str(outdir / "train.npz"), groups), checkpoint, head="regression",
                 sizes=dict(dim=args.dim, depth=args.depth, heads=args.heads, patch_size=args.patch_size),
                 recipe=recipe, force=args.force, echo=lambda s: print(f"  p{n:02d} {s}", flush=True), progress=False,
                 device=args.device)
    record = json.loads(log.read_text())
    model = load_checkpoint(checkpoint, samples=args.window, heads=args.heads).eval()
    history = record["history"]
    return model, {"best_epoch": record["best_epoch"], "epochs_run": len(history), "val": record["val"],
                   "stop_reason": record.get("stop_reason"), "device": record.get("device"),
                   "seconds_per_epoch": float(np.median([r["seconds"] for r in history]))}


def run_participant(n: int, args) -> dict:
    from tinymyo_edge.train import predict

    p = pipeline()
    outdir = args.out / f"p{n:02d}"
    outdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sets = envelope_windows(p.shared_dir() / "data" / "3dc" / f"participant{n:02d}.npz", outdir, args)
    (xtr, ytr, gtr), (xte, yte, _) = sets["train"], sets["test"]
    model, training = trained_model(n, xtr, ytr, gtr, outdir, args)
    shape = yte.shape[1:]
    float_out = predict(model, xte)
    persistence = envelope(xte, shape[0])
    row = {"participant": n, "task": "next-window RMS envelope (regression proxy)", "train_windows": len(xtr),
           "test_windows": len(xte), "target_shape": list(shape), **training,
           "parameters": sum(q.numel() for q in model.parameters()),
           "r2_float_all": r2(float_out, yte), "r2_persistence": r2(persistence, yte), "mae_float_all": mae(float_out, yte)}
    if args.int8:
        idx = p.eval_subset(len(xte), args.max_eval)
        ort, c_out, fields = p.quantized_outputs(model, xtr, xte[idx], outdir, args)
        ort, f, t = ort.reshape((-1, *shape)), float_out[idx], yte[idx]
        row.update(eval_windows=int(len(idx)), r2_float=r2(f, t), r2_int8_ort=r2(ort, t), mae_float=mae(f, t),
                   mae_int8_ort=mae(ort, t), r2_int8_vs_float=r2(ort, f),
                   max_abs_int8_minus_float=float(np.abs(ort - f).max()), **fields)
        if c_out is not None:
            row.update(r2_host_c=r2(c_out.reshape(ort.shape), t), mae_host_c=mae(c_out.reshape(ort.shape), t))
    row["seconds"] = time.perf_counter() - t0
    (outdir / "row.json").write_text(json.dumps(row, indent=1) + "\n")
    return row


def main(argv=None) -> int:
    args = parse_args(argv)
    p = pipeline()
    p.check_args(args)
    rows = []
    for n in p.participants(args.participants):
        row = run_participant(n, args)
        rows.append(row)
        extra = "".join(f", {k} {row[k]:.4f}" for k in ("r2_int8_ort", "r2_host_c", "r2_int8_vs_float") if k in row)
        print(f"participant {n}: R^2 float {row['r2_float_all']:.4f} (persistence {row['r2_persistence']:.4f}, "
              f"{row['test_windows']} windows){extra}; C == ORT: {row.get('host_c_equals_ort', '-')}", flush=True)
    (args.out / "results.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                       "participants": rows}, indent=2) + "\n")
    return 0 if all(r.get("host_c_equals_ort", True) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
