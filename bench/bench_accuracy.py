"""Accuracy on real EMG is kept through deployment: 3DC per participant, float vs int8 onnxruntime vs C host build.

Runs examples/3dc_pipeline.py's functions (its defaults: 500 Hz, 0.5 s windows, dim 64, depth 4, <= 40 epochs) for
each participant: train on session 0, test on every window of session 1; float, int8 onnxruntime and C host-build
accuracy, int8-vs-float top-1 agreement, C outputs == onnxruntime outputs window by window, confusion matrices.
Data: the 3DC dataset (Cote-Allard et al., IEEE TNSRE 27(4), 2019), ../shared/data/3dc (TINYMYO_SHARED overrides).

    python bench/bench_accuracy.py                          # all six participants (about an hour on 2 busy cores)
    python bench/bench_accuracy.py --participants 2,5 --jobs 2
    python bench/bench_accuracy.py --participants 2,5 --reuse   # re-score earlier checkpoints (toolchain changed)
    python bench/bench_accuracy.py --participants 1,2,3,4,5,6 --collect   # assemble runs made in parts
    TINYMYO_ACCURACY_PARTICIPANTS=2,5 python bench/run_all.py   # what `make bench` does (the quick subset)

Writes bench/results/accuracy.json and the confusion PNGs under bench/results/accuracy/; the pipeline's work files
(windows, checkpoints, ONNX, C build) go to --work (default /tmp/tinymyo_accuracy).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO_ROOT, RESULTS_DIR, metric, write_results  # noqa: E402

ALL = "1,2,3,4,5,6"
ENV = "TINYMYO_ACCURACY_PARTICIPANTS"
PNG_DIR = RESULTS_DIR / "accuracy"
STAGES = {"float_accuracy": "float (PyTorch)", "int8_ort_accuracy": "int8 ONNX in onnxruntime",
          "host_c_accuracy": "C host build", "int8_float_agreement": "top-1 agreement int8 vs float"}


def pipeline():
    """examples/3dc_pipeline.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("pipeline_3dc", REPO_ROOT / "examples" / "3dc_pipeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pipeline_argv(participant: int, work: Path, extra: list[str]) -> list[str]:
    return ["--participants", str(participant), "--out", str(work), "--int8", "--host-c", "--force", "--threads", "1",
            *extra]


def run_one(participant: int, work: str, extra: list[str]) -> dict:
    """One participant, in its own process when --jobs > 1."""
    p = pipeline()
    return p.run_participant(participant, p.parse_args(pipeline_argv(participant, Path(work), extra)))


def run_all(participants: list[int], work: Path, jobs: int, extra: list[str]) -> list[dict]:
    if jobs <= 1 or len(participants) == 1:
        return [run_one(n, str(work), extra) for n in participants]
    with multiprocessing.get_context("spawn").Pool(min(jobs, len(participants))) as pool:
        return pool.starmap(run_one, [(n, str(work), extra) for n in participants])


def metrics_for(rows: list[dict], summary: dict) -> dict:
    m = {}
    for r in rows:
        n, windows = r["participant"], r["eval_windows"]
        src = f"3DC participant {n} session 1 ({windows} windows), host CPU"
        for key in STAGES:
            m[f"p{n}_{key}"] = metric(round(r[key], 4), "", "measured", src)
        m[f"p{n}_host_c_equals_ort"] = metric(r["host_c_equals_ort"], "", "measured",
                                              src + ", every output element compared")
    who = ",".join(str(r["participant"]) for r in rows)
    src = f"3DC participants {who} session 1, host CPU; mean over participants"
    for key in STAGES:
        m[f"mean_{key}"] = metric(round(summary[f"mean_{key}"], 4), "", "measured", src)
    m["mean_int8_minus_float"] = metric(round(summary["mean_int8_minus_float_points"], 2), "points", "measured", src)
    m["host_c_equals_ort_all"] = metric(summary["host_c_equals_ort_all"], "", "measured", src)
    return m


def copy_pngs(work: Path, rows: list[dict]) -> dict:
    """Confusion PNGs next to the results file (the work folder may be temporary)."""
    PNG_DIR.mkdir(parents=True, exist_ok=True)
    pngs = {}
    sources = [work / f"confusion_{s}_all.png" for s in ("float", "int8")]
    sources += [work / f"p{r['participant']:02d}" / "confusion_int8.png" for r in rows]
    for src in sources:
        name = src.name if src.parent == work else f"{src.parent.name}_{src.name}"
        shutil.copyfile(src, PNG_DIR / name)
        pngs[name.removesuffix(".png")] = str((PNG_DIR / name).relative_to(REPO_ROOT))
    return pngs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", default=os.environ.get(ENV, ALL),
                        help=f"comma-separated 3DC participants [default: ${ENV}, else {ALL}]")
    parser.add_argument("--jobs", type=int, default=2, help="participants trained at once (one process each, 1 thread)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/tinymyo_accuracy"))
    parser.add_argument("--epochs", type=int, default=None, help="override the example's epoch limit (for a smoke run)")
    parser.add_argument("--prob-bits", type=int, default=None, help="softmax probability bits (the example's --prob-bits)")
    parser.add_argument("--collect", action="store_true",
                        help="only assemble the results of participants scored by earlier runs in --work (pNN/row.json)")
    parser.add_argument("--reuse", action="store_true",
                        help="score the checkpoints an earlier run left in --work instead of training again")
    args = parser.parse_args()
    p = pipeline()
    p.check_args(p.parse_args(["--int8", "--host-c"]))
    extra = ([] if args.epochs is None else ["--epochs", str(args.epochs)]) + (["--reuse"] if args.reuse else [])
    extra += [] if args.prob_bits is None else ["--prob-bits", str(args.prob_bits)]
    participants = p.participants(args.participants)
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.collect:
        rows = [json.loads((args.work / f"p{n:02d}" / "row.json").read_text()) for n in participants]
    else:
        rows = sorted(run_all(participants, args.work, args.jobs, extra), key=lambda r: r["participant"])
    settings = vars(p.parse_args(pipeline_argv(0, args.work, extra)))
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in settings.items() if k != "participants"}
    summary = p.summarise(rows, args.work, settings)
    details = {"command": "python bench/bench_accuracy.py " + " ".join(sys.argv[1:]),
               "pipeline_settings": settings, "targets": {"int8_minus_float": ">= -0.5 points on average",
                                                         "int8_float_agreement": ">= 0.99"},
               "confusion_png": copy_pngs(args.work, rows), "seconds": round(time.perf_counter() - t0),
               "participants": [{k: v for k, v in r.items() if k != "val"} for r in rows],
               "confusion_all": summary["confusion"],
               "data": "3DC dataset (Cote-Allard et al., IEEE TNSRE 27(4), 2019)"}
    write_results("accuracy", metrics_for(rows, summary), details)
    return 0 if summary["host_c_equals_ort_all"] else 1


if __name__ == "__main__":
    sys.exit(main())
