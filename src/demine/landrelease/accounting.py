"""Subtracting a land release product from a hazard's remaining polygon.

:func:`apply_release` is the pure rule (geometry in, outcome out) used both by
:func:`record_release` for one product from a user and by the demo generator for many.
The released area is defined as remaining-before minus remaining-after, both measured on the
ellipsoid, so the area identity holds exactly rather than to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import shapely
from sqlalchemy import Connection, func, insert, select, update

from demine.domain.errors import NotFoundError, Problem, ReleaseRejected, ValidationError
from demine.domain.landrelease import (
    CLOSE_BELOW_M2,
    OPEN_STATUSES,
    method_activity_problems,
    tolerance_m2,
)
from demine.domain.rules import check_non_negative, check_not_future
from demine.geometry.area import geodesic_area
from demine.geometry.polygons import as_multipolygon, polygon_problems
from demine.geometry.reading import EnteredGeometry
from demine.storage import schema
from demine.storage.codelists import load_code_lists
from demine.storage.types import utcnow


@dataclass(frozen=True)
class ReleaseOutcome:
    """What recording one product does to one hazard."""

    product_area_m2: float
    released_area_m2: float
    outside_m2: float
    overlap_m2: float
    remaining: shapely.MultiPolygon | None
    remaining_area_m2: float
    closes_hazard: bool


def apply_release(
    original: shapely.Geometry,
    remaining: shapely.Geometry | None,
    remaining_area_m2: float,
    product: shapely.Geometry,
    record: str = "release",
    force: bool = False,
) -> ReleaseOutcome:
    """Subtract ``product`` from ``remaining``; refuse (unless ``force``) products that stray.

    Raises :class:`ReleaseRejected` when more than the tolerance of the product lies outside
    the hazard or over land an earlier product already released, or when nothing is left.
    """
    product_area = geodesic_area(product)
    if remaining is None or remaining.is_empty:
        raise ReleaseRejected([Problem(record, "geometry", "the hazard has no remaining area to release")])
    outside = geodesic_area(shapely.difference(product, original))
    inside_remaining = geodesic_area(shapely.intersection(product, remaining))
    overlap = max(0.0, product_area - inside_remaining - outside)
    if not force:
        limit = tolerance_m2(product_area)
        problems = []
        if outside > limit:
            problems.append(
                Problem(
                    record,
                    "geometry",
                    f"{outside:,.1f} m² ({outside / product_area:.1%}) of the product lies outside "
                    "the hazard; correct the polygon or pass --force",
                )
            )
        if overlap > limit:
            problems.append(
                Problem(
                    record,
                    "geometry",
                    f"{overlap:,.1f} m² ({overlap / product_area:.1%}) of the product overlaps land "
                    "already released by an earlier product; correct it or pass --force",
                )
            )
        if problems:
            raise ReleaseRejected(problems)
    if inside_remaining <= 0:
        raise ReleaseRejected(
            [Problem(record, "geometry", "the product does not touch the hazard's remaining area")]
        )
    after = as_multipolygon(shapely.difference(remaining, product))
    after_area = geodesic_area(after)
    closes = after is None or after_area < CLOSE_BELOW_M2
    if closes:
        after, after_area = None, 0.0
    elif after_area > remaining_area_m2:
        # Cutting an edge moves it off the geodesic, so a sliver-thin product can leave a
        # remainder measured a fraction of a m² larger; the identity keeps the old figure.
        after_area = remaining_area_m2
    return ReleaseOutcome(
        product_area_m2=product_area,
        released_area_m2=remaining_area_m2 - after_area,
        outside_m2=outside,
        overlap_m2=overlap,
        remaining=after,
        remaining_area_m2=after_area,
        closes_hazard=closes,
    )


@dataclass(frozen=True)
class NewRelease:
    """A land release product as a user gives it."""

    hazard: str  # hazard code
    method: str
    released_on: date
    geometry: EnteredGeometry
    activity: str | None = None  # activity code
    clearance_depth_cm: float | None = None
    note: str | None = None
    force: bool = False


def record_release(conn: Connection, new: NewRelease, today: date | None = None) -> dict[str, Any]:
    """Validate and record one product against its hazard, in the caller's transaction.

    Returns the product id, the areas and the hazard's state after the product.
    """
    record = f"release for hazard {new.hazard}"
    lists = load_code_lists(conn)
    geom = new.geometry.geometry
    problems: list[Problem] = []
    problems += lists.check("release_method", new.method, record, "method")
    problems += polygon_problems(geom, record, "geometry")
    problems += check_not_future(record, new.released_on, "released_on", today or date.today())
    problems += check_non_negative(record, new.clearance_depth_cm, "clearance_depth_cm")
    h = schema.hazard
    row = conn.execute(
        select(h.c.id, h.c.status, h.c.geom, h.c.reported_on, schema.hazard_remaining.c.geom)
        .join(schema.hazard_remaining, schema.hazard_remaining.c.id == h.c.id)
        .where(h.c.code == new.hazard)
    ).first()
    if row is None:
        raise NotFoundError(f"no hazard with code {new.hazard!r}")
    hazard_id, status, original, reported_on, remaining = row
    if status not in OPEN_STATUSES:
        problems.append(Problem(record, "hazard", f"hazard {new.hazard} is {status}; nothing to release"))
    if new.released_on < reported_on:
        problems.append(
            Problem(
                record,
                "released_on",
                f"{new.released_on} is before the hazard was reported ({reported_on})",
            )
        )
    activity_id = None
    if new.activity is not None:
        a = schema.activity
        act = conn.execute(
            select(a.c.id, a.c.activity_type, a.c.hazard_id).where(a.c.code == new.activity)
        ).first()
        if act is None:
            problems.append(Problem(record, "activity", f"no activity with code {new.activity!r}"))
        else:
            activity_id = act.id
            problems += method_activity_problems(new.method, act.activity_type, record)
            if act.hazard_id not in (None, hazard_id):
                problems.append(
                    Problem(record, "activity", f"activity {new.activity} works on another hazard")
                )
    if problems:
        raise ValidationError(problems)
    remaining_area = conn.execute(
        select(schema.hazard_remaining.c.area_m2).where(schema.hazard_remaining.c.id == hazard_id)
    ).scalar_one()
    outcome = apply_release(original, remaining, remaining_area, geom, record, new.force)
    product_id = conn.execute(
        insert(schema.release_product).values(
            hazard_id=hazard_id,
            activity_id=activity_id,
            method=new.method,
            released_on=new.released_on,
            area_m2=outcome.product_area_m2,
            released_area_m2=outcome.released_area_m2,
            clearance_depth_cm=new.clearance_depth_cm,
            forced=new.force,
            note=new.note,
            entered_crs=new.geometry.entered_crs,
            entered_geometry=new.geometry.entered_text,
            geom=as_multipolygon(geom),
        )
    ).inserted_primary_key[0]
    store_outcome(conn, hazard_id, product_id, new.method, new.released_on, outcome)
    return {
        "release_product_id": product_id,
        "hazard": new.hazard,
        "method": new.method,
        "product_area_m2": outcome.product_area_m2,
        "released_area_m2": outcome.released_area_m2,
        "outside_m2": outcome.outside_m2,
        "overlap_m2": outcome.overlap_m2,
        "remaining_area_m2": outcome.remaining_area_m2,
        "hazard_closed": outcome.closes_hazard,
    }


def store_outcome(
    conn: Connection,
    hazard_id: int,
    product_id: int,
    method: str,
    released_on: date,
    outcome: ReleaseOutcome,
) -> None:
    """Write a product's effect: the remaining polygon, the hazard's figures, the history row."""
    conn.execute(
        update(schema.hazard_remaining)
        .where(schema.hazard_remaining.c.id == hazard_id)
        .values(geom=outcome.remaining, area_m2=outcome.remaining_area_m2)
    )
    h = schema.hazard
    values: dict[str, Any] = {
        "remaining_area_m2": outcome.remaining_area_m2,
        "version": h.c.version + 1,
        "updated_at": utcnow(),
    }
    if outcome.closes_hazard:
        # The hazard closes on the latest of its products' dates, whatever the entry order.
        last = conn.execute(
            select(func.max(schema.release_product.c.released_on)).where(
                schema.release_product.c.hazard_id == hazard_id
            )
        ).scalar_one()
        values |= {"status": "closed", "release_date": max(d for d in (last, released_on) if d)}
    conn.execute(update(h).where(h.c.id == hazard_id).values(**values))
    conn.execute(
        insert(schema.hazard_area_event).values(
            hazard_id=hazard_id,
            occurred_on=released_on,
            event=method,
            change_m2=-outcome.released_area_m2,
            remaining_m2=outcome.remaining_area_m2,
            release_product_id=product_id,
        )
    )
