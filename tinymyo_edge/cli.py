"""`tinymyo-edge`: the click front. Commands live in tinymyo_edge/commands/ (one module per stage, each exposing
`COMMANDS`, a list of click commands); they parse arguments and call into the stage's room, nothing more."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from . import __version__, commands
from .errors import TinyMyoError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tinymyo-edge")
def cli() -> None:
    """TinyMyo from PyTorch to GAP9: export, quantize, build, validate, run, profile, power."""


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        for command in getattr(module, "COMMANDS", ()):
            cli.add_command(command)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Console entry point: a TinyMyoError becomes `error: <message>` on stderr and exit status 2."""
    try:
        cli.main(args=argv, prog_name="tinymyo-edge", standalone_mode=False)
    except TinyMyoError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
