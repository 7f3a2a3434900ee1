"""The figures of the official reports, read from the register for one period.

The register holds approved records only (submissions wait in their own table until an IM
officer approves them), so every figure here counts approved records only.

* A land release product belongs to the organisation of its activity, or of its hazard when
  it has no activity; it counts in the period in which it was released (``released_on``).
* EO counts in the period it was found; "destroyed" means disposed of by destruction in situ
  or at a demolition site (:data:`DESTROYED`); rendered safe or handed over is not destroyed.
* The state of the hazards at a day (what remains, what is open) is rebuilt from the
  ``hazard_area_event`` ledger up to that day, so an annual report for a past year shows that
  year's end, not today's.

Aggregation happens in Python over plain column reads, so the same code runs on SQLite and
PostgreSQL (no date functions of either dialect).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

import shapely
from sqlalchemy import Connection, and_, func, or_, select
from sqlalchemy.orm import aliased

from demine.domain.codelists import CodeLists
from demine.domain.errors import NotFoundError
from demine.reports.period import Period
from demine.storage import schema
from demine.storage.codelists import load_code_lists

METHODS = ("cancelled", "reduced", "cleared")
DESTROYED = ("in_situ", "moved_destroyed")
OPEN_TOLERANCE_M2 = 0.5  # less than this left of a hazard is rounding, not land to release
UNKNOWN_AREA = "(no administrative area)"


@dataclass
class AdminAreas:
    """Administrative areas by P-code, and the top-level area each one lies in."""

    names: dict[str, str]
    parents: dict[str, str | None]
    levels: dict[str, int]

    @classmethod
    def load(cls, conn: Connection) -> AdminAreas:
        a = schema.admin_area
        rows = conn.execute(select(a.c.pcode, a.c.name, a.c.parent_pcode, a.c.level)).all()
        return cls({r[0]: r[1] for r in rows}, {r[0]: r[2] for r in rows}, {r[0]: r[3] for r in rows})

    def top(self, pcode: str | None) -> str:
        """The name of the top-level area containing ``pcode`` (or a placeholder)."""
        seen: set[str] = set()
        while pcode is not None and self.parents.get(pcode) and pcode not in seen:
            seen.add(pcode)
            pcode = self.parents[pcode]
        if pcode is None or pcode not in self.names:
            return UNKNOWN_AREA
        return f"{self.names[pcode]} ({pcode})"


def organisation_id(conn: Connection, code: str | None) -> int | None:
    """The id of organisation ``code`` (None for no filter); unknown codes are an error."""
    if code is None:
        return None
    o = schema.organisation
    found = conn.execute(select(o.c.id).where(o.c.code == code)).scalar()
    if found is None:
        codes = ", ".join(conn.execute(select(o.c.code).order_by(o.c.code)).scalars())
        raise NotFoundError(f"--organisation: no organisation {code!r} (one of {codes})")
    return found


def _owner_columns() -> tuple[Any, Any, Any]:
    a, h = schema.activity, schema.hazard
    owner = aliased(schema.organisation, name="owner")
    return a, h, owner


def releases(
    conn: Connection, period: Period, org_id: int | None = None, geometry: bool = False
) -> list[dict]:
    """Land release products released in the period, with their organisation and hazard."""
    p = schema.release_product
    a, h, owner = _owner_columns()
    org = func.coalesce(a.c.organisation_id, h.c.organisation_id)
    columns = [
        p.c.id,
        p.c.method,
        p.c.released_on,
        p.c.released_area_m2,
        h.c.code.label("hazard"),
        h.c.admin_pcode,
        h.c.eo_categories,
        h.c.hazard_type,
        owner.c.code.label("organisation"),
    ]
    if geometry:
        columns.append(p.c.geom)
    query = (
        select(*columns)
        .select_from(
            p.join(h, h.c.id == p.c.hazard_id)
            .outerjoin(a, a.c.id == p.c.activity_id)
            .outerjoin(owner, owner.c.id == org)
        )
        .where(p.c.released_on >= period.start, p.c.released_on <= period.end)
        .order_by(p.c.released_on, p.c.id)
    )
    if org_id is not None:
        query = query.where(org == org_id)
    return [dict(r._mapping) for r in conn.execute(query)]


def finds(conn: Connection, period: Period, org_id: int | None = None) -> list[dict]:
    """EO found in the period, with the organisation of its activity (or hazard)."""
    f = schema.eo_find
    a, h, owner = _owner_columns()
    org = func.coalesce(a.c.organisation_id, h.c.organisation_id)
    query = (
        select(f.c.category, f.c.quantity, f.c.disposal_method, f.c.found_on, h.c.admin_pcode, owner.c.code)
        .select_from(
            f.outerjoin(a, a.c.id == f.c.activity_id)
            .outerjoin(h, h.c.id == func.coalesce(f.c.hazard_id, a.c.hazard_id))
            .outerjoin(owner, owner.c.id == org)
        )
        .where(f.c.found_on >= period.start, f.c.found_on <= period.end)
    )
    if org_id is not None:
        query = query.where(org == org_id)
    return [
        {
            "category": r[0],
            "quantity": r[1],
            "disposal_method": r[2],
            "found_on": r[3],
            "admin_pcode": r[4],
            "organisation": r[5],
        }
        for r in conn.execute(query)
    ]


def accidents(conn: Connection, period: Period, org_id: int | None = None) -> list[dict]:
    """Accidents in the period with their victims counted; an organisation's: its activities'."""
    acc, v = schema.accident, schema.victim
    query = (
        select(acc.c.id, acc.c.code, acc.c.occurred_on, acc.c.accident_kind, acc.c.eo_category, acc.c.geom)
        .where(acc.c.occurred_on >= period.start, acc.c.occurred_on <= period.end)
        .order_by(acc.c.occurred_on, acc.c.id)
    )
    if org_id is not None:
        a = schema.activity
        query = query.join(a, a.c.id == acc.c.activity_id).where(a.c.organisation_id == org_id)
    rows = [dict(r._mapping) for r in conn.execute(query)]
    ids = [r["id"] for r in rows]
    victims: dict[int, list[dict]] = defaultdict(list)
    if ids:
        for r in conn.execute(
            select(v.c.accident_id, v.c.status, v.c.sex, v.c.age_band).where(v.c.accident_id.in_(ids))
        ):
            victims[r[0]].append({"status": r[1], "sex": r[2], "age_band": r[3]})
    for row in rows:
        row["victims"] = victims[row["id"]]
        row["killed"] = sum(1 for x in row["victims"] if x["status"] == "killed")
        row["injured"] = sum(1 for x in row["victims"] if x["status"] == "injured")
    return rows


def hazard_state(conn: Connection, day: date, org_id: int | None = None) -> list[dict]:
    """Every hazard reported by ``day`` with what remained of it at the end of that day."""
    h, e = schema.hazard, schema.hazard_area_event
    remaining = dict(
        conn.execute(
            select(e.c.hazard_id, func.sum(e.c.change_m2))
            .where(e.c.occurred_on <= day)
            .group_by(e.c.hazard_id)
        ).all()
    )
    query = select(
        h.c.id, h.c.code, h.c.hazard_type, h.c.status, h.c.admin_pcode, h.c.eo_categories, h.c.area_m2
    ).where(h.c.reported_on <= day)
    if org_id is not None:
        query = query.where(h.c.organisation_id == org_id)
    out = []
    for r in conn.execute(query.order_by(h.c.id)):
        row = dict(r._mapping)
        row["remaining_m2"] = max(remaining.get(row["id"]) or 0.0, 0.0)
        row["open"] = row["remaining_m2"] > OPEN_TOLERANCE_M2
        out.append(row)
    return out


def has_category(eo_categories: str | None, category: str) -> bool:
    """Whether a hazard's comma-separated EO categories include ``category``."""
    return category in [c.strip() for c in (eo_categories or "").split(",")]


