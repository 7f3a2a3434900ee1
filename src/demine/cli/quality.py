"""Data quality commands: ``check`` (geometry and consistency checks, safe repairs) and ``traverse``.

``demine check`` exits with status 0 when no high-severity finding remains (after repairs,
with ``--fix``), 1 when at least one does, and 2 for a user error (unknown layer or
severity, missing database). ``demine traverse`` exits with 0 when the polygon was built,
2 when the sheet has errors or does not close within the tolerance.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from demine.checks.rules import LAYER_TABLES, RULES, SEVERITIES
from demine.cli.common import DbOption, ExitCode, JsonOption, console, print_json
from demine.domain.errors import DemineError

if TYPE_CHECKING:
    from demine.checks.run import CheckReport

_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan"}


def check(
    db: DbOption = None,
    layer: Annotated[
        list[str] | None,
        typer.Option(
            "--layer",
            help=f"Only report findings on this layer; repeatable ({', '.join(LAYER_TABLES)}).",
            show_default=False,
        ),
    ] = None,
    severity: Annotated[
        str | None,
        typer.Option(help="Only report findings of this severity or worse: high, medium or low."),
    ] = None,
    fix: Annotated[
        bool,
        typer.Option(
            "--fix",
            help="Repair what is safely repairable (duplicate vertices, invalid polygons that keep their "
            "area), in one transaction, each change recorded in the audit log.",
        ),
    ] = False,
    limit: Annotated[int, typer.Option(min=0, help="How many findings to list (not with --json).")] = 25,
    list_rules: Annotated[bool, typer.Option("--rules", help="List the rules and exit.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Check geometries and land release figures (GICHD geocheck's rules and more).

    Exit status: 0 when no high-severity finding remains, 1 when one does, 2 on a user error.
    """
    if list_rules:
        _print_rules(json_out)
        return
    from demine.checks.repair import repair_findings
    from demine.checks.run import run_checks, validate_filters
    from demine.storage.database import open_database

    validate_filters(layer, severity)
    engine = open_database(db)
    if fix:
        with engine.begin() as conn:
            found = run_checks(conn, layer, severity)
            repairs = repair_findings(conn, found.findings)
            report = run_checks(conn, layer, severity)
        report.repairs = [r.as_dict() for r in repairs]
    else:
        with engine.connect() as conn:
            report = run_checks(conn, layer, severity)
    if json_out:
        print_json(report.as_dict())
    else:
        _print_report(report, limit, fix)
    if report.high:
        raise typer.Exit(ExitCode.FINDINGS)


def _print_rules(json_out: bool) -> None:
    if json_out:
        print_json([{**vars(rule)} for rule in RULES.values()])
        return
    # One block per rule rather than a table: the descriptions stay readable at 80 columns
    # and in a pipe.
    console.print(f"[bold]Geometry check rules[/] ({len(RULES)})")
    for rule in RULES.values():
        console.print()
        repairable = ", repairable with --fix" if rule.repairable else ""
        console.print(f"[bold]{rule.id}[/]  [{_STYLE[rule.severity]}]{rule.severity}[/]{repairable}")
        for text in (rule.description, f"source: {rule.source}"):
            wrapped = textwrap.fill(
                text, width=max(console.width, 40), initial_indent="  ", subsequent_indent="  "
            )
            console.print(wrapped, highlight=False, markup=False, soft_wrap=True)


