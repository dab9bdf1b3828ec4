"""Shared by the benchmark scripts: where results go and what each record says about the machine.

Every number a benchmark writes is labelled "measured" (and where: host CPU, QEMU rv32, GVSoC pulp-open, board) or
"estimated" (and by which model). Results land in bench/results/<name>.json; run_all.py assembles bench/RESULTS.md.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent
# Measure THIS checkout's package (an editable install of another checkout would otherwise be imported).
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def shared_dir() -> Path:
    """../shared beside the checkout (overridable with TINYMYO_SHARED)."""
    return Path(os.environ.get("TINYMYO_SHARED", REPO_ROOT.parent / "shared"))


def machine_info() -> dict:
    """CPU model, core count, relevant instruction-set flags and library versions of this run."""
    flags, model = "", platform.processor()
    try:
        text = Path("/proc/cpuinfo").read_text()
        model = next(l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("model name"))
        flags = next(l.split(":", 1)[1] for l in text.splitlines() if l.startswith("flags"))
    except (OSError, StopIteration):
        pass
    versions = {}
    for mod in ("numpy", "torch", "onnx", "onnxruntime"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = None
    try:
        gcc = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        gcc = None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "isa": [f for f in ("avx2", "avx512f", "avx512_vnni", "amx_int8") if f in flags.split()],
        "python": platform.python_version(),
        "gcc": gcc,
        "versions": versions,
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def git_commit() -> str:
    """HEAD of this checkout (12 hex digits), "+modified" when tracked files differ from it: a results file written
    from a modified tree is not a result of any commit. The benchmarks' own outputs (bench/results/, RESULTS.md) do
    not count: one benchmark's fresh results file does not make the next one's commit "modified"."""
    try:
        head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)bench/results", ":(exclude)bench/RESULTS.md"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+modified" if dirty else "")


def metric(value, unit: str, kind: str, source: str, **extra) -> dict:
    """One labelled number: kind is "measured" or "estimated"; source says where (e.g. "host CPU, 1 thread")."""
    if kind not in ("measured", "estimated"):
        raise ValueError(f"kind must be measured or estimated, not {kind!r}")
    return {"value": value, "unit": unit, "kind": kind, "source": source, **extra}


COMMIT = git_commit()  # read when the benchmark starts, before any later edit of the tree


def write_results(name: str, metrics: dict, details: dict | None = None) -> Path:
    """Write bench/results/<name>.json with the commit the benchmark imported and the machine record; print the
    metrics."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": name, "commit": COMMIT, "machine": machine_info(), "metrics": metrics,
              "details": details or {}}
    path = RESULTS_DIR / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=float) + "\n")
    tmp.replace(path)
    for key, m in metrics.items():
        value = m["value"] if isinstance(m, dict) else m
        label = f" [{m['kind']}: {m['source']}]" if isinstance(m, dict) else ""
        unit = f" {m['unit']}" if isinstance(m, dict) and m.get("unit") else ""
        print(f"{name}.{key}: {value}{unit}{label}")
    return path
