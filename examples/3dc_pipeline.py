#!/usr/bin/env python3
"""Real EMG end to end (first version): 3DC participants -> windows -> fine-tuned TinyMyo -> test accuracy.

For each participant: session 0 ("train") is windowed and a small TinyMyo is trained on it (validation = whole
segments of it, stratified); session 1 ("test", recorded after a 5-minute break) gives the test accuracy and a
confusion matrix. Optional stages reuse the toolchain: --int8 exports to ONNX, quantizes to the integer-only int8
ONNX and scores it in onnxruntime; --host-c also builds the C host program and scores its outputs.

Data: the 3DC dataset (Cote-Allard et al., "Deep learning for electromyographic hand gesture signal classification
using transfer learning", IEEE TNSRE 27(4), 2019), read from ../shared/data/3dc (TINYMYO_SHARED overrides).

    python examples/3dc_pipeline.py --participants 2,5 --out 3dc_out
Writes OUT/pNN/{train,test}.npz, model.safetensors (+ .finetune.json), confusion_float.png, and OUT/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
GESTURES = ("no motion", "radial dev.", "wrist flex.", "ulnar dev.", "wrist ext.", "supination", "pronation",
            "power grip", "open hand", "chuck grip", "pinch grip")


def shared_dir() -> Path:
    return Path(os.environ.get("TINYMYO_SHARED", REPO.parent / "shared"))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--participants", default="1,2,3,4,5,6", help="comma-separated participant numbers")
    p.add_argument("--out", type=Path, default=Path("3dc_out"))
    p.add_argument("--window", type=int, default=250, help="samples at --fs-out (250 at 500 Hz = 0.5 s)")
    p.add_argument("--hop", type=int, default=62)
    p.add_argument("--fs-out", type=float, default=500.0,
                   help="resample 1000 Hz -> this (the paper's downstream sets use 200 Hz; 500 keeps more of the EMG band)")
    p.add_argument("--normalize", default="recording", help="recording (train-session stats) | zscore | minmax | none")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--patch-size", type=int, default=25)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="1 is fastest on a busy shared CPU")
    p.add_argument("--int8", action="store_true", help="also export, quantize and score the int8 ONNX (onnxruntime)")
    p.add_argument("--host-c", action="store_true", help="also build the C host program and score it (needs --int8)")
    p.add_argument("--max-eval", type=int, default=None, help="score int8/C on at most this many test windows")
    p.add_argument("--force", action="store_true", help="overwrite OUT's files")
    return p.parse_args(argv)


def window_participant(path: Path, outdir: Path, args):
    from tinymyo_edge.recordings import WindowParams, make_windows, save_window_set

    common = dict(window=args.window, hop=args.hop, fs_out=args.fs_out, normalisation=args.normalize)
    train = make_windows(path, "3dc", WindowParams(split="train", **common))
    save_window_set(train, outdir / "train.npz", force=args.force)
    stats = outdir / "train.npz" if args.normalize == "recording" else None
    test = make_windows(path, "3dc", WindowParams(split="test", **common), stats_from=stats)
    save_window_set(test, outdir / "test.npz", force=args.force)
    return train, test


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    m = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def plot_confusion(m: np.ndarray, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    names = GESTURES[: len(m)]
    ax.set_xticks(range(len(m)), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(m)), names, fontsize=8)
    for i in range(len(m)):
        for j in range(len(m)):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def eval_subset(n: int, limit: int | None) -> np.ndarray:
    return np.arange(n) if limit is None or limit >= n else np.linspace(0, n - 1, limit).round().astype(int)


def int8_stage(model, train, test, float_pred, outdir: Path, args) -> dict:
    """Hook: float -> ONNX -> integer-only int8 ONNX; accuracy of onnxruntime on the test windows."""
    from tinymyo_edge.export import export_onnx
    from tinymyo_edge.quant import quantize_model
    from tinymyo_edge.quant.runtime import session

    float_onnx, int8_onnx = outdir / "model.onnx", outdir / "model.int8.onnx"
    export_onnx(model, float_onnx, parity_inputs=test.x[:4], force=args.force, source=str(outdir / "model.safetensors"))
    quantize_model(float_onnx, train.x, int8_onnx, force=args.force, progress=False)
    sess = session(int8_onnx)
    name = sess.get_inputs()[0].name
    idx = eval_subset(len(test.x), args.max_eval)
    logits = np.concatenate([sess.run(None, {name: test.x[i : i + 1]})[0] for i in idx])
    pred = logits.reshape(len(idx), -1).argmax(1)
    result = {"int8_ort_accuracy": float((pred == test.y[idx]).mean()), "int8_windows": int(len(idx)),
              "float_accuracy_same_windows": float((float_pred[idx] == test.y[idx]).mean()),
              "int8_agrees_with_float": float((pred == float_pred[idx]).mean())}
    if args.host_c:
        result.update(host_c_stage(int8_onnx, test, idx, pred, outdir, args))
    return result


def host_c_stage(int8_onnx: Path, test, idx, ort_pred, outdir: Path, args) -> dict:
    """Hook: int8 ONNX -> C host build; its predictions on the same windows (and agreement with onnxruntime)."""
    from tinymyo_edge.build import build, run_host

    build(int8_onnx, outdir / "host", target="host", force=args.force)
    inputs = outdir / "eval_inputs.npz"
    np.savez(inputs, x=test.x[idx])
    y = run_host(outdir / "host", inputs, outdir / "host_outputs.npz", force=True)
    pred = y.reshape(len(idx), -1).argmax(1)
    return {"host_c_accuracy": float((pred == test.y[idx]).mean()),
            "host_c_agrees_with_ort": bool(np.array_equal(pred, ort_pred))}


def run_participant(n: int, args) -> dict:
    from tinymyo_edge.train import Data, Recipe, finetune, predict

    path = shared_dir() / "data" / "3dc" / f"participant{n:02d}.npz"
    outdir = args.out / f"p{n:02d}"
    outdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train, test = window_participant(path, outdir, args)
    recipe = Recipe(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                    warmup_epochs=min(5, max(1, args.epochs // 6)), seed=args.seed, threads=args.threads)
    result = finetune(Data(train.x, train.y, str(outdir / "train.npz"), train.group), outdir / "model.safetensors",
                      sizes=dict(dim=args.dim, depth=args.depth, heads=args.heads, patch_size=args.patch_size), recipe=recipe, force=args.force,
                      echo=lambda s: print(f"  p{n:02d} {s}", flush=True), progress=False)
    pred = predict(result.model, test.x).argmax(1)
    accuracy = float((pred == test.y).mean())
    m = confusion(test.y, pred, result.model.cfg.classes)
    plot_confusion(m, f"3DC participant {n}, session 1 (test): TinyMyo float {100 * accuracy:.1f} %",
                   outdir / "confusion_float.png")
    seconds = [r.seconds for r in result.history]
    row = {"participant": n, "train_windows": len(train.x), "test_windows": len(test.x),
           "float_test_accuracy": accuracy, "best_epoch": result.best_epoch, "epochs_run": len(result.history),
           "val": result.val, "seconds_per_epoch": float(np.median(seconds)),
           "parameters": sum(p.numel() for p in result.model.parameters()), "confusion": m.tolist()}
    if args.int8:
        row.update(int8_stage(result.model, train, test, pred, outdir, args))
    row["seconds"] = time.perf_counter() - t0
    return row


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.host_c and not args.int8:
        sys.exit("--host-c needs --int8 (the C program is built from the int8 ONNX)")
    data = shared_dir() / "data" / "3dc"
    if not data.is_dir():
        sys.exit(f"{data}: 3DC data folder not found (set TINYMYO_SHARED)")
    rows = []
    for n in (int(p) for p in args.participants.split(",")):
        row = run_participant(n, args)
        rows.append(row)
        extra = "".join(f", {k} {100 * row[k]:.1f} %" for k in ("int8_ort_accuracy", "host_c_accuracy") if k in row)
        print(f"participant {n}: float test accuracy {100 * row['float_test_accuracy']:.1f} % "
              f"({row['test_windows']} windows){extra}; {row['seconds_per_epoch']:.1f} s/epoch, "
              f"{row['seconds']:.0f} s in all", flush=True)
    summary = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
               "mean_float_test_accuracy": float(np.mean([r["float_test_accuracy"] for r in rows])), "participants": rows}
    (args.out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"mean float test accuracy {100 * summary['mean_float_test_accuracy']:.1f} % -> {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
