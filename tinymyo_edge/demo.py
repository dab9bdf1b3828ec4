"""`make demo`: the whole pipeline on a built-in default, in about a minute on 2 cores, with no external data.

Synthetic EMG-like windows (tinymyo_edge.synthetic) train a small TinyMyo; the pipeline then runs as a user runs it:
finetune -> export (NNTool form, parity-checked) -> quantize (calibrated) -> build --target gap9 (network code and
GAP9 app) -> validate on the host build (Errors: N out of M against onnxruntime and the golden executor) ->
accuracy float / int8 onnxruntime / C -> profile (labelled estimate). Everything lands in demo_out/ (replaced).
Accuracy on synthetic data says only that the stages agree; real-EMG accuracy is in bench/ (3DC dataset).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from .errors import TinyMyoError

# The built-in default: small enough to train and validate in seconds, TinyMyo-shaped in every respect.
DEMO_SIZES = dict(channels=8, samples=400, patch_size=20, dim=64, depth=2, heads=2, mlp_ratio=4, classes=5)
DEMO_WINDOWS = dict(train=400, test=64, seed=0)


class Stage:
    """Prints a numbered stage line and its wall time."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, title: str):
        self.n += 1
        print(f"\n[{self.n}] {title}", flush=True)
        self.start = time.perf_counter()
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            print(f"    ({time.perf_counter() - self.start:.1f} s)", flush=True)


def _save_windows(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    np.savez(path, x=x, y=y)
    return path


def run_demo(out: Path, *, epochs: int = 6) -> int:
    from . import export as export_mod
    from .build import build
    from .model.config import TinyMyoConfig
    from .profile.report import format_table, write_profile
    from .quant import quantize_model
    from .synthetic import synthetic_emg
    from .train.finetune import Data, finetune
    from .train.recipe import Recipe
    from .validate import run_host, validate

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    stage, t0 = Stage(), time.perf_counter()
    cfg = TinyMyoConfig(**DEMO_SIZES)
    with stage(f"data: synthetic EMG-like windows, {cfg.channels} ch x {cfg.samples} samples, {cfg.classes} gestures"):
        n_train, n_test = DEMO_WINDOWS["train"], DEMO_WINDOWS["test"]
        x, y = synthetic_emg(n_train + n_test, cfg.channels, cfg.samples, cfg.classes, seed=DEMO_WINDOWS["seed"])
        train_x, train_y, test_x, test_y = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
        test_npz = _save_windows(out / "test_windows.npz", test_x, test_y)
        print(f"    {n_train} training, {n_test} test windows -> {test_npz}")
    with stage(f"finetune: {epochs} epochs on CPU (tinymyo-edge finetune)"):
        sizes = {k: v for k, v in DEMO_SIZES.items()}
        result = finetune(Data(train_x, train_y, "synthetic"), out / "model.safetensors", sizes=sizes,
                          recipe=Recipe(epochs=epochs, warmup_epochs=1, patience=0, seed=0), progress=False)
        model = result.model.eval()
    with stage("export: float ONNX in the NNTool form, parity-checked against PyTorch (tinymyo-edge export)"):
        report = export_mod.export_onnx(model, out / "model.onnx", parity_inputs=test_x[:8],
                                        source=str(out / "model.safetensors"))
        print("    " + report.summary().replace("\n", "\n    "))
    with stage("quantize: integer-only int8 ONNX calibrated on the training windows (tinymyo-edge quantize)"):
        quantize_model(out / "model.onnx", train_x[:64], out / "model.int8.onnx", report_dir=out / "quant_report",
                       progress=False)
    with stage("build --target gap9: tiled C, memory plan, GAP9 application (tinymyo-edge build)"):
        build(out / "model.int8.onnx", out / "gap9_app", target="gap9")
    with stage("validate: host build of the generated C vs onnxruntime and the golden executor"):
        result_v = validate(out / "gap9_app", test_npz)
        print("    " + result_v.report().replace("\n", "\n    "))
    with stage("accuracy on the test windows: float PyTorch, int8 onnxruntime, C host build"):
        _accuracy(model, out, test_x, test_y, run_host(out / "gap9_app", test_npz, out / "c_outputs.npz"))
    runs = []
    with stage("make run: the GAP9 app on this machine (platform=host; platform=rv32 under QEMU when installed)"):
        runs = _run_app(out / "gap9_app")
    with stage("profile: per-layer MACs, memory traffic, GAP9 cycles (ESTIMATE from the documented cost model)"):
        prof, _ = write_profile(out / "gap9_app", log_paths=runs, json_path=out / "profile.json",
                                png_path=out / "profile.png")
        print(format_table(prof))
    print(f"\nGAP9 application written to {out / 'gap9_app'}: `make -C {out / 'gap9_app'} run platform=host` runs it "
          f"here; platform=gvsoc|board need the GAP9 SDK (GAP_SDK_HOME).")
    print(f"demo finished in {time.perf_counter() - t0:.0f} s; validation: Errors: {result_v.errors}")
    return 0 if result_v.errors == 0 else 1


def _run_app(app: Path) -> list[Path]:
    """`make run` on host (and rv32 when its tools are here); returns the logs the profile reads."""
    from .targets.app_run import run_app

    logs = []
    platforms = ["host"] + (["rv32"] if shutil.which("riscv64-unknown-elf-gcc") and shutil.which("qemu-system-riscv32")
                            else [])
    for platform in platforms:
        run = run_app(app, platform)
        log = app.parent / f"run_{platform}.log"
        log.write_text(run.log)
        logs.append(log)
        summary = [line for line in run.log.splitlines() if line.startswith(("Total", "Inference", "Errors"))]
        print(f"    platform={platform} (exit {run.returncode}): " + "; ".join(summary) + f"  [log: {log}]")
        if run.returncode:
            raise TinyMyoError(f"make run platform={platform} failed: see {log}")
    return logs


def _accuracy(model, out: Path, x: np.ndarray, y: np.ndarray, c_logits: np.ndarray) -> None:
    import onnxruntime as ort
    import torch

    with torch.no_grad():
        float_pred = model(torch.from_numpy(x)).argmax(-1).numpy()
    sess = ort.InferenceSession(str(out / "model.int8.onnx"), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    ort_logits = np.stack([sess.run(None, {name: w[None]})[0][0] for w in x])
    ort_pred, c_pred = ort_logits.argmax(-1), c_logits.reshape(len(x), -1).argmax(-1)
    print(f"    float accuracy      {np.mean(float_pred == y):.3f}")
    print(f"    int8 ORT accuracy   {np.mean(ort_pred == y):.3f}  (top-1 agreement with float {np.mean(ort_pred == float_pred):.3f})")
    print(f"    C host accuracy     {np.mean(c_pred == y):.3f}  (C logits == int8 ORT logits: "
          f"{np.array_equal(c_logits.reshape(ort_logits.shape), ort_logits)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", default="demo_out", help="output folder (replaced)")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args(argv)
    try:
        return run_demo(Path(args.out), epochs=args.epochs)
    except TinyMyoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
