"""The register as pages: lists of hazards, activities, release products, finds and accidents,
and one record's page.

A list (``/register/{kind}``) searches by code or name, filters by status, type, organisation,
administrative area and priority, sorts by any column and shows 50 rows a page; the same URL
with ``.csv``, ``.xlsx`` or ``.geojson`` downloads every row of the current filter. Its columns
are the export layer's (:mod:`demine.export.layers`) and its filters the REST API's
(:func:`demine.api.records._filtered`), turned into one condition on the resource's table: the
page, its download and ``GET /api/{kind}`` select the same rows, with the same organisation
scope and personal-data rules.

A record's page (``/records/{resource}/{id}``) shows labels rather than codes, dates and areas
written for people, a small map, the records linked to it and its audited history. A missing
record is an HTML 404 page (the API keeps its JSON answers).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy import ColumnElement, Connection, Date, DateTime, Table, func, or_, select
from sqlalchemy.sql import Select

from demine.accounts.roles import ORG, scope
from demine.accounts.tokens import TokenInfo
from demine.accounts.users import User
from demine.api import records as api_records
from demine.api.resources import RESOURCE_OF_TABLE, RESOURCES, Resource
from demine.api.security import context
from demine.domain import palette
from demine.domain.errors import DemineError, NotFoundError
from demine.export.layers import LAYERS, Layer
from demine.export.write import export_layer
from demine.storage import schema
from demine.storage.codelists import all_code_labels
from demine.web.errors import TITLES
from demine.web.minimap import Shape, record_map
from demine.web.routes import render
from demine.web.session import PageSession
from demine.workflow.errors import Forbidden

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
LINKED_LIMIT = 50
MAX_PAGE = 1_000_000
EXPORTS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
}
STATUS_COLOURS = palette.HAZARD_STATUS  # the map's, dashboard's and reports' colours
METHOD_COLOURS = palette.RELEASE_METHOD

S = schema


def _hazard_code(table: Table) -> ColumnElement:
    return select(S.hazard.c.code).where(S.hazard.c.id == table.c.hazard_id).scalar_subquery()


def _activity_code(table: Table) -> ColumnElement:
    return select(S.activity.c.code).where(S.activity.c.id == table.c.activity_id).scalar_subquery()


@dataclass(frozen=True)
class Listing:
    """One kind of record as a list page: which layer columns it shows and what ``q`` searches."""

    name: str  # the URL's kind, a key of RESOURCES
    title: str
    layer: str  # the export layer (demine.export.layers)
    columns: tuple[str, ...]
    default_sort: str  # a column name, "-" first for descending
    status_list: str | None = None  # code list of the status filter
    type_list: str | None = None  # code list of the type filter
    priority: bool = False

    @property
    def resource(self) -> Resource:
        return RESOURCES[self.name]

    def search(self, text: str) -> ColumnElement:
        """Rows whose code, name, hazard or activity code contains ``text`` (any case)."""
        t = self.resource.table
        fields = [t.c[n] for n in ("code", "name", "model") if n in t.c]
        if "hazard_id" in t.c:
            fields.append(_hazard_code(t))
        if "activity_id" in t.c:
            fields.append(_activity_code(t))
        needle = text.lower()
        found = [func.lower(f).contains(needle, autoescape=True) for f in fields]
        number = text.strip().lstrip("#")
        if "code" not in t.c and number.isascii() and number.isdigit() and len(number) < 16:
            found.append(t.c.id == int(number))  # no code of its own: people name it by its number
        return or_(*found)


LISTINGS: dict[str, Listing] = {
    listing.name: listing
    for listing in (
        Listing(
            "hazards",
            "Hazardous areas",
            "hazard",
            (
                "code",
                "name",
                "hazard_type",
                "status",
                "organisation",
                "admin_pcode",
                "priority",
                "reported_on",
                "area_m2",
                "remaining_area_m2",
            ),
            "code",
            "hazard_status",
            "hazard_type",
            priority=True,
        ),
        Listing(
            "activities",
            "Activities",
            "activity",
            ("code", "activity_type", "status", "organisation", "team", "hazard", "start_date", "end_date"),
            "-start_date",
            "activity_status",
            "activity_type",
        ),
        Listing(
            "release_products",
            "Release products",
            "release",
            ("id", "hazard", "activity", "method", "released_on", "area_m2", "released_area_m2"),
            "-released_on",
            None,
            "release_method",
        ),
        Listing(
            "finds",
            "Finds",
            "find",
            ("id", "hazard", "activity", "found_on", "category", "model", "quantity", "condition"),
            "-found_on",
            None,
            "eo_category",
        ),
        Listing(
            "accidents",
            "Accidents",
            "accident",
            ("code", "occurred_on", "accident_kind", "eo_category", "hazard", "killed", "injured"),
            "-occurred_on",
            None,
            "accident_kind",
        ),
    )
}

HEADINGS = {
    "id": "#",
    "code": "Code",
    "name": "Name",
    "hazard_type": "Type",
    "activity_type": "Type",
    "accident_kind": "Kind",
    "status": "Status",
    "organisation": "Organisation",
    "organisation_id": "Organisation",
    "admin_pcode": "Admin area",
    "priority": "Priority",
    "reported_on": "Reported",
    "area_m2": "Area",
    "remaining_area_m2": "Remaining",
    "released_area_m2": "Released",
    "team": "Team",
    "team_id": "Team",
    "hazard": "Hazard",
    "hazard_id": "Hazard",
    "activity": "Activity",
    "activity_id": "Activity",
    "release_product_id": "Release product",
    "accident_id": "Accident",
    "method": "Method",
    "released_on": "Released on",
    "start_date": "Start",
    "end_date": "End",
    "found_on": "Found",
    "category": "Category",
    "eo_category": "EO category",
    "eo_categories": "EO categories",
    "model": "Model",
    "quantity": "Quantity",
    "condition": "Condition",
    "occurred_on": "Date",
    "killed": "Killed",
    "injured": "Injured",
    "benchmark_lon": "Benchmark longitude",
    "benchmark_lat": "Benchmark latitude",
    "entered_crs": "Entered in",
    "source_id": "Source id",
    "created_at": "Created",
    "updated_at": "Updated",
    "clearance_depth_cm": "Clearance depth (cm)",
    "depth_cm": "Depth (cm)",
    "slope_deg": "Slope (°)",
}
NUMERIC = {"float", "int"}
SINGULAR = {
    "hazards": "Hazardous area",
    "activities": "Activity",
    "release_products": "Release product",
    "finds": "Find",
    "accidents": "Accident",
    "victims": "Victim",
    "teams": "Team",
    "organisations": "Organisation",
    "admin_areas": "Administrative area",
    "settlements": "Settlement",
    "persons": "Person",
}


def heading(name: str) -> str:
    """A column's name for people."""
    return HEADINGS.get(name) or name.replace("_", " ").capitalize()


