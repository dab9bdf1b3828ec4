"""`build --stream` and `validate --stream`: argument handling only; the work is in tinymyo_edge.targets.stream
and tinymyo_edge.validate_stream. (No COMMANDS: the options hang on build / validate.)"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import TinyMyoError


def build_stream(model, outdir, *, target: str, board, hop: int | None, smooth: int, force: bool) -> None:
    from ..build import build
    from ..quant import read_program
    from ..targets.stream import budget_warnings, stream_config, write_stream_app

    if target != "gap9":
        raise TinyMyoError("--stream builds the GAP9 streaming app: use --target gap9")
    if hop is None:
        raise TinyMyoError("--stream needs --hop H (model samples between inferences)")
    if not Path(model).is_file():
        raise TinyMyoError(f"{model}: no such int8 ONNX file")
    program = read_program(model)
    cfg, desc, spec = stream_config(program, hop, smooth, str(model))  # refuse before writing anything
    result = build(model, outdir, target=target, board=board, force=force)
    try:
        manifest = write_stream_app(result.outdir, program, cfg, desc, spec)
    except Exception:
        import shutil

        shutil.rmtree(result.outdir, ignore_errors=True)  # nothing half-written
        raise
    click.echo(result.memory_table.split("\n\n")[0])
    for line in budget_warnings(manifest["budget"]):
        click.echo(line, err=True)
    budget = manifest["budget"]
    est = ", ".join(f"{k} {v['estimated_latency_us']:g} us" for k, v in budget["gap9_ESTIMATED"].items())
    click.echo(f"wrote {result.outdir} and {result.outdir}/stream (hop {hop} = {budget['hop_period_us']:g} us; "
               f"ESTIMATED GAP9 inference {est})")


def validate_stream_command(outdir, recording, fmt, split, start, samples, chunk, platform) -> None:
    from ..validate_stream import validate_stream

    result = validate_stream(outdir, recording, fmt=fmt, split=split, start=start, samples=samples, chunk=chunk,
                             platform=platform)
    click.echo(result.report())
    if result.errors:
        sys.exit(1)
