"""The speech branch of `tinymyo-edge export --head ctc|speech-features` (argument handling only)."""

from __future__ import annotations

import click
import torch

from ..errors import TinyMyoError

_SIZE_FIELDS = {"channels": "channels", "dim": "dim", "depth": "depth", "mlp_ratio": "mlp_ratio",
                "classes": "outputs", "head": "head"}


def export_speech(checkpoint, samples, heads, parity_data, seed, force, output, sizes) -> None:
    from ..data import load_windows
    from ..export_speech import export_speech_onnx
    from ..model.checkpoint import file_sha256
    from ..model.speech import SpeechConfig, SpeechModel
    from ..model.speech_checkpoint import load_speech_checkpoint

    unsupported = sorted(k for k, v in sizes.items() if v is not None and k not in _SIZE_FIELDS)
    if unsupported:
        raise TinyMyoError(f"--{unsupported[0].replace('_', '-')} does not apply to a speech model")
    wanted = {_SIZE_FIELDS[k]: v for k, v in sizes.items() if v is not None}
    if checkpoint is not None:
        model = load_speech_checkpoint(checkpoint, samples=samples, heads=heads, head=wanted["head"])
        conflicts = [f"{k}: checkpoint gives {getattr(model.cfg, k)}, asked {v}" for k, v in wanted.items()
                     if getattr(model.cfg, k) != v]
        if conflicts:
            raise TinyMyoError(f"{checkpoint}: " + "; ".join(conflicts))
        source = f"checkpoint {checkpoint.name} sha256 {file_sha256(checkpoint)}"
    else:
        if wanted["head"] == "speech-features" and "outputs" not in wanted:
            wanted["outputs"] = 80  # transduction_model.py: 80 mel features (data_utils.mel_spectrogram)
        cfg = SpeechConfig(**wanted, **{k: v for k, v in (("samples", samples), ("heads", heads)) if v is not None})
        torch.manual_seed(seed)
        model, source = SpeechModel(cfg).eval(), f"random-init seed {seed}"
    parity = None
    if parity_data is not None:
        parity = load_windows(parity_data, channels=model.cfg.channels, samples=model.cfg.samples).x
    report = export_speech_onnx(model, output, parity_inputs=parity, force=force, source=source, seed=seed)
    click.echo(report.summary())
