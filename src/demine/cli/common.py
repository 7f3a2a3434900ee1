"""What every command shares: the ``--db`` and ``--json`` options, output and error handling."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    console: Console
    err_console: Console


class ExitCode(IntEnum):
    """The exit statuses every command uses, documented in the README for scripts."""

    OK = 0
    FINDINGS = 1  # ran, and found something a person must look at (a finding, a rejected row)
    USAGE = 2  # the command line itself: an unknown option, a missing argument (Click's own)
    INVALID = 3  # the input was refused (a record, a file, a value, the register's state)
    NOT_FOUND = 4  # a database, record, user or code that does not exist
    BUSY = 5  # another writer held the store, or the record changed meanwhile: try again
    INTERRUPTED = 130  # the shell's convention for Ctrl-C


def __getattr__(name: str) -> Any:
    """``console`` (stdout) and ``err_console`` (stderr), made on first use: ``demine --help``
    and ``--version`` print through Click and do not load Rich's console at all."""
    if name not in ("console", "err_console"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from rich.console import Console

    made = Console() if name == "console" else Console(stderr=True, soft_wrap=True)
    globals()[name] = made
    return made


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


def fmt_teams(value: float) -> str:
    """A number of teams for people: whole counts as such ("9"), team equivalents inferred from
    output with one decimal ("79.2", not "79.2012"), two below a twentieth ("0.04")."""
    if 0 < abs(value) < 0.05:
        return f"{value:,.2f}"
    if abs(value - round(value)) < 0.05:
        return f"{round(value):,}"
    return f"{value:,.1f}"


def table_area_unit(values: Iterable[float]) -> tuple[str, float]:
    """One area unit for a whole table, from its largest value: (label, m² per unit). A column
    that read "16.28 km²" above "58.33 ha" and "0 m²" could not be compared at a glance."""
    peak = max((abs(v) for v in values if v is not None), default=0.0)
    if peak >= 1e6:
        return "km²", 1e6
    if peak >= 1e4:
        return "ha", 1e4
    return "m²", 1.0


def column_area_unit(values: Iterable[float | None]) -> tuple[str, float]:
    """One area unit for a table's area columns, as :func:`table_area_unit` chooses it, but no
    larger than keeps every area of a square metre or more readable: beside a 1.2 km² hazard a
    2,000 m² one reads "0.20" in ha rather than "0.00" in km²."""
    areas = [abs(v) for v in values if v is not None]
    unit, per = table_area_unit(areas)
    smaller = {1e6: ("ha", 1e4), 1e4: ("m²", 1.0)}
    # fmt_area_in shows two decimals: below half a hundredth of the unit a value would read 0.00.
    while per > 1 and any(0.5 <= v < per * 0.005 for v in areas):
        unit, per = smaller[per]
    return unit, per


def fmt_area_in(value: float, per: float) -> str:
    """``value`` m² in the table's unit (``per`` m² each), without the unit (it heads the table)."""
    # Adding 0.0 turns a rounded -0.00 into 0.00.
    return f"{round(value / per, 2) + 0.0:,.2f}" if per > 1 else f"{round(value) + 0.0:,.0f}"


def fmt_m2(value: float) -> str:
    """Square metres for people: m² below a hectare, ha below a km², km² above."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.2f} km²"
    if abs(value) >= 1e4:
        return f"{value / 1e4:,.2f} ha"
    return f"{value:,.0f} m²"