# ---------------------------------------------------------------------------------------------
# formatting


def fmt_date(value: Any) -> str:
    """3 Mar 2025 (unambiguous in every locale, unlike 03/03/2025)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = (
                datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
            )
        except ValueError:
            return value
    if isinstance(value, datetime):
        return f"{value.day} {value:%b %Y %H:%M} UTC"
    return f"{value.day} {value:%b %Y}"


def fmt_area(value: Any, hectares: bool = True) -> str:
    """12,345 m² (1.23 ha)."""
    if value is None or value == "":
        return ""
    m2 = float(value)
    text = f"{m2:,.0f} m²"
    return f"{text} ({m2 / 10_000:,.2f} ha)" if hectares else text


def code_fields() -> dict[str, dict[str, str]]:
    """table -> column -> code list, from the export layers (which name every coded column)."""
    out: dict[str, dict[str, str]] = {
        "activity": {"activity_type": "activity_type", "status": "activity_status"},
        "organisation": {"organisation_type": "organisation_type"},
        "eore_session": {"method": "eore_method"},
        "eore_participant": {"sex": "sex", "age_band": "age_band"},
        "hazard_beneficiary": {"kind": "beneficiary_kind", "sex": "sex", "age_band": "age_band"},
        "accreditation": {"activity_type": "activity_type"},
        "qa_visit": {"visit_type": "qa_visit_type", "result": "qa_result"},
        "qa_nonconformity": {"severity": "nc_severity", "nc_type": "nc_type"},
    }
    for make in LAYERS.values():
        for column in make().columns:
            table = getattr(column.expr, "table", None)
            table = getattr(table, "original", table)
            if column.code_list and table is not None and getattr(table, "name", None):
                out.setdefault(table.name, {})[column.expr.name] = column.code_list
    return out


CODE_FIELDS = code_fields()
MULTI_CODE = {"eo_categories", "evidence", "blockages"}


def code_label(labels: dict[str, dict[str, str]], code_list: str, value: Any, multi: bool = False) -> str:
    """The label of a code (its code when the list has none); several joined by "; "."""
    if value is None or value == "":
        return ""
    table = labels.get(code_list, {})
    if multi:
        return "; ".join(table.get(v, v) for v in str(value).split(",") if v)
    return table.get(str(value), str(value))


# ---------------------------------------------------------------------------------------------
# the list's query


@dataclass
class ListQuery:
    """What a list page was asked for (empty strings are no filter)."""

    q: str | None = None
    status: str | None = None
    type: str | None = None
    org: str | None = None
    admin: str | None = None
    priority: str | None = None
    sort: str | None = None
    page: int = 1
    # A period on the resource's date column (pages that offer it: EORE, QA visits, accidents).
    date_from: date | None = None
    date_to: date | None = None

    def params(self, **changes: Any) -> str:
        """This query string with ``changes`` (None drops a parameter; page 1 is left out)."""
        values = {k: v for k, v in self.__dict__.items() if v not in (None, "")} | changes
        values = {k: v for k, v in values.items() if v not in (None, "") and not (k == "page" and v == 1)}
        return urlencode(values)


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def parse_day(value: str | None, label: str) -> date | None:
    """An ISO date typed in a filter, or a :class:`DemineError` naming the field and the reason."""
    value = _clean(value)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DemineError(f"{label}: {value[:20]!r} is not a date written YYYY-MM-DD.") from None


def _accident_organisation() -> ColumnElement:
    # Accidents have no organisation of their own: one met during an activity counts for that
    # activity's organisation (a civilian accident has none, so an organisation filter drops it).
    a = S.activity
    return select(a.c.organisation_id).where(a.c.id == S.accident.c.activity_id).scalar_subquery()


def condition(listing: Listing, user: User, query: ListQuery) -> ColumnElement:
    """The rows of ``listing`` this user may read that match ``query``, as one condition.

    The filters are the API's own (:func:`demine.api.records._filtered`); the result is an
    ``id IN (...)`` on the resource's table, uncorrelated, so it is right inside any query over
    that table, the export layer's joins included.
    """
    res = listing.resource
    found = api_records.allowed_scope(user, res, "read")
    filters = api_records.Filters(
        status=query.status if res.status_column else None,
        type=query.type if res.type_column else None,
        organisation=query.org if res.organisation else None,
        admin_area=query.admin if res.admin_column else None,
        date_from=query.date_from if res.date_column else None,
        date_to=query.date_to if res.date_column else None,
    )
    t = res.table
    ids = api_records._filtered(select(t.c.id), res, filters)
    if query.org and res.name == "accidents":
        o = S.organisation
        ids = ids.where(
            _accident_organisation() == select(o.c.id).where(o.c.code == query.org).scalar_subquery()
        )
    if found == ORG:
        ids = ids.where(res.organisation() == user.organisation_id)
    if query.q:
        ids = ids.where(listing.search(query.q))
    if query.priority and listing.priority:
        ids = ids.where(t.c.priority == query.priority)
    return t.c.id.in_(ids.correlate(None))


def _sort_key(listing: Listing, layer: Layer, sort: str | None) -> tuple[str, bool]:
    wanted = sort or listing.default_sort
    name, descending = wanted.removeprefix("-"), wanted.startswith("-")
    if name not in listing.columns or layer.column(name) is None:
        name, descending = listing.default_sort.removeprefix("-"), listing.default_sort.startswith("-")
    return name, descending


def page_rows(
    conn: Connection, listing: Listing, user: User, query: ListQuery
) -> tuple[list[dict[str, Any]], int, int]:
    """One page of rows (by column name, plus ``_id`` and the ids of linked records), the total
    matched, and the page actually shown (a page past the end shows the last one)."""
    res, layer = listing.resource, LAYERS[listing.layer]()
    where = condition(listing, user, query)
    total = conn.execute(select(func.count()).select_from(res.table).where(where)).scalar_one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(query.page, 1), pages)
    name, descending = _sort_key(listing, layer, query.sort)
    key = layer.column(name).expr  # type: ignore[union-attr]
    t = res.table
    exprs = [layer.column(c).expr.label(c) for c in listing.columns]  # type: ignore[union-attr]
    exprs.append(t.c.id.label("_id"))
    exprs += [t.c[c].label(f"_{c}") for c in ("hazard_id", "activity_id", "team_id") if c in t.c]
    stmt: Select = (
        select(*exprs)
        .select_from(layer.source)
        .where(where)
        # Empty values last either way, then the id: a stable order across pages.
        .order_by(key.is_(None), key.desc() if descending else key.asc(), t.c.id)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    return [dict(r._mapping) for r in conn.execute(stmt)], total, page


def _cells(
    listing: Listing, layer: Layer, rows: list[dict[str, Any]], labels: dict[str, dict[str, str]], areas: dict
) -> list[list[dict[str, Any]]]:
    out = []
    links = {"hazard": ("hazards", "_hazard_id"), "activity": ("activities", "_activity_id")}
    links["team"] = ("teams", "_team_id")
    for row in rows:
        cells = []
        for name in listing.columns:
            column = layer.column(name)
            value = row[name]
            cell: dict[str, Any] = {"name": name, "text": "", "href": None, "title": None, "num": False}
            if column is None or value is None or value == "":
                cells.append(cell)
                continue
            if name in ("code", "id"):
                cell["text"] = str(value)
                cell["href"] = f"/records/{listing.name}/{row['_id']}"
            elif column.type in ("code", "codes"):
                cell["text"] = code_label(labels, column.code_list or "", value, column.type == "codes")
                cell["title"] = str(value)
                cell["code"] = str(value)
            elif column.type == "date":
                cell["text"] = fmt_date(value)
            elif name.endswith("_m2"):
                cell["text"], cell["num"] = fmt_area(value, hectares=False), True
            elif column.type in NUMERIC:
                cell["text"], cell["num"] = f"{value:,}", True
            elif name == "admin_pcode":
                cell["text"], cell["title"] = areas.get(value, value), str(value)
            else:
                cell["text"] = str(value)
            if name in links and row.get(links[name][1]):
                cell["href"] = f"/records/{links[name][0]}/{row[links[name][1]]}"
            cells.append(cell)
        out.append(cells)
    return out


def _options(conn: Connection, listing: Listing) -> dict[str, list[tuple[str, str]]]:
    """The choices of each filter: (value, label)."""
    c, o, a = S.code_list, S.organisation, S.admin_area
    res = listing.resource

    def codes(list_name: str | None) -> list[tuple[str, str]]:
        if list_name is None:
            return []
        rows = conn.execute(
            select(c.c.code, c.c.label).where(c.c.list_name == list_name).order_by(c.c.sort_order, c.c.code)
        )
        return [(r.code, r.label) for r in rows]

    options: dict[str, list[tuple[str, str]]] = {}
    if res.status_column and listing.status_list:
        options["status"] = codes(listing.status_list)
    if res.type_column and listing.type_list:
        options["type"] = codes(listing.type_list)
    if res.organisation or res.name == "accidents":
        options["org"] = [
            (r.code, f"{r.code} – {r.name}")
            for r in conn.execute(select(o.c.code, o.c.name).order_by(o.c.code))
        ]
    if res.admin_column:
        options["admin"] = [
            (r.pcode, ("\u2003" * (r.level - 1)) + f"{r.name} ({r.pcode})")
            for r in conn.execute(select(a.c.pcode, a.c.name, a.c.level).order_by(a.c.pcode))
        ]
    if listing.priority:
        options["priority"] = codes("priority")
    return options


FILTER_LABELS = {
    "status": "Status",
    "type": "Type",
    "org": "Organisation",
    "admin": "Admin area",
    "priority": "Priority",
}


def error_page(request: Request, info: TokenInfo | None, status: int, message: str) -> HTMLResponse:
    """An HTML error page (404: no such record or page; 403: not for this role)."""
    title = TITLES.get(status, "Cannot show this page")
    return render(
        request, info, "error.html", status_code=status, status=status, title=title, message=message
    )


@router.get("/register")
def register_home() -> Response:
    """The register starts at the hazards."""
    return Response(status_code=303, headers={"Location": "/register/hazards"})


@router.get("/register/{name}")
def register_list(
    request: Request,
    info: PageSession,
    name: str,
    q: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(max_length=50)] = None,
    type: Annotated[str | None, Query(max_length=50)] = None,
    org: Annotated[str | None, Query(max_length=100)] = None,
    admin: Annotated[str | None, Query(max_length=100)] = None,
    priority: Annotated[str | None, Query(max_length=50)] = None,
    sort: Annotated[str | None, Query(max_length=60)] = None,
    page: Annotated[str | None, Query(max_length=12)] = None,
    date_from: Annotated[str | None, Query(max_length=20)] = None,
    date_to: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """A list of one kind of record (``NAME``), or its download (``NAME.csv|xlsx|geojson``)."""
    kind, _, fmt = name.partition(".")
    listing = LISTINGS.get(kind)
    if listing is None or (fmt and fmt not in EXPORTS):
        known = ", ".join(LISTINGS)
        return error_page(request, info, 404, f"The register has no list {name!r}. It lists {known}.")
    # A page number a person mangled in the address bar shows the first (or last) page.
    number = int(page) if page and page.isascii() and page.isdigit() else 1
    try:
        since, until = parse_day(date_from, "From"), parse_day(date_to, "To")
    except DemineError as exc:
        return error_page(request, info, 400, str(exc))
    query = ListQuery(
        _clean(q),
        _clean(status),
        _clean(type),
        _clean(org),
        _clean(admin),
        _clean(priority),
        _clean(sort),
        min(max(number, 1), MAX_PAGE),
        since,
        until,
    )
    try:
        if fmt:
            return _download(request, info.user, listing, query, fmt)
        return _list_page(request, info, listing, query)
    except Forbidden as exc:
        return error_page(request, info, 403, str(exc))
    except DemineError as exc:  # e.g. a polygon too detailed for an Excel cell: say so, and what to use
        return error_page(request, info, 400, str(exc))


def _download(request: Request, user: User, listing: Listing, query: ListQuery, fmt: str) -> Response:
    with tempfile.TemporaryDirectory(prefix="demine-export-") as folder:
        path = Path(folder) / f"{listing.name}.{fmt}"
        with context(request).reading() as conn:
            result = export_layer(
                conn,
                listing.layer,
                path,
                fmt,
                condition=condition(listing, user, query),
                include_personal_data=user.sees_personal_data,
                role=user.role,
            )
        body = path.read_bytes()
    filename = f"{listing.name}-{date.today().isoformat()}.{fmt}"
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Demine-Rows": str(result.rows),
    }
    return Response(body, media_type=EXPORTS[fmt], headers=headers)


def _list_page(request: Request, info: TokenInfo, listing: Listing, query: ListQuery) -> Response:
    layer = LAYERS[listing.layer]()
    with context(request).reading() as conn:
        rows, total, page = page_rows(conn, listing, info.user, query)
        labels = all_code_labels(conn)
        areas = dict(conn.execute(select(S.admin_area.c.pcode, S.admin_area.c.name)).all())
        options = _options(conn, listing)
    query.page = page
    sort_name, descending = _sort_key(listing, layer, query.sort)
    headers = []
    for name in listing.columns:
        column = layer.column(name)
        active = name == sort_name
        next_sort = name if not active or descending else f"-{name}"
        headers.append(
            {
                "name": name,
                "label": heading(name),
                "href": "?" + query.params(sort=next_sort, page=None),
                "sort": ("descending" if descending else "ascending") if active else None,
                "num": column is not None and column.type in NUMERIC,
            }
        )
    pages = max(1, -(-total // PAGE_SIZE))
    filters = [
        {"name": key, "label": FILTER_LABELS[key], "options": values, "value": getattr(query, key)}
        for key, values in options.items()
    ]
    exports = {fmt: f"/register/{listing.name}.{fmt}?{query.params(page=None, sort=None)}" for fmt in EXPORTS}
    return render(
        request,
        info,
        "register_list.html",
        listing=listing,
        listings=LISTINGS,
        query=query,
        headers=headers,
        rows=_cells(listing, layer, rows, labels, areas),
        total=total,
        page=page,
        pages=pages,
        first=(page - 1) * PAGE_SIZE + 1,
        last=(page - 1) * PAGE_SIZE + len(rows),
        prev_href="?" + query.params(page=page - 1) if page > 1 else None,
        next_href="?" + query.params(page=page + 1) if page < pages else None,
        filters=filters,
        exports=exports,
        period=heading(listing.resource.date_column or "") if listing.resource.date_column else None,
        filtered=any(
            getattr(query, k)
            for k in ("q", "status", "type", "org", "admin", "priority", "date_from", "date_to")
        ),
    )


# ---------------------------------------------------------------------------------------------
# one record


def _display(row: Any) -> str:
    mapping = row._mapping if hasattr(row, "_mapping") else row
    for key in ("code", "username", "name", "pcode"):
        if mapping.get(key):
            return str(mapping[key])
    return f"#{mapping['id']}"


def _may_see(conn: Connection, user: User, res: Resource | None, record_id: int) -> bool:
    if res is None:
        return False
    found = scope(user.role, res.name, "read")
    if found is None:
        return False
    return found != ORG or api_records._in_scope(conn, res, user, record_id)


def _reference(conn: Connection, user: User, column: Any, value: Any) -> Markup | str:
    """A foreign key as the referenced record's code, linked to its page when this user may read it."""
    target = next(iter(column.foreign_keys)).column.table
    res = RESOURCE_OF_TABLE.get(target.name)
    if not _may_see(conn, user, res, value):
        if res is None:
            return f"#{value}"
        if scope(user.role, res.name, "read") == ORG:
            return "another organisation's (not shown)"
        return "not shown to your role"
    keys = [c for c in ("id", "code", "name", "username", "pcode") if c in target.c]
    found = conn.execute(select(*(target.c[k] for k in keys)).where(target.c.id == value)).first()
    text = _display(found) if found is not None else f"#{value}"
    if found is not None and "name" in target.c and "code" in target.c and found.name:
        text = f"{found.code} – {found.name}"
    if res is None:
        return text
    return Markup('<a href="/records/{}/{}">{}</a>').format(res.name, value, text)