def _print_report(report: CheckReport, limit: int, fix: bool) -> None:
    checked = ", ".join(f"{name} {n:,}" for name, n in report.checked.items())
    console.print(f"checked: {checked}", highlight=False)
    if report.repairs:
        done = sum(1 for r in report.repairs if r["repaired"])
        console.print(f"repaired {done} finding(s); refused {len(report.repairs) - done}")
        refused = Table(title="Not repaired")
        refused.add_column("rule", no_wrap=True)
        for column in ("layer", "record", "why"):
            refused.add_column(column)
        for r in report.repairs:
            if not r["repaired"]:
                refused.add_row(r["rule"], r["layer"], r["record"], r["message"])
        if refused.row_count:
            console.print(refused)
    elif fix:
        console.print("nothing to repair")
    if not report.findings:
        console.print("[green]no findings[/]")
        return
    summary = Table(title="Findings by rule", caption="`demine check --rules` explains each rule")
    summary.add_column("severity")
    summary.add_column("rule", no_wrap=True)
    summary.add_column("count", justify="right")
    counts = report.counts
    for rule_id in sorted(counts, key=lambda r: (SEVERITIES.index(RULES[r].severity), r)):
        severity = RULES[rule_id].severity
        summary.add_row(f"[{_STYLE[severity]}]{severity}[/]", rule_id, f"{counts[rule_id]:,}")
    console.print(summary)
    if limit:
        shown = Table(title=f"First {min(limit, len(report.findings))} of {len(report.findings):,} findings")
        shown.add_column("severity")
        shown.add_column("rule", no_wrap=True)
        shown.add_column("message")
        for f in report.findings[:limit]:
            shown.add_row(f"[{_STYLE[f.severity]}]{f.severity}[/]", f.rule, f.message)
        console.print(shown)
    if report.high:
        console.print(f"[bold red]{report.high:,} high-severity finding(s)[/] (exit status 1)")
    else:
        console.print("[green]no high-severity findings[/]")


def traverse(
    file: Annotated[
        Path, typer.Argument(help="Survey sheet CSV (see `demine.geometry.traverse` for the format).")
    ],
    declination: Annotated[
        str | None,
        typer.Option(
            help="Magnetic declination in degrees, east positive (or e.g. 2.5E / 3W); overrides the sheet."
        ),
    ] = None,
    crs: Annotated[
        str | None,
        typer.Option(help="CRS of the benchmark coordinates [default: the sheet's, else EPSG:4326]."),
    ] = None,
    max_misclosure: Annotated[
        float | None,
        typer.Option(help="Largest misclosure accepted, in metres [default: 1 % of the loop, at least 1 m]."),
    ] = None,
    adjust: Annotated[
        bool, typer.Option(help="Distribute the misclosure over the turning points (compass/Bowditch rule).")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Write the polygon and its points as a GeoJSON FeatureCollection.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Build a polygon from a field survey sheet of bearings and distances (a traverse)."""
    from demine.geometry.traverse import parse_declination, traverse_from_csv

    degrees = None
    if declination is not None:
        try:
            degrees = parse_declination(declination)
        except ValueError as exc:
            raise DemineError(
                f"--declination: {declination!r} is not a number of degrees (e.g. 2.5, 2.5E, 3W)"
            ) from exc
    if max_misclosure is not None and max_misclosure < 0:
        raise DemineError("--max-misclosure must not be negative")
    result = traverse_from_csv(file, degrees, crs, max_misclosure, adjust)
    if out is not None:
        try:
            out.write_text(result.geojson(), encoding="utf-8")
        except OSError as exc:
            raise DemineError(f"cannot write {out}: {exc.strerror}") from exc
    if json_out:
        print_json(result.as_dict())
        return
    table = Table(title=f"Traverse {file.name}", show_header=False)
    table.add_row("turning points", str(len(result.turning)))
    # Square metres to the centimetre, as a survey sheet gives them: one unit in the cell.
    table.add_row("area (m²)", f"{result.area_m2:,.2f}")
    table.add_row("perimeter", f"{result.perimeter_m:,.2f} m")
    if result.closed_explicitly:
        precision = f" (1:{result.precision:,.0f})" if result.precision else ""
        table.add_row(
            "misclosure",
            f"{result.misclosure_m:,.3f} m{precision}, accepted ≤ {result.max_misclosure_m:,.2f} m",
        )
        if result.adjusted:
            table.add_row("adjusted", "misclosure distributed over the turning points (Bowditch)")
    else:
        table.add_row("misclosure", "unknown: the sheet has no closing leg back to the first turning point")
    if result.declination_deg is not None:
        table.add_row("declination", f"{result.declination_deg:+g}°")
    if out is not None:
        table.add_row("written", str(out))
    console.print(table)
    points = Table(title="Points (WGS 84)")
    for column in ("point", "type", "lon", "lat"):
        points.add_column(column)
    for p in result.as_dict()["points"]:
        points.add_row(p["point"], p["type"], f"{p['lon']:.7f}", f"{p['lat']:.7f}")
    console.print(points)
    if out is None:
        console.print_json(data=result.as_dict()["polygon"], indent=None)


def register(app: typer.Typer) -> None:
    """Add ``check`` and ``traverse`` to the ``demine`` app."""
    app.command()(check)
    app.command()(traverse)
