#!/usr/bin/env python3
"""Real EMG end to end (first version): 3DC participants -> windows -> fine-tuned TinyMyo -> test accuracy.

For each participant: session 0 ("train") is windowed and a small TinyMyo is trained on it (validation = whole
segments of it, stratified); session 1 ("test", recorded after a 5-minute break) gives the test accuracy and a
confusion matrix. --int8 exports to ONNX, quantizes to the integer-only int8 ONNX and scores it in onnxruntime (and
its top-1 agreement with float); --host-c also builds the C host program, runs every window through it in one
process and checks its outputs equal onnxruntime's window by window (np.array_equal).

Data: the 3DC dataset (Cote-Allard et al., "Deep learning for electromyographic hand gesture signal classification
using transfer learning", IEEE TNSRE 27(4), 2019), read from ../shared/data/3dc (TINYMYO_SHARED overrides).

    python examples/3dc_pipeline.py --participants 2,5 --out 3dc_out --int8 --host-c
Two recipes (--recipe):
  small     (default) 10 channels resampled to 500 Hz, 0.5 s windows (250 samples, patch 25: 100 tokens), dim 64,
            depth 4, 2 heads, <= 40 epochs: the model bench/bench_accuracy.py has scored since the first version.
  deployed  the paper's deployed shape, 8 channels x 1000 samples (1 s at 3DC's native 1000 Hz, no resampling),
            patch 20: 400 tokens, dim 192, depth 8, 3 heads (TinyMyoConfig's defaults, the shape bench_gvsoc.py
            measures), trained from scratch under a --max-minutes budget (35 min) on the CPU unless --device finds
            CUDA: on a shared 2-core CPU that is a few epochs only, so it is a BRIEFLY trained model.
            Channels: 8 of the 10 are 0,2,3,4,5,7,8,9 (0-based), i.e. electrodes 2 and 7 (1-based) are dropped, because
            (a) participant 1's channel index 1 is noise-dominated (rest RMS ~1571 ADC units against 19-61 on the
            others), (b) dropping a diametrically opposite pair of the 10 evenly spaced armband electrodes (i, i+5)
            keeps the 8 symmetric around the forearm (two 72-degree gaps opposite each other), and (c) of the five
            opposite pairs, (1, 6) carries the least gesture information on the training sessions: its share of the
            per-channel Fisher score of log-RMS features (0.5 s windows, session 0 only, no test data) is 17.3 % on
            average over participants 1-6, against 17.7-22.9 % for the other pairs (`--channel-scores` prints it).

Writes OUT/pNN/{train,test}.npz, model.safetensors (+ .finetune.json), model.onnx, model.int8.onnx, host/ (C build),
confusion_{float,int8,c}.png, OUT/confusion_*_all.png (summed over participants) and OUT/results.json (per-participant
rows, means); prints the table. --reuse re-scores the checkpoints of an earlier run without training.
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


DEPLOYED_CHANNELS = "0,2,3,4,5,7,8,9"  # why: the module docstring (recipe "deployed")
RECIPES = {
    "small": dict(window=250, hop=62, test_hop=None, fs_out=500.0, channels=None, dim=64, depth=4, heads=2,
                  patch_size=25, epochs=40, patience=10, lr=1e-3, max_minutes=None),
    "deployed": dict(window=1000, hop=250, test_hop=500, fs_out=1000.0, channels=DEPLOYED_CHANNELS, dim=192, depth=8,
                     heads=3, patch_size=20, epochs=4, patience=3, lr=5e-4, max_minutes=35.0),
}


def parse_args(argv=None) -> argparse.Namespace:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--recipe", choices=tuple(RECIPES), default="small")
    recipe = pre.parse_known_args(argv)[0].recipe
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipe", choices=tuple(RECIPES), default="small",
                   help="small: 100 tokens (10 ch x 250 at 500 Hz); deployed: 400 tokens (8 ch x 1000 at 1000 Hz); "
                        "its values are the defaults of the options below")
    p.add_argument("--participants", default="1,2,3,4,5,6", help="comma-separated participant numbers")
    p.add_argument("--out", type=Path, default=Path("3dc_out"))
    p.add_argument("--channels", default=None, help="comma-separated 0-based channel indices [default: all 10]")
    p.add_argument("--test-hop", type=int, default=None, help="hop of the test-session windows [default: --hop]")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"), help="where to train (finetune --device)")
    p.add_argument("--max-minutes", type=float, default=None, help="training budget per participant (finetune)")
    p.add_argument("--init-checkpoint", type=Path, default=None,
                   help="start from this checkpoint (finetune --checkpoint: backbone strictly, head when it fits), e.g. "
                        "OUT/pNN/model.safetensors of an earlier budgeted run to continue training it in a second stage")
    p.add_argument("--channel-scores", action="store_true",
                   help="print the per-channel Fisher scores behind the deployed recipe's channel choice, and exit")
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
    p.set_defaults(**RECIPES[recipe])
    p.add_argument("--int8", action="store_true", help="also export, quantize and score the int8 ONNX (onnxruntime)")
    p.add_argument("--host-c", action="store_true", help="also build the C host program and score it (needs --int8)")
    p.add_argument("--prob-bits", type=int, default=None,
                   help="softmax probability bits inside int8 attention [default: quantize's default]")
    p.add_argument("--max-eval", type=int, default=None, help="score int8/C on at most this many test windows")
    p.add_argument("--force", action="store_true", help="overwrite OUT's files")
    p.add_argument("--reuse", action="store_true",
                   help="score the checkpoint an earlier run left in OUT/pNN instead of training again (needs --force "
                        "with --int8: the ONNX, int8 and C build are made again)")
    return p.parse_args(argv)


def window_participant(path: Path, outdir: Path, args):
    from tinymyo_edge.data import WindowParams, make_windows, save_window_set

    common = dict(window=args.window, fs_out=args.fs_out, normalisation=args.normalize, channels=channel_list(args))
    train = make_windows(path, "3dc", WindowParams(split="train", hop=args.hop, **common))
    save_window_set(train, outdir / "train.npz", force=args.force)
    stats = outdir / "train.npz" if args.normalize == "recording" else None
    test = make_windows(path, "3dc", WindowParams(split="test", hop=args.test_hop or args.hop, **common),
                        stats_from=stats)
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


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float((pred == y).mean())


def ort_logits(int8_onnx: Path, x: np.ndarray) -> np.ndarray:
    """int8 ONNX outputs (N, classes) in onnxruntime (1 thread), one window per run (the graph has batch 1)."""
    from tinymyo_edge.quant.runtime import session

    sess = session(int8_onnx)
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i : i + 1]})[0].reshape(1, -1) for i in range(len(x))])


def quantized_outputs(model, calib_x: np.ndarray, eval_x: np.ndarray, outdir: Path, args):
    """float -> ONNX -> integer-only int8 ONNX (calibrated on calib_x); its outputs on eval_x in onnxruntime, flattened
    per window (N, outputs); with --host-c also the C host build's, which must equal them window by window.
    Returns (onnxruntime outputs, C outputs or None, fields: ort_seconds and the host_c_* checks)."""
    from tinymyo_edge.export import export_onnx
    from tinymyo_edge.quant import quantize_model

    float_onnx, int8_onnx = outdir / "model.onnx", outdir / "model.int8.onnx"
    export_onnx(model, float_onnx, parity_inputs=eval_x[:4], force=args.force, source=str(outdir / "model.safetensors"))
    quantize_model(float_onnx, calib_x, int8_onnx, force=args.force, progress=False, **quantize_options(args))
    t0 = time.perf_counter()
    out = ort_logits(int8_onnx, eval_x)
    fields, c_out = {"ort_seconds": time.perf_counter() - t0}, None
    if args.host_c:
        c_out, host = host_c_outputs(int8_onnx, eval_x, out.shape, outdir, args)
        fields.update(host, host_c_equals_ort=bool(np.array_equal(c_out, out)),
                      host_c_windows_differing=int((~(c_out == out).all(axis=1)).sum()))
    return out, c_out, fields


def quantize_options(args) -> dict:
    """Only the quantize settings given on the command line: otherwise quantize_model's defaults (what is measured)."""
    return {} if args.prob_bits is None else {"prob_bits": args.prob_bits}


