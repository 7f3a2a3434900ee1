"""The ``demine`` entry point: builds the Typer app and turns user errors into messages.

A user mistake (bad geometry, unknown code, missing database) prints what is wrong, record
by record and field by field, and exits with status 2; it never shows a traceback.
"""

from __future__ import annotations

import sys

import typer

from demine.cli.common import err_console
from demine.domain.errors import DemineError, ReleaseRejected, ValidationError

app = typer.Typer(
    name="demine",
    help="Record and plan humanitarian mine action: hazards, land release, teams, forecasts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    # Each concern adds its own commands; imports stay inside so `demine --help` is quick.
    from demine.cli import db, forecast, forms, planner, programme, quality, report, server, transfer

    for module in (programme, transfer, quality, forecast, planner, server, db, forms, report):
        module.register(app)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors become a message and exit status 2."""
    try:
        app(args=argv, prog_name="demine", standalone_mode=True)
    except (ValidationError, ReleaseRejected) as exc:
        err_console.print(f"[bold red]error:[/] {len(exc.problems)} problem(s); nothing was written")
        for problem in exc.problems:
            err_console.print(f"  • {problem}", markup=False, highlight=False)
        sys.exit(2)
    except DemineError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