def progress(conn: Connection, period: Period, org_id: int | None = None) -> list[dict]:
    """Daily progress in the period, by organisation: reports, team-days, m², hours."""
    pr, t, o = schema.progress_report, schema.team, schema.organisation
    query = (
        select(
            o.c.code,
            func.count(),
            func.count(func.distinct(pr.c.team_id)),
            func.sum(pr.c.area_m2),
            func.sum(pr.c.hours),
        )
        .select_from(pr.join(t, t.c.id == pr.c.team_id).join(o, o.c.id == t.c.organisation_id))
        .where(pr.c.report_date >= period.start, pr.c.report_date <= period.end)
        .group_by(o.c.code)
        .order_by(o.c.code)
    )
    if org_id is not None:
        query = query.where(o.c.id == org_id)
    return [
        {"organisation": r[0], "reports": r[1], "teams": r[2], "area_m2": r[3] or 0.0, "hours": r[4] or 0.0}
        for r in conn.execute(query)
    ]


def eore(conn: Connection, period: Period, org_id: int | None = None) -> dict[str, Any]:
    """EORE sessions in the period and their participants by sex and age band."""
    s, pt = schema.eore_session, schema.eore_participant
    where = and_(s.c.held_on >= period.start, s.c.held_on <= period.end)
    if org_id is not None:
        where = and_(where, s.c.organisation_id == org_id)
    sessions = conn.execute(select(func.count()).select_from(s).where(where)).scalar_one()
    cells: dict[tuple[str, str], int] = {}
    for sex, band, count in conn.execute(
        select(pt.c.sex, pt.c.age_band, func.sum(pt.c.count))
        .select_from(pt.join(s, s.c.id == pt.c.session_id))
        .where(where)
        .group_by(pt.c.sex, pt.c.age_band)
    ):
        cells[(sex, band)] = int(count or 0)
    return {"sessions": sessions, "participants": cells}


def qa(conn: Connection, period: Period, org_id: int | None = None) -> dict[str, int]:
    """QA visits in the period by result (an organisation's: those it was inspected in)."""
    q = schema.qa_visit
    query = (
        select(q.c.result, func.count())
        .where(q.c.visited_on >= period.start, q.c.visited_on <= period.end)
        .group_by(q.c.result)
    )
    if org_id is not None:
        query = query.where(or_(q.c.inspected_organisation_id == org_id))
    return {r[0] or "(none)": r[1] for r in conn.execute(query)}


def admin_boundaries(conn: Connection) -> list[tuple[str, shapely.Geometry]]:
    """The top-level administrative areas' names and boundaries (for the map)."""
    a = schema.admin_area
    top = conn.execute(select(func.min(a.c.level))).scalar()
    if top is None:
        return []
    rows = conn.execute(select(a.c.name, a.c.geom).where(a.c.level == top).order_by(a.c.pcode))
    return [(name, g) for name, g in rows if g is not None]


def code_lists(conn: Connection) -> CodeLists:
    return load_code_lists(conn)