def int8_stage(model, train, test, float_pred, outdir: Path, args) -> tuple[dict, dict]:
    """float -> ONNX -> integer-only int8 ONNX scored in onnxruntime (and the C host build with --host-c).
    Returns (row fields, predictions by stage on the evaluated windows)."""
    idx = eval_subset(len(test.x), args.max_eval)
    logits, c_logits, fields = quantized_outputs(model, train.x, test.x[idx], outdir, args)
    pred = logits.argmax(1)
    row = {"eval_windows": int(len(idx)), "float_accuracy": accuracy(float_pred[idx], test.y[idx]),
           "int8_ort_accuracy": accuracy(pred, test.y[idx]), "int8_float_agreement": accuracy(pred, float_pred[idx]),
           **fields}
    preds = {"int8": pred}
    if c_logits is not None:
        preds["c"] = c_logits.argmax(1)
        row["host_c_accuracy"] = accuracy(preds["c"], test.y[idx])
    return row, preds


def host_c_outputs(int8_onnx: Path, x: np.ndarray, shape, outdir: Path, args) -> tuple[np.ndarray, dict]:
    """int8 ONNX -> C host build, all windows in one process (run_host); returns (its outputs, timing)."""
    from tinymyo_edge.build import build, run_host

    t0 = time.perf_counter()
    build(int8_onnx, outdir / "host", target="host", force=args.force)
    inputs = outdir / "eval_inputs.npz"
    np.savez(inputs, x=x)
    out = run_host(outdir / "host", inputs, outdir / "host_outputs.npz", force=True).reshape(shape)
    return out, {"host_c_seconds": time.perf_counter() - t0}


