"""Starting a programme from nothing: ``orgs``, ``teams``, ``people``, ``accreditations``, ``codes``.

Each group adds records one at a time, lists them, and loads them from a CSV or XLSX file
(all or nothing: every bad row is reported by row number, field and reason, and nothing is
written). The checks and writes are the register's own (:mod:`demine.register.roster`,
:mod:`demine.register.codes`), the same the REST API runs, with an audit row for each record.
"""

from __future__ import annotations

import getpass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from demine.cli.common import DbOption, JsonOption, console, err_console, print_json
from demine.domain.errors import DemineError


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


orgs_app = _group("Add, list and load organisations: the authority, operators, agencies.")
teams_app = _group("Add, list and load teams: organisation, type, size and base location.")
people_app = _group("Add, list and load personnel and their training records.")
accreditations_app = _group("Add, list and load team accreditations; list flags expired and expiring ones.")
codes_app = _group("List a programme's code lists, add a value to one, or change a value's label.")

FileArg = Annotated[Path, typer.Argument(help="A CSV or XLSX file whose first row names the columns.")]
SheetOption = Annotated[
    str | None, typer.Option("--sheet", "--layer", help="XLSX sheet to read [default: the only one].")
]
EncodingOption = Annotated[str | None, typer.Option(help="Text encoding of a CSV [default: detected].")]
DateFormatOption = Annotated[
    str | None, typer.Option(help="strptime format of dates that are not YYYY-MM-DD, e.g. %d/%m/%Y.")
]
DryRunOption = Annotated[bool, typer.Option(help="Check every row, write nothing.")]
OrgFilter = Annotated[str | None, typer.Option("--org", help="Only this organisation (code or name).")]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "unknown"


def _today(as_of: str | None) -> date:
    if as_of is None:
        return date.today()
    try:
        return date.fromisoformat(as_of)
    except ValueError:
        raise DemineError(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)") from None


def _add(
    db: str | None, kind: str, raw: dict[str, Any], json_out: bool, shown: str, namesake: bool = False
) -> None:
    from demine.register.roster import add_record
    from demine.storage.database import open_database

    engine = open_database(db)
    with engine.begin() as conn:
        added = add_record(conn, kind, raw, f"cli:{_user()}", namesake=namesake)
    if json_out:
        print_json({"kind": kind} | added)
        return
    console.print(f"added {kind} {shown} (id {added['id']})", highlight=False)


def _load(
    db: str | None,
    kind: str,
    path: Path,
    sheet: str | None,
    encoding: str | None,
    date_format: str | None,
    dry_run: bool,
    json_out: bool,
) -> None:
    from demine.register.roster import load_file
    from demine.storage.database import open_database

    engine = open_database(db)
    with engine.begin() as conn:
        loaded = load_file(
            conn,
            kind,
            path,
            f"import:{_user()}",
            sheet_name=sheet,
            encoding=encoding,
            date_format=date_format,
            dry_run=dry_run,
        )
    if json_out:
        print_json(loaded.as_json())
        return
    for warning in loaded.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if dry_run:
        console.print(f"dry run: {loaded.rows} {kind} row(s) of {path.name} checked; nothing was written")
    else:
        console.print(f"loaded {len(loaded.ids)} {kind} record(s) from {path.name}")


def _reading(db: str | None) -> Any:
    from demine.storage.database import open_database

    return open_database(db).connect()


def _writing(db: str | None) -> Any:
    from demine.storage.database import open_database

    return open_database(db).begin()


def _table(title: str, columns: tuple[str, ...], rows: list[list[Any]]) -> Table:
    t = Table(title=title)
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    return t


def _epilog(kind: str) -> str:
    from demine.register.roster import SHEETS

    return (
        f"Columns (names in any case; blank cells are empty values): {SHEETS[kind].column_help()}. "
        "Row 1 is the first row under the header. If any row is refused, nothing is written."
    )


# ---------------------------------------------------------------------------------------------
# organisations


