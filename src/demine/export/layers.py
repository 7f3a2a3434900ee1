"""What each export kind contains: its columns, how they are read, which are personal data.

Columns are named as the importer's fields (``code``, ``hazard_type``, ``reported_on`` ...)
so an exported file imports back without ``--map``. References are exported by code
(``organisation``, ``hazard``, ``activity``), not by database id. Areas are in m² on the
WGS 84 ellipsoid, as stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, FromClause, and_, func, select

from demine.domain.personal import personal_columns
from demine.storage import schema


@dataclass(frozen=True)
class Column:
    """One exported column."""

    name: str
    expr: ColumnElement
    type: str  # text | code | codes | date | float | int | bool
    code_list: str | None = None

    @property
    def personal(self) -> bool:
        """Personal data (:mod:`demine.domain.personal`): exported only on request, to roles allowed it."""
        table = getattr(self.expr, "table", None)
        table = getattr(table, "original", table)  # an alias of the table is the same data
        return getattr(self.expr, "name", None) in personal_columns(getattr(table, "name", ""))


@dataclass(frozen=True)
class Layer:
    """One kind of export: a query with named columns and (usually) a geometry."""

    kind: str
    columns: tuple[Column, ...]
    source: FromClause
    geometry: ColumnElement | None
    geometry_type: str | None  # MultiPolygon | Point | None (a table)
    order_by: ColumnElement
    base_filter: ColumnElement | None = None

    def column(self, name: str) -> Column | None:
        """The column called ``name``, if the layer has one."""
        return next((c for c in self.columns if c.name == name), None)


def _hazard() -> Layer:
    h, o = schema.hazard, schema.organisation.alias("org")
    return Layer(
        "hazard",
        (
            Column("code", h.c.code, "text"),
            Column("name", h.c.name, "text"),
            Column("hazard_type", h.c.hazard_type, "code", "hazard_type"),
            Column("status", h.c.status, "code", "hazard_status"),
            Column("organisation", o.c.code, "text"),
            Column("admin_pcode", h.c.admin_pcode, "text"),
            Column("reported_on", h.c.reported_on, "date"),
            Column("priority", h.c.priority, "code", "priority"),
            Column("eo_categories", h.c.eo_categories, "codes", "eo_category"),
            Column("evidence", h.c.evidence, "codes", "evidence"),
            Column("blockages", h.c.blockages, "codes", "blockage"),
            Column("benchmark_lon", h.c.benchmark_lon, "float"),
            Column("benchmark_lat", h.c.benchmark_lat, "float"),
            Column("area_m2", h.c.area_m2, "float"),
            Column("remaining_area_m2", h.c.remaining_area_m2, "float"),
            Column("release_date", h.c.release_date, "date"),
            Column("entered_crs", h.c.entered_crs, "text"),
            Column("source_id", h.c.source_id, "text"),
        ),
        h.outerjoin(o, o.c.id == h.c.organisation_id),
        h.c.geom,
        "MultiPolygon",
        h.c.code,
    )


def _remaining() -> Layer:
    h, r = schema.hazard, schema.hazard_remaining
    return Layer(
        "remaining",
        (
            Column("code", h.c.code, "text"),
            Column("name", h.c.name, "text"),
            Column("hazard_type", h.c.hazard_type, "code", "hazard_type"),
            Column("status", h.c.status, "code", "hazard_status"),
            Column("admin_pcode", h.c.admin_pcode, "text"),
            Column("priority", h.c.priority, "code", "priority"),
            Column("original_area_m2", h.c.area_m2, "float"),
            Column("remaining_area_m2", r.c.area_m2, "float"),
        ),
        r.join(h, h.c.id == r.c.id),
        r.c.geom,
        "MultiPolygon",
        h.c.code,
        base_filter=r.c.geom.is_not(None),  # fully released hazards have nothing left to draw
    )


def _activity() -> Layer:
    a, o, t, h = (
        schema.activity,
        schema.organisation.alias("org"),
        schema.team.alias("tm"),
        schema.hazard.alias("haz"),
    )
    return Layer(
        "activity",
        (
            Column("code", a.c.code, "text"),
            Column("activity_type", a.c.activity_type, "code", "activity_type"),
            Column("status", a.c.status, "code", "activity_status"),
            Column("organisation", o.c.code, "text"),
            Column("team", t.c.code, "text"),
            Column("hazard", h.c.code, "text"),
            Column("method", a.c.method, "text"),
            Column("start_date", a.c.start_date, "date"),
            Column("end_date", a.c.end_date, "date"),
            Column("ref_lon", a.c.ref_lon, "float"),
            Column("ref_lat", a.c.ref_lat, "float"),
        ),
        a.join(o, o.c.id == a.c.organisation_id)
        .outerjoin(t, t.c.id == a.c.team_id)
        .outerjoin(h, h.c.id == a.c.hazard_id),
        None,  # an activity is located by its hazard (and a reference point), not a geometry
        None,
        a.c.code,
    )


def _release() -> Layer:
    p, h, a = schema.release_product, schema.hazard, schema.activity.alias("act")
    return Layer(
        "release",
        (
            Column("id", p.c.id, "int"),
            Column("hazard", h.c.code, "text"),
            Column("activity", a.c.code, "text"),
            Column("method", p.c.method, "code", "release_method"),
            Column("released_on", p.c.released_on, "date"),
            Column("area_m2", p.c.area_m2, "float"),
            Column("released_area_m2", p.c.released_area_m2, "float"),
            Column("clearance_depth_cm", p.c.clearance_depth_cm, "float"),
            Column("forced", p.c.forced, "bool"),
            Column("note", p.c.note, "text"),
            Column("entered_crs", p.c.entered_crs, "text"),
            Column("source_id", p.c.source_id, "text"),
        ),
        p.join(h, h.c.id == p.c.hazard_id).outerjoin(a, a.c.id == p.c.activity_id),
        p.c.geom,
        "MultiPolygon",
        p.c.id,
    )


def _find() -> Layer:
    f, h, a = schema.eo_find, schema.hazard.alias("haz"), schema.activity.alias("act")
    return Layer(
        "find",
        (
            Column("id", f.c.id, "int"),
            Column("hazard", h.c.code, "text"),
            Column("activity", a.c.code, "text"),
            Column("found_on", f.c.found_on, "date"),
            Column("category", f.c.category, "code", "eo_category"),
            Column("model", f.c.model, "text"),
            Column("quantity", f.c.quantity, "int"),
            Column("depth_cm", f.c.depth_cm, "float"),
            Column("condition", f.c.condition, "code", "eo_condition"),
            Column("disposal_method", f.c.disposal_method, "code", "disposal_method"),
            Column("source_id", f.c.source_id, "text"),
        ),
        f.outerjoin(h, h.c.id == f.c.hazard_id).outerjoin(a, a.c.id == f.c.activity_id),
        f.c.geom,
        "Point",
        f.c.id,
    )


def _accident() -> Layer:
    acc, h, v = schema.accident, schema.hazard.alias("haz"), schema.victim

    def victims(status: str) -> ColumnElement:
        # Counts only: who the victims were is personal data, how many is not.
        return (
            select(func.count())
            .where(and_(v.c.accident_id == acc.c.id, v.c.status == status))
            .scalar_subquery()
        )

    return Layer(
        "accident",
        (
            Column("code", acc.c.code, "text"),
            Column("occurred_on", acc.c.occurred_on, "date"),
            Column("accident_kind", acc.c.accident_kind, "code", "accident_kind"),
            Column("eo_category", acc.c.eo_category, "code", "eo_category"),
            Column("hazard", h.c.code, "text"),
            Column("description", acc.c.description, "text"),
            Column("killed", victims("killed"), "int"),
            Column("injured", victims("injured"), "int"),
            Column("source_id", acc.c.source_id, "text"),
        ),
        acc.outerjoin(h, h.c.id == acc.c.hazard_id),
        acc.c.geom,
        "Point",
        acc.c.code,
    )


def _admin() -> Layer:
    a = schema.admin_area
    return Layer(
        "admin",
        (
            Column("pcode", a.c.pcode, "text"),
            Column("name", a.c.name, "text"),
            Column("level", a.c.level, "int"),
            Column("parent_pcode", a.c.parent_pcode, "text"),
            Column("area_m2", a.c.area_m2, "float"),
        ),
        a,
        a.c.geom,
        "MultiPolygon",
        a.c.pcode,
    )


def _team() -> Layer:
    t, o = schema.team, schema.organisation
    return Layer(
        "team",
        (
            Column("code", t.c.code, "text"),
            Column("name", t.c.name, "text"),
            Column("organisation", o.c.code, "text"),
            Column("team_type", t.c.team_type, "code", "team_type"),
            Column("members", t.c.members, "int"),
            Column("active", t.c.active, "bool"),
        ),
        t.join(o, o.c.id == t.c.organisation_id),
        t.c.geom,
        "Point",
        t.c.code,
    )


def _victim() -> Layer:
    v, acc = schema.victim, schema.accident
    return Layer(
        "victim",
        (
            Column("id", v.c.id, "int"),
            Column("accident", acc.c.code, "text"),
            Column("status", v.c.status, "code", "victim_status"),
            Column("sex", v.c.sex, "code", "sex"),
            Column("age_band", v.c.age_band, "code", "age_band"),
            Column("activity_at_time", v.c.activity_at_time, "text"),
            Column("tampered", v.c.tampered, "bool"),
            Column("full_name", v.c.full_name, "text"),
            Column("identification", v.c.identification, "text"),
            Column("birth_date", v.c.birth_date, "date"),
        ),
        v.join(acc, acc.c.id == v.c.accident_id),
        None,  # no location of its own: joined to an accident's point it would identify people
        None,
        v.c.id,
    )


def _eore_session() -> Layer:
    e, o, pt = schema.eore_session, schema.organisation.alias("org"), schema.eore_participant
    attended = select(func.coalesce(func.sum(pt.c.count), 0)).where(pt.c.session_id == e.c.id)
    return Layer(
        "eore_session",
        (
            Column("id", e.c.id, "int"),
            Column("held_on", e.c.held_on, "date"),
            Column("method", e.c.method, "code", "eore_method"),
            Column("organisation", o.c.code, "text"),
            Column("admin_pcode", e.c.admin_pcode, "text"),
            Column("participants", attended.scalar_subquery(), "int"),
        ),
        e.join(o, o.c.id == e.c.organisation_id),
        e.c.geom,
        "Point",
        e.c.id,
    )


def _qa_visit() -> Layer:
    v, n, act = schema.qa_visit, schema.qa_nonconformity, schema.activity.alias("act")
    inspected, inspecting = schema.organisation.alias("inspected"), schema.organisation.alias("inspecting")
    found = select(func.count()).where(n.c.visit_id == v.c.id)
    return Layer(
        "qa_visit",
        (
            Column("id", v.c.id, "int"),
            Column("visited_on", v.c.visited_on, "date"),
            Column("visit_type", v.c.visit_type, "code", "qa_visit_type"),
            Column("result", v.c.result, "code", "qa_result"),
            Column("inspected_organisation", inspected.c.code, "text"),
            Column("inspecting_organisation", inspecting.c.code, "text"),
            Column("activity", act.c.code, "text"),
            Column("nonconformities", found.scalar_subquery(), "int"),
            Column("comments", v.c.comments, "text"),
        ),
        v.join(inspected, inspected.c.id == v.c.inspected_organisation_id)
        .join(inspecting, inspecting.c.id == v.c.inspecting_organisation_id)
        .outerjoin(act, act.c.id == v.c.activity_id),
        None,  # a visit is located by the activity it inspected
        None,
        v.c.id,
    )


def _qa_nonconformity() -> Layer:
    n, v, o = schema.qa_nonconformity, schema.qa_visit, schema.organisation.alias("inspected")
    return Layer(
        "qa_nonconformity",
        (
            Column("id", n.c.id, "int"),
            Column("visit", v.c.id, "int"),
            Column("visited_on", v.c.visited_on, "date"),
            Column("inspected_organisation", o.c.code, "text"),
            Column("nc_type", n.c.nc_type, "code", "nc_type"),
            Column("severity", n.c.severity, "code", "nc_severity"),
            Column("measures", n.c.measures, "text"),
        ),
        n.join(v, v.c.id == n.c.visit_id).join(o, o.c.id == v.c.inspected_organisation_id),
        None,
        None,
        n.c.id,
    )


LAYERS: dict[str, Callable[[], Layer]] = {
    "hazard": _hazard,
    "remaining": _remaining,
    "activity": _activity,
    "release": _release,
    "find": _find,
    "accident": _accident,
    "admin": _admin,
    "team": _team,
    "victim": _victim,
    "eore_session": _eore_session,
    "qa_visit": _qa_visit,
    "qa_nonconformity": _qa_nonconformity,
}
