"""``demine import`` and ``demine export``: spatial data in from any file, out to the usual formats."""

from __future__ import annotations

import getpass
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from demine.cli.common import DbOption, ExitCode, JsonOption, console, err_console, print_json
from demine.domain.errors import DemineError
from demine.export import FORMATS, LAYERS, export_layer
from demine.ingest.kinds import KINDS

ImportKind = Enum("ImportKind", {k: k for k in KINDS}, type=str)  # type: ignore[misc]
ExportKind = Enum("ExportKind", {k: k for k in LAYERS}, type=str)  # type: ignore[misc]
ExportFormat = Enum("ExportFormat", {k: k for k in FORMATS}, type=str)  # type: ignore[misc]


def _fields_help() -> str:
    lines = [f"{kind}: " + ", ".join(f.name for f in spec.fields) for kind, spec in KINDS.items()]
    return "Fields by kind (columns named so are mapped by themselves):\n\n" + "\n\n".join(lines)


def import_command(
    path: Annotated[
        Path, typer.Argument(help="File to import: GPKG, SHP (or .zip), GeoJSON, KML, FGB, CSV, XLSX.")
    ],
    kind: Annotated[ImportKind, typer.Option("--kind", help="What the features are.")],
    db: DbOption = None,
    layer: Annotated[str | None, typer.Option(help="Layer (or XLSX sheet) to read.")] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="field=COLUMN: fill a field from a column (repeatable; the fields are listed below). "
            "Tables without a geometry: geometry=WKT_COLUMN, or x=COLUMN and y=COLUMN.",
        ),
    ] = None,
    default: Annotated[
        list[str] | None,
        typer.Option("--default", help="field=VALUE where the row leaves it blank (repeatable)."),
    ] = None,
    value: Annotated[
        list[str] | None,
        typer.Option(
            "--value",
            help="field:SOURCE=REGISTER: read the file's wording as a register value, ignoring case "
            "(repeatable), e.g. 'hazard_type:Suspected Minefield=SHA'.",
        ),
    ] = None,
    values: Annotated[
        Path | None,
        typer.Option("--values", help="A CSV of such recodings: a header field,from,to, then one per row."),
    ] = None,
    code_pattern: Annotated[
        str | None,
        typer.Option(
            "--code-pattern",
            help="Make a code for rows without one, from {row} (the row number) and the row's columns, "
            "e.g. 'SMF-{row:05d}' or '{District}-{row}'.",
        ),
    ] = None,
    source_id: Annotated[
        str | None,
        typer.Option("--source-id", help="Column with the records' ids in the source: re-imports update."),
    ] = None,
    crs: Annotated[
        str | None, typer.Option(help="CRS of the coordinates, e.g. EPSG:32636 (for files that name none).")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of a CSV [default: detected].")] = None,
    date_format: Annotated[
        str | None, typer.Option(help="strptime format of dates that are not YYYY-MM-DD, e.g. %d/%m/%Y.")
    ] = None,
    aoi: Annotated[
        str | None,
        typer.Option(help="Area of interest minlon,minlat,maxlon,maxlat: reject what lies outside."),
    ] = None,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Rejection file (.geojson or .csv) [default: ./<file>-rejects.geojson]."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Check and count everything, write nothing.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Import hazards, releases, finds, accidents or admin areas; every feature is accounted for.

    Accepted features are written in one transaction; rejected ones go to the rejection file.
    """
    from demine.ingest import ImportOptions, import_file, plan_import
    from demine.storage.database import open_database

    options = ImportOptions(
        kind=kind.value,
        layer=layer,
        maps=mapping or (),
        defaults=default or (),
        values=value or (),
        values_file=values,
        code_pattern=code_pattern,
        source_id=source_id,
        crs=crs,
        encoding=encoding,
        date_format=date_format,
        aoi=_parse_aoi(aoi) if aoi else None,
        rejects=rejects,
        dry_run=dry_run,
        changed_by=f"import:{_user()}",
    )
    plan = plan_import(path, options)
    engine = open_database(db)
    show_progress = not json_out and err_console.is_terminal
    with Progress(
        TextColumn("[bold]importing[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=not show_progress,
        transient=True,
    ) as progress:
        task = progress.add_task(path.name, total=plan.source.count() if show_progress else None)
        result = import_file(engine, plan, lambda n: progress.advance(task, n))
    if json_out:
        print_json(result.as_json())
        _exit_if_rejected(result.rejected)
        return
    table = Table(title=f"Import of {path.name} ({result.kind})", show_header=False)
    for label, value in (
        ("read", result.read),
        ("imported", result.imported),
        ("updated", f"{result.updated} ({result.unchanged} unchanged)"),
        ("repaired (of those kept)", result.repaired),
        ("rejected", result.rejected),
    ):
        table.add_row(label, str(value))
    for reason, count in sorted(result.reasons.items()):
        table.add_row(f"  {reason}", str(count))
    console.print(table)
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if result.rejects_file:
        console.print(f"rejected features and their reasons: {result.rejects_file}")
    if result.dry_run:
        console.print("dry run: nothing was written")
    _exit_if_rejected(result.rejected)


def _exit_if_rejected(rejected: int) -> None:
    """Exit 1 (findings) when features were rejected: the good ones are in, the rest need a person."""
    if rejected:
        raise typer.Exit(ExitCode.FINDINGS)


def export_command(
    out: Annotated[Path, typer.Argument(help="File to write.")],
    kind: Annotated[
        ExportKind,
        # The kinds in the help text, which wraps at 80 columns; as a metavar they made one long line.
        typer.Option("--kind", metavar="KIND", help=f"What to export: {', '.join(LAYERS)}."),
    ],
    fmt: Annotated[
        ExportFormat | None, typer.Option("--format", help="File format [default: from the file name].")
    ] = None,
    db: DbOption = None,
    where: Annotated[
        str | None,
        typer.Option(help="Filter on the exported columns, e.g. \"status = 'open' AND area_m2 > 10000\"."),
    ] = None,
    labels: Annotated[
        bool, typer.Option("--labels/--codes", help="Add a <column>_label column beside each code column.")
    ] = True,
    include_personal_data: Annotated[
        bool, typer.Option(help="Victims: include names, identification and birth dates.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace the file if it exists.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Export one kind of record with code-list labels and m² areas (gpkg, geojson, shp, csv, xlsx, kml)."""
    from demine.storage.database import open_database

    engine = open_database(db)
    with engine.connect() as conn:
        result = export_layer(
            conn,
            kind.value,
            out,
            fmt.value if fmt else None,
            where=where,
            labels=labels,
            include_personal_data=include_personal_data,
            # Whoever runs the command line holds the database file itself: the local role.
            # The web service passes its signed-in user's role instead (issue 6).
            role="local" if include_personal_data else None,
            overwrite=overwrite,
        )
    if json_out:
        print_json(result.as_json())
        return
    console.print(f"wrote {result.rows:,} {result.kind} record(s) to {result.path} ({result.format})")


def _parse_aoi(value: str) -> tuple[float, float, float, float]:
    try:
        minx, miny, maxx, maxy = (float(v) for v in value.split(","))
    except ValueError as exc:
        raise DemineError(f"--aoi: {value!r} must be four numbers minlon,minlat,maxlon,maxlat") from exc
    if minx >= maxx or miny >= maxy:
        raise DemineError(f"--aoi: {value!r} has min not less than max")
    return minx, miny, maxx, maxy


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "unknown"


def register(app: typer.Typer) -> None:
    """Add ``import`` and ``export`` to the ``demine`` app."""
    app.command("import", epilog=_fields_help())(import_command)
    app.command("export")(export_command)
