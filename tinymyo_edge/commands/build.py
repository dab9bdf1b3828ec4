"""`tinymyo-edge build | validate | run`: argument parsing only; the work is in tinymyo_edge.build / validate."""

from __future__ import annotations

import sys

import click

from ..build import TARGETS, build, run_host, validate
from ..errors import TinyMyoError
from ..memory.board import BOARDS
from ..quant.api import DEFAULT_MAX_WINDOWS


@click.command("build")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", type=click.Choice(TARGETS), default="host", show_default=True)
@click.option("--backend", type=click.Choice(["native", "nntool"]), default="native", show_default=True,
              help="native: our lowering of the int8 ONNX; nntool: a GAP9 SDK project driving NNTool + AutoTiler "
                   "on the FLOAT ONNX from `export` (needs --calib; --target gap9)")
@click.option("-o", "--out", "outdir", required=True, type=click.Path(file_okay=False), help="build folder")
@click.option("--board", type=click.Choice(sorted(BOARDS)), default=None,
              help="memory levels to plan for (default: the target's own board)")
@click.option("--calib", "calib_path", type=click.Path(dir_okay=False),
              help="nntool: calibration windows, the same file `quantize` uses")
@click.option("--max-windows", type=click.IntRange(min=1), default=DEFAULT_MAX_WINDOWS, show_default=True,
              help="nntool: calibrate on at most this many windows (the same selection as `quantize`)")
@click.option("--val", "val_path", type=click.Path(dir_okay=False),
              help="nntool: windows NNTool executes for the app's reference outputs [default: 4 of --calib]")
@click.option("--ne16", is_flag=True, help="nntool: map linear layers onto the NE16 accelerator")
@click.option("--softmax-8bit", is_flag=True, help="nntool: 8-bit softmax outputs (NNTool's default is 16-bit)")
@click.option("--no-softmax-rescale", is_flag=True,
              help="nntool: give NNTool the attention probabilities unscaled (see docs/NNTOOL.md)")
@click.option("--run-nntool/--no-run-nntool", default=None,
              help="nntool: run NNTool now [default: when nntool.api is importable or TINYMYO_NNTOOL_PYTHON is set]")
@click.option("--stream", is_flag=True,
              help="gap9: also write OUTDIR/stream, the streaming app (raw int16 samples in, the model's fixed-point "
                   "preprocessing on chip, an inference every --hop; docs/STREAM.md)")
@click.option("--hop", type=int, default=None, help="--stream: model samples between inferences")
@click.option("--smooth", type=int, default=1, show_default=True, help="--stream: majority vote over K hops")
@click.option("--force", is_flag=True, help="replace OUTDIR if it exists")
def build_command(model, target, backend, outdir, board, calib_path, max_windows, val_path, ne16, softmax_8bit,
                  no_softmax_rescale, run_nntool, stream, hop, smooth, force):
    """Lower MODEL to C in OUTDIR: the int8 ONNX from `quantize` (native backend) or the float ONNX from
    `export` (--backend nntool)."""
    if backend == "nntool":
        _build_nntool(model, target, outdir, board, calib_path, max_windows, val_path, ne16, softmax_8bit,
                      no_softmax_rescale, run_nntool, force)
        return
    if stream:
        from .stream import build_stream

        build_stream(model, outdir, target=target, board=board, hop=hop, smooth=smooth, force=force)
        return
    result = build(model, outdir, target=target, board=board, force=force)
    click.echo(result.memory_table.split("\n\n")[0])
    click.echo(f"wrote {result.outdir} in {result.seconds:.1f} s (memory plan: {result.outdir}/memory/)")


def _build_nntool(model, target, outdir, board, calib_path, max_windows, val_path, ne16, softmax_8bit,
                  no_softmax_rescale, run_nntool, force) -> None:
    from ..data import load_windows
    from ..quant.api import calibration_subset
    from ..targets.nntool import build_nntool_project

    if target != "gap9":
        raise TinyMyoError("--backend nntool builds for --target gap9 only")
    if calib_path is None:
        raise TinyMyoError("--backend nntool needs --calib (the calibration windows `quantize` uses)")
    calib = calibration_subset(load_windows(calib_path).x, max_windows)
    val = load_windows(val_path).x if val_path else None
    project = build_nntool_project(model, calib, outdir, board=board or "gap9", ne16=ne16,
                                   softmax_8bit=softmax_8bit, force=force, val_x=val, run_nntool=run_nntool,
                                   softmax_rescale=not no_softmax_rescale)
    click.echo(project.summary())


@click.command("validate")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option("--inputs", type=click.Path(dir_okay=False), help="windows (.npz with x, or .h5)")
@click.option("--per-layer", is_flag=True, help="dump every layer of the C build and name the first difference")
@click.option("--stream", "recording", type=click.Path(dir_okay=False),
              help="a continuous recording (3DC participant file, or .npz with emg/fs) for OUTDIR/stream: every "
                   "hop's window and logits vs the Python pipeline (docs/STREAM.md)")
@click.option("--format", "fmt", type=click.Choice(["3dc", "npz-continuous"]), default="3dc", show_default=True,
              help="--stream: the recording's layout")
@click.option("--split", type=click.Choice(["train", "test", "all"]), default="test", show_default=True,
              help="--stream, 3DC: which session's segments, back to back")
@click.option("--start", type=int, default=0, show_default=True, help="--stream: first raw sample")
@click.option("--samples", type=int, default=None, help="--stream: raw samples to stream [default: all]")
@click.option("--chunk", type=int, default=None, help="--stream: frames per read in the app [default: the build's]")
@click.option("--platform", type=click.Choice(["host", "rv32"]), default="host", show_default=True,
              help="--stream: where the app runs (host: with ASan+UBSan)")
def validate_command(outdir, inputs, per_layer, recording, fmt, split, start, samples, chunk, platform):
    """Compile OUTDIR's host build, run INPUTS, compare with the golden executor and onnxruntime; or, with
    --stream, run OUTDIR/stream on a continuous recording and compare every hop with the Python pipeline."""
    if recording is not None:
        from .stream import validate_stream_command

        validate_stream_command(outdir, recording, fmt, split, start, samples, chunk, platform)
        return
    if inputs is None:
        raise TinyMyoError("validate needs --inputs (windows) or --stream (a continuous recording)")
    result = validate(outdir, inputs, per_layer=per_layer)
    click.echo(result.report())
    if result.errors:
        sys.exit(1)


@click.command("run")
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option("--inputs", required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False), help="output .npz (y)")
@click.option("--force", is_flag=True, help="replace the output file if it exists")
@click.option("--text", "text_path", type=click.Path(dir_okay=False),
              help="CTC speech models: also write the greedy-decoded text, one line per window")
def run_command(outdir, inputs, out_path, force, text_path):
    """Run OUTDIR's host build on INPUTS; writes y (N, *output) to an .npz."""
    y = run_host(outdir, inputs, out_path, force=force)
    click.echo(f"wrote {out_path}: y {list(y.shape)}")
    if text_path is not None:
        from ..speech.ctc import write_texts

        write_texts(y, text_path, force=force)
        click.echo(f"wrote {text_path}: greedy CTC text of {len(y)} windows")


COMMANDS = [build_command, validate_command, run_command]
