"""Organisations, teams, personnel, training and accreditations: one at a time or from a file.

The command line's ``orgs``, ``teams``, ``people`` and ``accreditations`` commands run through
here. Organisations, teams and accreditations are written by the register functions the REST
API uses (:func:`demine.workflow.kinds.write`); personnel and training records, which have no
register function of their own, by :func:`demine.workflow.records.create_record`, as the API
creates them. Either way the record gets its audit row and the same checks.

Values are read as ``demine import`` reads them (:mod:`demine.ingest.values`): a code or its
label in any case, dates as YYYY-MM-DD (or ``--date-format``), numbers from text or cells.

A file (CSV or XLSX, first row the column names) is all or nothing. Every row is checked and
written inside one transaction, so a row can clash with an earlier row of the same file; every
problem is reported with its row number (1 for the first data row, as ``demine import`` counts)
and, if any row has one, nothing is kept. A reference list is loaded whole or not at all: half
a list of teams would leave the next run tripping over the half already there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from demine.domain.accreditation import Accreditation, covered_until
from demine.domain.errors import DemineError, NotFoundError, Problem, ValidationError, raise_if
from demine.domain.rules import check_date_range, check_lon_lat, check_not_future
from demine.ingest.values import CodeResolver, ValueProblem, as_date, as_float, as_int, as_text
from demine.storage import schema
from demine.storage.codelists import load_code_lists

# The accreditation list flags what lapses within this many days: a national authority needs
# about a quarter to inspect and renew (the summary's 60-day warning is for dashboards).
EXPIRING_DAYS = 90

# What the file readers call a column whose header cell is empty (demine.ingest.sources).
UNNAMED = re.compile(r"column_\d+")

_TRUE = {"yes", "y", "true", "1", "passed", "pass", "oui", "si", "sí"}
_FALSE = {"no", "n", "false", "0", "failed", "fail", "non"}


@dataclass(frozen=True)
class Column:
    """A field of a table file: its name, how its values are read, other names it goes by."""

    name: str
    kind: str  # text, int, float, date, bool, or code:<list name>
    required: bool = False
    aliases: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class Sheet:
    """One kind of record a file can hold: its columns and how a row is written."""

    kind: str
    columns: tuple[Column, ...]
    write: Callable[[Connection, dict[str, Any], str, date], int]
    describe: Callable[[dict[str, Any]], str]

    def column_help(self) -> str:
        """The columns, required ones marked, for a command's help."""
        return ", ".join(f"{c.name}{' (required)' if c.required else ''}" for c in self.columns)


@dataclass
class Loaded:
    """What loading a file did."""

    kind: str
    source: str
    rows: int
    ids: list[int]
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """What ``--json`` prints."""
        return {
            "kind": self.kind,
            "source": self.source,
            "rows": self.rows,
            "written": 0 if self.dry_run else len(self.ids),
            "ids": [] if self.dry_run else self.ids,
            "dry_run": self.dry_run,
            "warnings": self.warnings,
        }


# ---------------------------------------------------------------------------------------------
# looking up references


def organisation_code(conn: Connection, value: str | None) -> str | None:
    """The code of the organisation ``value`` names (its code, or its code or name in any case).

    A value that names none comes back as given, for the register function to refuse by name.
    """
    if value is None:
        return None
    o = schema.organisation
    rows = conn.execute(select(o.c.code, o.c.name)).all()
    if any(code == value for code, _ in rows):
        return value
    folded = value.casefold()
    matches = {code for code, name in rows if folded in (code.casefold(), name.casefold())}
    return matches.pop() if len(matches) == 1 else value


def _team_code(conn: Connection, value: str | None) -> str | None:
    if value is None:
        return None
    codes = list(conn.execute(select(schema.team.c.code)).scalars())
    if value in codes:
        return value
    matches = [c for c in codes if c.casefold() == value.casefold()]
    return matches[0] if len(matches) == 1 else value


