"""Accuracy of the attention softmax modes of `quantize` on trained TinyMyo checkpoints: top-1 agreement int8 vs
float and int8 accuracy, for --softmax deferred (the default), normalized with 12-bit and 8-bit probabilities.

    python bench/bench_softmax_modes.py CKPT_DIR [CKPT_DIR ...] [--max-eval 600] [--name softmax_modes]

Each CKPT_DIR holds model.safetensors, train.npz (calibration: quantize's default 16 windows spread over it) and
test.npz (the evaluated windows, --max-eval of them spread evenly), as examples/3dc_pipeline.py leaves them.
int8 is scored in onnxruntime (which the quantizer checks equals the golden executor). Writes
bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import metric, write_results  # noqa: E402

MODES = {"deferred": dict(softmax="deferred"), "normalized12": dict(softmax="normalized", prob_bits=12),
         "normalized8": dict(softmax="normalized", prob_bits=8)}


def score(ckpt: Path, max_eval: int, work: Path) -> dict:
    from tinymyo_edge.data import load_windows
    from tinymyo_edge.export import export_onnx
    from tinymyo_edge.model.checkpoint import load_checkpoint
    from tinymyo_edge.quant import quantize_model
    from tinymyo_edge.quant.runtime import session
    from tinymyo_edge.train import predict

    train, test = load_windows(ckpt / "train.npz"), load_windows(ckpt / "test.npz")
    model = load_checkpoint(ckpt / "model.safetensors", samples=train.x.shape[-1]).eval()
    idx = np.linspace(0, len(test.x) - 1, min(max_eval, len(test.x))).round().astype(int)
    x, y = test.x[idx], test.y[idx]
    float_pred = predict(model, x).argmax(1)
    float_onnx = work / f"{ckpt.name}.onnx"
    export_onnx(model, float_onnx, parity_inputs=x[:2], force=True)
    row = {"windows": int(len(idx)), "tokens": model.cfg.tokens, "float_accuracy": float((float_pred == y).mean())}
    for mode, kwargs in MODES.items():
        path = work / f"{ckpt.name}.{mode}.int8.onnx"
        quantize_model(float_onnx, train.x, path, progress=False, force=True, **kwargs)
        sess = session(path)
        name = sess.get_inputs()[0].name
        pred = np.array([sess.run(None, {name: x[i : i + 1]})[0].reshape(-1).argmax() for i in range(len(x))])
        row[mode] = {"agreement": float((pred == float_pred).mean()), "accuracy": float((pred == y).mean())}
        print(f"{ckpt}: {mode:<13} agreement {100 * row[mode]['agreement']:.2f} %  accuracy "
              f"{100 * row[mode]['accuracy']:.2f} % (float {100 * row['float_accuracy']:.2f} %)", flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpts", nargs="+", type=Path)
    parser.add_argument("--max-eval", type=int, default=600)
    parser.add_argument("--name", default="softmax_modes")
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench_softmax_modes_") as tmp:
        for ckpt in args.ckpts:
            rows[str(ckpt)] = score(ckpt, args.max_eval, Path(tmp))
    metrics = {}
    for mode in MODES:
        agree = [r[mode]["agreement"] for r in rows.values()]
        drop = [r["float_accuracy"] - r[mode]["accuracy"] for r in rows.values()]
        where = f"onnxruntime int8 vs PyTorch float, {len(rows)} checkpoints, <= {args.max_eval} test windows each"
        metrics[f"{mode}.agreement_mean"] = metric(round(float(np.mean(agree)), 4), "fraction", "measured", where)
        metrics[f"{mode}.accuracy_drop_mean"] = metric(round(float(np.mean(drop)), 4), "fraction", "measured", where)
    write_results(args.name, metrics, {"checkpoints": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
