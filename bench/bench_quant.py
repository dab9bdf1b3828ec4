"""Quantisation accuracy and time on real EMG (3DC, Cote-Allard et al., IEEE TNSRE 2019).

1. The default architecture (8 ch x 1000 samples, 400 tokens, dim 192, 8 blocks; upstream initialisation, seed 0):
   time of `quantize_model` (16 calibration windows, MSE method), and int8 vs float logits on held-out windows.
2. A model trained briefly here on 3DC (no pretrained weights are reachable): a small TinyMyo fine-tuned from
   scratch on participants 2 and 5, session 1, evaluated on their session 2: cosine of int8 vs float logits, top-1
   agreement, and both models' accuracy.
3. The 16 ch x 1000 model (800 tokens): range proof and one quantisation (few windows), with onnxruntime == golden
   executor checked on a window.

Data: ../shared/data/3dc (TINYMYO_SHARED overrides); 8 of the 10 channels (16 for part 3: the 10 plus 6 repeated).
Usage: python bench/bench_quant.py [--quick] [--skip-16ch]
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

from tinymyo_edge.data import windows_from_3dc  # noqa: E402
from tinymyo_edge.export import export_onnx  # noqa: E402
from tinymyo_edge.model import TinyMyo, TinyMyoConfig  # noqa: E402
from tinymyo_edge.quant import quantize_model  # noqa: E402
from tinymyo_edge.quant.ranges import check_sizes  # noqa: E402
from tinymyo_edge.quant.runtime import session  # noqa: E402

HOST = "host CPU (shared 2-vCPU machine), onnxruntime 1 thread"
TRAINED = dict(channels=8, samples=1000, dim=64, depth=2, heads=2, classes=11)
PROB_BITS = (8, 12)  # softmax probabilities inside attention: the IR default (u8) and 12 bits (--softmax-bits 12)


def load(participants, split, channels=8, hop=500):
    xs, ys = [], []
    for p in participants:
        w = windows_from_3dc(shared_dir() / "data" / "3dc" / f"participant{p:02d}.npz", channels=channels,
                             window=1000, hop=hop, split=split)
        xs.append(w.x)
        ys.append(w.y)
    return np.concatenate(xs), np.concatenate(ys)


def compare(model: TinyMyo, int8_path: Path, x: np.ndarray) -> dict:
    """int8 (onnxruntime) vs float (PyTorch) logits per window: cosine and top-1 agreement."""
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(x)).numpy()
    sess = session(int8_path, level="all", threads=1)
    start = time.perf_counter()
    got = np.concatenate([sess.run(None, {"emg": w[None]})[0] for w in x])
    per_window_ms = (time.perf_counter() - start) / len(x) * 1e3
    cos = np.sum(ref * got, 1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1))
    return {"ref": ref, "got": got, "cos_mean": float(cos.mean()), "cos_min": float(cos.min()),
            "cos_global": float(np.sum(ref * got) / np.linalg.norm(ref) / np.linalg.norm(got)),
            "agreement": float(np.mean(ref.argmax(1) == got.argmax(1))), "ort_ms": per_window_ms}


def train(x: np.ndarray, y: np.ndarray, steps: int, seed: int = 0) -> TinyMyo:
    """A short from-scratch fit (AdamW, batch 32): enough for logits with real structure, not a tuned model."""
    torch.manual_seed(seed)
    model = TinyMyo(TinyMyoConfig(**TRAINED))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    rng = np.random.default_rng(seed)
    model.train()
    for step in range(steps):
        idx = rng.choice(len(x), 32, replace=False)
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x[idx])), torch.from_numpy(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"  train step {step}/{steps}: loss {loss.item():.3f}", flush=True)
    return model.eval()


def bench_default(tmp: Path, calib: np.ndarray, test: np.ndarray) -> dict:
    torch.manual_seed(0)
    model = TinyMyo(TinyMyoConfig()).eval()  # the paper's deployed sizes, upstream initialisation
    export_onnx(model, tmp / "default.onnx", force=True)
    out = {}
    for bits in PROB_BITS:
        start = time.perf_counter()
        quantize_model(tmp / "default.onnx", calib, tmp / f"default{bits}.int8.onnx", progress=False, prob_bits=bits)
        out[bits] = {"quantize_s": time.perf_counter() - start, **compare(model, tmp / f"default{bits}.int8.onnx", test)}
    return out


def bench_trained(tmp: Path, quick: bool) -> dict:
    xtr, ytr = load((2, 5), split=0)
    xte, yte = load((2, 5), split=1)
    model = train(xtr, ytr, steps=60 if quick else 300)
    export_onnx(model, tmp / "trained.onnx", force=True)
    calib = xtr[np.linspace(0, len(xtr) - 1, 16).round().astype(int)]
    out = {}
    for bits in PROB_BITS:
        quantize_model(tmp / "trained.onnx", calib, tmp / f"trained{bits}.int8.onnx", progress=False, prob_bits=bits)
        res = compare(model, tmp / f"trained{bits}.int8.onnx", xte)
        res["float_acc"] = float(np.mean(res["ref"].argmax(1) == yte))
        res["int8_acc"] = float(np.mean(res["got"].argmax(1) == yte))
        res["test_windows"], res["train_windows"] = len(xte), len(xtr)
        out[bits] = res
    return out


def bench_16ch(tmp: Path) -> dict:
    cfg = TinyMyoConfig(channels=16)
    check_sizes(cfg.tokens, cfg.dim, cfg.heads, cfg.hidden, cfg.patch_size, cfg.feat_dim)
    x10, _ = load((3,), split=0, channels=10, hop=1000)
    x = np.concatenate([x10, x10[:, :6]], axis=1)  # 16 channels of real EMG (6 repeated)
    torch.manual_seed(0)
    model = TinyMyo(cfg).eval()
    export_onnx(model, tmp / "c16.onnx", force=True)
    start = time.perf_counter()
    program = quantize_model(tmp / "c16.onnx", x[:8], tmp / "c16.int8.onnx", progress=False)
    seconds = time.perf_counter() - start
    w = x[-1]
    sess = session(tmp / "c16.int8.onnx", level="all", threads=1)
    exact = bool(np.array_equal(sess.run(None, {"emg": w[None]})[0].ravel(), program.run(w)[program.output].ravel()))
    return {"quantize_s": seconds, "exact": exact, "tokens": cfg.tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer test windows and training steps")
    parser.add_argument("--skip-16ch", action="store_true", help="skip the 16 x 1000 (800 token) model")
    args = parser.parse_args()
    xcal, _ = load((2,), split=0)
    xte, _ = load((2,), split=1)
    calib = xcal[np.linspace(0, len(xcal) - 1, 16).round().astype(int)]
    test = xte[np.linspace(0, len(xte) - 1, 16 if args.quick else 64).round().astype(int)]
    metrics, details = {}, {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        print("default architecture (8 x 1000, upstream init)", flush=True)
        dd = bench_default(tmp, calib, test)
        src = f"{HOST}; default model, upstream init; {len(test)} 3DC test windows (participant 2, session 2)"
        for bits, d in dd.items():
            tag = f"default_p{bits}"
            metrics[f"{tag}_quantize_time"] = metric(round(d["quantize_s"], 1), "s", "measured",
                                                     "host CPU (shared 2-vCPU machine), 16 calibration windows, mse")
            metrics[f"{tag}_cosine_mean"] = metric(round(d["cos_mean"], 5), "", "measured", src)
            metrics[f"{tag}_cosine_min"] = metric(round(d["cos_min"], 5), "", "measured", src)
            metrics[f"{tag}_top1_agreement"] = metric(round(d["agreement"], 4), "", "measured", src)
            metrics[f"{tag}_ort_int8_latency"] = metric(round(d["ort_ms"], 1), "ms", "measured", HOST)
            details[f"{tag}_cosine_global"] = d["cos_global"]
        print("trained model", TRAINED, flush=True)
        tt = bench_trained(tmp, args.quick)
        for bits, t in tt.items():
            tag = f"trained_p{bits}"
            src = (f"{HOST}; TinyMyo {TRAINED} trained here ({t['train_windows']} windows, participants 2+5 "
                   f"session 1); {t['test_windows']} windows of their session 2")
            metrics[f"{tag}_cosine_mean"] = metric(round(t["cos_mean"], 5), "", "measured", src)
            metrics[f"{tag}_cosine_min"] = metric(round(t["cos_min"], 5), "", "measured", src)
            metrics[f"{tag}_top1_agreement"] = metric(round(t["agreement"], 4), "", "measured", src)
            metrics[f"{tag}_float_accuracy"] = metric(round(t["float_acc"], 4), "", "measured", src)
            metrics[f"{tag}_int8_accuracy"] = metric(round(t["int8_acc"], 4), "", "measured", src)
            details[f"{tag}_cosine_global"] = t["cos_global"]
        details["targets"] = {"cosine": ">= 0.99", "top1_agreement": ">= 0.99"}
        details["prob_bits"] = "p8: u8 softmax probabilities (IR default); p12: --softmax-bits 12"
        if not args.skip_16ch:
            print("16 x 1000 model (800 tokens)", flush=True)
            c = bench_16ch(tmp)
            metrics["c16_quantize_time"] = metric(round(c["quantize_s"], 1), "s", "measured",
                                                  "host CPU (shared 2-vCPU machine), 8 calibration windows, mse")
            metrics["c16_ort_equals_golden"] = metric(c["exact"], "", "measured", HOST + ", one 3DC window")
    write_results("quant", metrics, details)


if __name__ == "__main__":
    main()