def record_fields(
    conn: Connection, res: Resource, user: User, row: dict[str, Any], labels: dict[str, dict[str, str]]
) -> list[dict[str, Any]]:
    """The record's fields for people: (name, heading, text or markup, raw value)."""
    coded = CODE_FIELDS.get(res.table.name, {})
    fields = []
    for key, value in row.items():
        if key in ("geom", "entered_geometry"):
            continue
        column = res.table.c.get(key)
        text: Any
        if value is None or value == "":
            text = ""
        elif key in coded:
            label = code_label(labels, coded[key], value, key in MULTI_CODE)
            text = Markup('{} <span class="code">{}</span>').format(label, value) if label != value else label
        elif column is not None and column.foreign_keys:
            text = _reference(conn, user, column, value)
        elif key == "admin_pcode":
            name = conn.execute(select(S.admin_area.c.name).where(S.admin_area.c.pcode == value)).scalar()
            text = f"{name} ({value})" if name else value
        elif key.endswith("_m2"):
            text = fmt_area(value)
        elif isinstance(value, datetime | date) or (
            column is not None and isinstance(column.type, Date | DateTime)
        ):
            text = fmt_date(value)
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, float):
            text = (
                f"{value:,.6f}".rstrip("0").rstrip(".") if "lon" in key or "lat" in key else f"{value:,.2f}"
            )
        else:
            text = value
        fields.append({"name": key, "label": heading(key), "text": text})
    return fields


