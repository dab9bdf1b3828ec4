"""`tinymyo-edge build-nntool`: the NNTool backend (GAP9 SDK project through NNTool + AutoTiler).

Temporary separate command; `tinymyo-edge build --target gap9 --backend nntool` dispatches to the same function.
"""

from __future__ import annotations

import click

from ..data import load_windows
from ..quant.api import DEFAULT_MAX_WINDOWS
from ..targets.nntool import build_nntool_project, calibration_subset


@click.command("build-nntool")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--calib", "calib_path", required=True, type=click.Path(dir_okay=False),
              help="Calibration windows (.npz x / HDF5 data), the same file `quantize` uses.")
@click.option("--max-windows", type=click.IntRange(min=1), default=DEFAULT_MAX_WINDOWS, show_default=True,
              help="Calibrate on at most this many windows, spread over the set (the same selection as `quantize`).")
@click.option("--val", "val_path", default=None, type=click.Path(dir_okay=False),
              help="Windows NNTool executes to make the app's reference outputs [default: the first 4 of --calib].")
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False),
              help="Project folder to write.")
@click.option("--board", default="gap9", show_default=True, help="Board description (memory sizes, L3 device).")
@click.option("--ne16", is_flag=True, help="Let NNTool map linear layers onto the NE16 accelerator.")
@click.option("--softmax-8bit", is_flag=True, help="8-bit softmax outputs (NNTool's default is 16-bit).")
@click.option("--no-softmax-rescale", is_flag=True,
              help="Give NNTool the model as exported, without rescaling the attention probabilities (see docs/NNTOOL.md).")
@click.option("--run-nntool/--no-run-nntool", default=None,
              help="Run NNTool now [default: when nntool.api is importable or TINYMYO_NNTOOL_PYTHON is set].")
@click.option("--force", is_flag=True, help="Overwrite the project folder if it exists.")
def build_nntool_command(model, calib_path, max_windows, val_path, outdir, board, ne16, softmax_8bit,
                         no_softmax_rescale, run_nntool, force) -> None:
    """Write a GAP9 SDK project that runs MODEL (float ONNX from `export`) through NNTool and the AutoTiler."""
    calib = calibration_subset(load_windows(calib_path).x, max_windows)
    val = load_windows(val_path).x if val_path else None
    project = build_nntool_project(model, calib, outdir, board=board, ne16=ne16, softmax_8bit=softmax_8bit,
                                   force=force, val_x=val, run_nntool=run_nntool,
                                   softmax_rescale=not no_softmax_rescale)
    click.echo(project.summary())


COMMANDS = [build_nntool_command]
