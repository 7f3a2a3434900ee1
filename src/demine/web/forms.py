"""The data entry forms: which fields each kind of record has, and where their choices come from.

Field names are the JSON keys of the kind's payload (:mod:`demine.workflow.payloads`), so a
problem the API reports for field ``reported_on`` is shown next to the input named
``reported_on``. Choices come from the live code lists and the register, read per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from demine.accounts.roles import submission_scope
from demine.accounts.users import User
from demine.storage import schema


@dataclass(frozen=True)
class Field:
    """One input of a form.

    ``kind`` is how the page's script reads it into JSON: text, date, int, float, bool,
    select, multi (a list of codes), lonlat (two numbers), geometry (GeoJSON or WKT text).
    ``choices`` names a code list (``code:<list>``) or a register list (organisations, teams,
    hazards, activities, admin_areas).
    """

    name: str
    label: str
    kind: str = "text"
    required: bool = False
    choices: str | None = None
    default: str | None = None
    help: str | None = None


@dataclass(frozen=True)
class Form:
    """A kind of record users enter."""

    kind: str
    title: str
    resource: str  # the REST collection authority users write to directly
    fields: tuple[Field, ...]


FORMS: dict[str, Form] = {
    f.kind: f
    for f in (
        Form(
            "hazard",
            "Hazardous area",
            "hazards",
            (
                Field("code", "Code", required=True, help="Unique, e.g. HA-2026-014"),
                Field("hazard_type", "Type", "select", True, "code:hazard_type"),
                Field("name", "Name"),
                Field("reported_on", "Reported on", "date", True),
                Field("status", "Status", "select", False, "code:hazard_status", default="open"),
                Field("organisation", "Organisation", "select", False, "organisations"),
                Field("admin_pcode", "Administrative area", "select", False, "admin_areas"),
                Field("priority", "Priority", "select", False, "code:priority"),
                Field("eo_categories", "Suspected EO", "multi", False, "code:eo_category"),
                Field("evidence", "Evidence", "multi", False, "code:evidence"),
                Field("blockages", "Blockages", "multi", False, "code:blockage"),
                Field(
                    "geometry",
                    "Polygon",
                    "geometry",
                    True,
                    help="Draw it on the map, upload a GeoJSON file, or paste GeoJSON or WKT.",
                ),
                Field(
                    "crs",
                    "Coordinate system of the polygon",
                    help="Blank for WGS 84 lon/lat, e.g. EPSG:32636",
                ),
            ),
        ),
        Form(
            "activity",
            "Activity",
            "activities",
            (
                Field("code", "Code", required=True),
                Field("activity_type", "Type", "select", True, "code:activity_type"),
                Field("organisation", "Organisation", "select", True, "organisations"),
                Field("team", "Team", choices="teams"),
                Field("hazard", "Hazard", choices="hazards"),
                Field("method", "Method"),
                Field("status", "Status", "select", False, "code:activity_status", default="planned"),
                Field("start_date", "Start", "date"),
                Field("end_date", "End", "date"),
            ),
        ),
        Form(
            "release",
            "Land release product",
            "release_products",
            (
                Field("hazard", "Hazard", required=True, choices="hazards"),
                Field("method", "Method", "select", True, "code:release_method"),
                Field("released_on", "Released on", "date", True),
                Field("activity", "Activity", choices="activities"),
                Field("geometry", "Released polygon", "geometry", True),
                Field("crs", "Coordinate system of the polygon"),
                Field("clearance_depth_cm", "Clearance depth (cm)", "float"),
                Field("note", "Note", "textarea"),
                Field("force", "Record even if it overlaps land already released", "bool"),
            ),
        ),
        Form(
            "progress_report",
            "Daily progress report",
            "progress_reports",
            (
                Field("team", "Team", required=True, choices="teams"),
                Field("activity", "Activity", choices="activities"),
                Field("report_date", "Date", "date", True),
                Field("area_m2", "Area worked (m²)", "float", True),
                Field("hours", "Hours worked", "float"),
            ),
        ),
        Form(
            "find",
            "Explosive ordnance found",
            "finds",
            (
                Field("category", "Category", "select", True, "code:eo_category"),
                Field("found_on", "Found on", "date", True),
                Field("location", "Location (lon, lat)", "lonlat"),
                Field("quantity", "Quantity", "int", default="1"),
                Field("model", "Model"),
                Field("depth_cm", "Depth (cm)", "float"),
                Field("condition", "Condition", "select", False, "code:eo_condition"),
                Field("disposal_method", "Disposal", "select", False, "code:disposal_method"),
                Field("hazard", "Hazard", choices="hazards"),
                Field("activity", "Activity", choices="activities"),
            ),
        ),
    )
}


def code_choices(conn: Connection, name: str) -> list[tuple[str, str]]:
    """The active values of code list ``name`` as (code, label), in display order."""
    c = schema.code_list
    rows = conn.execute(
        select(c.c.code, c.c.label)
        .where(c.c.list_name == name, c.c.active)
        .order_by(c.c.sort_order, c.c.code)
    )
    return [(code, label) for code, label in rows]


def organisation_choices(conn: Connection) -> list[tuple[str, str]]:
    """Every organisation as (code, "CODE – name"), by code."""
    o = schema.organisation
    return [
        (r.code, f"{r.code} – {r.name}") for r in conn.execute(select(o.c.code, o.c.name).order_by(o.c.code))
    ]


def _organisation_filter(user: User, column: Any) -> Any:
    # Operators pick among their own organisation's teams and activities only.
    if submission_scope(user.role, "submit") and user.organisation_id is not None:
        return column == user.organisation_id
    return None


def choices(conn: Connection, source: str, user: User) -> list[tuple[str, str]]:
    """(value, label) pairs for a field's ``choices``."""
    if source.startswith("code:"):
        return code_choices(conn, source.removeprefix("code:"))
    if source == "organisations":
        o = schema.organisation
        query = select(o.c.code, o.c.name).order_by(o.c.code)
        if submission_scope(user.role, "submit") and user.organisation_id is not None:
            query = query.where(o.c.id == user.organisation_id)
        return [(code, f"{code} — {name}") for code, name in conn.execute(query)]
    if source == "admin_areas":
        a = schema.admin_area
        rows = conn.execute(select(a.c.pcode, a.c.name, a.c.level).order_by(a.c.pcode))
        return [(pcode, f"{pcode} — {'  ' * (level - 1)}{name}") for pcode, name, level in rows]
    if source == "teams":
        t = schema.team
        query = select(t.c.code, t.c.name).where(t.c.active).order_by(t.c.code)
        own = _organisation_filter(user, t.c.organisation_id)
        if own is not None:
            query = query.where(own)
        return [(code, f"{code} — {name}") for code, name in conn.execute(query)]
    if source == "hazards":
        h = schema.hazard
        query = (
            select(h.c.code, h.c.hazard_type).where(h.c.status.in_(("open", "suspended"))).order_by(h.c.code)
        )
        return [(code, f"{code} ({kind})") for code, kind in conn.execute(query)]
    if source == "activities":
        a = schema.activity
        query = (
            select(a.c.code, a.c.activity_type)
            .where(a.c.status.in_(("planned", "ongoing")))
            .order_by(a.c.code)
            .limit(2000)
        )
        own = _organisation_filter(user, a.c.organisation_id)
        if own is not None:
            query = query.where(own)
        return [(code, f"{code} ({kind})") for code, kind in conn.execute(query)]
    raise KeyError(source)


def form_context(conn: Connection, form: Form, user: User) -> list[dict[str, Any]]:
    """The fields of ``form`` with their choices, ready for the template."""
    out = []
    for f in form.fields:
        default = f.default
        if f.name == "organisation" and user.organisation and submission_scope(user.role, "submit"):
            default = user.organisation
        out.append(
            {
                "field": f,
                "choices": choices(conn, f.choices, user) if f.choices else [],
                "default": default,
                "datalist": f.choices is not None and f.kind == "text",
            }
        )
    return out