@orgs_app.command("add")
def orgs_add(
    code: Annotated[str, typer.Argument(help="Short unique code, e.g. NMAA or HALO.")],
    name: Annotated[str, typer.Argument(help="Full name.")],
    org_type: Annotated[
        str, typer.Option("--type", help="A code or label of organisation_type (ngo, commercial, ...).")
    ],
    country: Annotated[str | None, typer.Option(help="Country code, e.g. UKR.")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add an organisation."""
    raw = {"code": code, "name": name, "organisation_type": org_type, "country": country}
    _add(db, "organisation", raw, json_out, code)


@orgs_app.command("list")
def orgs_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """List organisations with their numbers of teams and people."""
    from demine.register.roster import list_organisations

    with _reading(db) as conn:
        rows = list_organisations(conn)
    if json_out:
        print_json(rows)
        return
    cols = ("code", "name", "organisation_type", "country", "teams", "people")
    headers = ("code", "name", "type", "country", "teams", "people")
    console.print(_table(f"Organisations ({len(rows)})", headers, [[r[c] for c in cols] for r in rows]))


# ---------------------------------------------------------------------------------------------
# teams


def _base(value: str | None) -> tuple[float | None, float | None]:
    if value is None:
        return None, None
    parts = value.split(",")
    if len(parts) != 2:
        raise DemineError(f"--base: {value!r} must be LON,LAT (two numbers, WGS 84)")
    return parts[0].strip(), parts[1].strip()  # type: ignore[return-value]  # read as the file's cells are


@teams_app.command("add")
def teams_add(
    code: Annotated[str, typer.Argument(help="Short unique code, e.g. HALO-M01.")],
    name: Annotated[str, typer.Argument(help="Name.")],
    org: Annotated[str, typer.Option("--org", help="Its organisation (code or name).")],
    team_type: Annotated[
        str, typer.Option("--type", help="A code or label of team_type (manual, mdd, mechanical, nts, ...).")
    ],
    members: Annotated[int, typer.Option("--members", "--size", help="Number of members.")] = 1,
    base: Annotated[
        str | None, typer.Option(help="Base location LON,LAT in WGS 84, e.g. 36.23,49.99.")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add a team of an organisation."""
    lon, lat = _base(base)
    raw = {
        "code": code,
        "name": name,
        "organisation": org,
        "team_type": team_type,
        "members": members,
        "lon": lon,
        "lat": lat,
    }
    _add(db, "team", raw, json_out, code)


@teams_app.command("list")
def teams_list(
    org: OrgFilter = None,
    as_of: Annotated[str | None, typer.Option(help="Accreditations on this day [default: today].")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List teams: organisation, type, size, base and what they are accredited for."""
    from demine.register.roster import list_teams

    day = _today(as_of)
    with _reading(db) as conn:
        rows = list_teams(conn, day, org)
    if json_out:
        print_json(rows)
        return
    cols = ("code", "name", "org", "type", "size", "base (lon, lat)", "accredited for")
    body = [
        [
            r["code"],
            r["name"],
            r["organisation"],
            r["team_type"],
            r["members"],
            f"{r['base'][0]:g}, {r['base'][1]:g}" if r["base"] else None,
            ", ".join(r["accredited_for"]) or "nothing",
        ]
        for r in rows
    ]
    console.print(_table(f"Teams ({len(rows)}) on {day}", cols, body))


# ---------------------------------------------------------------------------------------------
# personnel


@people_app.command("add")
def people_add(
    full_name: Annotated[str, typer.Argument(help="Full name.")],
    org: Annotated[str, typer.Option("--org", help="Organisation (code or name).")],
    team: Annotated[str | None, typer.Option(help="Team code.")] = None,
    sex: Annotated[str | None, typer.Option(help="A code or label of the sex list.")] = None,
    role: Annotated[str | None, typer.Option(help="Role, e.g. 'Section leader'.")] = None,
    namesake: Annotated[
        bool, typer.Option(help="Someone else of the same name already works for the organisation.")
    ] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add a person to an organisation's personnel."""
    raw = {"full_name": full_name, "organisation": org, "team": team, "sex": sex, "role": role}
    _add(db, "person", raw, json_out, full_name, namesake=namesake)


@people_app.command("list")
def people_list(
    org: OrgFilter = None,
    team: Annotated[str | None, typer.Option(help="Only this team.")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List personnel, with the ids that `people train` takes."""
    from demine.register.roster import list_people

    with _reading(db) as conn:
        rows = list_people(conn, org, team)
    if json_out:
        print_json(rows)
        return
    cols = ("id", "full_name", "organisation", "team", "role", "sex", "training_records")
    headers = ("id", "name", "org", "team", "role", "sex", "trainings")
    console.print(_table(f"Personnel ({len(rows)})", headers, [[r[c] for c in cols] for r in rows]))


@people_app.command("train")
def people_train(
    person: Annotated[str, typer.Argument(help="The person's id, or full name if no one else has it.")],
    course: Annotated[str, typer.Argument(help="Course, e.g. 'IMAS manual demining'.")],
    started_on: Annotated[str | None, typer.Option("--started-on", "--started", help="YYYY-MM-DD.")] = None,
    completed_on: Annotated[
        str | None, typer.Option("--completed-on", "--completed", help="YYYY-MM-DD.")
    ] = None,
    passed: Annotated[bool | None, typer.Option("--passed/--failed", help="The result, if known.")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record a person's training course."""
    raw = {
        "person": person,
        "course": course,
        "started_on": started_on,
        "completed_on": completed_on,
        "passed": passed,
    }
    _add(db, "training", raw, json_out, f"of {person} in {course}")


@people_app.command("training")
def people_training(
    person: Annotated[str | None, typer.Argument(help="Id or full name [default: everyone].")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List training records."""
    from demine.register.roster import list_training

    with _reading(db) as conn:
        rows = list_training(conn, person)
    if json_out:
        print_json(rows)
        return
    cols = ("person_id", "full_name", "course", "started_on", "completed_on", "passed")
    body = [[r[c] if c != "passed" else {True: "yes", False: "no"}.get(r[c]) for c in cols] for r in rows]
    headers = ("person", "name", "course", "started", "completed", "passed")
    console.print(_table(f"Training records ({len(rows)})", headers, body))


# ---------------------------------------------------------------------------------------------
# accreditations


@accreditations_app.command("add")
def accreditations_add(
    team: Annotated[str, typer.Argument(help="Team code.")],
    activity: Annotated[
        str, typer.Argument(help="A code or label of activity_type (nts, ts, clearance, bac, eod).")
    ],
    issued_on: Annotated[str, typer.Option("--issued-on", "--issued", help="YYYY-MM-DD.")],
    expires_on: Annotated[
        str | None, typer.Option("--expires-on", "--expires", help="YYYY-MM-DD [default: no expiry].")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Accredit a team for an activity type (IMAS 07.30)."""
    raw = {"team": team, "activity_type": activity, "issued_on": issued_on, "expires_on": expires_on}
    _add(db, "accreditation", raw, json_out, f"of team {team} for {activity}")


@accreditations_app.command("list")
def accreditations_list(
    team: Annotated[str | None, typer.Option(help="Only this team.")] = None,
    org: OrgFilter = None,
    as_of: Annotated[str | None, typer.Option(help="Flag them as on this day [default: today].")] = None,
    within: Annotated[int, typer.Option(min=0, help="'expiring': lapsing within this many days.")] = 90,
    status: Annotated[
        str | None, typer.Option(help="Only valid, expiring, expired or not_yet_valid ones.")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List accreditations, each flagged valid, expiring (within 90 days), expired or not yet valid.

    A renewal recorded ahead of time counts: a team whose cover goes on is not flagged.
    """
    from demine.register.roster import list_accreditations

    statuses = ("valid", "expiring", "expired", "not_yet_valid")
    if status is not None and status not in statuses:
        raise DemineError(f"--status: {status!r} is not one of {', '.join(statuses)}")
    day = _today(as_of)
    with _reading(db) as conn:
        rows = list_accreditations(conn, day, within, team, org)
    if status is not None:
        rows = [r for r in rows if r["status"] == status]
    if json_out:
        print_json(rows)
        return
    cols = ("team", "organisation", "activity_type", "issued_on", "expires_on", "status", "days_left")
    marks = {"expired": "[red]expired[/]", "expiring": "[yellow]expiring[/]"}
    headers = ("team", "org", "activity", "issued", "expires", "status", "days left")
    t = _table(f"Accreditations ({len(rows)}) on {day}", headers, [])
    for r in rows:
        shown = ["" if r[c] is None else str(r[c]) for c in cols]
        shown[5] = marks.get(r["status"], r["status"].replace("_", " "))
        t.add_row(*shown)
    console.print(t)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("expired", "expiring")}
    console.print(f"expired: {counts['expired']}; expiring within {within} days: {counts['expiring']}")


# ---------------------------------------------------------------------------------------------
# loading files


def _register_imports() -> None:
    for group, kind, name, what in (
        (orgs_app, "organisation", "import", "organisations"),
        (teams_app, "team", "import", "teams"),
        (people_app, "person", "import", "personnel"),
        (people_app, "training", "import-training", "training records"),
        (accreditations_app, "accreditation", "import", "accreditations"),
    ):
        group.command(name, epilog=_epilog(kind))(_import_command(kind, what))


def _import_command(kind: str, what: str) -> Any:
    def command(
        path: FileArg,
        sheet: SheetOption = None,
        encoding: EncodingOption = None,
        date_format: DateFormatOption = None,
        dry_run: DryRunOption = False,
        db: DbOption = None,
        json_out: JsonOption = False,
    ) -> None:
        _load(db, kind, path, sheet, encoding, date_format, dry_run, json_out)

    command.__doc__ = f"Load {what} from CSV or XLSX, all rows or none."
    command.__name__ = f"import_{kind}"
    return command


_register_imports()


# ---------------------------------------------------------------------------------------------
# code lists


@codes_app.command("list")
def codes_list(
    list_name: Annotated[str | None, typer.Argument(metavar="LIST", help="One list [default: all].")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List the code lists, or the values of one (retired values too)."""
    from demine.register.codes import list_codes

    with _reading(db) as conn:
        rows = list_codes(conn, list_name)
    if json_out:
        print_json(rows)
        return
    if list_name is None:
        by_list: dict[str, list[str]] = {}
        for r in rows:
            by_list.setdefault(r["list_name"], []).append(r["code"] if r["active"] else f"({r['code']})")
        body = [[name, len(codes), ", ".join(codes)] for name, codes in by_list.items()]
        console.print(_table("Code lists (retired values in brackets)", ("list", "values", "codes"), body))
        return
    body = [[r["code"], r["label"], "yes" if r["active"] else "no (retired)"] for r in rows]
    console.print(_table(f"Code list {list_name}", ("code", "label", "active"), body))


@codes_app.command("add")
def codes_add(
    list_name: Annotated[str, typer.Argument(metavar="LIST", help="The list, e.g. hazard_type.")],
    code: Annotated[str, typer.Argument(help="The new code (never changes once records use it).")],
    label: Annotated[str, typer.Argument(help="Its label.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add a value to a code list; a code that exists is refused."""
    from demine.register.codes import add_code

    with _writing(db) as conn:
        row = add_code(conn, list_name, code, label, f"cli:{_user()}")
    if json_out:
        print_json(row)
        return
    console.print(f"added {row['code']!r} ({row['label']}) to {list_name}", highlight=False)


@codes_app.command("rename")
def codes_rename(
    list_name: Annotated[str, typer.Argument(metavar="LIST", help="The list, e.g. priority.")],
    code: Annotated[str, typer.Argument(help="The value's code (it stays).")],
    label: Annotated[str, typer.Argument(help="Its new label.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Change a value's label; its code, which records hold, never changes."""
    from demine.register.codes import rename_code

    with _writing(db) as conn:
        row = rename_code(conn, list_name, code, label, f"cli:{_user()}")
    if json_out:
        print_json(row)
        return
    if row["old_label"] == row["label"]:
        console.print(f"{list_name} {code!r} is already labelled {label!r}: nothing changed", highlight=False)
        return
    console.print(f"{list_name} {code!r}: {row['old_label']!r} → {row['label']!r}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``orgs``, ``teams``, ``people``, ``accreditations`` and ``codes`` groups."""
    app.add_typer(orgs_app, name="orgs")
    app.add_typer(teams_app, name="teams")
    app.add_typer(people_app, name="people")
    app.add_typer(accreditations_app, name="accreditations")
    app.add_typer(codes_app, name="codes")
