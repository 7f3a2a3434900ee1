"""Registers built by hand for the forecast's known-answer tests: teams with a steady output."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Connection, insert

from demine.storage import schema


def add_steady_teams(conn: Connection, organisation: str, area_per_day_m2: float, teams: int = 10) -> int:
    """An organisation of ``teams`` manual clearance teams, accredited 2020–2040, each reporting
    ``area_per_day_m2`` on each of 200 weekdays a year in 2023–2025; returns the organisation's id."""
    s = schema
    org = conn.execute(
        insert(s.organisation).values(code="ORG", name=organisation, organisation_type="ngo")
    ).inserted_primary_key[0]
    ids = []
    for i in range(teams):
        tid = conn.execute(
            insert(s.team).values(code=f"M{i}", name=f"Manual {i}", organisation_id=org, team_type="manual")
        ).inserted_primary_key[0]
        conn.execute(
            insert(s.accreditation).values(
                organisation_id=org,
                team_id=tid,
                activity_type="clearance",
                issued_on=date(2020, 1, 1),
                expires_on=date(2040, 1, 1),
            )
        )
        ids.append(tid)
    days = []
    for year in (2023, 2024, 2025):
        d, n = date(year, 1, 2), 0
        while n < 200:
            if d.weekday() < 5:
                days.append(d)
                n += 1
            d += timedelta(days=1)
    conn.execute(
        insert(s.progress_report),
        [{"team_id": t, "report_date": d, "area_m2": area_per_day_m2} for t in ids for d in days],
    )
    return org
