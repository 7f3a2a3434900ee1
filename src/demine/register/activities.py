"""Activities (NTS, TS, clearance, BAC, EOD), daily progress reports and EO finds.

Each ``add_*`` validates the whole batch first (every problem, named by record and field)
and writes nothing when any record is wrong.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import date

import shapely
from sqlalchemy import Connection, Table, insert, select

from demine.domain.codelists import CodeLists
from demine.domain.errors import Problem, ValidationError
from demine.domain.rules import (
    check_date_range,
    check_lon_lat,
    check_non_negative,
    check_not_future,
    check_required,
)
from demine.geometry.polygons import point_problems
from demine.storage import schema
from demine.storage.codelists import load_code_lists


@dataclass(frozen=True)
class NewActivity:
    """An operation by an organisation (and usually a team) on a hazard."""

    code: str
    activity_type: str
    organisation: str  # organisation code
    team: str | None = None  # team code
    hazard: str | None = None  # hazard code; EOD spot tasks may have none
    method: str | None = None
    status: str = "planned"
    start_date: date | None = None
    end_date: date | None = None
    reference: tuple[float, float] | None = None  # (lon, lat)


@dataclass(frozen=True)
class NewProgressReport:
    """A team's daily progress on an activity."""

    team: str
    activity: str | None
    report_date: date
    area_m2: float
    hours: float | None = None


@dataclass(frozen=True)
class NewFind:
    """Explosive ordnance found (and usually destroyed)."""

    category: str
    found_on: date
    location: shapely.Point | None
    quantity: int = 1
    model: str | None = None
    depth_cm: float | None = None
    condition: str | None = None
    disposal_method: str | None = None
    hazard: str | None = None
    activity: str | None = None
    source_id: str | None = None  # the record's id in the file it was imported from


def _ids(conn: Connection, table: Table) -> dict[str, int]:
    return dict(conn.execute(select(table.c.code, table.c.id)).all())


def add_activities(
    conn: Connection, activities: Sequence[NewActivity], today: date | None = None
) -> list[int]:
    """Validate and insert activities; all or nothing."""
    lists = load_code_lists(conn)
    today = today or date.today()
    orgs, teams, hazards = (_ids(conn, t) for t in (schema.organisation, schema.team, schema.hazard))
    existing = _ids(conn, schema.activity)
    problems: list[Problem] = []
    for a in activities:
        record = f"activity {a.code or '(no code)'}"
        problems += check_required(record, a.code, "code")
        if a.code in existing:
            problems.append(Problem(record, "code", "already exists"))
        problems += lists.check("activity_type", a.activity_type, record, "activity_type")
        problems += lists.check("activity_status", a.status, record, "status")
        problems += check_date_range(record, a.start_date, a.end_date, "start_date", "end_date")
        problems += check_not_future(record, a.end_date, "end_date", today)
        if a.organisation not in orgs:
            problems.append(Problem(record, "organisation", f"no organisation {a.organisation!r}"))
        if a.team is not None and a.team not in teams:
            problems.append(Problem(record, "team", f"no team {a.team!r}"))
        if a.hazard is not None and a.hazard not in hazards:
            problems.append(Problem(record, "hazard", f"no hazard {a.hazard!r}"))
        if a.status == "completed" and a.end_date is None:
            problems.append(Problem(record, "end_date", "a completed activity needs an end date"))
        if a.reference is not None:
            problems += check_lon_lat(record, a.reference[0], a.reference[1], "reference")
    if problems:
        raise ValidationError(problems)
    ids = []
    for a in activities:
        ids.append(
            conn.execute(
                insert(schema.activity).values(
                    code=a.code,
                    activity_type=a.activity_type,
                    organisation_id=orgs[a.organisation],
                    team_id=teams.get(a.team) if a.team else None,
                    hazard_id=hazards.get(a.hazard) if a.hazard else None,
                    method=a.method,
                    status=a.status,
                    start_date=a.start_date,
                    end_date=a.end_date,
                    ref_lon=a.reference[0] if a.reference else None,
                    ref_lat=a.reference[1] if a.reference else None,
                )
            ).inserted_primary_key[0]
        )
    return ids


