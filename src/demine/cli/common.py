"""What every command shares: the ``--db`` and ``--json`` options, output and error handling."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="DEMINE_DB",
        help="Database: a GeoPackage/SQLite file path or a SQLAlchemy URL [default: demine.gpkg].",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _default(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout (dates as ISO strings)."""
    typer.echo(json.dumps(data, indent=2, default=_default, ensure_ascii=False))


def fmt_m2(value: float) -> str:
    """Square metres for people: m² below a hectare, ha below a km², km² above."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.2f} km²"
    if abs(value) >= 1e4:
        return f"{value / 1e4:,.2f} ha"
    return f"{value:,.0f} m²"