def _geometry(conn: Connection, table: Table, record_id: int) -> Any:
    return conn.execute(select(table.c.geom).where(table.c.id == record_id)).scalar()


def record_shapes(conn: Connection, res: Resource, record_id: int, row: dict[str, Any]) -> list[Shape]:
    """What the record's map draws: the record, and around it its hazard, releases and finds."""
    t = res.table
    if res.name == "hazards":
        # The recorded outline goes on top, so it shows over what was released.
        outline = Shape(
            _geometry(conn, t, record_id),
            "#ffffff",
            "#26312b",
            "Polygon as recorded",
            dashed=True,
            opacity=0.0,
        )
        shapes = []
        p = S.release_product
        for method, geom, released_on in conn.execute(
            select(p.c.method, p.c.geom, p.c.released_on).where(p.c.hazard_id == record_id).order_by(p.c.id)
        ):
            colour = METHOD_COLOURS.get(method, "#999999")
            shapes.append(Shape(geom, colour, colour, f"{method} on {fmt_date(released_on)}", opacity=0.45))
        remaining = _geometry(conn, S.hazard_remaining, record_id)
        shapes.append(Shape(remaining, STATUS_COLOURS["open"], "#8c1d12", "Remaining area", opacity=0.5))
        f = S.eo_find
        finds = 0
        for geom, category in conn.execute(select(f.c.geom, f.c.category).where(f.c.hazard_id == record_id)):
            shapes.append(Shape(geom, "#ffd400", "#222222", f"Find: {category}"))
            finds += 1
        return [*shapes[: len(shapes) - finds], outline, *shapes[len(shapes) - finds :]]
    shapes = []
    if "hazard_id" in t.c and row.get("hazard_id"):
        hazard_geom = _geometry(conn, S.hazard, row["hazard_id"])
        shapes.append(Shape(hazard_geom, "#ffffff", "#26312b", "Its hazard", dashed=True, opacity=0.0))
    if res.spatial:
        own = _geometry(conn, t, record_id)
        colour = METHOD_COLOURS.get(row.get("method") or "", "#1f5fa6")
        if res.name == "accidents":
            colour = "#111111"
        shapes.append(
            Shape(own, colour, "#222222" if res.name != "release_products" else colour, "This record")
        )
    return shapes


