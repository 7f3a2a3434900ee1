"""One row converter per kind of record: source values in, a register record (or a rejection) out.

Each kind lists the fields an import can fill (:class:`~demine.ingest.mapping.FieldSpec`),
the geometry it needs and the layer names it prefers in a multi-layer file. Its converter
reads the mapped values (codes or labels, dates, numbers, references to hazards,
activities and organisations), builds the register's own ``New*`` record and runs the
register's own per-record checks on it (``hazard_attribute_problems``, ``find_problems``,
``accident_problems``), so a row the importer accepts is exactly a row the register would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import shapely
from sqlalchemy import Connection, select

from demine.domain.codelists import CodeLists
from demine.domain.errors import Problem
from demine.domain.rules import check_non_negative, check_not_future
from demine.export.names import SHORT_NAMES
from demine.geometry.reading import EnteredGeometry
from demine.ingest.mapping import FieldSpec
from demine.ingest.report import Rejection
from demine.ingest.values import CodeResolver, ValueProblem, as_date, as_float, as_int, as_text
from demine.landrelease.accounting import NewRelease
from demine.register.activities import NewFind, find_problems
from demine.register.hazards import NewHazard, hazard_attribute_problems
from demine.register.incidents import NewAccident, accident_problems
from demine.storage import schema


def _field(name: str, type_: str, *aliases: str, **kw: Any) -> FieldSpec:
    short = SHORT_NAMES.get(name)
    all_aliases = tuple(dict.fromkeys([*aliases, *([short] if short else [])]))
    return FieldSpec(name, type_, aliases=all_aliases, **kw)


SOURCE_ID = _field("source_id", "text", "src_id", help="the record's id in the source system")


@dataclass
class Context:
    """What converters look values up in: code lists, existing codes, today, the date format."""

    lists: CodeLists
    today: date
    date_format: str | None = None
    organisations: dict[str, int] = field(default_factory=dict)  # code -> id
    organisation_names: dict[str, str] = field(default_factory=dict)  # casefolded name/code -> code
    hazards: dict[str, int] = field(default_factory=dict)
    activities: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.codes = CodeResolver(self.lists)
        # What each (field, value) of a code, codes or date field read as: a file repeats the
        # same few values in every row, and reading them depends on nothing that changes
        # during an import (code lists, the date format). A ValueProblem is kept as well.
        self.read_cache: dict[tuple[str, type, Any], Any] = {}
        # Hazard attributes already found free of problems (see convert_hazard).
        self.clean_hazard_attributes: set[tuple[Any, ...]] = set()

    @classmethod
    def load(cls, conn: Connection, lists: CodeLists, today: date, date_format: str | None) -> Context:
        """Read the reference tables once per import."""
        o, h, a = schema.organisation, schema.hazard, schema.activity
        ctx = cls(lists, today, date_format)
        for code, name, org_id in conn.execute(select(o.c.code, o.c.name, o.c.id)):
            ctx.organisations[code] = org_id
            ctx.organisation_names.setdefault(name.casefold(), code)
            ctx.organisation_names[code.casefold()] = code
        ctx.hazards = dict(conn.execute(select(h.c.code, h.c.id)).all())
        ctx.activities = dict(conn.execute(select(a.c.code, a.c.id)).all())
        return ctx

    def reference(self, table: str, value: Any, field_name: str) -> str | None:
        """The code of an existing organisation (by code or name), hazard or activity."""
        text = as_text(value)
        if text is None:
            return None
        if table == "organisation":
            found = text if text in self.organisations else self.organisation_names.get(text.casefold())
        else:
            known = self.hazards if table == "hazard" else self.activities
            found = text if text in known else None
        if found is None:
            hint = " (`demine orgs add` or `demine orgs import` adds one)" if table == "organisation" else ""
            message = f"{field_name}: no {table} {text!r} in the register{hint}"
            raise ValueProblem("unknown_reference", message)
        return found


@dataclass
class Row:
    """One source feature, ready to convert: mapped values and its checked WGS 84 geometry."""

    number: int
    values: dict[str, Any]
    geometry: shapely.Geometry
    entered_text: str | None
    entered_crs: str
    # The fields read already (parse_many over the batch); None: read them from ``values``.
    parsed: dict[str, Any] | Rejection | None = None


@dataclass
class Converted:
    """A row turned into a register record."""

    record: Any
    source_id: str | None
    key: str | None  # the natural key (hazard code, accident code, P-code) when the kind has one


@dataclass(frozen=True)
class AdminArea:
    """An administrative area (there is no ``New*`` record for these in the register)."""

    pcode: str
    name: str
    level: int
    geometry: shapely.Geometry
    parent_pcode: str | None = None


@dataclass(frozen=True)
class KindSpec:
    """A kind of record the importer knows."""

    name: str
    table: str
    geometry: str  # polygon | point
    fields: tuple[FieldSpec, ...]
    layers: tuple[str, ...]  # preferred layer names in a multi-layer source
    convert: Callable[[Row, Context], Converted | Rejection]


def reason_of(problem: Problem) -> str:
    """The reason code for a problem the register's own checks reported."""
    text = problem.message
    if "is required" in text:
        return "missing_required_field"
    if "code list" in text:
        return "bad_code_list_value"
    if "in the future" in text or " is before " in text or " is after " in text:
        return "bad_date"
    if text.startswith("no "):
        return "unknown_reference"
    if problem.field in ("geometry", "location"):
        return "invalid_geometry"
    return "invalid_value"


