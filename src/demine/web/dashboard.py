"""The figures of the dashboards, from the register (approved records only).

Everything ``demine summary`` prints comes from :func:`demine.reports.summary.programme_summary`
itself, so the dashboard and the command line cannot disagree; the series over time, the
release by organisation, the accident aggregates and the accreditations running out are
added here. Grouping by month is done in Python so the same code runs on SQLite and
PostgreSQL. Accidents and victims are counts only: no victim's name or date of birth is read.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from demine.domain.accreditation import EXPIRY_WARNING_DAYS, Accreditation, covered_until
from demine.register.organisations import team_accreditation_status
from demine.reports.summary import programme_summary
from demine.storage import schema

METHODS = ("cancelled", "reduced", "cleared")
UNATTRIBUTED = "(no activity)"


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _months_between(first: date, last: date) -> list[str]:
    months, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def land_release_over_time(conn: Connection) -> list[dict[str, Any]]:
    """Per month: m² remaining at the month's end and m² released so far by each method."""
    e, p = schema.hazard_area_event, schema.release_product
    changes: dict[str, float] = defaultdict(float)
    for day, change in conn.execute(
        select(e.c.occurred_on, func.sum(e.c.change_m2)).group_by(e.c.occurred_on)
    ):
        changes[_month(day)] += change
    released: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(METHODS, 0.0))
    for day, method, area in conn.execute(
        select(p.c.released_on, p.c.method, func.sum(p.c.released_area_m2)).group_by(
            p.c.released_on, p.c.method
        )
    ):
        if method in METHODS:
            released[_month(day)][method] += area or 0.0
    keys = sorted(set(changes) | set(released))
    if not keys:
        return []
    first, last = (date.fromisoformat(k + "-01") for k in (keys[0], keys[-1]))
    rows, remaining = [], 0.0
    total = dict.fromkeys(METHODS, 0.0)
    for month in _months_between(first, last):
        remaining += changes.get(month, 0.0)
        for m in METHODS:
            total[m] += released.get(month, {}).get(m, 0.0)
        rows.append(
            {"month": month, "remaining_m2": max(remaining, 0.0)} | {f"{m}_m2": total[m] for m in METHODS}
        )
    return rows


def released_by_organisation(conn: Connection) -> dict[str, Any]:
    """m² released per month by organisation (of the activity that produced the release)."""
    p, a, o = schema.release_product, schema.activity, schema.organisation
    query = (
        select(p.c.released_on, o.c.code, func.sum(p.c.released_area_m2))
        .select_from(p.outerjoin(a, a.c.id == p.c.activity_id).outerjoin(o, o.c.id == a.c.organisation_id))
        .group_by(p.c.released_on, o.c.code)
    )
    table: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    organisations: set[str] = set()
    for day, code, area in conn.execute(query):
        org = code or UNATTRIBUTED
        organisations.add(org)
        table[_month(day)][org] += area or 0.0
    if not table:
        return {"organisations": [], "months": []}
    keys = sorted(table)
    first, last = (date.fromisoformat(k + "-01") for k in (keys[0], keys[-1]))
    orgs = sorted(organisations)
    months = [
        {"month": m, "by_organisation": {org: table.get(m, {}).get(org, 0.0) for org in orgs}}
        for m in _months_between(first, last)
    ]
    for row in months:
        row["total_m2"] = sum(row["by_organisation"].values())
    return {"organisations": orgs, "months": months}


def accidents_aggregated(conn: Connection) -> dict[str, Any]:
    """Accidents per year and kind, victims per year and outcome, by sex and age band (counts)."""
    acc, v = schema.accident, schema.victim
    by_year: dict[int, dict[str, Any]] = {}
    for day, kind in conn.execute(select(acc.c.occurred_on, acc.c.accident_kind)):
        row = by_year.setdefault(day.year, {"year": day.year, "accidents": 0, "killed": 0, "injured": 0})
        row["accidents"] += 1
        row.setdefault(f"kind_{kind}", 0)
        row[f"kind_{kind}"] += 1
    for day, status in conn.execute(
        select(acc.c.occurred_on, v.c.status).select_from(v.join(acc, acc.c.id == v.c.accident_id))
    ):
        row = by_year.setdefault(day.year, {"year": day.year, "accidents": 0, "killed": 0, "injured": 0})
        if status in ("killed", "injured"):
            row[status] += 1
    sadd = [
        {"sex": sex, "age_band": band, "status": status, "count": n}
        for sex, band, status, n in conn.execute(
            select(v.c.sex, v.c.age_band, v.c.status, func.count())
            .group_by(v.c.sex, v.c.age_band, v.c.status)
            .order_by(v.c.sex, v.c.age_band, v.c.status)
        )
    ]
    return {"by_year": [by_year[y] for y in sorted(by_year)], "victims_by_sex_age": sadd}


def expiring_accreditations(conn: Connection, day: date) -> list[dict[str, Any]]:
    """Active teams whose accreditation cover ends within 60 days of ``day`` (the summary's "expiring")."""
    status = team_accreditation_status(conn, day)
    t, o, a = schema.team, schema.organisation, schema.accreditation
    teams = {
        row.id: row
        for row in conn.execute(
            select(t.c.id, t.c.code, t.c.name, t.c.team_type, o.c.code.label("organisation"))
            .select_from(t.join(o, o.c.id == t.c.organisation_id))
            .where(t.c.active)
        )
    }
    wanted = [team_id for team_id, s in status.items() if s == "expiring" and team_id in teams]
    held: dict[int, list[Accreditation]] = defaultdict(list)
    if wanted:
        for team_id, activity_type, issued, expires in conn.execute(
            select(a.c.team_id, a.c.activity_type, a.c.issued_on, a.c.expires_on).where(
                a.c.team_id.in_(wanted)
            )
        ):
            held[team_id].append(Accreditation(activity_type, issued, expires))
    out = []
    for team_id in wanted:
        team = teams[team_id]
        end = covered_until(held[team_id], day)
        out.append(
            {
                "team": team.code,
                "name": team.name,
                "team_type": team.team_type,
                "organisation": team.organisation,
                "activities": ", ".join(sorted({acc.activity_type for acc in held[team_id]})),
                "cover_ends": end,
                "days_left": (end - day).days if end is not None else None,
            }
        )
    return sorted(out, key=lambda r: (r["cover_ends"] or date.max, r["team"]))


def dashboard_data(conn: Connection, day: date | None = None) -> dict[str, Any]:
    """Everything the dashboard page shows."""
    day = day or date.today()
    summary = programme_summary(conn, day)
    return {
        "day": day,
        "warning_until": day + timedelta(days=EXPIRY_WARNING_DAYS),
        "summary": summary,
        "over_time": land_release_over_time(conn),
        "by_organisation": released_by_organisation(conn),
        "accidents": accidents_aggregated(conn),
        "expiring": expiring_accreditations(conn, day),
    }
