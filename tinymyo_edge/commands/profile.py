"""`tinymyo-edge profile OUTDIR`: argument parsing only; the work is in tinymyo_edge.profile."""

from __future__ import annotations

from pathlib import Path

import click

from ..profile.cost_model import COST_MODELS, DEFAULT_COST_MODEL
from ..targets.operating_points import DEFAULT_OPERATING_POINT, OPERATING_POINTS


@click.command("profile")
@click.argument("outdir", type=click.Path(file_okay=False, exists=True))
@click.option("--log", "logs", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="Output of `make run platform=rv32|host|gvsoc|board` (its per-layer counter lines); repeatable.")
@click.option("--operating-point", default=DEFAULT_OPERATING_POINT, show_default=True,
              help=f"For the ESTIMATED latency and energy (the estimated cycles are the same at every point): "
                   f"{', '.join(OPERATING_POINTS)}.")
@click.option("--cost-model", type=click.Choice(list(COST_MODELS)), default=DEFAULT_COST_MODEL, show_default=True,
              help="Calibration of the ESTIMATED GAP9 cycles (tinymyo_edge/profile/cost_model.py).")
@click.option("--json", "json_out", is_flag=True, help="Also write OUTDIR/profile.json.")
@click.option("--png", "png_out", is_flag=True, help="Also write OUTDIR/profile.png (per-layer bar chart).")
@click.option("--force", is_flag=True, help="Overwrite an existing profile.json / profile.png.")
def profile_cmd(outdir, logs, operating_point, cost_model, json_out, png_out, force) -> None:
    """Per-layer MACs, bytes per memory level, ESTIMATED GAP9 cycles, latency and energy, and measured counts from logs."""
    from ..profile.report import format_table, write_profile

    out = Path(outdir)
    p, written = write_profile(out, log_paths=logs, operating_point=operating_point, cost_model=cost_model,
                               json_path=out / "profile.json" if json_out else None,
                               png_path=out / "profile.png" if png_out else None, force=force)
    click.echo(format_table(p))
    for path in written:
        click.echo(f"wrote {path}")


COMMANDS = [profile_cmd]
