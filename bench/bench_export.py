"""Export of the default model (the paper's deployed TinyMyo: 8 ch x 1000 samples, 400 tokens, classification head,
upstream initialisation, seed 0) to the NNTool form: wall time per stage, and onnxruntime-vs-PyTorch parity on
real 3DC windows (participants 1 and 2, 8 of 10 channels, 1 s at 1000 Hz, z-scored per window and channel).

    python bench/bench_export.py [--windows 64]      -> prints, writes bench/results/export.json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import metric, shared_dir, write_results  # noqa: E402

from tinymyo_edge.data import windows_from_3dc  # noqa: E402
from tinymyo_edge.export import PARITY_RTOL, export_onnx, prepare_model  # noqa: E402

HOST = f"host CPU, torch {torch.get_num_threads()} threads"


def real_windows(count: int) -> np.ndarray:
    folder = shared_dir() / "data" / "3dc"
    x = np.concatenate([windows_from_3dc(folder / f"participant0{p}.npz", channels=8).x for p in (1, 2)])
    return x[np.linspace(0, len(x) - 1, count).round().astype(int)]


def cli_seconds(out: Path) -> float:
    """The user's view: `tinymyo-edge export -o ...` in a fresh interpreter (imports included)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tinymyo_edge", "export", "-o", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=64, help="real windows checked for parity")
    args = parser.parse_args()
    x = real_windows(args.windows)
    with tempfile.TemporaryDirectory() as tmp:
        cli_wall = cli_seconds(Path(tmp) / "cli.onnx")
        model, source = prepare_model(seed=0)
        start = time.perf_counter()
        report = export_onnx(model, Path(tmp) / "tinymyo.onnx", parity_inputs=x, source=source)
        wall = time.perf_counter() - start
        size = (Path(tmp) / "tinymyo.onnx").stat().st_size
    print(report.summary())
    real = next(p for p in report.parity if p.inputs == "real")
    rand = next(p for p in report.parity if p.inputs == "random")
    metrics = {
        "cli_export_default_model_s": metric(round(cli_wall, 2), "s", "measured", f"{HOST}; fresh process, "
                                             "imports + export + simplify + parity on 4 random windows"),
        "export_onnx_wall_s": metric(round(wall, 2), "s", "measured", f"{HOST}; export_onnx with {len(x)} real windows"),
        **{f"stage_{k.replace('+', '_')}_s": metric(round(v, 2), "s", "measured", HOST) for k, v in report.seconds.items()},
        "parity_real_max_abs_error": metric(real.max_abs_error, "", "measured", f"onnxruntime vs PyTorch, {real.windows} real 3DC windows"),
        "parity_real_max_rel_error": metric(real.max_rel_error, "", "measured", "max over windows of max|diff| / max|y|"),
        "parity_random_max_abs_error": metric(rand.max_abs_error, "", "measured", f"{rand.windows} standard-normal windows"),
        "parity_tolerance_real": metric(real.tolerance, "", "measured", f"{PARITY_RTOL} x max(1, |y|max)"),
    }
    details = {"config": report.config.to_dict(), "form": report.form, "weights": source, "ops": report.ops,
               "parameters": report.parameters, "onnx_bytes": size, "real_output_scale": real.output_scale,
               "load_average_1min": os.getloadavg()[0],  # the host is shared: timings scale with its load
               "data": "3DC participants 01-02, 8 channels, band-pass 20-450 Hz, 60 Hz notch, 1000-sample windows"}
    write_results("export", metrics, details)


if __name__ == "__main__":
    main()