def person_id(conn: Connection, value: str, record: str) -> int:
    """The id of the person ``value`` names: an id number, or a full name only one person has."""
    p = schema.person
    if value.isdigit():
        found = conn.execute(select(p.c.id).where(p.c.id == int(value))).scalar()
        if found is None:
            raise ValidationError([Problem(record, "person", f"no person with id {value}")])
        return found
    # Compared here, not by SQL lower(): SQLite's folds ASCII letters only (Ірина, Ölen).
    folded = value.casefold()
    ids = [
        i
        for i, name in conn.execute(select(p.c.id, p.c.full_name).order_by(p.c.id))
        if name.casefold() == folded
    ]
    if not ids:
        raise ValidationError(
            [Problem(record, "person", f"no person named {value!r} (`demine people list` shows them)")]
        )
    if len(ids) > 1:
        listed = ", ".join(str(i) for i in ids)
        raise ValidationError(
            [Problem(record, "person", f"{len(ids)} people are named {value!r} (ids {listed}): give the id")]
        )
    return ids[0]


# ---------------------------------------------------------------------------------------------
# writing one record (parsed values in, new id out)


def _kind_write(conn: Connection, kind: str, payload: dict[str, Any], actor: str) -> int:
    from demine.workflow import kinds

    return kinds.write(conn, kind, payload, actor=actor).ids[0]


def _write_organisation(conn: Connection, v: dict[str, Any], actor: str, _today: date) -> int:
    payload = {k: v.get(k) for k in ("code", "name", "organisation_type", "country")}
    return _kind_write(conn, "organisation", payload, actor)


def _write_team(conn: Connection, v: dict[str, Any], actor: str, _today: date) -> int:
    record = f"team {v['code']}"
    lon, lat = v.get("lon"), v.get("lat")
    if (lon is None) != (lat is None):
        missing = "lat" if lat is None else "lon"
        raise ValidationError([Problem(record, missing, "a base needs both lon and lat (or neither)")])
    # Checked here as well as by add_teams: the payload model would refuse it first, as "base.0".
    raise_if(check_lon_lat(record, lon, lat, "base"))
    v["organisation"] = organisation_code(conn, v["organisation"])
    payload = {
        "code": v["code"],
        "name": v["name"],
        "organisation": v["organisation"],
        "team_type": v["team_type"],
        "members": 1 if v.get("members") is None else v["members"],
        "base": None if lon is None else (lon, lat),
    }
    return _kind_write(conn, "team", payload, actor)


def _write_accreditation(conn: Connection, v: dict[str, Any], actor: str, _today: date) -> int:
    team = v["team"] = _team_code(conn, v["team"])
    a, t = schema.accreditation, schema.team
    # Running the same file twice must not double a team's accreditations.
    same = conn.execute(
        select(a.c.id)
        .join(t, t.c.id == a.c.team_id)
        .where(t.c.code == team, a.c.activity_type == v["activity_type"], a.c.issued_on == v["issued_on"])
    ).scalar()
    if same is not None:
        raise ValidationError(
            [
                Problem(
                    f"accreditation of team {team}",
                    "issued_on",
                    f"the {v['activity_type']} accreditation issued on {v['issued_on']} is already "
                    f"recorded (id {same})",
                )
            ]
        )
    payload = {
        "team": team,
        "activity_type": v["activity_type"],
        "issued_on": v["issued_on"],
        "expires_on": v.get("expires_on"),
    }
    return _kind_write(conn, "accreditation", payload, actor)


