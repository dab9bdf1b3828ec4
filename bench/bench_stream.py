"""Stream accuracy on the 3DC continuous recordings, with and without smoothing, vs offline windows; the streaming
app's exactness on a stretch of real recording (host) and its timing budget (rv32 under QEMU, GAP9 ESTIMATED).

Per participant (default 2 and 5; TINYMYO_STREAM_PARTICIPANTS): `data window --pipeline stream` on session 0
(train) and session 1 (test, --stats-from train), 500 Hz, 0.5 s windows (250 samples), a small TinyMyo (dim 32,
depth 2, 2 heads, patch 25, <= 20 epochs); export, quantize (int8), then
  offline: the int8 golden executor on the test windows (cut inside each held gesture);
  stream:  the test session's segments back to back as one continuous stream (what the armband sends), one
           inference every 25 model samples (50 ms), the label of each hop = the gesture of its last sample;
           accuracy of the raw hop decisions and of a majority vote over 5 and 9 hops.
The app: build --target gap9 --stream --hop 25, validate --stream on the first 4 s of the test session (host;
Errors: N out of M) and the rv32 instruction counts per frame and per hop on 1 s.
Data: the 3DC dataset (Cote-Allard et al., IEEE TNSRE 27(4), 2019), ../shared/data/3dc.

    python bench/bench_stream.py [--participants 2,5] [--work /tmp/tinymyo_stream]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import metric, shared_dir, write_results  # noqa: E402

FS_OUT, WINDOW, TRAIN_HOP, STREAM_HOP = 500.0, 250, 62, 25
BAND, NOTCH = (20.0, 240.0), 60.0
SIZES = dict(dim=32, depth=2, heads=2, patch_size=25)
SMOOTH = (5, 9)


def windows(path: Path, split: str, stats_from: Path | None, out: Path):
    from tinymyo_edge.data import WindowParams, make_windows, save_window_set

    params = WindowParams(window=WINDOW, hop=TRAIN_HOP, fs_out=FS_OUT, band=BAND, notch_hz=NOTCH,
                          normalisation="recording", split=split, pipeline="stream")
    ws = make_windows(path, "3dc", params, stats_from=stats_from)
    save_window_set(ws, out, force=True)
    return ws


def train(ws, work: Path, epochs: int):
    from tinymyo_edge.train import Data, Recipe, finetune

    recipe = Recipe(epochs=epochs, batch_size=32, lr=1e-3, patience=4, warmup_epochs=2, seed=0, threads=1)
    finetune(Data(ws.x, ws.y, str(work / "train.npz"), ws.groups, ws.preprocessing), work / "model.safetensors",
             sizes=SIZES, recipe=recipe, force=True, echo=lambda s: print("  ", s, flush=True), progress=False)


def export_quantize(work: Path, ws):
    from tinymyo_edge.export import export_onnx, prepare_model
    from tinymyo_edge.model.checkpoint import read_preprocessing
    from tinymyo_edge.quant import quantize_model

    ckpt = work / "model.safetensors"
    model, source = prepare_model(ckpt, samples=WINDOW, heads=SIZES["heads"])
    export_onnx(model, work / "model.onnx", force=True, source=source, preprocessing=read_preprocessing(ckpt))
    return quantize_model(work / "model.onnx", ws.x, work / "model.int8.onnx", force=True, progress=False,
                          calib_preprocessing=ws.preprocessing)


def logits_of(program, x: np.ndarray) -> np.ndarray:
    return np.stack([np.asarray(program.run(w)[program.output], np.float32).reshape(-1) for w in x])


def stream_accuracy(path: Path, program, desc: dict) -> dict:
    """The test session streamed continuously: hop decisions vs the gesture of each hop's last raw sample."""
    from tinymyo_edge.data import fixed
    from tinymyo_edge.data.pipeline import read_recording
    from tinymyo_edge.validate_stream import majority_vote, stream_reference

    rec = read_recording(path, "3dc", split=1)
    spec = fixed.FixedSpec.from_dict(desc["fixed"])
    classes = int(program.tensors[program.output].shape[-1])
    ref = stream_reference(rec.raw, spec, program, {"window": WINDOW, "hop": STREAM_HOP, "smooth": 1,
                                                    "classes": classes})
    label = np.empty(len(rec.raw), np.int64)
    inside_start = np.empty(len(rec.raw), np.int64)  # first raw sample of the segment each sample belongs to
    for a, b, lab in rec.spans:
        label[a:b], inside_start[a:b] = lab, a
    y = label[ref.frames]
    first = ref.frames - (WINDOW - 1) * spec.decimation  # each window's first raw sample
    inside = inside_start[ref.frames] <= first  # the window lies inside one held gesture
    out = {"hops": int(len(y)), "hops_inside_one_gesture": int(inside.sum()),
           "raw": float((ref.classes == y).mean()), "raw_inside": float((ref.classes[inside] == y[inside]).mean())}
    for k in SMOOTH:
        sm = majority_vote(ref.classes, k, classes)
        out[f"smooth{k}"] = float((sm == y).mean())
        out[f"smooth{k}_inside"] = float((sm[inside] == y[inside]).mean())
    return out


