"""Graph passes with narrow signatures (Program -> Program), run in order with a text dump after each."""

from __future__ import annotations

from typing import Callable

from ..ir.program import Program
from .check import check_program
from .dump import dump_program
from .fusion import DepthwiseLut, LinearLut, fuse_tables

PIPELINE: list[tuple[str, Callable[[Program], Program]]] = [
    ("check", check_program),
    ("fuse_tables", fuse_tables),
]


def run_passes(program: Program) -> tuple[Program, list[tuple[str, str]]]:
    """The lowered program and [(file name, dump text)]: 00_input, then one per pass."""
    dumps = [("00_input.txt", dump_program(program))]
    for i, (name, fn) in enumerate(PIPELINE, start=1):
        program = fn(program)
        dumps.append((f"{i:02d}_{name}.txt", dump_program(program)))
    return program, dumps


__all__ = ["PIPELINE", "run_passes", "dump_program", "check_program", "fuse_tables", "LinearLut", "DepthwiseLut"]