def trained_model(n: int, train, outdir: Path, args):
    """Train on session 0 -> (model, training record); --reuse loads an earlier run's checkpoint and log instead."""
    from tinymyo_edge.model.checkpoint import load_checkpoint
    from tinymyo_edge.train import Data, Recipe, finetune, log_path_for

    checkpoint, log = outdir / "model.safetensors", log_path_for(outdir / "model.safetensors")
    if args.reuse and checkpoint.is_file() and log.is_file():
        record = json.loads(log.read_text())
        model = load_checkpoint(checkpoint, samples=args.window, heads=args.heads).eval()
        best, history, val = record["best_epoch"], record["history"], record["val"]
    else:
        recipe = Recipe(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                        warmup_epochs=warmup_epochs(args.epochs), seed=args.seed, threads=args.threads,
                        max_minutes=args.max_minutes)
        result = finetune(Data(train.x, train.y, str(outdir / "train.npz"), train.groups), checkpoint,
                          checkpoint=args.init_checkpoint,
                          sizes=dict(dim=args.dim, depth=args.depth, heads=args.heads, patch_size=args.patch_size),
                          recipe=recipe, force=args.force, echo=lambda s: print(f"  p{n:02d} {s}", flush=True),
                          progress=False, device=args.device)
        record = json.loads(log.read_text())
        model, best, val, history = result.model, result.best_epoch, result.val, record["history"]
    return model, {"best_epoch": best, "epochs_run": len(history), "val": val,
                   "seconds_per_epoch": float(np.median([r["seconds"] for r in history])),
                   "stop_reason": record.get("stop_reason", "early_stop" if record.get("stopped_early") else "completed"),
                   "device": record.get("device", "cpu"), "train_steps": sum(r.get("steps", 0) for r in history)}