@dataclass(frozen=True)
class Link:
    """Records of another kind that point to this one."""

    resource: str
    column: str
    title: str


LINKS: dict[str, tuple[Link, ...]] = {
    "hazards": (
        Link("release_products", "hazard_id", "Release products"),
        Link("activities", "hazard_id", "Activities"),
        Link("finds", "hazard_id", "Finds"),
        Link("accidents", "hazard_id", "Accidents"),
    ),
    "activities": (
        Link("release_products", "activity_id", "Release products"),
        Link("finds", "activity_id", "Finds"),
        Link("progress_reports", "activity_id", "Daily progress reports"),
        Link("accidents", "activity_id", "Accidents"),
    ),
    "release_products": (Link("finds", "release_product_id", "Finds"),),
    "accidents": (Link("victims", "accident_id", "Victims"),),
    "teams": (Link("activities", "team_id", "Activities"),),
    "organisations": (Link("teams", "organisation_id", "Teams"),),
}


def linked_records(
    conn: Connection, res: Resource, user: User, record_id: int, labels: dict[str, dict[str, str]]
) -> list[dict[str, Any]]:
    """For each kind of record linked to this one: up to 50 rows this user may read, and how many."""
    out = []
    for link in LINKS.get(res.name, ()):
        other = RESOURCES[link.resource]
        found = scope(user.role, other.name, "read")
        if found is None:
            continue
        t = other.table
        where = t.c[link.column] == record_id
        if found == ORG:
            where = where & (other.organisation() == user.organisation_id)
        total = conn.execute(select(func.count()).select_from(t).where(where)).scalar_one()
        date_col = t.c[other.date_column] if other.date_column else t.c.id
        rows = conn.execute(
            select(t).where(where).order_by(date_col.desc(), t.c.id).limit(LINKED_LIMIT)
        ).all()
        coded = CODE_FIELDS.get(t.name, {})
        items = []
        for r in rows:
            m = r._mapping
            parts = []
            for key in (other.type_column, other.status_column):
                if key and m.get(key):
                    parts.append(code_label(labels, coded.get(key, ""), m[key]))
            for key in ("area_m2", "quantity", "model"):
                if key in m and m[key] not in (None, ""):
                    parts.append(fmt_area(m[key], hectares=False) if key == "area_m2" else f"{key}: {m[key]}")
            items.append(
                {
                    "href": f"/records/{other.name}/{m['id']}",
                    "text": _display(m) if "code" in m else f"#{m['id']}",
                    "date": fmt_date(m[other.date_column]) if other.date_column else "",
                    "detail": ", ".join(str(p) for p in parts),
                }
            )
        more = None
        if link.resource in LISTINGS and total > len(items):
            code = row_code(conn, res, record_id)
            more = f"/register/{link.resource}?" + urlencode({"q": code}) if code else None
        out.append(
            {"name": link.resource, "title": link.title, "total": total, "records": items, "more": more}
        )
    return out