def rejection_of(problems: list[Problem]) -> Rejection:
    """One rejection for all of a row's problems: the first one's reason, every message."""
    message = "; ".join(f"{p.field}: {p.message}" for p in problems)
    return Rejection(reason_of(problems[0]), message)


_CACHED_TYPES = ("code", "codes", "date")
_CACHEABLE = (str, int, float, date, type(None))
_READ_CACHE_LIMIT = 100_000  # distinct values kept; a file of all-different dates clears it now and then


def _read(spec: FieldSpec, raw: Any, ctx: Context) -> Any:
    """One field's value from its raw value; raises ValueProblem."""
    if spec.type == "code":
        return ctx.codes.code(spec.code_list or "", raw, spec.name)
    if spec.type == "codes":
        return ctx.codes.codes(spec.code_list or "", raw, spec.name)
    if spec.type == "date":
        return as_date(raw, spec.name, ctx.date_format)
    if spec.type == "int":
        return as_int(raw, spec.name)
    if spec.type == "float":
        return as_float(raw, spec.name)
    if spec.type == "ref":
        return ctx.reference(spec.code_list or "", raw, spec.name)
    return as_text(raw)


def _read_cached(spec: FieldSpec, raw: Any, ctx: Context) -> Any:
    if spec.type not in _CACHED_TYPES or not isinstance(raw, _CACHEABLE):
        return _read(spec, raw, ctx)
    key = (spec.name, type(raw), raw)  # the type too: True == 1, but they read differently
    cache = ctx.read_cache
    try:
        found = cache[key]
    except KeyError:
        try:
            found = _read(spec, raw, ctx)
        except ValueProblem as problem:
            found = problem
        if len(cache) >= _READ_CACHE_LIMIT:
            cache.clear()
        cache[key] = found
    if isinstance(found, ValueProblem):
        raise found
    return found


def parse(fields: tuple[FieldSpec, ...], values: dict[str, Any], ctx: Context) -> dict[str, Any] | Rejection:
    """Read every field of a row; a rejection names every field that is wrong."""
    out: dict[str, Any] = {}
    problems: list[ValueProblem] = []
    for spec in fields:
        try:
            value = _read_cached(spec, values.get(spec.name), ctx)
        except ValueProblem as problem:
            problems.append(problem)
            continue
        if spec.required and (value is None or value == ()):
            problems.append(ValueProblem("missing_required_field", f"{spec.name} is required"))
        out[spec.name] = value
    if problems:
        # Missing fields first: they explain the row best.
        problems.sort(key=lambda p: p.reason != "missing_required_field")
        return Rejection(problems[0].reason, "; ".join(p.message for p in problems))
    return out


def _read_column(spec: FieldSpec, raws: list[Any], ctx: Context) -> list[Any]:
    """One field of many rows: each value read, or the ValueProblem reading it raised."""
    distinct = None
    # References too: within one batch (read before any of it is written) a code names the
    # same record in every row. Numbers are read one by one: 0.0 == -0.0, but not as stored.
    if spec.type in _CACHED_TYPES or spec.type == "ref":
        try:
            distinct = {(type(raw), raw): raw for raw in raws}  # typed: True == 1
        except TypeError:  # unhashable values (lists from GDAL): one at a time
            distinct = None
    if distinct is None or len(distinct) > len(raws) // 2:
        read: list[Any] = []
        for raw in raws:
            try:
                read.append(_read_cached(spec, raw, ctx))
            except ValueProblem as problem:
                read.append(problem)
        return read
    table: dict[tuple[type, Any], Any] = {}
    for key, raw in distinct.items():
        try:
            table[key] = _read_cached(spec, raw, ctx)
        except ValueProblem as problem:
            table[key] = problem
    return [table[type(raw), raw] for raw in raws]


