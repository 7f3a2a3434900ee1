"""Safe repairs of what the checks find: duplicate consecutive vertices and invalid polygons.

A repair is safe when it changes no land: removing a vertex that repeats its neighbour, or
``make_valid`` (the 'structure' method: shells bound area, holes remove it) when the
polygonal result keeps the geodesic area within the land release tolerance,
max(1 m², 0.1 %). Anything else (a bow-tie whose two lobes cancel, a hole outside its shell,
too few vertices, swapped coordinates, duplicates) needs a person, and is reported as refused.

The land release identity original = cancelled + reduced + cleared + remaining must stay
exactly true. A hazard with no release products is repaired together with its remaining
polygon (the same geometry), and both areas, and its 'registered' history row, are
recomputed from the repaired polygon. A hazard with products, or a remainder, may only get
a new geometry whose area differs by less than ``IDENTITY_EPSILON_M2``; their stored areas,
which the identity is written in, are then left as they are. Anything more is refused.

Every change is one ``audit_log`` row (action 'repair', before/after with WKT, reason =
the rule id), in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import shapely
from sqlalchemy import Connection, func, select, update

from demine.checks.polygons import RESOLUTION_DEG
from demine.checks.rules import RULES, Finding
from demine.domain.landrelease import tolerance_m2
from demine.geometry.area import geodesic_area
from demine.geometry.polygons import as_multipolygon
from demine.storage import schema
from demine.storage.audit import record_change
from demine.storage.types import utcnow

# The most a repair may change an area the land release identity is written in (m²):
# floating-point noise, not land.
IDENTITY_EPSILON_M2 = 0.01

CHANGED_BY = "demine check --fix"
_ORDER = ("duplicate_vertices", "invalid_polygon")  # drop repeats first: make_valid then sees less


@dataclass(frozen=True)
class Repair:
    """What ``--fix`` did about one finding."""

    rule: str
    layer: str
    record: str
    record_id: int
    repaired: bool
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def repaired_geometry(rule: str, geom: shapely.Geometry) -> tuple[shapely.Geometry | None, str]:
    """The geometry after the repair for ``rule``, or None and why it cannot be repaired."""
    if rule == "duplicate_vertices":
        fixed = shapely.remove_repeated_points(geom, RESOLUTION_DEG)
        if geom.is_valid and not fixed.is_valid:
            return None, f"dropping the repeated vertices makes it invalid ({shapely.is_valid_reason(fixed)})"
        return as_multipolygon(fixed), "dropped duplicate consecutive vertices"
    if rule == "invalid_polygon":
        if geom.is_valid:
            return as_multipolygon(geom), "already valid"
        fixed = as_multipolygon(shapely.make_valid(geom, method="structure", keep_collapsed=False))
        if fixed is None:
            return None, "make_valid leaves no polygon"
        return fixed, "made valid (make_valid, structure method)"
    return None, f"{rule} is not repaired automatically"


def repair_findings(
    conn: Connection, findings: Iterable[Finding], changed_by: str = CHANGED_BY
) -> list[Repair]:
    """Repair the repairable findings in the caller's transaction; one outcome per finding."""
    todo: dict[tuple[str, int], list[Finding]] = {}
    for f in findings:
        if RULES[f.rule].repairable:
            todo.setdefault((f.layer, f.record_id), []).append(f)
    synced: set[int] = set()  # hazards whose remaining polygon was rewritten with them
    outcomes: list[Repair] = []
    # Hazards before remainders: a hazard without products takes its remainder along.
    for layer in ("hazard", "release", "admin", "remaining"):
        for (name, record_id), found in todo.items():
            if name != layer:
                continue
            found = sorted(found, key=lambda f: _ORDER.index(f.rule))
            if layer == "remaining" and record_id in synced:
                outcomes += [_outcome(f, True, "repaired together with its hazard") for f in found]
                continue
            outcomes += _repair_record(conn, layer, record_id, found, synced, changed_by)
    return outcomes


@dataclass
class _Target:
    """The record being repaired, and how much its area may change."""

    table: Any
    geom: shapely.Geometry
    limit_m2: float | None  # None: the land release tolerance of the area
    limit_reason: str
    sync_remaining: bool = False


def _repair_record(
    conn: Connection,
    layer: str,
    record_id: int,
    found: list[Finding],
    synced: set[int],
    changed_by: str,
) -> list[Repair]:
    target = _load(conn, layer, record_id)
    outcomes: list[Repair] = []
    if target is None:
        return [_outcome(f, False, "the record or its geometry is gone") for f in found]
    geom = target.geom
    for k, f in enumerate(found):
        new, what = repaired_geometry(f.rule, geom)
        if new is None:
            outcomes += [_outcome(g, False, f"refused: {what}") for g in found[k:]]
            break
        before, after = geodesic_area(geom), geodesic_area(new)
        limit = target.limit_m2 if target.limit_m2 is not None else tolerance_m2(before)
        if abs(after - before) > limit:
            why = (
                f"refused: the repair would change the area from {before:,.2f} to {after:,.2f} m² "
                f"({after - before:+,.2f} m²; for {target.limit_reason} at most {limit:,.2f} m² may change); "
                "correct it by hand"
            )
            outcomes += [_outcome(g, False, why) for g in found[k:]]
            break
        _write(conn, layer, record_id, target, geom, new, f.rule, changed_by)
        if target.sync_remaining:
            synced.add(record_id)
        outcomes.append(_outcome(f, True, f"{what}; area {before:,.2f} → {after:,.2f} m²"))
        geom = new
    return outcomes