def row_code(conn: Connection, res: Resource, record_id: int) -> str | None:
    """The record's code, when it has one."""
    if "code" not in res.table.c:
        return None
    return conn.execute(select(res.table.c.code).where(res.table.c.id == record_id)).scalar()


def _victim_counts(conn: Connection, record_id: int) -> dict[str, int]:
    v = S.victim
    rows = conn.execute(
        select(v.c.status, func.count()).where(v.c.accident_id == record_id).group_by(v.c.status)
    ).all()
    return {status: n for status, n in rows}


def _history_value(key: str, value: Any, coded: dict[str, str], labels: dict[str, dict[str, str]]) -> str:
    if value is None or value == "":
        return ""
    if key in coded:
        return code_label(labels, coded[key], value, key in MULTI_CODE)
    if key.endswith("_m2") and isinstance(value, int | float):
        return fmt_area(value, hectares=False)
    if key.endswith(("_on", "_date")) or key in ("created_at", "updated_at"):
        return fmt_date(value)
    return str(value)


@router.get("/records/{resource}/{number}")
def record_page(request: Request, info: PageSession, resource: str, number: str) -> Response:
    """One record for people: labelled fields, a small map, linked records, every audited change."""
    res = RESOURCES.get(resource)
    if res is None:
        return error_page(request, info, 404, f"There is no kind of record called {resource!r}.")
    title = SINGULAR.get(res.name) or res.title.split(" (")[0]
    record_id = int(number) if number.isascii() and number.isdigit() and len(number) <= 16 else 0
    if not 1 <= record_id <= 2**53:  # no such id exists; a database integer would overflow
        return error_page(request, info, 404, f"There is no {title.lower()} #{number[:20]}.")
    ctx = context(request)
    user = info.user
    try:
        with ctx.reading() as conn:
            row = api_records.read_record(conn, res, user, record_id)
            labels = all_code_labels(conn)
            fields = record_fields(conn, res, user, row, labels)
            shapes = (
                record_shapes(conn, res, record_id, row) if res.spatial or "hazard_id" in res.table.c else []
            )
            linked = linked_records(conn, res, user, record_id, labels)
            victims = _victim_counts(conn, record_id) if res.name == "accidents" else None
        history = api_records.history(ctx, res, user, record_id)["items"]
    except NotFoundError:
        return error_page(
            request,
            info,
            404,
            f"There is no {title.lower()} #{record_id} (or it is not yours to see).",
        )
    except Forbidden as exc:
        return error_page(request, info, 403, str(exc))
    except DemineError as exc:  # pragma: no cover - a store error: say it in the page
        return error_page(request, info, 500, str(exc))
    may_update = scope(user.role, resource, "update") is not None
    from demine.web.review import may_edit

    may_edit_here = may_edit(info, resource)
    coded = CODE_FIELDS.get(res.table.name, {})
    for item in history:
        before, after = item.get("before") or {}, item.get("after") or {}
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k) and k != "geom")
        item["changed"] = changed
        item["rows"] = [
            (
                heading(k),
                _history_value(k, before.get(k), coded, labels),
                _history_value(k, after.get(k), coded, labels),
            )
            for k in changed
            if k not in ("version", "updated_at")  # bookkeeping every change makes
        ]
        item["geometry_changed"] = before.get("geom") != after.get("geom")
        item["when"] = fmt_date(item.get("changed_at"))
    code = row.get("code") or (f"#{record_id}")
    legend = []
    if res.name == "hazards":
        legend = [
            ("outline dashed", "#26312b", "polygon as recorded"),
            ("", STATUS_COLOURS["open"], "remaining"),
            *(("", METHOD_COLOURS[m], m) for m in ("cancelled", "reduced", "cleared")),
            ("dot", "#ffd400", "find"),
        ]
    elif shapes:
        legend = [("outline dashed", "#26312b", "its hazard")] if "hazard_id" in res.table.c else []
        for shape in shapes:
            if shape.label == "This record" and shape.geometry is not None:
                point = shape.geometry.geom_type in ("Point", "MultiPoint")
                legend.append(("dot" if point else "", shape.fill, f"this {title.lower()}"))
    minimap = record_map(f"Map of {title.lower()} {code}", shapes) if shapes else None
    summary = _summary(res, row, labels)
    return render(
        request,
        info,
        "record.html",
        res=res,
        title=title,
        code=code,
        row=row,
        fields=fields,
        history=history,
        may_update=may_update,
        may_edit=may_edit_here,
        record_id=record_id,
        minimap=minimap,
        legend=legend,
        linked=linked,
        victims=victims,
        summary=summary,
        list_href=f"/register/{res.name}" if res.name in LISTINGS else None,
        list_title=LISTINGS[res.name].title if res.name in LISTINGS else "Register",
    )


def _summary(res: Resource, row: dict[str, Any], labels: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
    """The few facts shown large at the top of a record."""
    coded = CODE_FIELDS.get(res.table.name, {})
    out = []
    for key in (res.status_column, res.type_column, "priority"):
        if key and row.get(key) and key in coded:
            out.append((heading(key), code_label(labels, coded[key], row[key])))
    if res.date_column and row.get(res.date_column):
        out.append((heading(res.date_column), fmt_date(row[res.date_column])))
    if row.get("area_m2") is not None:
        out.append(("Area", fmt_area(row["area_m2"])))
    if row.get("remaining_area_m2") is not None:
        out.append(("Remaining", fmt_area(row["remaining_area_m2"])))
    return out


__all__ = ["LISTINGS", "condition", "error_page", "page_rows", "router"]