def _write_person(conn: Connection, v: dict[str, Any], actor: str, _today: date) -> int:
    from demine.workflow.records import create_record

    record = f"person {v['full_name']}"
    o, t, p = schema.organisation, schema.team, schema.person
    org_code = v["organisation"] = organisation_code(conn, v["organisation"])
    org_id = conn.execute(select(o.c.id).where(o.c.code == org_code)).scalar()
    problems = (
        [] if org_id is not None else [Problem(record, "organisation", f"no organisation {org_code!r}")]
    )
    team_id = None
    if v.get("team") is not None:
        team_code = v["team"] = _team_code(conn, v["team"])
        team = conn.execute(select(t.c.id, t.c.organisation_id).where(t.c.code == team_code)).first()
        if team is None:
            problems.append(Problem(record, "team", f"no team {team_code!r}"))
        elif org_id is not None and team.organisation_id != org_id:
            owner = conn.execute(select(o.c.code).where(o.c.id == team.organisation_id)).scalar()
            problems.append(Problem(record, "team", f"team {team_code} belongs to {owner}, not {org_code}"))
        else:
            team_id = team.id
    if org_id is not None and not v.get("namesake"):
        # People have no code: a second run of the same file would double the staff list.
        folded = v["full_name"].casefold()
        same = next(
            (
                i
                for i, name in conn.execute(
                    select(p.c.id, p.c.full_name).where(p.c.organisation_id == org_id)
                )
                if name.casefold() == folded
            ),
            None,
        )
        if same is not None:
            problems.append(
                Problem(
                    record,
                    "full_name",
                    f"{org_code} already has a person of this name (id {same}); someone else of the "
                    "same name is added with `demine people add --namesake`",
                )
            )
    if problems:
        raise ValidationError(problems)
    values = {
        "organisation_id": org_id,
        "team_id": team_id,
        "full_name": v["full_name"],
        "sex": v.get("sex"),
        "role": v.get("role"),
    }
    return _created(create_record, conn, "person", values, actor, record)


def _write_training(conn: Connection, v: dict[str, Any], actor: str, today: date) -> int:
    from demine.workflow.records import create_record

    record = f"training of {v['person']} in {v['course']}"
    pid = person_id(conn, v["person"], record)
    started, completed = v.get("started_on"), v.get("completed_on")
    problems = check_date_range(record, started, completed, "started_on", "completed_on")
    problems += check_not_future(record, completed, "completed_on", today)
    tr = schema.training_record
    same = conn.execute(
        select(tr.c.id).where(
            tr.c.person_id == pid,
            tr.c.course == v["course"],
            tr.c.started_on.is_(None) if started is None else tr.c.started_on == started,
            tr.c.completed_on.is_(None) if completed is None else tr.c.completed_on == completed,
        )
    ).scalar()
    if same is not None:
        problems.append(
            Problem(record, "course", f"this course, with these dates, is already recorded (id {same})")
        )
    if problems:
        raise ValidationError(problems)
    values = {
        "person_id": pid,
        "course": v["course"],
        "started_on": started,
        "completed_on": completed,
        "passed": v.get("passed"),
    }
    return _created(create_record, conn, "training_record", values, actor, record)


def _created(
    create: Callable[..., dict[str, Any]],
    conn: Connection,
    table: str,
    values: dict[str, Any],
    actor: str,
    record: str,
) -> int:
    try:
        return create(conn, table, values, actor)["id"]
    except ValidationError as exc:
        # create_record names every new record "new <table>"; ours says which.
        raise ValidationError([Problem(record, p.field, p.message) for p in exc.problems]) from None


def _text(name: str, required: bool = False, *aliases: str, help: str = "") -> Column:
    return Column(name, "text", required, aliases, help)