def app_checks(work: Path, path: Path) -> dict:
    from tinymyo_edge.commands.stream import build_stream
    from tinymyo_edge.targets.rv32 import missing_tools
    from tinymyo_edge.targets.stream import read_stream_manifest
    from tinymyo_edge.validate_stream import validate_stream

    app = work / "app"
    build_stream(work / "model.int8.onnx", app, target="gap9", board=None, hop=STREAM_HOP, smooth=5, force=True)
    host = validate_stream(app, path, split="test", samples=4000, chunk=7, sanitize=False)
    out = {"host_errors": host.errors, "host_total": host.total, "host_hops": host.hops_app,
           "budget": read_stream_manifest(app)["budget"]}
    if not missing_tools():
        rv = validate_stream(app, path, split="test", samples=1000, chunk=32, platform="rv32")
        out["rv32_errors"], out["rv32_budget_lines"] = rv.errors, rv.budget
    return out


def _rv32_numbers(lines: list[str]) -> tuple[float | None, float | None]:
    per_frame = per_hop = None
    for line in lines:
        if line.startswith("Preprocessing: Instructions"):
            per_frame = float(line.rsplit("per frame: ", 1)[1])
        if line.startswith("Inference per hop: Instructions"):
            per_hop = float(line.split("Instructions: ", 1)[1].split()[0])
    return per_frame, per_hop


def run_participant(n: int, work: Path, epochs: int) -> dict:
    from tinymyo_edge.quant import read_program

    path = shared_dir() / "data" / "3dc" / f"participant{n:02d}.npz"
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tr = windows(path, "train", None, work / "train.npz")
    te = windows(path, "test", work / "train.npz", work / "test.npz")
    train(tr, work, epochs)
    export_quantize(work, tr)
    program = read_program(work / "model.int8.onnx")
    offline = float((logits_of(program, te.x).argmax(1) == te.y).mean())
    row = {"participant": n, "offline_windows": int(len(te.x)), "offline": offline,
           **stream_accuracy(path, program, tr.preprocessing), **app_checks(work, path),
           "seconds": time.perf_counter() - t0}
    print(f"p{n:02d}: {row}", flush=True)
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--participants", default=os.environ.get("TINYMYO_STREAM_PARTICIPANTS", "2,5"))
    p.add_argument("--work", type=Path, default=Path("/tmp/tinymyo_stream"))
    p.add_argument("--epochs", type=int, default=20)
    args = p.parse_args(argv)
    rows = [run_participant(int(n), args.work / f"p{int(n):02d}", args.epochs) for n in args.participants.split(",")]
    src = "3DC session 1 (test), int8 golden executor, host CPU"
    metrics = {}
    for r in rows:
        k = f"p{r['participant']:02d}"
        metrics[k] = {
            "offline_window_accuracy": metric(round(r["offline"], 4), "", "measured", f"{src}: {r['offline_windows']} "
                                              "windows inside held gestures"),
            "stream_accuracy": metric(round(r["raw"], 4), "", "measured", f"{src}: {r['hops']} hops of 50 ms, "
                                      "continuous stream, label = gesture of the hop's last sample"),
            "stream_accuracy_inside_gestures": metric(round(r["raw_inside"], 4), "", "measured",
                                                      f"{src}: the {r['hops_inside_one_gesture']} hops whose window "
                                                      "lies inside one gesture"),
            **{f"stream_accuracy_smooth{s}": metric(round(r[f"smooth{s}"], 4), "", "measured",
                                                    f"{src}: majority vote over {s} hops") for s in SMOOTH},
            **{f"stream_accuracy_smooth{s}_inside_gestures": metric(round(r[f"smooth{s}_inside"], 4), "", "measured",
                                                                    f"{src}: majority vote over {s} hops, windows "
                                                                    "inside one gesture") for s in SMOOTH},
            "app_vs_python_errors": metric(r["host_errors"], f"out of {r['host_total']}", "measured",
                                           f"validate --stream, host build, first 4 s of session 1, chunk 7"),
        }
        per_frame, per_hop = _rv32_numbers(r.get("rv32_budget_lines", []))
        if per_frame is not None:
            metrics[k]["rv32_preprocessing_per_frame"] = metric(per_frame, "instructions", "measured",
                                                                "rv32imc under QEMU -icount, 10 channels, 5 biquads")
            metrics[k]["rv32_inference_per_hop"] = metric(per_hop, "instructions", "measured",
                                                          "rv32imc under QEMU -icount, one core, no SIMD")
            metrics[k]["rv32_errors"] = metric(r["rv32_errors"], "", "measured", "validate --stream platform=rv32, 1 s")
        for op, v in r["budget"]["gap9_ESTIMATED"].items():
            metrics[k][f"gap9_{op}_inference_latency"] = metric(v["estimated_latency_us"], "us", "estimated",
                                                                "profile/cost_model.py; hop period "
                                                                f"{v['hop_period_us']:g} us")
    metrics = {f"{p}.{name}": m for p, group in metrics.items() for name, m in group.items()}
    write_results("stream", metrics, {"rows": rows, "sizes": SIZES, "window": WINDOW, "stream_hop": STREAM_HOP,
                                      "fs_out": FS_OUT, "band": BAND, "notch": NOTCH})
    return 0


if __name__ == "__main__":
    sys.exit(main())
