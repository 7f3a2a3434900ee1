"""``demine db``: migrate a database, copy a programme between stores, back a database up.

Every command takes a GeoPackage/SQLite file path or a SQLAlchemy URL
(``postgresql+psycopg://user@host/dbname``); ``copy`` moves a whole programme from one to the
other in either direction and checks the copy row by row before it reports success.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from demine.cli.common import DbOption, JsonOption, console, err_console, print_json

db_app = typer.Typer(
    help="Migrate, copy and back up databases (SQLite/GeoPackage or PostgreSQL/PostGIS).",
    rich_markup_mode=None,
)


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=not enabled,
        transient=True,
    )


@db_app.command("migrate")
def migrate_command(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Create or upgrade the schema to the newest revision (PostgreSQL: the database must exist)."""
    from demine.storage.database import current_revision, head_revision, migrate, open_engine

    engine = open_engine(db)
    try:
        before = current_revision(engine)
        migrate(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    result = {"from": before, "to": after, "head": head_revision()}
    if json_out:
        print_json(result)
    elif before == after:
        console.print(f"already at schema revision {after}")
    else:
        console.print(f"migrated from {before or 'an empty database'} to schema revision {after}")


@db_app.command("copy")
def copy_command(
    source: Annotated[str, typer.Option("--from", help="Database to copy: a file path or a URL.")],
    target: Annotated[str, typer.Option("--to", help="Empty database to copy into: a file path or a URL.")],
    json_out: JsonOption = False,
) -> None:
    """Copy a whole programme between stores (either way), then check every row of the copy."""
    from demine.storage.copy import copy_database

    with _progress(not json_out and err_console.is_terminal) as bar:
        tasks: dict[str, int] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=max(total, 1))
            bar.update(tasks[name], completed=done if total else 1)

        report = copy_database(source, target, progress=progress)
    if json_out:
        print_json(report.to_dict())
        return
    table = Table(title=f"Copied {report.source} → {report.target}", show_header=True)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in report.rows.items():
        if rows:
            table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(
        f"{sum(report.rows.values()):,} rows and {report.geometries:,} geometries in {report.seconds:.1f} s; "
        "checked row by row: identical"
    )


@db_app.command("backup")
def backup_command(
    out: Annotated[
        Path, typer.Argument(help="Backup file to write (SQLite: a .gpkg; PostgreSQL: a pg_dump file).")
    ],
    db: DbOption = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing backup file.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Back up a live database: SQLite's online backup API, or pg_dump -Fc for PostgreSQL."""
    from demine.storage.backup import backup_database

    with _progress(not json_out and err_console.is_terminal) as bar:
        task = bar.add_task("backup", total=None)
        result = backup_database(
            db, out, overwrite=overwrite, progress=lambda d, t: bar.update(task, completed=d, total=t)
        )
    if json_out:
        print_json(result)
    else:
        console.print(f"backed up to {result['backup']} ({result['bytes']:,} bytes, {result['method']})")


def register(app: typer.Typer) -> None:
    """Add the ``db`` command group to ``app``."""
    app.add_typer(db_app, name="db")
