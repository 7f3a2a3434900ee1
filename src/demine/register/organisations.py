"""Organisations, teams, personnel, training records and accreditations.

Accreditation decides capacity: the planner only counts a team whose accreditation for the
activity is valid (IMAS 07.30).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, insert, select

from demine.domain.accreditation import Accreditation, accreditation_status
from demine.domain.errors import Problem, ValidationError
from demine.domain.rules import check_date_range, check_lon_lat, check_required
from demine.storage import schema
from demine.storage.codelists import load_code_lists


@dataclass(frozen=True)
class NewOrganisation:
    """An operator, authority or agency."""

    code: str
    name: str
    organisation_type: str
    country: str | None = None


@dataclass(frozen=True)
class NewTeam:
    """A team of an organisation, based somewhere."""

    code: str
    name: str
    organisation: str  # organisation code
    team_type: str
    members: int = 1
    base: tuple[float, float] | None = None  # (lon, lat)


@dataclass(frozen=True)
class NewAccreditation:
    """An accreditation of a team for an activity type."""

    team: str  # team code
    activity_type: str
    issued_on: date
    expires_on: date | None


def _code_clash(record: str, code: str, taken: set[str]) -> list[Problem]:
    """A code already in the database or earlier in the batch; remembers ``code`` as taken."""
    if code in taken:
        return [Problem(record, "code", f"{code!r} is already used")]
    taken.add(code)
    return []


def add_organisations(conn: Connection, orgs: Sequence[NewOrganisation]) -> list[int]:
    """Validate and insert organisations; all or nothing."""
    lists = load_code_lists(conn)
    problems: list[Problem] = []
    taken = set(conn.execute(select(schema.organisation.c.code)).scalars())
    for o in orgs:
        record = f"organisation {o.code}"
        problems += check_required(record, o.code, "code") + check_required(record, o.name, "name")
        problems += _code_clash(record, o.code, taken)
        problems += lists.check("organisation_type", o.organisation_type, record, "organisation_type")
    if problems:
        raise ValidationError(problems)
    return [
        conn.execute(
            insert(schema.organisation).values(
                code=o.code, name=o.name, organisation_type=o.organisation_type, country=o.country
            )
        ).inserted_primary_key[0]
        for o in orgs
    ]


def add_teams(conn: Connection, teams: Sequence[NewTeam]) -> list[int]:
    """Validate and insert teams; all or nothing."""
    lists = load_code_lists(conn)
    orgs = dict(conn.execute(select(schema.organisation.c.code, schema.organisation.c.id)).all())
    problems: list[Problem] = []
    taken = set(conn.execute(select(schema.team.c.code)).scalars())
    for t in teams:
        record = f"team {t.code}"
        problems += check_required(record, t.code, "code")
        problems += _code_clash(record, t.code, taken)
        problems += lists.check("team_type", t.team_type, record, "team_type")
        if t.organisation not in orgs:
            problems.append(Problem(record, "organisation", f"no organisation {t.organisation!r}"))
        if t.members < 1:
            problems.append(Problem(record, "members", f"must be at least 1 (got {t.members})"))
        if t.base is not None:
            problems += check_lon_lat(record, t.base[0], t.base[1], "base")
    if problems:
        raise ValidationError(problems)
    # shapely (and numpy) load only to write a base: `demine summary` reads teams without them.
    import shapely

    rows = [
        {
            "code": t.code,
            "name": t.name,
            "organisation_id": orgs[t.organisation],
            "team_type": t.team_type,
            "members": t.members,
            "geom": shapely.Point(t.base) if t.base else None,
        }
        for t in teams
    ]
    return [conn.execute(insert(schema.team).values(**row)).inserted_primary_key[0] for row in rows]


def add_accreditations(conn: Connection, accreditations: Sequence[NewAccreditation]) -> None:
    """Validate and insert team accreditations; all or nothing."""
    lists = load_code_lists(conn)
    t = schema.team
    teams = {r.code: r for r in conn.execute(select(t.c.code, t.c.id, t.c.organisation_id))}
    problems: list[Problem] = []
    for a in accreditations:
        record = f"accreditation of team {a.team}"
        problems += lists.check("activity_type", a.activity_type, record, "activity_type")
        problems += check_date_range(record, a.issued_on, a.expires_on, "issued_on", "expires_on")
        if a.team not in teams:
            problems.append(Problem(record, "team", f"no team {a.team!r}"))
    if problems:
        raise ValidationError(problems)
    if accreditations:
        conn.execute(
            insert(schema.accreditation),
            [
                {
                    "organisation_id": teams[a.team].organisation_id,
                    "team_id": teams[a.team].id,
                    "activity_type": a.activity_type,
                    "issued_on": a.issued_on,
                    "expires_on": a.expires_on,
                }
                for a in accreditations
            ],
        )


def team_accreditation_status(conn: Connection, day: date) -> dict[int, str]:
    """Each team's status on ``day``: valid, expiring (≤ 60 days), expired or none."""
    a = schema.accreditation
    held: dict[int, list[Accreditation]] = {
        team_id: [] for team_id in conn.execute(select(schema.team.c.id)).scalars()
    }
    for team_id, activity_type, issued, expires in conn.execute(
        select(a.c.team_id, a.c.activity_type, a.c.issued_on, a.c.expires_on).where(a.c.team_id.is_not(None))
    ):
        held.setdefault(team_id, []).append(Accreditation(activity_type, issued, expires))
    return {team_id: accreditation_status(accs, day) for team_id, accs in held.items()}