def _load(conn: Connection, layer: str, record_id: int) -> _Target | None:
    if layer == "hazard":
        h, r = schema.hazard, schema.hazard_remaining
        row = conn.execute(
            select(
                h.c.geom,
                h.c.area_m2,
                h.c.remaining_area_m2,
                r.c.geom.label("rgeom"),
                r.c.area_m2.label("rarea"),
            )
            .outerjoin(r, r.c.id == h.c.id)
            .where(h.c.id == record_id)
        ).first()
        if row is None or row.geom is None:
            return None
        products = conn.execute(
            select(func.count())
            .select_from(schema.release_product)
            .where(schema.release_product.c.hazard_id == record_id)
        ).scalar_one()
        untouched = (
            products == 0
            and row.rgeom is not None
            and shapely.equals_exact(row.rgeom, row.geom, 0.0)
            and row.area_m2 == row.remaining_area_m2 == row.rarea
        )
        if untouched:
            return _Target(h, row.geom, None, "a hazard without release products", sync_remaining=True)
        reason = (
            f"a hazard with {products} release product(s) (the land release identity is written in its area)"
            if products
            else "a hazard whose remaining polygon differs from it"
        )
        return _Target(h, row.geom, IDENTITY_EPSILON_M2, reason)
    if layer == "remaining":
        geom = conn.execute(
            select(schema.hazard_remaining.c.geom).where(schema.hazard_remaining.c.id == record_id)
        ).scalar()
        reason = "a remaining polygon (the land release identity is written in its area)"
        return None if geom is None else _Target(schema.hazard_remaining, geom, IDENTITY_EPSILON_M2, reason)
    table = schema.release_product if layer == "release" else schema.admin_area
    geom = conn.execute(select(table.c.geom).where(table.c.id == record_id)).scalar()
    return None if geom is None else _Target(table, geom, None, "this polygon (the land release tolerance)")


def _write(
    conn: Connection,
    layer: str,
    record_id: int,
    target: _Target,
    old: shapely.Geometry,
    new: shapely.Geometry,
    rule: str,
    changed_by: str,
) -> None:
    table = target.table
    values: dict[str, Any] = {"geom": new}
    before: dict[str, Any] = {"geom": old.wkt}
    after: dict[str, Any] = {"geom": new.wkt}
    area = geodesic_area(new)
    if target.limit_m2 is None:  # the stored areas follow the geometry
        current = conn.execute(select(table.c.area_m2).where(table.c.id == record_id)).scalar_one()
        values["area_m2"], before["area_m2"], after["area_m2"] = area, current, area
        if target.sync_remaining:
            values["remaining_area_m2"], before["remaining_area_m2"], after["remaining_area_m2"] = (
                area,
                current,
                area,
            )
    # Optimistic concurrency: a repair is a change like any other, so stale writers are refused.
    if "version" in table.c:
        values["version"] = table.c.version + 1
    if "updated_at" in table.c:
        values["updated_at"] = utcnow()
    conn.execute(update(table).where(table.c.id == record_id).values(**values))
    record_change(conn, table.name, record_id, "repair", before, after, reason=rule, changed_by=changed_by)
    if not target.sync_remaining:
        return
    r = schema.hazard_remaining
    conn.execute(update(r).where(r.c.id == record_id).values(geom=new, area_m2=area))
    record_change(
        conn,
        r.name,
        record_id,
        "repair",
        {"geom": old.wkt, "area_m2": before["area_m2"]},
        {"geom": new.wkt, "area_m2": area},
        reason=rule,
        changed_by=changed_by,
    )
    # The history's one 'registered' row carries the original area as well.
    e = schema.hazard_area_event
    events = conn.execute(
        select(e.c.id, e.c.event, e.c.change_m2, e.c.remaining_m2).where(e.c.hazard_id == record_id)
    ).all()
    if len(events) == 1 and events[0].event == "registered":
        event_id = events[0].id
        conn.execute(update(e).where(e.c.id == event_id).values(change_m2=area, remaining_m2=area))
        record_change(
            conn,
            e.name,
            event_id,
            "repair",
            {"change_m2": events[0].change_m2, "remaining_m2": events[0].remaining_m2},
            {"change_m2": area, "remaining_m2": area},
            reason=rule,
            changed_by=changed_by,
        )


def _outcome(f: Finding, repaired: bool, message: str) -> Repair:
    return Repair(f.rule, f.layer, f.record, f.record_id, repaired, message)
