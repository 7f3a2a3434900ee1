"""``demine import-reasons``: the reason codes an import rejects a feature with."""

from __future__ import annotations

import typer
from rich.table import Table

from demine.cli.common import JsonOption, console, print_json
from demine.ingest.reasons import REASONS


def reasons_command(json_out: JsonOption = False) -> None:
    """List the reason codes an import can reject a feature with."""
    if json_out:
        print_json(REASONS)
        return
    table = Table(title="Import rejection reasons")
    table.add_column("reason")
    table.add_column("meaning")
    for reason, meaning in REASONS.items():
        table.add_row(reason, meaning)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``import-reasons`` to the ``demine`` app."""
    app.command("import-reasons")(reasons_command)
