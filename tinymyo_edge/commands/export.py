"""`tinymyo-edge export`: a checkpoint (or the paper's deployed model, upstream-initialised) -> float ONNX."""

from __future__ import annotations

from pathlib import Path

import click

from ..model.config import HEAD_KINDS, REDUCTIONS
from ..model.speech import SPEECH_HEADS

_PATH = click.Path(dir_okay=False, path_type=Path)


@click.command("export")
@click.option("--checkpoint", type=_PATH, help="Upstream .ckpt or .safetensors; without it: upstream init, --seed.")
@click.option("--channels", type=int, help="EMG channels C (default 8; read from a concatenating head).")
@click.option("--samples", type=int, help="Samples per window T (default 1000; not recorded in checkpoints).")
@click.option("--classes", type=int, help="Classes K (classification) or outputs (regression).")
@click.option("--head", type=click.Choice(HEAD_KINDS + SPEECH_HEADS),
              help="Head kind (default classification); ctc / speech-features: the speech model (EMGTransformer).")
@click.option("--reduction", type=click.Choice(REDUCTIONS), help="Channel reduction of the head (default concat).")
@click.option("--dim", type=int, help="Embedding width (default 192).")
@click.option("--depth", type=int, help="Encoder blocks (default 8).")
@click.option("--heads", type=int, help="Attention heads (default 3; not recorded in checkpoints).")
@click.option("--patch-size", type=int, help="Samples per patch (default 20).")
@click.option("--mlp-ratio", type=int, help="MLP width / dim (default 4).")
@click.option("--opset", type=int, default=13, show_default=True,
              help="ONNX opset; 13/14 import into NNTool, 17+ emits LayerNormalization.")
@click.option("--dynamic-batch", is_flag=True, help="Dynamic batch axis (batched attention; not the NNTool form).")
@click.option("--parity-data", type=_PATH, help="Real windows (.npz x / .h5 data) also checked for parity.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random initialisation.")
@click.option("--force", is_flag=True, help="Overwrite the output file.")
@click.option("-o", "--output", type=_PATH, required=True, help="The .onnx file to write.")
def export_command(checkpoint, samples, heads, opset, dynamic_batch, parity_data, seed, force, output, **sizes):
    """Export TinyMyo to float ONNX (the nntool backend rewrites it for NNTool), checked against PyTorch with onnxruntime."""
    from ..data import load_windows
    from ..export import export_onnx, prepare_model

    from ..data.pipeline import check_compatible, load_preprocessing, parse
    from ..model.checkpoint import read_preprocessing

    if sizes.get("head") in SPEECH_HEADS:
        from .export_speech import export_speech

        return export_speech(checkpoint, samples, heads, parity_data, seed, force, output, sizes)
    model, source = prepare_model(checkpoint, seed=seed, samples=samples, heads=heads, **sizes)
    preprocessing = read_preprocessing(checkpoint) if checkpoint is not None else None
    parity = None
    if parity_data is not None:
        check_compatible(parse(preprocessing, str(checkpoint)), load_preprocessing(parity_data),
                         model_name=str(checkpoint), data_name=str(parity_data))
        parity = load_windows(parity_data, channels=model.cfg.channels, samples=model.cfg.samples).x
    report = export_onnx(model, output, opset=opset, dynamic_batch=dynamic_batch, parity_inputs=parity,
                         force=force, source=source, seed=seed, preprocessing=preprocessing)
    click.echo(report.summary())


COMMANDS = [export_command]