SHEETS: dict[str, Sheet] = {
    s.kind: s
    for s in (
        Sheet(
            "organisation",
            (
                _text("code", True, "organisation_code", "org_code"),
                _text("name", True, "organisation_name", "org_name"),
                Column("organisation_type", "code:organisation_type", True, ("type", "organization_type")),
                _text("country", False, "country_code", "iso3"),
            ),
            _write_organisation,
            lambda v: f"organisation {v.get('code')}",
        ),
        Sheet(
            "team",
            (
                _text("code", True, "team_code"),
                _text("name", True, "team_name"),
                _text("organisation", True, "organization", "org", "operator"),
                Column("team_type", "code:team_type", True, ("type",)),
                Column("members", "int", False, ("size", "team_size")),
                Column("lon", "float", False, ("longitude", "base_lon", "x")),
                Column("lat", "float", False, ("latitude", "base_lat", "y")),
            ),
            _write_team,
            lambda v: f"team {v.get('code')}",
        ),
        Sheet(
            "person",
            (
                _text("full_name", True, "name"),
                _text("organisation", True, "organization", "org"),
                _text("team", False, "team_code"),
                Column("sex", "code:sex", False, ("gender",)),
                _text("role", False, "position", "function"),
            ),
            _write_person,
            lambda v: f"person {v.get('full_name')}",
        ),
        Sheet(
            "training",
            (
                _text("person", True, "person_id", "full_name", "name"),
                _text("course", True, "training"),
                Column("started_on", "date", False, ("start_date", "started")),
                Column("completed_on", "date", False, ("end_date", "completed")),
                Column("passed", "bool", False, ("result",)),
            ),
            _write_training,
            lambda v: f"training of {v.get('person')} in {v.get('course')}",
        ),
        Sheet(
            "accreditation",
            (
                _text("team", True, "team_code"),
                Column("activity_type", "code:activity_type", True, ("activity",)),
                Column("issued_on", "date", True, ("issued", "issue_date")),
                Column("expires_on", "date", False, ("expires", "expiry_date", "expiry")),
            ),
            _write_accreditation,
            lambda v: f"accreditation of team {v.get('team')}",
        ),
    )
}


# ---------------------------------------------------------------------------------------------
# reading values


def _bool(value: Any, name: str) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    text = as_text(value)
    if text is None:
        return None
    folded = text.casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueProblem("bad_value", f"{name}: {text!r} is neither yes nor no")