def parse_many(
    fields: tuple[FieldSpec, ...], rows: list[dict[str, Any]], ctx: Context
) -> list[dict[str, Any] | Rejection]:
    """:func:`parse` of many rows, field by field: each distinct value of a code, codes or date
    field is read once, and the rows come out as :func:`parse` gives them one by one."""
    n = len(rows)
    names = [spec.name for spec in fields]
    columns: list[list[Any]] = []
    bad = [False] * n
    for spec in fields:
        raws = [values.get(spec.name) for values in rows]
        if spec.type == "text":
            # as_text, inlined for the usual plain strings.
            read = [(r.replace("\x00", "").strip() or None) if type(r) is str else as_text(r) for r in raws]
        else:
            read = _read_column(spec, raws, ctx)
            for i, value in enumerate(read):
                if isinstance(value, ValueProblem):
                    bad[i] = True
        if spec.required:
            for i, value in enumerate(read):
                if value is None or value == ():
                    bad[i] = True
        columns.append(read)
    out: list[dict[str, Any] | Rejection] = []
    for i, values in enumerate(zip(*columns, strict=True)):
        # A row with a problem is read again the plain way, for parse's exact message.
        out.append(parse(fields, rows[i], ctx) if bad[i] else dict(zip(names, values, strict=True)))
    return out


HAZARD_FIELDS = (
    _field("code", "text", "hazard_code", "hazard_id", required=True),
    _field("name", "text"),
    _field("hazard_type", "code", "type", required=True, code_list="hazard_type"),
    _field("status", "code", code_list="hazard_status"),
    _field("organisation", "ref", "organization", "operator", code_list="organisation"),
    _field("admin_pcode", "text", "pcode"),
    _field("reported_on", "date", "report_date", "date", required=True),
    _field("priority", "code", code_list="priority"),
    _field("eo_categories", "codes", "eo_category", code_list="eo_category"),
    _field("evidence", "codes", code_list="evidence"),
    _field("blockages", "codes", "blockage", code_list="blockage"),
    _field("benchmark_lon", "float"),
    _field("benchmark_lat", "float"),
    SOURCE_ID,
)


def convert_hazard(row: Row, ctx: Context) -> Converted | Rejection:
    """A hazardous area (SHA/CHA) with its polygon."""
    p = row.parsed if row.parsed is not None else parse(HAZARD_FIELDS, row.values, ctx)
    if isinstance(p, Rejection):
        return p
    lon, lat = p["benchmark_lon"], p["benchmark_lat"]
    if (lon is None) != (lat is None):
        return Rejection("invalid_value", "benchmark needs both benchmark_lon and benchmark_lat")
    hazard = NewHazard(
        code=p["code"],
        hazard_type=p["hazard_type"],
        geometry=row.geometry,
        reported_on=p["reported_on"],
        name=p["name"],
        status=p["status"] or "open",
        organisation=p["organisation"],
        admin_pcode=p["admin_pcode"],
        priority=p["priority"],
        eo_categories=p["eo_categories"],
        evidence=p["evidence"],
        blockages=p["blockages"],
        benchmark=(lon, lat) if lon is not None else None,
        entered_crs=row.entered_crs,
        entered_geometry=row.entered_text,
        source_id=p["source_id"],
    )
    # The checks read these attributes only (the code just names the record in messages, and
    # must not be blank): a combination once found clean is clean in every row.
    checked = (
        bool(hazard.code),
        hazard.hazard_type,
        hazard.status,
        hazard.priority,
        hazard.eo_categories,
        hazard.evidence,
        hazard.blockages,
        hazard.reported_on,
        hazard.benchmark,
    )
    if checked not in ctx.clean_hazard_attributes:
        problems = hazard_attribute_problems(hazard, ctx.lists, ctx.today)
        if problems:
            return rejection_of(problems)
        ctx.clean_hazard_attributes.add(checked)
    return Converted(hazard, p["source_id"], hazard.code)


RELEASE_FIELDS = (
    _field("hazard", "ref", "hazard_code", required=True, code_list="hazard"),
    _field("method", "code", "release_method", required=True, code_list="release_method"),
    _field("released_on", "date", "release_date", "date", required=True),
    _field("activity", "ref", "activity_code", code_list="activity"),
    _field("clearance_depth_cm", "float", "depth_cm", "depth"),
    _field("note", "text", "notes", "comment"),
    SOURCE_ID,
)


def convert_release(row: Row, ctx: Context) -> Converted | Rejection:
    """A land release product; the accounting checks it against its hazard when it is written."""
    p = row.parsed if row.parsed is not None else parse(RELEASE_FIELDS, row.values, ctx)
    if isinstance(p, Rejection):
        return p
    record = f"release for hazard {p['hazard']}"
    problems = check_not_future(record, p["released_on"], "released_on", ctx.today)
    problems += check_non_negative(record, p["clearance_depth_cm"], "clearance_depth_cm")
    if problems:
        return rejection_of(problems)
    release = NewRelease(
        hazard=p["hazard"],
        method=p["method"],
        released_on=p["released_on"],
        geometry=EnteredGeometry(row.geometry, row.entered_text or "", row.entered_crs),
        activity=p["activity"],
        clearance_depth_cm=p["clearance_depth_cm"],
        note=p["note"],
    )
    return Converted(release, p["source_id"], None)


