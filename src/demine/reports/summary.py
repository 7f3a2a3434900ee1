"""The programme summary: hazards by type and status, the land release balance, teams.

The balance is the land release identity summed over every hazard:
original = cancelled + reduced + cleared + remaining. ``balanced`` says whether it holds
to 0.1 %, the tolerance the foundation issue sets.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, func, select

from demine.register.organisations import team_accreditation_status
from demine.storage import schema

BALANCE_TOLERANCE = 0.001


def programme_summary(conn: Connection, day: date | None = None) -> dict[str, Any]:
    """Everything ``demine summary`` prints, as a JSON-ready dict."""
    day = day or date.today()
    h = schema.hazard
    by_type_status = [
        {
            "hazard_type": t,
            "status": s,
            "count": n,
            "area_m2": a or 0.0,
            "remaining_m2": r or 0.0,
        }
        for t, s, n, a, r in conn.execute(
            select(
                h.c.hazard_type,
                h.c.status,
                func.count(),
                func.sum(h.c.area_m2),
                func.sum(h.c.remaining_area_m2),
            )
            .group_by(h.c.hazard_type, h.c.status)
            .order_by(h.c.hazard_type, h.c.status)
        )
    ]
    original = sum(r["area_m2"] for r in by_type_status)
    remaining = sum(r["remaining_m2"] for r in by_type_status)
    p = schema.release_product
    released = dict(
        conn.execute(select(p.c.method, func.sum(p.c.released_area_m2)).group_by(p.c.method)).all()
    )
    cancelled, reduced, cleared = (released.get(m) or 0.0 for m in ("cancelled", "reduced", "cleared"))
    balance = original - (cancelled + reduced + cleared + remaining)
    area = {
        "original_m2": original,
        "cancelled_m2": cancelled,
        "reduced_m2": reduced,
        "cleared_m2": cleared,
        "released_m2": cancelled + reduced + cleared,
        "remaining_m2": remaining,
        "balance_m2": balance,
        "balanced": abs(balance) <= BALANCE_TOLERANCE * max(original, 1.0),
    }
    status_by_team = team_accreditation_status(conn, day)
    t = schema.team
    teams: dict[str, dict[str, Any]] = {}
    for team_id, team_type in conn.execute(select(t.c.id, t.c.team_type).where(t.c.active)):
        row = teams.setdefault(
            team_type,
            {
                "team_type": team_type,
                "total": 0,
                "valid": 0,
                "expiring": 0,
                "expired": 0,
                "none": 0,
            },
        )
        row["total"] += 1
        row[status_by_team.get(team_id, "none")] += 1
    a = schema.activity
    activities = [
        {"activity_type": at, "status": st, "count": n}
        for at, st, n in conn.execute(
            select(a.c.activity_type, a.c.status, func.count())
            .group_by(a.c.activity_type, a.c.status)
            .order_by(a.c.activity_type, a.c.status)
        )
    ]
    f = schema.eo_find
    eo_found = dict(
        conn.execute(
            select(f.c.category, func.sum(f.c.quantity)).group_by(f.c.category).order_by(f.c.category)
        ).all()
    )
    v = schema.victim
    victims = dict(conn.execute(select(v.c.status, func.count()).group_by(v.c.status)).all())
    return {
        "as_of": day,
        "hazards": {
            "count": sum(r["count"] for r in by_type_status),
            "by_type_status": by_type_status,
        },
        "area": area,
        "teams": sorted(teams.values(), key=lambda r: r["team_type"]),
        "activities": activities,
        "eo_found": eo_found,
        "accidents": conn.execute(select(func.count()).select_from(schema.accident)).scalar_one(),
        "victims": {"killed": victims.get("killed", 0), "injured": victims.get("injured", 0)},
    }