def parse_values(
    sheet: Sheet,
    raw: dict[str, Any],
    resolver: CodeResolver,
    record: str,
    date_format: str | None = None,
) -> tuple[dict[str, Any], list[Problem]]:
    """The row's values read by column kind, and every problem with them (blank → None)."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for column in sheet.columns:
        value = raw.get(column.name)
        try:
            if column.kind == "text":
                parsed: Any = as_text(value)
            elif column.kind == "int":
                parsed = as_int(value, column.name)
            elif column.kind == "float":
                parsed = as_float(value, column.name)
            elif column.kind == "date":
                parsed = as_date(value, column.name, date_format)
            elif column.kind == "bool":
                parsed = _bool(value, column.name)
            else:
                parsed = resolver.code(column.kind.removeprefix("code:"), value, column.name)
        except ValueProblem as exc:
            problems.append(Problem(record, column.name, exc.message.removeprefix(f"{column.name}: ")))
            continue
        if parsed is None and column.required:
            problems.append(Problem(record, column.name, "is required"))
        values[column.name] = parsed
    return values, problems


def add_record(
    conn: Connection,
    kind: str,
    raw: dict[str, Any],
    actor: str,
    *,
    date_format: str | None = None,
    today: date | None = None,
    namesake: bool = False,
) -> dict[str, Any]:
    """Check and write one record from raw values (option text, cells): its id and the values
    as recorded (codes for labels, dates for text).

    ``namesake`` lets a person be added to an organisation that has someone of the same name.
    Raises :class:`ValidationError` listing every problem; nothing is written then.
    """
    sheet = SHEETS[kind]
    resolver = CodeResolver(load_code_lists(conn))
    values, problems = parse_values(sheet, raw, resolver, sheet.describe(raw), date_format)
    if problems:
        raise ValidationError(problems)
    values["namesake"] = namesake
    # Writers put the codes they resolved (an organisation named by its name) back in ``values``.
    new_id = _write_checked(conn, sheet, values, actor, today or date.today())
    return {"id": new_id} | {k: v for k, v in values.items() if k != "namesake"}


def _write_checked(conn: Connection, sheet: Sheet, values: dict[str, Any], actor: str, today: date) -> int:
    # A savepoint per record: a refused row leaves nothing behind while the others go on.
    savepoint = conn.begin_nested()
    try:
        new_id = sheet.write(conn, values, actor, today)
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return new_id


# ---------------------------------------------------------------------------------------------
# reading a file


def match_columns(sheet: Sheet, columns: list[str], source: str) -> tuple[dict[str, str], list[str]]:
    """field → the file's column for it, by name or alias in any case; and the columns with no
    name in the header (a spreadsheet's empty trailing cells), which rows must leave blank.

    An unknown column is refused rather than skipped: a misspelt ``expires_on`` would otherwise
    load every accreditation as open-ended without a word.
    """
    names = {c.name: c for c in sheet.columns}
    lookup = {n.casefold(): c.name for c in sheet.columns for n in (c.name, *c.aliases)}
    found: dict[str, str] = {}
    unknown: list[str] = []
    unnamed: list[str] = []
    for column in columns:
        name = lookup.get(column.strip().casefold().replace(" ", "_"))
        if name is None and UNNAMED.fullmatch(column):
            unnamed.append(column)
        elif name is None:
            unknown.append(column)
        elif name in found:
            raise DemineError(f"{source}: columns {found[name]!r} and {column!r} both give {name}")
        else:
            found[name] = column
    problems = []
    if unknown:
        problems.append(
            f"unknown column(s) {', '.join(repr(c) for c in unknown)}; "
            f"the {sheet.kind} columns are: {sheet.column_help()}"
        )
    missing = [n for n, c in names.items() if c.required and n not in found]
    if missing:
        problems.append(
            f"no column {', '.join(repr(m) for m in missing)} (required); its columns: {', '.join(columns)}"
        )
    if problems:
        raise DemineError(f"{source}: " + "; ".join(problems))
    return found, unnamed


def _rows(path: Path, sheet_name: str | None, encoding: str | None) -> tuple[list[str], Iterator[Any], Any]:
    from demine.ingest.sources import CSV_SUFFIXES, XLSX_SUFFIXES, open_source

    if path.suffix.lower() not in (*CSV_SUFFIXES, *XLSX_SUFFIXES):
        raise DemineError(f"{path.name}: give a CSV or XLSX file (the first row naming the columns)")
    source = open_source(path, sheet_name, encoding)
    return source.columns, source.batches(1000), source


def load_file(
    conn: Connection,
    kind: str,
    path: str | Path,
    actor: str,
    *,
    sheet_name: str | None = None,
    encoding: str | None = None,
    date_format: str | None = None,
    dry_run: bool = False,
    today: date | None = None,
) -> Loaded:
    """Check and write every row of a CSV or XLSX file, in the caller's transaction.

    Raises :class:`DemineError` for a file that cannot be read or lacks a column, and
    :class:`ValidationError` with every bad row's problems; the caller then rolls back.
    With ``dry_run`` the rows are checked and written inside a savepoint that is rolled back.
    """
    sheet = SHEETS[kind]
    path = Path(path)
    columns, batches, source = _rows(path, sheet_name, encoding)
    try:
        mapping, unnamed = match_columns(sheet, columns, path.name)
        resolver = CodeResolver(load_code_lists(conn))
        day = today or date.today()
        ids: list[int] = []
        problems: list[Problem] = []
        rows = 0
        outer = conn.begin_nested() if dry_run else None
        for batch in batches:
            for i, attributes in enumerate(batch.attributes):
                number = batch.first_row + i
                rows += 1
                raw = {name: attributes.get(column) for name, column in mapping.items()}
                where = f"row {number}"
                shown = f"{where}, {sheet.describe({k: as_text(v) for k, v in raw.items()})}"
                if "_extra" in attributes or any(as_text(attributes.get(c)) is not None for c in unnamed):
                    problems.append(Problem(where, "row", "has a value under no column name in the header"))
                    continue
                values, found = parse_values(sheet, raw, resolver, shown, date_format)
                if found:
                    problems += found
                    continue
                try:
                    ids.append(_write_checked(conn, sheet, values, actor, day))
                except DemineError as exc:
                    problems += _row_problems(where, exc)
        if outer is not None:
            outer.rollback()
    finally:
        source.close()
    if rows == 0:
        raise DemineError(f"{path.name} has no rows under its header: nothing to load")
    if problems:
        raise ValidationError(problems)
    return Loaded(kind, str(path), rows, ids, dry_run, list(source.warnings))


def _row_problems(where: str, exc: DemineError) -> list[Problem]:
    found = getattr(exc, "problems", None)
    if not found:
        return [Problem(where, "record", str(exc))]
    return [Problem(f"{where}, {p.record}", p.field, p.message) for p in found]


# ---------------------------------------------------------------------------------------------
# listing


def list_organisations(conn: Connection) -> list[dict[str, Any]]:
    """Every organisation with how many teams and people it has."""
    o, t, p = schema.organisation, schema.team, schema.person
    teams = dict(conn.execute(select(t.c.organisation_id, func.count()).group_by(t.c.organisation_id)).all())
    people = dict(conn.execute(select(p.c.organisation_id, func.count()).group_by(p.c.organisation_id)).all())
    rows = conn.execute(
        select(o.c.id, o.c.code, o.c.name, o.c.organisation_type, o.c.country).order_by(o.c.code)
    )
    return [
        {
            "code": r.code,
            "name": r.name,
            "organisation_type": r.organisation_type,
            "country": r.country,
            "teams": teams.get(r.id, 0),
            "people": people.get(r.id, 0),
        }
        for r in rows
    ]


def _org_id(conn: Connection, organisation: str | None) -> int | None:
    if organisation is None:
        return None
    code = organisation_code(conn, organisation)
    found = conn.execute(select(schema.organisation.c.id).where(schema.organisation.c.code == code)).scalar()
    if found is None:
        raise NotFoundError(f"--org: no organisation {organisation!r}")
    return found


def _held(conn: Connection) -> dict[tuple[int, str], list[Accreditation]]:
    a = schema.accreditation
    held: dict[tuple[int, str], list[Accreditation]] = {}
    for team_id, activity, issued, expires in conn.execute(
        select(a.c.team_id, a.c.activity_type, a.c.issued_on, a.c.expires_on).where(a.c.team_id.is_not(None))
    ):
        held.setdefault((team_id, activity), []).append(Accreditation(activity, issued, expires))
    return held


def list_teams(conn: Connection, day: date, organisation: str | None = None) -> list[dict[str, Any]]:
    """Teams with their organisation, base and the activities they are accredited for on ``day``."""
    t, o = schema.team, schema.organisation
    query = select(
        t.c.id, t.c.code, t.c.name, o.c.code.label("org"), t.c.team_type, t.c.members, t.c.active, t.c.geom
    ).join(o, o.c.id == t.c.organisation_id)
    org_id = _org_id(conn, organisation)
    if org_id is not None:
        query = query.where(t.c.organisation_id == org_id)
    held = _held(conn)
    out = []
    for r in conn.execute(query.order_by(t.c.code)):
        accredited = sorted(
            activity
            for (team_id, activity), accs in held.items()
            if team_id == r.id and covered_until(accs, day)
        )
        out.append(
            {
                "code": r.code,
                "name": r.name,
                "organisation": r.org,
                "team_type": r.team_type,
                "members": r.members,
                "base": None if r.geom is None else [r.geom.x, r.geom.y],
                "active": bool(r.active),
                "accredited_for": accredited,
            }
        )
    return out


def list_people(
    conn: Connection, organisation: str | None = None, team: str | None = None
) -> list[dict[str, Any]]:
    """Personnel with their organisation, team and training count."""
    p, o, t, tr = schema.person, schema.organisation, schema.team, schema.training_record
    trained = dict(conn.execute(select(tr.c.person_id, func.count()).group_by(tr.c.person_id)).all())
    query = (
        select(p.c.id, p.c.full_name, o.c.code.label("org"), t.c.code.label("team"), p.c.sex, p.c.role)
        .join(o, o.c.id == p.c.organisation_id)
        .outerjoin(t, t.c.id == p.c.team_id)
    )
    org_id = _org_id(conn, organisation)
    if org_id is not None:
        query = query.where(p.c.organisation_id == org_id)
    if team is not None:
        query = query.where(t.c.code == _team_code(conn, team))
    return [
        {
            "id": r.id,
            "full_name": r.full_name,
            "organisation": r.org,
            "team": r.team,
            "sex": r.sex,
            "role": r.role,
            "training_records": trained.get(r.id, 0),
        }
        for r in conn.execute(query.order_by(p.c.id))
    ]


def list_training(conn: Connection, person: str | None = None) -> list[dict[str, Any]]:
    """Training records, of one person (an id or a full name) or of everyone."""
    p, tr = schema.person, schema.training_record
    query = select(
        tr.c.id, tr.c.person_id, p.c.full_name, tr.c.course, tr.c.started_on, tr.c.completed_on, tr.c.passed
    ).join(p, p.c.id == tr.c.person_id)
    if person is not None:
        try:
            query = query.where(tr.c.person_id == person_id(conn, person, "person"))
        except ValidationError as exc:
            raise NotFoundError(exc.problems[0].message) from None
    return [
        dict(r._mapping) | {"passed": None if r.passed is None else bool(r.passed)}
        for r in conn.execute(query.order_by(p.c.full_name, tr.c.completed_on, tr.c.id))
    ]


def accreditation_flag(issued: date, expires: date | None, cover: date | None, day: date, warn: int) -> str:
    """One accreditation on ``day``: ``not_yet_valid``, ``expired``, ``expiring`` or ``valid``.

    ``cover`` is the last day of the team's unbroken cover for the activity: an accreditation
    renewed ahead of time is not flagged as expiring.
    """
    if issued > day:
        return "not_yet_valid"
    if expires is not None and expires < day:
        return "expired"
    if expires is None or (cover is not None and cover > day + timedelta(days=warn)):
        return "valid"
    return "expiring" if expires <= day + timedelta(days=warn) else "valid"


def list_accreditations(
    conn: Connection,
    day: date,
    warn_days: int = EXPIRING_DAYS,
    team: str | None = None,
    organisation: str | None = None,
) -> list[dict[str, Any]]:
    """Team accreditations, each flagged on ``day`` (expired, expiring within ``warn_days``)."""
    a, t, o = schema.accreditation, schema.team, schema.organisation
    query = (
        select(
            a.c.id,
            a.c.team_id,
            t.c.code.label("team"),
            o.c.code.label("org"),
            a.c.activity_type,
            a.c.issued_on,
            a.c.expires_on,
        )
        .join(t, t.c.id == a.c.team_id)
        .join(o, o.c.id == a.c.organisation_id)
    )
    if team is not None:
        query = query.where(t.c.code == _team_code(conn, team))
    org_id = _org_id(conn, organisation)
    if org_id is not None:
        query = query.where(a.c.organisation_id == org_id)
    held = _held(conn)
    out = []
    for r in conn.execute(query.order_by(t.c.code, a.c.activity_type, a.c.issued_on)):
        cover = covered_until(held.get((r.team_id, r.activity_type), []), day)
        out.append(
            {
                "id": r.id,
                "team": r.team,
                "organisation": r.org,
                "activity_type": r.activity_type,
                "issued_on": r.issued_on,
                "expires_on": r.expires_on,
                "status": accreditation_flag(r.issued_on, r.expires_on, cover, day, warn_days),
                "days_left": None if r.expires_on is None else (r.expires_on - day).days,
                "covered_until": None if cover in (None, date.max) else cover,
            }
        )
    return out
