"""The history of remaining area: for one hazard or the whole programme, as a time series.

Built from ``hazard_area_event`` by summing changes in date order, so products recorded out
of date order still give the right series.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, func, select

from demine.domain.errors import NotFoundError
from demine.storage import schema
from demine.storage.types import year_of


def remaining_area_history(conn: Connection, hazard: str | None = None) -> list[dict[str, Any]]:
    """``[{"date", "remaining_m2", "change_m2"}]``, one row per day on which the area changed.

    ``hazard`` (a code) restricts the series to one hazard; otherwise it covers every hazard.
    """
    e = schema.hazard_area_event
    query = select(e.c.occurred_on, func.sum(e.c.change_m2)).group_by(e.c.occurred_on)
    if hazard is not None:
        hazard_id = conn.execute(select(schema.hazard.c.id).where(schema.hazard.c.code == hazard)).scalar()
        if hazard_id is None:
            raise NotFoundError(f"no hazard with code {hazard!r}")
        query = query.where(e.c.hazard_id == hazard_id)
    series, remaining = [], 0.0
    for day, change in conn.execute(query.order_by(e.c.occurred_on)):
        remaining += change
        series.append({"date": day, "remaining_m2": max(remaining, 0.0), "change_m2": change})
    return series


def released_by_year(conn: Connection) -> dict[int, dict[str, float]]:
    """m² released per calendar year and method: ``{2024: {"cancelled": ..., ...}}``."""
    p = schema.release_product
    year = year_of(p.c.released_on)
    out: dict[int, dict[str, float]] = {}
    for y, method, area in conn.execute(
        select(year, p.c.method, func.sum(p.c.released_area_m2)).group_by(year, p.c.method)
    ):
        out.setdefault(int(y), {})[method] = area
    return out


def remaining_on(conn: Connection, day: date) -> float:
    """The programme's remaining area at the end of ``day``."""
    e = schema.hazard_area_event
    total = conn.execute(select(func.sum(e.c.change_m2)).where(e.c.occurred_on <= day)).scalar()
    return max(total or 0.0, 0.0)
