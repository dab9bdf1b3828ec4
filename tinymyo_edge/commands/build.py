"""`tinymyo-edge build | validate | run`: argument parsing only; the work is in tinymyo_edge.build / validate."""

from __future__ import annotations

import sys

import click

from ..build import TARGETS, build, run_host, validate
from ..memory.board import BOARDS


@click.command("build")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", type=click.Choice(TARGETS), default="host", show_default=True)
@click.option("-o", "--out", "outdir", required=True, type=click.Path(file_okay=False), help="build folder")
@click.option("--board", type=click.Choice(sorted(BOARDS)), default=None,
              help="memory levels to plan for (default: the target's own board)")
@click.option("--force", is_flag=True, help="replace OUTDIR if it exists")
def build_command(model, target, outdir, board, force):
    """Lower an int8 ONNX model (from `quantize`) to tiled C in OUTDIR."""
    result = build(model, outdir, target=target, board=board, force=force)
    click.echo(result.memory_table.split("\n\n")[0])
    click.echo(f"wrote {result.outdir} in {result.seconds:.1f} s (memory plan: {result.outdir}/memory/)")


@click.command("validate")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option("--inputs", required=True, type=click.Path(dir_okay=False), help="windows (.npz with x, or .h5)")
@click.option("--per-layer", is_flag=True, help="dump every layer of the C build and name the first difference")
def validate_command(outdir, inputs, per_layer):
    """Compile OUTDIR's host build, run INPUTS, compare with the golden executor and onnxruntime."""
    result = validate(outdir, inputs, per_layer=per_layer)
    click.echo(result.report())
    if result.errors:
        sys.exit(1)


@click.command("run")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option("--inputs", required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False), help="output .npz (y)")
@click.option("--force", is_flag=True, help="replace the output file if it exists")
def run_command(outdir, inputs, out_path, force):
    """Run OUTDIR's host build on INPUTS; writes y (N, *output) to an .npz."""
    y = run_host(outdir, inputs, out_path, force=force)
    click.echo(f"wrote {out_path}: y {list(y.shape)}")


COMMANDS = [build_command, validate_command, run_command]