FIND_FIELDS = (
    _field("category", "code", "eo_category", "type", required=True, code_list="eo_category"),
    _field("found_on", "date", "date", "find_date", required=True),
    _field("quantity", "int", "qty", "count"),
    _field("model", "text"),
    _field("depth_cm", "float", "depth"),
    _field("condition", "code", code_list="eo_condition"),
    _field("disposal_method", "code", "disposal", code_list="disposal_method"),
    _field("hazard", "ref", "hazard_code", code_list="hazard"),
    _field("activity", "ref", "activity_code", code_list="activity"),
    SOURCE_ID,
)


def convert_find(row: Row, ctx: Context) -> Converted | Rejection:
    """Explosive ordnance found, at a point."""
    p = row.parsed if row.parsed is not None else parse(FIND_FIELDS, row.values, ctx)
    if isinstance(p, Rejection):
        return p
    find = NewFind(
        category=p["category"],
        found_on=p["found_on"],
        location=row.geometry,
        quantity=1 if p["quantity"] is None else p["quantity"],
        model=p["model"],
        depth_cm=p["depth_cm"],
        condition=p["condition"],
        disposal_method=p["disposal_method"],
        hazard=p["hazard"],
        activity=p["activity"],
        source_id=p["source_id"],
    )
    problems = find_problems(
        find, ctx.lists, ctx.today, f"find (row {row.number})", ctx.hazards, ctx.activities
    )
    if problems:
        return rejection_of(problems)
    return Converted(find, p["source_id"], None)


ACCIDENT_FIELDS = (
    _field("code", "text", "accident_code", "accident_id", required=True),
    _field("occurred_on", "date", "date", "accident_date", required=True),
    _field("accident_kind", "code", "kind", required=True, code_list="accident_kind"),
    _field("eo_category", "code", code_list="eo_category"),
    _field("hazard", "ref", "hazard_code", code_list="hazard"),
    _field("description", "text"),
    SOURCE_ID,
)


def convert_accident(row: Row, ctx: Context) -> Converted | Rejection:
    """A mine/ERW accident, at a point (victims are personal data: not imported from files)."""
    p = row.parsed if row.parsed is not None else parse(ACCIDENT_FIELDS, row.values, ctx)
    if isinstance(p, Rejection):
        return p
    accident = NewAccident(
        code=p["code"],
        occurred_on=p["occurred_on"],
        accident_kind=p["accident_kind"],
        location=row.geometry,
        eo_category=p["eo_category"],
        hazard=p["hazard"],
        description=p["description"],
        source_id=p["source_id"],
    )
    problems = accident_problems(accident, ctx.lists, ctx.today, ctx.hazards)
    if problems:
        return rejection_of(problems)
    return Converted(accident, p["source_id"], accident.code)


ADMIN_FIELDS = (
    _field("pcode", "text", "admin_pcode", "p_code", required=True),
    _field("name", "text", "admin_name", required=True),
    _field("level", "int", "admin_level", required=True),
    _field("parent_pcode", "text", "parent"),
)


def convert_admin(row: Row, ctx: Context) -> Converted | Rejection:
    """An administrative area; its P-code is its identity (re-imports update by P-code)."""
    p = row.parsed if row.parsed is not None else parse(ADMIN_FIELDS, row.values, ctx)
    if isinstance(p, Rejection):
        return p
    if p["level"] < 0:
        return Rejection("invalid_value", f"level: must not be negative (got {p['level']})")
    area = AdminArea(p["pcode"], p["name"], p["level"], row.geometry, p["parent_pcode"])
    return Converted(area, None, area.pcode)


KINDS: dict[str, KindSpec] = {
    "hazard": KindSpec("hazard", "hazard", "polygon", HAZARD_FIELDS, ("hazard",), convert_hazard),
    "release": KindSpec(
        "release",
        "release_product",
        "polygon",
        RELEASE_FIELDS,
        ("release", "release_product"),
        convert_release,
    ),
    "find": KindSpec("find", "eo_find", "point", FIND_FIELDS, ("find", "eo_find"), convert_find),
    "accident": KindSpec("accident", "accident", "point", ACCIDENT_FIELDS, ("accident",), convert_accident),
    "admin": KindSpec("admin", "admin_area", "polygon", ADMIN_FIELDS, ("admin", "admin_area"), convert_admin),
}
