"""`tinymyo-edge finetune`: train TinyMyo on labelled windows (CPU or CUDA) with the upstream recipe."""

from __future__ import annotations

import click

from ..data import load_groups, load_windows
from ..data.pipeline import load_preprocessing
from ..model.config import REDUCTIONS
from ..train import Data, Recipe, finetune
from ..train.loop import DEVICES
from ..train.recipe import MONITORS, REGRESSION_LOSSES

_DEFAULTS = Recipe()


def _data(path: str) -> Data:
    windows = load_windows(path)
    return Data(windows.x, windows.y, str(path), load_groups(path), load_preprocessing(path))


@click.command("finetune")
@click.option("--data", "data_path", required=True, type=click.Path(dir_okay=False),
              help="Training windows: .npz (x, y[, group]) or HDF5 (data, label).")
@click.option("--val-data", type=click.Path(dir_okay=False), default=None, help="Validation windows (else --val-split).")
@click.option("--val-split", type=float, default=0.2, show_default=True,
              help="Fraction held out for validation (stratified; whole segments when the file has `group`); 0 = none.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Pretrained checkpoint (.ckpt/.safetensors, upstream keys): its backbone loads strictly.")
@click.option("--head", type=click.Choice(("classification", "regression")), default="classification", show_default=True)
@click.option("--reduction", type=click.Choice(REDUCTIONS), default="concat", show_default=True,
              help="How the head combines channels.")
@click.option("--channels", type=int, default=None, help="Channels (checked against the data).")
@click.option("--samples", type=int, default=None, help="Samples per window (checked against the data).")
@click.option("--dim", type=int, default=None, help="Embedding width [default: the checkpoint's, else 192].")
@click.option("--depth", type=int, default=None, help="Blocks [default: the checkpoint's, else 8].")
@click.option("--heads", type=int, default=None, help="Attention heads [default: the checkpoint's, else 3].")
@click.option("--patch-size", type=int, default=None, help="Samples per patch [default: the checkpoint's, else 20].")
@click.option("--mlp-ratio", type=int, default=None, help="MLP width / dim [default: the checkpoint's, else 4].")
@click.option("--classes", type=int, default=None, help="Classes [default: max label + 1].")
@click.option("--epochs", type=int, default=_DEFAULTS.epochs, show_default=True)
@click.option("--batch-size", type=int, default=_DEFAULTS.batch_size, show_default=True)
@click.option("--lr", type=float, default=_DEFAULTS.lr, show_default=True, help="Peak learning rate (AdamW).")
@click.option("--min-lr", type=float, default=_DEFAULTS.min_lr, show_default=True, help="Learning rate at the end of the cosine.")
@click.option("--weight-decay", type=float, default=_DEFAULTS.weight_decay, show_default=True)
@click.option("--warmup-epochs", type=float, default=_DEFAULTS.warmup_epochs, show_default=True)
@click.option("--label-smoothing", type=float, default=_DEFAULTS.label_smoothing, show_default=True)
@click.option("--loss", "regression_loss", type=click.Choice(REGRESSION_LOSSES), default=_DEFAULTS.regression_loss,
              show_default=True, help="Regression loss.")
@click.option("--dropout", type=float, default=_DEFAULTS.dropout, show_default=True, help="Training-only dropout.")
@click.option("--drop-path", type=float, default=_DEFAULTS.drop_path, show_default=True, help="Training-only stochastic depth.")
@click.option("--patience", type=int, default=_DEFAULTS.patience, show_default=True,
              help="Stop after this many epochs without a better validation score; 0 = never.")
@click.option("--monitor", type=click.Choice(MONITORS), default=_DEFAULTS.monitor, show_default=True,
              help="Validation score that picks the kept epoch.")
@click.option("--seed", type=int, default=_DEFAULTS.seed, show_default=True)
@click.option("--threads", type=int, default=None,
              help="CPU threads for torch [default: torch's]; on a busy shared CPU 1 is often fastest.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="Where to train: auto = CUDA when torch sees a device, else the CPU; cuda without one is an error. "
                   "Seeds and deterministic kernels either way; the log records the device.")
@click.option("--max-minutes", type=float, default=None,
              help="Wall-clock budget: stop after the training step that passes it (that epoch is validated and "
                   "kept if best, as early stopping keeps the best epoch); the log says the budget ended it.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--force", is_flag=True, help="Overwrite the output checkpoint and its log.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Checkpoint to write (.safetensors or .ckpt); a JSON log goes beside it (NAME.finetune.json).")
def finetune_command(data_path, val_data, val_split, checkpoint, head, reduction, channels, samples, dim, depth, heads,
                     patch_size, mlp_ratio, classes, epochs, batch_size, lr, min_lr, weight_decay, warmup_epochs,
                     label_smoothing, regression_loss, dropout, drop_path, patience, monitor, seed, threads,
                     device, max_minutes, no_progress, force, output) -> None:
    """Fine-tune TinyMyo (or train it from scratch) on windows; keep the best epoch."""
    recipe = Recipe(epochs=epochs, batch_size=batch_size, lr=lr, min_lr=min_lr, weight_decay=weight_decay,
                    warmup_epochs=warmup_epochs, label_smoothing=label_smoothing, regression_loss=regression_loss,
                    dropout=dropout, drop_path=drop_path, patience=patience, monitor=monitor, seed=seed, threads=threads,
                    max_minutes=max_minutes)
    sizes = dict(channels=channels, samples=samples, dim=dim, depth=depth, heads=heads, patch_size=patch_size,
                 mlp_ratio=mlp_ratio, classes=classes)
    result = finetune(_data(data_path), output, val_data=_data(val_data) if val_data else None, val_fraction=val_split,
                      checkpoint=checkpoint, sizes=sizes, head=head, reduction=reduction, recipe=recipe, force=force,
                      echo=click.echo, progress=not no_progress, device=device)
    kept = f"epoch {result.best_epoch}" + (f", val {_metrics(result.val)}" if result.val else " (no validation)")
    ended = {"budget": "; the --max-minutes budget ended training", "early_stop": "; stopped early"}.get(
        result.stop_reason, "")
    click.echo(f"wrote {result.checkpoint} ({kept}; trained on {result.device}{ended}) and {result.log}")


def _metrics(val: dict) -> str:
    return ", ".join(f"{k} {100 * v:.1f} %" if k == "accuracy" else f"{k} {v:.4f}" for k, v in val.items())


COMMANDS = [finetune_command]
