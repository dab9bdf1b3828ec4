"""`tinymyo-edge data window`: continuous recordings -> preprocessed windows (.npz) with provenance."""

from __future__ import annotations

import click

from ..errors import TinyMyoError
from ..data.pipeline import PIPELINES
from ..data import FORMATS, NORMALISATIONS, SPLITS, WindowParams, make_windows, save_window_set


def _channel_list(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(c) for c in text.split(",") if c.strip() != "")
    except ValueError:
        raise TinyMyoError(f"--channels takes comma-separated channel indices, e.g. 0,1,2 (got {text!r})") from None


@click.group("data")
def data_group() -> None:
    """EMG data: cut continuous recordings into model windows."""


@data_group.command("window")
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Window set to write (.npz).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="3dc", show_default=True,
              help="3dc: a 3DC participant file; npz-continuous: `emg` (T, C) or (C, T), `fs`, optional per-sample `label`.")
@click.option("--window", type=int, default=1000, show_default=True, help="Window length in samples at --fs-out.")
@click.option("--hop", type=int, default=250, show_default=True, help="Hop between window starts, samples at --fs-out.")
@click.option("--fs-in", type=float, default=None, help="Input rate in Hz [default: the file's (3DC: 1000)].")
@click.option("--fs-out", type=float, default=None, help="Output rate in Hz (polyphase resampling) [default: --fs-in].")
@click.option("--bandpass", nargs=2, type=float, default=(20.0, 450.0), show_default=True,
              help="Band-pass edges in Hz (4th-order Butterworth at the input rate; zero-phase offline, causal with "
                   "--pipeline stream).")
@click.option("--no-bandpass", is_flag=True, help="Skip the band-pass filter.")
@click.option("--notch", type=float, default=None,
              help="Mains notch in Hz; 0 disables [default: 60 for 3DC (recorded in Canada), else 50].")
@click.option("--normalize", type=click.Choice(NORMALISATIONS), default="zscore", show_default=True,
              help="Per window and channel (zscore, minmax: upstream), none, or per channel over the whole "
                   "selection (recording; keeps absolute amplitudes).")
@click.option("--stats-from", type=click.Path(dir_okay=False), default=None,
              help="With --normalize recording: reuse the mean/std stored in this earlier window set (e.g. train for test).")
@click.option("--pipeline", type=click.Choice(PIPELINES), default="offline", show_default=True,
              help="offline: zero-phase filters on whole segments, polyphase resampling, any --normalize (upstream; "
                   "cannot run on a live stream). stream: causal fixed-point biquads (band-pass, notch), decimation "
                   "by an integer fs-in/fs-out, --normalize recording with stats fixed from the training windows "
                   "(--stats-from for test data): exactly what `build --stream` computes on the chip. A streaming "
                   "deployment needs --pipeline stream --normalize recording.")
@click.option("--split", type=click.Choice(tuple(SPLITS)), default="all", show_default=True,
              help="3DC session: train (first), test (second) or all.")
@click.option("--channels", default=None, help="Comma-separated channel indices to keep [default: all].")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def window_command(input_path, output, fmt, window, hop, fs_in, fs_out, bandpass, no_bandpass, notch, normalize,
                   stats_from, pipeline, split, channels, force) -> None:
    """Cut INPUT's segments into windows (never across a segment) with the upstream preprocessing."""
    params = WindowParams(window=window, hop=hop, fs_in=fs_in, fs_out=fs_out,
                          band=None if no_bandpass else tuple(bandpass), notch_hz=notch, normalisation=normalize,
                          channels=_channel_list(channels), split=split,
                          pipeline=pipeline)
    windows = make_windows(input_path, fmt, params, stats_from=stats_from)
    save_window_set(windows, output, force=force)
    classes = "unlabelled" if windows.y is None else f"labels {sorted(set(windows.y.tolist()))}"
    click.echo(f"wrote {output}: {windows.x.shape[0]} windows of {windows.x.shape[1]} channels x {windows.x.shape[2]} "
               f"samples from {windows.meta['segments']} segments ({classes})")


COMMANDS = [data_group]