def warmup_epochs(epochs: int) -> float:
    """The small recipe's 1..5 warm-up epochs; half an epoch for the few epochs of the deployed one."""
    return 0.5 if epochs < 6 else min(5, max(1, epochs // 6))


def channel_list(args) -> tuple[int, ...] | None:
    return None if args.channels in (None, "") else tuple(int(c) for c in str(args.channels).split(","))


def channel_scores(participant_numbers: list[int]) -> np.ndarray:
    """(participants, 10) Fisher score (between-class / within-class variance) of each channel's log-RMS over 0.5 s
    windows of the TRAINING session (session 0) only: the measure behind DEPLOYED_CHANNELS."""
    rows = []
    for n in participant_numbers:
        d = np.load(shared_dir() / "data" / "3dc" / f"participant{n:02d}.npz")
        feats, labels = [], []
        for s, length, y, split in zip(d["start"], d["length"], d["label"], d["split"]):
            if split != 0:
                continue
            seg = d["emg"][s : s + length].astype(np.float64)
            seg -= seg.mean(0)
            for k in range(0, length - 500, 500):
                feats.append(np.log(np.sqrt((seg[k : k + 500] ** 2).mean(0)) + 1e-9))
                labels.append(y)
        f, lab = np.array(feats), np.array(labels)
        classes = np.unique(lab)
        between = sum((lab == c).sum() * (f[lab == c].mean(0) - f.mean(0)) ** 2 for c in classes)
        within = sum(((f[lab == c] - f[lab == c].mean(0)) ** 2).sum(0) for c in classes)
        rows.append(between / within)
    return np.array(rows)


def print_channel_scores(participant_numbers: list[int]) -> None:
    scores = channel_scores(participant_numbers)
    share = scores / scores.sum(axis=1, keepdims=True)
    print("Fisher score of log-RMS per channel (session 0), rows = participants", participant_numbers)
    print(np.round(scores, 2))
    for i in range(5):
        print(f"opposite pair ({i}, {i + 5}): mean share {100 * share[:, [i, i + 5]].sum(axis=1).mean():.1f} %")


def run_participant(n: int, args) -> dict:
    from tinymyo_edge.train import predict

    path = shared_dir() / "data" / "3dc" / f"participant{n:02d}.npz"
    outdir = args.out / f"p{n:02d}"
    outdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train, test = window_participant(path, outdir, args)
    model, training = trained_model(n, train, outdir, args)
    pred = predict(model, test.x).argmax(1)
    classes = model.cfg.classes
    row = {"participant": n, "train_windows": len(train.x), "test_windows": len(test.x),
           "float_test_accuracy": accuracy(pred, test.y), **training,
           "parameters": sum(p.numel() for p in model.parameters()),
           "confusion": {"float": confusion(test.y, pred, classes).tolist()}}
    if args.int8:
        fields, preds = int8_stage(model, train, test, pred, outdir, args)
        row.update(fields)
        y = test.y[eval_subset(len(test.x), args.max_eval)]
        row["confusion"].update({k: confusion(y, p, classes).tolist() for k, p in preds.items()})
    for stage, m in row["confusion"].items():
        m = np.array(m)
        plot_confusion(m, f"3DC participant {n}, session 1 (test): TinyMyo {stage} {100 * np.trace(m) / m.sum():.1f} %",
                       outdir / f"confusion_{stage}.png")
    row["seconds"] = time.perf_counter() - t0
    (outdir / "row.json").write_text(json.dumps(row, indent=1) + "\n")  # for summaries assembled later
    return row


STAGES = (("float", "float_accuracy"), ("int8 ORT", "int8_ort_accuracy"), ("C host", "host_c_accuracy"),
          ("agreement", "int8_float_agreement"))


def summarise(rows: list[dict], out: Path, args_record: dict) -> dict:
    """Means over participants, aggregated confusion matrices (+ PNGs), results.json; prints the table."""
    keys = ["float_test_accuracy"] + [k for _, k in STAGES if all(k in r for r in rows)]
    summary = {"args": args_record, **{f"mean_{k}": float(np.mean([r[k] for r in rows])) for k in keys}}
    if "int8_ort_accuracy" in keys:
        summary["mean_int8_minus_float_points"] = 100 * (summary["mean_int8_ort_accuracy"] - summary["mean_float_accuracy"])
    if all("host_c_equals_ort" in r for r in rows):
        summary["host_c_equals_ort_all"] = all(r["host_c_equals_ort"] for r in rows)
    summary["confusion"], summary["confusion_png"] = {}, {}
    for stage in rows[0]["confusion"]:
        m = np.sum([np.array(r["confusion"][stage]) for r in rows], axis=0)
        png = out / f"confusion_{stage}_all.png"
        who = ",".join(str(r["participant"]) for r in rows)
        plot_confusion(m, f"3DC participants {who}, session 1 (test): TinyMyo {stage} "
                          f"{100 * np.trace(m) / m.sum():.1f} %", png)
        summary["confusion"][stage], summary["confusion_png"][stage] = m.tolist(), str(png)
    summary["participants"] = rows
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(table(rows, summary))
    return summary


def table(rows: list[dict], summary: dict) -> str:
    cols = [(name, key) for name, key in STAGES if f"mean_{key}" in summary] or [("float", "float_test_accuracy")]
    lines = ["| participant | " + " | ".join(name for name, _ in cols) + " | C == ORT |",
             "|---|" + "---|" * (len(cols) + 1)]
    for r in rows:
        same = {True: "yes", False: "NO"}.get(r.get("host_c_equals_ort"), "-")
        lines.append(f"| {r['participant']} | " + " | ".join(f"{100 * r[k]:.1f} %" for _, k in cols) + f" | {same} |")
    same = {True: "yes", False: "NO"}.get(summary.get("host_c_equals_ort_all"), "-")
    lines.append("| mean | " + " | ".join(f"{100 * summary[f'mean_{k}']:.1f} %" for _, k in cols) + f" | {same} |")
    return "\n".join(lines)


def check_args(args) -> None:
    if args.host_c and not args.int8:
        sys.exit("--host-c needs --int8 (the C program is built from the int8 ONNX)")
    data = shared_dir() / "data" / "3dc"
    if not data.is_dir():
        sys.exit(f"{data}: 3DC data folder not found (set TINYMYO_SHARED)")


def participants(text: str) -> list[int]:
    return [int(p) for p in text.split(",") if p.strip()]


def main(argv=None) -> int:
    args = parse_args(argv)
    check_args(args)
    if args.channel_scores:
        print_channel_scores(participants(args.participants))
        return 0
    rows = []
    for n in participants(args.participants):
        row = run_participant(n, args)
        rows.append(row)
        extra = "".join(f", {k} {100 * row[k]:.1f} %" for k in ("int8_ort_accuracy", "host_c_accuracy") if k in row)
        print(f"participant {n}: float test accuracy {100 * row['float_test_accuracy']:.1f} % "
              f"({row['test_windows']} windows){extra}; {row['seconds_per_epoch']:.1f} s/epoch, "
              f"{row['seconds']:.0f} s in all", flush=True)
    summarise(rows, args.out, {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()})
    print(f"-> {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
