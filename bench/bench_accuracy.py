"""Accuracy on real EMG is kept through deployment: 3DC per participant, float vs int8 onnxruntime vs C host build.

Three models, each trained on session 0 and scored on session 1 (float, int8 onnxruntime, C host build; C outputs ==
onnxruntime outputs window by window), quantized at quantize's DEFAULT settings:
  small       examples/3dc_pipeline.py's default recipe (10 ch, 500 Hz, 0.5 s windows, 100 tokens, dim 64, depth 4,
              <= 40 epochs) for every participant of --participants; keys p<N>_*, mean_*.
  deployed    its --recipe deployed (the paper's 8 ch x 1000 samples at 1000 Hz, 1 s windows, 400 tokens, dim 192,
              depth 8, 3 heads; channels 0,2,3,4,5,7,8,9, why: the example's docstring), trained from scratch under
              the recipe's 35-minute budget: BRIEFLY trained on a shared CPU. Participants --deployed; keys deployed_*.
  regression  examples/3dc_envelope.py: the regression head predicting the next window's per-channel RMS envelope
              (the documented kinematics proxy: 3DC has no joint angles); R^2 float vs int8 vs C. Participants
              --regression; keys regression_*.
Targets (issue 14): int8-vs-float top-1 agreement >= 0.99 and int8 - float >= -0.5 points on average, C == ORT.
Data: the 3DC dataset (Cote-Allard et al., IEEE TNSRE 27(4), 2019), ../shared/data/3dc (TINYMYO_SHARED overrides).

    python bench/bench_accuracy.py                          # train + score all three (hours on 2 busy cores)
    python bench/bench_accuracy.py --work /work/ckpt/acc100 --deployed-work /work/ckpt/deployed \
        --regression-work /work/ckpt/regression --reuse     # re-score checkpoints trained earlier (toolchain changed)
    python bench/bench_accuracy.py --participants 2,5 --deployed "" --regression "" --jobs 2   # small model only
    python bench/bench_accuracy.py --participants 1,2,3,4,5,6 --collect   # assemble runs made in parts (same commit)
    TINYMYO_ACCURACY_PARTICIPANTS=2,5 python bench/run_all.py   # what `make bench` does (the quick subset)

Writes bench/results/accuracy.json and the confusion PNGs under bench/results/accuracy/; the pipelines' work files
(windows, checkpoints, ONNX, C build) go to --work (default /tmp/tinymyo_accuracy), --deployed-work (default
WORK/deployed) and --regression-work (default WORK/regression). Checkpoints are not committed: the commands above
remake them (seeded; the deployed model's budget is wall-clock, so its epochs depend on the machine's load).
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
from common import REPO_ROOT, RESULTS_DIR, git_commit, metric, write_results  # noqa: E402

ALL = "1,2,3,4,5,6"
ENV = "TINYMYO_ACCURACY_PARTICIPANTS"
DEPLOYED_ENV, REGRESSION_ENV = "TINYMYO_ACCURACY_DEPLOYED", "TINYMYO_ACCURACY_REGRESSION"
PNG_DIR = RESULTS_DIR / "accuracy"
STAGES = {"float_accuracy": "float (PyTorch)", "int8_ort_accuracy": "int8 ONNX in onnxruntime",
          "host_c_accuracy": "C host build", "int8_float_agreement": "top-1 agreement int8 vs float"}


def load_example(name: str):
    """examples/<name>.py as a module (they are scripts, not part of the package)."""
    spec = importlib.util.spec_from_file_location(name.replace("3dc_", "example_3dc_"), REPO_ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pipeline():
    return load_example("3dc_pipeline")


def pipeline_argv(participant: int, work: Path, extra: list[str]) -> list[str]:
    return ["--participants", str(participant), "--out", str(work), "--int8", "--host-c", "--force", "--threads", "1",
            *extra]


def run_one(example: str, participant: int, work: str, extra: list[str]) -> dict:
    """One participant of one example, in its own process when --jobs > 1."""
    p = load_example(example)
    row = p.run_participant(participant, p.parse_args(pipeline_argv(participant, Path(work), extra)))
    row["commit"] = git_commit()  # --collect refuses rows scored at different commits
    (Path(work) / f"p{participant:02d}" / "row.json").write_text(json.dumps(row, indent=1) + "\n")
    return row


def run_all(example: str, participants: list[int], work: Path, jobs: int, extra: list[str]) -> list[dict]:
    if jobs <= 1 or len(participants) == 1:
        rows = [run_one(example, n, str(work), extra) for n in participants]
    else:
        with multiprocessing.get_context("spawn").Pool(min(jobs, len(participants))) as pool:
            rows = pool.starmap(run_one, [(example, n, str(work), extra) for n in participants])
    return sorted(rows, key=lambda r: r["participant"])


def rows_for(example: str, participants: list[int], work: Path, args, extra: list[str]) -> list[dict]:
    work.mkdir(parents=True, exist_ok=True)
    if not args.collect:
        return run_all(example, participants, work, args.jobs, extra)
    rows = [json.loads((work / f"p{n:02d}" / "row.json").read_text()) for n in participants]
    here = git_commit()
    for n, r in zip(participants, rows):
        if r.get("commit") != here or here.endswith("+modified"):
            sys.exit(f"{work / f'p{n:02d}' / 'row.json'}: scored at commit {r.get('commit')}, this checkout is {here}: "
                     "collect only rows scored by this clean commit")
    return rows


def classification_metrics(rows: list[dict], summary: dict, prefix: str, what: str) -> dict:
    """Per-participant and mean figures of one classification model; keys prefixed (small: none)."""
    m = {}
    for r in rows:
        n, windows = r["participant"], r["eval_windows"]
        src = f"{what}, 3DC participant {n} session 1 ({windows} windows), host CPU"
        for key in STAGES:
            m[f"{prefix}p{n}_{key}"] = metric(round(r[key], 4), "", "measured", src)
        m[f"{prefix}p{n}_host_c_equals_ort"] = metric(r["host_c_equals_ort"], "", "measured",
                                                      src + ", every output element compared")
    who = ",".join(str(r["participant"]) for r in rows)
    src = f"{what}, 3DC participants {who} session 1, host CPU; mean over participants"
    for key in STAGES:
        m[f"{prefix}mean_{key}"] = metric(round(summary[f"mean_{key}"], 4), "", "measured", src)
    drop = summary["mean_int8_minus_float_points"]
    m[f"{prefix}mean_int8_minus_float"] = metric(round(drop, 2), "points", "measured", src)
    m[f"{prefix}min_int8_float_agreement"] = metric(round(min(r["int8_float_agreement"] for r in rows), 4), "",
                                                    "measured", src.replace("mean over", "lowest of the"))
    m[f"{prefix}host_c_equals_ort_all"] = metric(summary["host_c_equals_ort_all"], "", "measured", src)
    met = summary["mean_int8_float_agreement"] >= 0.99 and drop >= -0.5 and summary["host_c_equals_ort_all"]
    m[f"{prefix}targets_met"] = metric(bool(met), "", "measured",
                                       src + "; mean agreement >= 0.99, mean int8 - float >= -0.5 points, C == ORT")
    return m


REGRESSION_KEYS = ("r2_float", "r2_int8_ort", "r2_host_c", "r2_int8_vs_float", "r2_persistence", "mae_float",
                   "mae_int8_ort", "max_abs_int8_minus_float")


def regression_metrics(rows: list[dict]) -> dict:
    m = {}
    for r in rows:
        n = r["participant"]
        src = (f"next-window RMS envelope regression (proxy), 3DC participant {n} session 1 ({r['eval_windows']} "
               f"windows x {r['target_shape'][0]} blocks x {r['target_shape'][1]} channels), host CPU")
        for key in REGRESSION_KEYS:
            m[f"regression_p{n}_{key}"] = metric(round(r[key], 4), "", "measured", src)
        m[f"regression_p{n}_host_c_equals_ort"] = metric(r["host_c_equals_ort"], "", "measured",
                                                         src + ", every output element compared")
    return m


def copy_pngs(work: Path, rows: list[dict], prefix: str = "") -> dict:
    """Confusion PNGs next to the results file (the work folder may be temporary)."""
    PNG_DIR.mkdir(parents=True, exist_ok=True)
    pngs = {}
    sources = [work / f"confusion_{s}_all.png" for s in ("float", "int8")]
    sources += [work / f"p{r['participant']:02d}" / "confusion_int8.png" for r in rows]
    for src in sources:
        name = prefix + (src.name if src.parent == work else f"{src.parent.name}_{src.name}")
        shutil.copyfile(src, PNG_DIR / name)
        pngs[name.removesuffix(".png")] = str((PNG_DIR / name).relative_to(REPO_ROOT))
    return pngs


def settings_of(example: str, work: Path, extra: list[str]) -> dict:
    settings = vars(load_example(example).parse_args(pipeline_argv(0, work, extra)))
    return {k: str(v) if isinstance(v, Path) else v for k, v in settings.items() if k != "participants"}


def classification_part(participants: list[int], work: Path, args, extra: list[str], prefix: str,
                        what: str) -> tuple[dict, dict]:
    p = pipeline()
    rows = rows_for("3dc_pipeline", participants, work, args, extra)
    settings = settings_of("3dc_pipeline", work, extra)
    summary = p.summarise(rows, work, settings)
    details = {"pipeline_settings": settings, "confusion_png": copy_pngs(work, rows, prefix),
               "participants": [{k: v for k, v in r.items() if k != "val"} for r in rows],
               "confusion_all": summary["confusion"]}
    return classification_metrics(rows, summary, prefix, what), details


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", default=os.environ.get(ENV, ALL),
                        help=f"small model: comma-separated 3DC participants [default: ${ENV}, else {ALL}]")
    parser.add_argument("--deployed", default=os.environ.get(DEPLOYED_ENV, "2"),
                        help=f"deployed 400-token model: participants, '' = none [default: ${DEPLOYED_ENV}, else 2]")
    parser.add_argument("--regression", default=os.environ.get(REGRESSION_ENV, "2"),
                        help=f"regression proxy: participants, '' = none [default: ${REGRESSION_ENV}, else 2]")
    parser.add_argument("--jobs", type=int, default=2, help="participants trained at once (one process each, 1 thread)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/tinymyo_accuracy"))
    parser.add_argument("--deployed-work", type=Path, default=None, help="[default: WORK/deployed]")
    parser.add_argument("--regression-work", type=Path, default=None, help="[default: WORK/regression]")
    parser.add_argument("--deployed-max-eval", type=int, default=None,
                        help="score the deployed model's int8/C on at most this many test windows (evenly spread)")
    parser.add_argument("--epochs", type=int, default=None, help="override the examples' epoch limit (for a smoke run)")
    parser.add_argument("--prob-bits", type=int, default=None, help="softmax probability bits (the example's --prob-bits)")
    parser.add_argument("--collect", action="store_true",
                        help="only assemble the results of participants scored by earlier runs (WORK/pNN/row.json)")
    parser.add_argument("--reuse", action="store_true",
                        help="score the checkpoints an earlier run left in the work folders instead of training again")
    args = parser.parse_args()
    p = pipeline()
    p.check_args(p.parse_args(["--int8", "--host-c"]))
    extra = ([] if args.epochs is None else ["--epochs", str(args.epochs)]) + (["--reuse"] if args.reuse else [])
    extra += [] if args.prob_bits is None else ["--prob-bits", str(args.prob_bits)]
    t0 = time.perf_counter()
    metrics, details = {}, {"command": "python bench/bench_accuracy.py " + " ".join(sys.argv[1:]),
                            "commit": git_commit(),
                            "targets": {"int8_minus_float": ">= -0.5 points on average",
                                        "int8_float_agreement": ">= 0.99 on average", "host_c_equals_ort": "every window"},
                            "quantize_settings": "quantize_model defaults" if args.prob_bits is None
                            else f"prob_bits {args.prob_bits}",
                            "data": "3DC dataset (Cote-Allard et al., IEEE TNSRE 27(4), 2019)"}
    ok = True
    if p.participants(args.participants):
        m, d = classification_part(p.participants(args.participants), args.work, args, extra, "",
                                   "small model (100 tokens)")
        metrics.update(m)
        details.update(d)  # the keys the small model has always had
        ok &= m["host_c_equals_ort_all"]["value"]
    if p.participants(args.deployed):
        work = args.deployed_work or args.work / "deployed"
        more = ["--recipe", "deployed"] + ([] if args.deployed_max_eval is None
                                           else ["--max-eval", str(args.deployed_max_eval)])
        m, d = classification_part(p.participants(args.deployed), work, args, extra + more, "deployed_",
                                   "deployed model (8 ch x 1000, 400 tokens, briefly trained)")
        metrics.update(m)
        details["deployed"] = d
        ok &= m["deployed_host_c_equals_ort_all"]["value"]
    if p.participants(args.regression):
        work = args.regression_work or args.work / "regression"
        rows = rows_for("3dc_envelope", p.participants(args.regression), work, args, extra)
        metrics.update(regression_metrics(rows))
        details["regression"] = {"settings": settings_of("3dc_envelope", work, extra), "participants": rows}
        ok &= all(r["host_c_equals_ort"] for r in rows)
    details["seconds"] = round(time.perf_counter() - t0)
    write_results("accuracy", metrics, details)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
