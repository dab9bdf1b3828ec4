"""`tinymyo-edge quantize`: float TinyMyo ONNX + calibration windows -> integer-only int8 ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..quant import DEFAULT_PROB_BITS, DEFAULT_SOFTMAX, SOFTMAXES
from ..quant.calibrate import DEFAULT_METHODS, DEFAULT_PERCENTILE, METHODS, SPEECH_METHOD
from ..quant.select import SELECT_PERCENTILES

_PATH = click.Path(dir_okay=False, path_type=Path)


@click.command("quantize")
@click.argument("model", type=_PATH)
@click.option("--calib", type=_PATH, required=True, help="Calibration windows: .npz with x (N, C, T) or .h5 with data.")
@click.option("-o", "--output", type=_PATH, required=True, help="The int8 .onnx file to write.")
@click.option("--method", type=click.Choice(METHODS), default=None,
              help=f"Activation clipping: MSE-optimal search, a percentile of |x|, or max |x| [default, measured "
                   f"(docs/QUANT.md): {DEFAULT_METHODS['classification']} for TinyMyo classification, "
                   f"{DEFAULT_METHODS['regression']} for regression heads, {SPEECH_METHOD} for speech models].")
@click.option("--percentile", type=float, default=None,
              help=f"Percentile of |x| for --method percentile [default: of {', '.join(map(str, SELECT_PERCENTILES))} "
                   f"the one whose logits best match the float model's on calibration windows beyond --max-windows "
                   f"(docs/QUANT.md); {DEFAULT_PERCENTILE} when there are none, and for speech models].")
@click.option("--max-windows", type=click.IntRange(min=1), default=16, show_default=True,
              help="Calibrate on at most this many windows, spread over the set.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the per-layer report (report.json, report.png).")
@click.option("--softmax", type=click.Choice(SOFTMAXES), default=DEFAULT_SOFTMAX, show_default=True,
              help="Integer softmax inside attention. deferred: u8 numerators relative to the row maximum, one "
                   "reciprocal per output row (8 bits per entry however diffuse the row; u8 x s8 p.v). normalized: "
                   "probabilities of --softmax-bits bits.")
@click.option("--softmax-bits", type=click.IntRange(8, 16), default=DEFAULT_PROB_BITS, show_default=True,
              help="--softmax normalized only: probability precision (8: u8 probabilities; 12 resolves diffuse "
                   "attention over many tokens). Speech models always use the normalized softmax.")
@click.option("--checkpoint", type=_PATH, help="Speech models: the checkpoint MODEL was exported from.")
@click.option("--force", is_flag=True, help="Overwrite the output file (and report folder).")
def quantize_command(model, calib, output, method, percentile, max_windows, report_dir, softmax, softmax_bits,
                     checkpoint, force):
    """Quantize a float TinyMyo ONNX to an int8 ONNX that onnxruntime runs exactly like the integer reference."""
    from ..data import load_windows
    from ..quant import quantize_model

    from ..data.pipeline import load_preprocessing

    windows = load_windows(calib)
    if _is_speech(model):
        from ..errors import TinyMyoError
        from ..quant.speech_api import quantize_speech

        if report_dir is not None:
            raise TinyMyoError("--report: the per-layer report covers TinyMyo models only, not speech models yet")
        method = method or SPEECH_METHOD
        percentile = DEFAULT_PERCENTILE if percentile is None else percentile
        program = quantize_speech(model, checkpoint, windows.x, output, method=method, percentile=percentile,
                                  max_windows=max_windows, force=force, prob_bits=softmax_bits)
    else:
        program = quantize_model(model, windows.x, output, method=method, percentile=percentile,
                                 max_windows=max_windows, report_dir=report_dir, force=force,
                                 prob_bits=softmax_bits, calib_preprocessing=load_preprocessing(calib),
                                 softmax=softmax)
    meta = program.metadata
    method_text = meta["calibration_method"]
    if "calibration_percentile" in meta:
        method_text += f" {meta['calibration_percentile']}"
    if "calibration_selection" in meta:
        chosen = json.loads(meta["calibration_selection"])
        method_text += f", chosen on {chosen['windows']} held-out windows"
    click.echo(f"wrote {output}: {len(program.ops)} integer ops, {program.macs() / 1e9:.3f} GMAC, calibrated "
               f"({method_text}) on {meta['calibration_windows']} windows of {calib}")


def _is_speech(path: Path) -> bool:
    from ..export_speech import is_speech_onnx
    from ..quant.recognize import load_onnx_file

    return is_speech_onnx(load_onnx_file(path))


COMMANDS = [quantize_command]
