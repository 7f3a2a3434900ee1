"""``demine forms build`` and ``demine forms ingest``: XLSForms out, field submissions back in."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from demine.cli.common import DbOption, ExitCode, JsonOption, console, print_json
from demine.domain.errors import DemineError
from demine.forms.spec import FORMS

forms_app = typer.Typer(
    help="Field forms for ODK, KoboToolbox and Survey123: build the XLSForms, ingest their exports.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@forms_app.command("build")
def build_command(
    out_dir: Annotated[Path, typer.Argument(help="Directory to write the XLSForms (.xlsx) into.")],
    db: DbOption = None,
    languages: Annotated[
        str, typer.Option("--languages", help="Label languages, comma-separated: en, fr.")
    ] = "en,fr",
    form: Annotated[
        list[str] | None, typer.Option("--form", help=f"Only this form (repeatable): {', '.join(FORMS)}.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Write one XLSForm per form, with the database's current code lists, teams and areas as choices."""
    from demine.forms.build import build_forms, parse_languages
    from demine.storage.database import open_database

    langs = parse_languages(languages)
    if form:
        unknown = [f for f in form if f not in FORMS]
        if unknown:
            raise DemineError(f"--form: {', '.join(unknown)} not one of {', '.join(FORMS)}")
    if out_dir.exists() and not out_dir.is_dir():
        raise DemineError(f"{out_dir} exists and is not a directory")
    engine = open_database(db)
    with engine.connect() as conn:
        built = build_forms(conn, out_dir, langs, form or None)
    if json_out:
        print_json([{**b.__dict__, "path": str(b.path)} for b in built])
        return
    # The file is <form_id>.xlsx: said once in the caption so the table fits 80 columns.
    table = Table(title=f"XLSForms in {out_dir}", caption="each file is <form id>.xlsx")
    table.add_column("form id", no_wrap=True)
    table.add_column("version", no_wrap=True)
    table.add_column("questions", justify="right")
    table.add_column("choices", justify="right")
    for b in built:
        table.add_row(b.form_id, b.version, str(b.questions), str(b.choices))
    console.print(table)


@forms_app.command("ingest")
def ingest_command(
    path: Annotated[
        Path,
        typer.Argument(help="KoboToolbox export (.xlsx, .csv, .geojson, API .json) or ODK Central CSV zip."),
    ],
    form: Annotated[
        str | None, typer.Option("--form", help=f"The form [default: recognised]: {', '.join(FORMS)}.")
    ] = None,
    db: DbOption = None,
    rejects: Annotated[
        Path | None, typer.Option(help="Rejection file (.csv or .geojson) [default: ./<file>-rejects.csv].")
    ] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", help="Author of the submissions [default: the field-forms service account]."),
    ] = None,
    today: Annotated[
        str | None, typer.Option(help="Date for 'not in the future' checks, YYYY-MM-DD [default: today].")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Stage exported submissions for review (verify, then approve); bad rows go to the rejection file.

    Re-ingesting the same export stages nothing: its submissions are already present.
    """
    from demine.forms.ingest import ingest_file
    from demine.storage.database import open_database

    if form is not None and form not in FORMS:
        raise DemineError(f"--form: {form!r} is not one of {', '.join(FORMS)}")
    day = None
    if today is not None:
        try:
            day = date.fromisoformat(today)
        except ValueError:
            raise DemineError(f"--today: {today!r} is not a date (YYYY-MM-DD)") from None
    engine = open_database(db)
    result = ingest_file(engine, path, form=form, rejects=rejects, username=user, today=day)
    if json_out:
        print_json(result.as_json())
        _exit_if_rejected(result.rejected)
        return
    table = Table(title=f"Ingest of {path.name} ({result.form}, {result.format})", show_header=False)
    for label, value in (
        ("read", result.read),
        ("staged for review", f"{result.staged} ({len(result.submissions)} submissions)"),
        ("already present", result.already_present),
        ("rejected", result.rejected),
    ):
        table.add_row(label, str(value))
    for reason, count in sorted(result.reasons.items()):
        table.add_row(f"  {reason}", str(count))
    console.print(table)
    if result.rejects_file:
        console.print(f"rejected submissions and their reasons: {result.rejects_file}")
    _exit_if_rejected(result.rejected)


def register(app: typer.Typer) -> None:
    """Add the ``forms`` command group to the ``demine`` app."""
    app.add_typer(forms_app, name="forms")


def _exit_if_rejected(rejected: int) -> None:
    """Exit 1 (findings) when rows were rejected: the good ones are staged, the rest need a person."""
    if rejected:
        raise typer.Exit(ExitCode.FINDINGS)
