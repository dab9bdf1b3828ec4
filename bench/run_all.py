"""`make bench`: run every bench/bench_*.py, then assemble bench/RESULTS.md from bench/results/*.json.

Each script prints its numbers and writes its own results file (bench/common.py); a script that fails is reported
in RESULTS.md as failed, never silently dropped. `python bench/run_all.py --only quant,build` runs a subset;
`--collect` only re-assembles RESULTS.md from existing results.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, machine_info  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent


def run_scripts(only: set[str] | None) -> dict[str, dict]:
    status = {}
    for script in sorted(BENCH_DIR.glob("bench_*.py")):
        name = script.stem.removeprefix("bench_")
        if only and name not in only:
            continue
        print(f"== {script.name}", flush=True)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script)], cwd=BENCH_DIR.parent)
        status[name] = {"returncode": proc.returncode, "seconds": round(time.perf_counter() - start, 1)}
    return status


def _flatten(prefix: str, value, rows: list) -> None:
    if isinstance(value, dict) and "value" in value and "kind" in value:
        rows.append((prefix, value["value"], value.get("unit", ""), value["kind"], value.get("source", "")))
    elif isinstance(value, dict):
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), sub, rows)
    elif isinstance(value, (int, float, str, bool)) or value is None:
        rows.append((prefix, value, "", "", ""))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def render(status: dict[str, dict]) -> str:
    info = machine_info()
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (bench/run_all.py). Every number is labelled: **measured** (and where) or",
        "**estimated** (and by which model). Re-run to refresh; compare ratios only within one run.",
        "",
        f"- date (UTC): {info['date_utc']}",
        f"- machine: {info['cpu']}, {info['cores']} cores, ISA {', '.join(info['isa']) or 'baseline'}",
        f"- python {info['python']}, {info['gcc']}",
        "- " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()),
        "",
    ]
    for path in sorted(RESULTS_DIR.glob("*.json")):
        record = json.loads(path.read_text())
        name = record.get("benchmark", path.stem)
        st = status.get(name)
        state = "" if st is None else (" (ran now" + (", FAILED" if st["returncode"] else "") + f", {st['seconds']} s)")
        lines += [f"## {name}{state}", "", f"results file: bench/results/{path.name}, written {record.get('machine', {}).get('date_utc', '?')}"
                  + (f" from commit {record['commit']}" if record.get("commit") else ""), ""]
        rows: list = []
        _flatten("", record.get("metrics", {k: v for k, v in record.items() if k not in ("machine", "details")}), rows)
        lines += ["| metric | value | unit | kind | source |", "|---|---|---|---|---|"]
        lines += [f"| {k} | {_fmt(v)} | {u} | {kd} | {s} |" for k, v, u, kd, s in rows]
        lines.append("")
    failed = [n for n, s in status.items() if s["returncode"]]
    if failed:
        lines += ["## Failed benchmark scripts", "", *[f"- bench_{n}.py (exit {status[n]['returncode']})" for n in failed], ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="comma-separated benchmark names (bench_<name>.py)")
    parser.add_argument("--collect", action="store_true", help="only assemble RESULTS.md from existing results")
    args = parser.parse_args()
    status = {} if args.collect else run_scripts(set(args.only.split(",")) if args.only else None)
    (BENCH_DIR / "RESULTS.md").write_text(render(status))
    print(f"wrote {BENCH_DIR / 'RESULTS.md'}")
    return 1 if any(s["returncode"] for s in status.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
