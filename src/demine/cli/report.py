"""``demine report monthly|annual|article7``: official reports as PDF, HTML or XLSX."""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from demine.cli.common import DbOption, JsonOption, console, print_json
from demine.domain.errors import DemineError
from demine.reports.catalogue import FORMATS, KINDS
from demine.reports.period import HELP, parse_period

ReportKind = Enum("ReportKind", {k: k for k in KINDS}, type=str)  # type: ignore[misc]
_SUFFIXES = {".pdf": "pdf", ".html": "html", ".htm": "html", ".xlsx": "xlsx"}


def report_command(
    kind: Annotated[ReportKind, typer.Argument(help="monthly (operations), annual (national) or article7.")],
    out: Annotated[Path, typer.Argument(help="File to write (.pdf, .html or .xlsx).")],
    period: Annotated[str, typer.Option("--period", help=f"The period: {HELP}.")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="pdf, html or xlsx [default: from the file name].")
    ] = None,
    db: DbOption = None,
    organisation: Annotated[
        str | None, typer.Option("--organisation", help="Only this organisation's work (its code).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Write an official report for a period from the approved register, with charts and a map."""
    chosen = parse_period(period)
    fmt = fmt or _SUFFIXES.get(out.suffix.lower())
    if fmt is None:
        raise DemineError(
            f"--format: cannot tell the format of {out.name}; give --format ({', '.join(FORMATS)})"
        )
    if fmt not in FORMATS:
        raise DemineError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if not out.parent.exists():
        raise DemineError(f"{out.parent}: no such directory")
    from demine.reports.official import build_report
    from demine.reports.render import write_report
    from demine.storage.database import open_database

    started = time.perf_counter()
    engine = open_database(db)
    with engine.connect() as conn:
        report = build_report(conn, kind.value, chosen, organisation)
    write_report(report, fmt, out)
    seconds = time.perf_counter() - started
    if json_out:
        print_json(
            {
                "kind": report.kind,
                "period": {"start": chosen.start, "end": chosen.end, "label": chosen.label},
                "organisation": organisation,
                "format": fmt,
                "path": str(out),
                "seconds": round(seconds, 3),
                "totals": report.totals,
            }
        )
        return
    console.print(f"{report.title}, {chosen.label}: {out} ({fmt}, {seconds:.1f} s)")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the ``demine`` app."""
    app.command("report")(report_command)