def add_progress_reports(
    conn: Connection, reports: Sequence[NewProgressReport], today: date | None = None
) -> None:
    """Validate and insert daily progress reports; all or nothing.

    A report must fall within its activity's dates and come from the activity's team.
    """
    today = today or date.today()
    teams = _ids(conn, schema.team)
    a = schema.activity
    acts = {
        r.code: r for r in conn.execute(select(a.c.code, a.c.id, a.c.team_id, a.c.start_date, a.c.end_date))
    }
    problems: list[Problem] = []
    # Reports already stored for these teams, keyed as the batch is; NULL activities compare
    # equal here, which the UNIQUE constraint alone would not do.
    code_of_team = {v: k for k, v in teams.items()}
    code_of_activity = {r.id: code for code, r in acts.items()}
    pr = schema.progress_report
    batch_teams = [teams[r.team] for r in reports if r.team in teams]
    stored: set[tuple[str, str | None, date]] = set()
    for start in range(0, len(batch_teams), 500):
        for team_id, activity_id, day in conn.execute(
            select(pr.c.team_id, pr.c.activity_id, pr.c.report_date).where(
                pr.c.team_id.in_(batch_teams[start : start + 500])
            )
        ):
            stored.add((code_of_team[team_id], code_of_activity.get(activity_id), day))
    seen: set[tuple[str, str | None, date]] = set()
    for r in reports:
        record = f"progress report of team {r.team} on {r.report_date}"
        if (r.team, r.activity, r.report_date) in stored:
            problems.append(Problem(record, "report_date", "a report for this team, activity and day exists"))
        if r.team not in teams:
            problems.append(Problem(record, "team", f"no team {r.team!r}"))
        problems += check_non_negative(record, r.area_m2, "area_m2")
        problems += check_not_future(record, r.report_date, "report_date", today)
        if r.hours is not None and not 0 <= r.hours <= 24:
            problems.append(Problem(record, "hours", f"must be between 0 and 24 (got {r.hours})"))
        key = (r.team, r.activity, r.report_date)
        if key in seen:
            problems.append(Problem(record, "report_date", "two reports for the same team, activity and day"))
        seen.add(key)
        if r.activity is not None:
            act = acts.get(r.activity)
            if act is None:
                problems.append(Problem(record, "activity", f"no activity {r.activity!r}"))
            else:
                if teams.get(r.team) not in (None, act.team_id) and act.team_id is not None:
                    problems.append(Problem(record, "team", f"activity {r.activity} belongs to another team"))
                if act.start_date and r.report_date < act.start_date:
                    problems.append(
                        Problem(
                            record, "report_date", f"before activity {r.activity} started ({act.start_date})"
                        )
                    )
                if act.end_date and r.report_date > act.end_date:
                    problems.append(
                        Problem(record, "report_date", f"after activity {r.activity} ended ({act.end_date})")
                    )
    if problems:
        raise ValidationError(problems)
    if reports:
        conn.execute(
            insert(schema.progress_report),
            [
                {
                    "team_id": teams[r.team],
                    "activity_id": acts[r.activity].id if r.activity else None,
                    "report_date": r.report_date,
                    "area_m2": r.area_m2,
                    "hours": r.hours,
                }
                for r in reports
            ],
        )


def add_finds(conn: Connection, finds: Sequence[NewFind], today: date | None = None) -> None:
    """Validate and insert EO finds; all or nothing.

    A find in a cleared area must say how it was disposed of (GICHD MDR,
    docs/sources.md#find-disposal).
    """
    lists = load_code_lists(conn)
    today = today or date.today()
    hazards, acts = _ids(conn, schema.hazard), _ids(conn, schema.activity)
    problems: list[Problem] = []
    for i, f in enumerate(finds, start=1):
        problems += find_problems(f, lists, today, f"find {i}", hazards, acts)
    if problems:
        raise ValidationError(problems)
    insert_finds(conn, finds, hazards, acts)


def find_problems(
    f: NewFind,
    lists: CodeLists,
    today: date,
    record: str,
    hazards: Container[str],
    activities: Container[str],
) -> list[Problem]:
    """Every problem with one find; ``hazards`` and ``activities`` are the codes that exist."""
    problems = lists.check("eo_category", f.category, record, "category")
    problems += lists.check("eo_condition", f.condition, record, "condition")
    problems += lists.check("disposal_method", f.disposal_method, record, "disposal_method")
    problems += check_not_future(record, f.found_on, "found_on", today)
    problems += check_non_negative(record, f.depth_cm, "depth_cm")
    if f.quantity < 1:
        problems.append(Problem(record, "quantity", f"must be at least 1 (got {f.quantity})"))
    if f.location is not None:
        problems += point_problems(f.location, record, "location")
    if f.hazard is not None and f.hazard not in hazards:
        problems.append(Problem(record, "hazard", f"no hazard {f.hazard!r}"))
    if f.activity is not None and f.activity not in activities:
        problems.append(Problem(record, "activity", f"no activity {f.activity!r}"))
    return problems


def insert_finds(
    conn: Connection, finds: Sequence[NewFind], hazards: dict[str, int], activities: dict[str, int]
) -> None:
    """Write finds that have been validated; ``hazards`` and ``activities`` map codes to ids."""
    if finds:
        conn.execute(
            insert(schema.eo_find),
            [
                {
                    "hazard_id": hazards.get(f.hazard) if f.hazard else None,
                    "activity_id": activities.get(f.activity) if f.activity else None,
                    "release_product_id": None,
                    "found_on": f.found_on,
                    "category": f.category,
                    "model": f.model,
                    "quantity": f.quantity,
                    "depth_cm": f.depth_cm,
                    "condition": f.condition,
                    "disposal_method": f.disposal_method,
                    "source_id": f.source_id,
                    "geom": f.location,
                }
                for f in finds
            ],
        )
