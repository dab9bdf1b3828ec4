"""build / build_program: Program -> passes -> memory plan (refusal before any C) -> C sources -> OUTDIR."""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..codegen import Provenance, dump_layers, render
from ..errors import TinyMyoError
from ..fileio import atomic_dir, check_writable
from ..ir.program import Program
from ..memory import Board, MemoryPlan, get_board, plan_memory
from ..memory.plan import check_l2_constants
from ..memory.report import ascii_plan, plot_plan, report_dict, report_table
from ..passes import run_passes
from ..resources import resource_dir
from .program_io import save_program

TARGETS = ("host", "gap9")
MODEL_FILE = "model.int8.onnx"
MANIFEST = "build.json"


@dataclass
class BuildResult:
    outdir: Path
    plan: MemoryPlan
    program: Program  # the lowered program (after passes)
    memory_table: str
    seconds: float


def _read_int8_program(path: Path) -> Program:
    try:
        from ..quant import read_program
    except ImportError as exc:
        raise TinyMyoError("building from an int8 ONNX file needs tinymyo_edge.quant.read_program, which this "
                           "installation lacks") from exc
    return read_program(path)


def build(int8_onnx_path, outdir, *, target: str = "host", board: str | Board | None = None,
          force: bool = False, planner: str = "greedy") -> BuildResult:
    """int8 ONNX -> OUTDIR (a copy of the model, the C sources, the plan and reports): see build_program."""
    path = Path(int8_onnx_path)
    if not path.is_file():
        raise TinyMyoError(f"{path}: no such int8 ONNX file")
    check_writable(Path(outdir), force)
    program = _read_int8_program(path)
    return _build(program, Path(outdir), target, board, force, planner, model_path=path)


def build_program(program: Program, outdir, *, target: str = "host", board: str | Board | None = None,
                  force: bool = False, planner: str = "greedy") -> BuildResult:
    """A Program -> OUTDIR. Nothing is written when the program does not fit the board (TinyMyoError naming the
    layer and the memory level), and OUTDIR is replaced atomically (only with force=True if it exists)."""
    return _build(program, Path(outdir), target, board, force, planner, model_path=None)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _build(program: Program, outdir: Path, target: str, board, force: bool, planner: str,
           model_path: Path | None) -> BuildResult:
    start = time.perf_counter()
    if target not in TARGETS:
        raise TinyMyoError(f"unknown target {target!r}; known targets: {', '.join(TARGETS)}")
    check_writable(outdir, force)
    board = get_board(board, target)
    lowered, dumps = run_passes(program)
    plan = plan_memory(lowered, board, planner)  # refuses before anything is written
    if model_path is not None:
        model_bytes, model_name = model_path.read_bytes(), model_path.name
    else:
        from ..passes import dump_program
        model_bytes, model_name = dump_program(program).encode(), "program (built from a Program object)"
    command = shlex.join(sys.argv) if sys.argv and sys.argv[0] else "python"
    prov = Provenance(command, model_name, _sha256(model_bytes), target, board.name)
    rendered = render(lowered, plan, prov)
    l2_constants = check_l2_constants(plan, [(c.owner, c.values.nbytes) for c in rendered.constants
                                             if c.level == "L2"])  # refuses before anything is written
    table = report_table(lowered, plan)
    with atomic_dir(outdir, force=force) as tmp:
        for rel, content in rendered.files.items():
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(content) if isinstance(content, bytes) else dest.write_text(content)
        shutil.copytree(resource_dir("gap9_app") / "inc", tmp / "kernels" / "inc")
        shutil.copytree(resource_dir("gap9_app") / "src", tmp / "kernels" / "src")
        if model_path is not None:
            shutil.copyfile(model_path, tmp / MODEL_FILE)
        save_program(program, tmp / "program.json", tmp / "program.npz")
        (tmp / "passes").mkdir()
        for name, text in dumps:
            (tmp / "passes" / name).write_text(text)
        mem = tmp / "memory"
        mem.mkdir()
        (mem / "report.txt").write_text(table)
        (mem / "report.json").write_text(json.dumps(report_dict(lowered, plan), indent=1))
        (mem / "plan.txt").write_text(ascii_plan(lowered, plan))
        plot_plan(lowered, plan, mem / "plan.png")
        manifest = {
            "format": "tinymyo-edge build v1", "tool_version": __version__, "target": target, "board": board.name,
            "model": MODEL_FILE if model_path is not None else None, "model_sha256": prov.model_sha256,
            "input": {"name": program.input, "shape": list(program.tensors[program.input].shape)},
            "output": {"name": program.output, "shape": list(program.tensors[program.output].shape)},
            "layers": dump_layers(lowered, rendered.calls), "macs": lowered.macs(),
            "arena_bytes": plan.arena_bytes, "l2_constant_bytes": l2_constants, "command": command,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        if target == "gap9":  # the application around the network code (main.c, Makefile, CMake/Kconfig, platform/)
            from ..targets.app import write_app
            write_app(tmp, program)
    return BuildResult(outdir, plan, lowered, table, time.perf_counter() - start)
