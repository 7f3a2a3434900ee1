"""REST CRUD for every entity of the register: ``/api/{resource}``.

Routes are generated per :class:`~demine.api.resources.Resource` (so the OpenAPI document
gives each its own request body): list with filters and paging (GeoJSON FeatureCollection
for layers), read one (with ETag), create (through the register's validated functions where
they exist), replace/patch and delete (with If-Match), history and restore.

This module deliberately has no ``from __future__ import annotations``: FastAPI must see the
generated body models as real objects in the route signatures.
"""

import re
from datetime import date
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy import Boolean, Connection, Date, Double, Integer, column, func, literal, select, table
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.visitors import InternalTraversal

from demine.accounts.roles import ALL, ORG, scope, submission_scope
from demine.accounts.users import User
from demine.api import geojson
from demine.api.resources import RESOURCES, Resource
from demine.api.security import Ctx, CurrentUser
from demine.api.versioning import IfMatch, etag, expected_version
from demine.domain.errors import NotFoundError
from demine.storage import schema
from demine.storage.audit import history as audit_history
from demine.storage.types import Geometry
from demine.workflow import kinds, records
from demine.workflow.errors import Forbidden
from demine.workflow.payloads import GeometryIn

router = APIRouter(prefix="/api")

MAX_LIMIT = 10_000
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Records to skip.")]
BBOX = re.compile(r"^\s*-?[\d.eE+-]+(\s*,\s*-?[\d.eE+-]+){3}\s*$")


# ---------------------------------------------------------------------------------------------
# permissions


def allowed_scope(user: User, res: Resource, action: str) -> str:
    """The scope the user may act in, or :class:`Forbidden` with what to do instead."""
    found = scope(user.role, res.name, action)
    if found is None:
        message = f"a {user.role} may not {action} {res.name}"
        if action == "create" and res.submit_instead and submission_scope(user.role, "submit"):
            message += f"; send it to POST /api/submissions as kind {res.submit_instead!r} for approval"
        raise Forbidden(message)
    return found


def permission(res: Resource, action: str) -> Any:
    """A route dependency refusing roles without ``action`` on ``res`` (before the body is read)."""

    def check(user: CurrentUser) -> None:
        allowed_scope(user, res, action)

    return Depends(check)


def _in_scope(conn: Connection, res: Resource, user: User, record_id: int) -> bool:
    if res.organisation is None:
        return True
    org = conn.execute(select(res.organisation()).where(res.table.c.id == record_id)).scalar()
    return org is not None and org == user.organisation_id


def _check_record_scope(conn: Connection, res: Resource, user: User, record_id: int, found: str) -> None:
    if found == ORG and not _in_scope(conn, res, user, record_id):
        # Out of scope looks like absent: other organisations' ids do not leak.
        raise NotFoundError(f"no {res.name} {record_id}")


# ---------------------------------------------------------------------------------------------
# reading


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    """``minlon,minlat,maxlon,maxlat`` as floats; 400 when malformed."""
    if not BBOX.match(value):
        raise HTTPException(400, "bbox must be four numbers: minlon,minlat,maxlon,maxlat")
    try:
        minx, miny, maxx, maxy = (float(v) for v in value.split(","))
    except ValueError as exc:
        raise HTTPException(400, "bbox must be four numbers: minlon,minlat,maxlon,maxlat") from exc
    if not (minx <= maxx and miny <= maxy) or any(v != v or abs(v) > 1e6 for v in (minx, miny, maxx, maxy)):
        raise HTTPException(400, "bbox must have min ≤ max and finite coordinates")
    return minx, miny, maxx, maxy


class BboxCondition(ColumnElement):
    """Rows whose envelope meets a box, through the store's spatial index.

    SQLite: the GeoPackage R*Tree (an ``id IN (SELECT id FROM rtree_...)`` subquery). PostgreSQL:
    ``geom && ST_MakeEnvelope(...)``, which the GiST index answers. Compiled per dialect, so the
    same query object runs on both stores.
    """

    # No Boolean type: SQLite has no native boolean, so SQLAlchemy would write ``(id IN (...)) = 1``
    # in the WHERE clause, which SQLite cannot answer from the R*Tree (a full table scan, 35 times
    # slower at 100,000 hazards). The box travels as bound parameters, so the statement is cached.
    inherit_cache = True
    _traverse_internals: ClassVar = [
        ("res_table", InternalTraversal.dp_clauseelement),
        ("rtree_name", InternalTraversal.dp_string),
        ("bounds", InternalTraversal.dp_clauseelement_tuple),
    ]

    def __init__(self, res_table: Any, rtree_name: str, box: tuple[float, float, float, float]) -> None:
        self.res_table = res_table
        self.rtree_name = rtree_name
        self.bounds = tuple(literal(float(v), Double()) for v in box)


@compiles(BboxCondition)
def _bbox_rtree(element: BboxCondition, compiler: Any, **kw: Any) -> str:
    minx, miny, maxx, maxy = element.bounds
    names = ("id", "minx", "maxx", "miny", "maxy")
    rt = table(element.rtree_name, *(column(n) for n in names))
    ids = select(rt.c.id).where(rt.c.maxx >= minx, rt.c.minx <= maxx, rt.c.maxy >= miny, rt.c.miny <= maxy)
    return compiler.process(element.res_table.c.id.in_(ids), **kw)


@compiles(BboxCondition, "postgresql")
def _bbox_gist(element: BboxCondition, compiler: Any, **kw: Any) -> str:
    envelope = func.ST_MakeEnvelope(*element.bounds, 4326)
    return compiler.process(element.res_table.c.geom.op("&&")(envelope), **kw)


def bbox_condition(res_table: Any, rtree_name: str, box: tuple[float, float, float, float]) -> Any:
    """Rows whose envelope meets ``box``, found through the spatial index (R*Tree or GiST)."""
    return BboxCondition(res_table, rtree_name, box)


class Filters(BaseModel):
    """Query filters of a list request (each applies to the resources that have it)."""

    status: str | None = None
    type: str | None = None
    organisation: str | None = None
    admin_area: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    bbox: str | None = None
    hazard: str | None = None
    parent: int | None = None


def _filtered(query: Select, res: Resource, f: Filters) -> Select:
    t = res.table
    unknown = [name for name, v in f.model_dump().items() if v is not None and name not in res.filters]
    if unknown:
        raise HTTPException(400, f"{res.name} cannot be filtered by {', '.join(unknown)}")
    if f.status is not None:
        query = query.where(t.c[res.status_column] == f.status)
    if f.type is not None:
        query = query.where(t.c[res.type_column] == f.type)
    if f.organisation is not None:
        o = schema.organisation
        query = query.where(
            res.organisation() == select(o.c.id).where(o.c.code == f.organisation).scalar_subquery()
        )
    if f.admin_area is not None:
        query = query.where(res.admin_column().startswith(f.admin_area, autoescape=True))
    if f.date_from is not None:
        query = query.where(t.c[res.date_column] >= f.date_from)
    if f.date_to is not None:
        query = query.where(t.c[res.date_column] <= f.date_to)
    if f.bbox is not None:
        query = query.where(bbox_condition(t, res.rtree, parse_bbox(f.bbox)))
    if f.hazard is not None:
        h = schema.hazard
        query = query.where(
            t.c[res.hazard_column] == select(h.c.id).where(h.c.code == f.hazard).scalar_subquery()
        )
    if f.parent is not None:
        query = query.where(t.c[res.parent_column] == f.parent)
    return query


def _columns(res: Resource, listing: bool) -> list[Any]:
    cols = [
        geojson.as_stored(c)
        for c in res.table.columns
        if c.name != "geom" and not (listing and c.name in res.list_hidden)
    ]
    if res.spatial:
        cols.append(geojson.raw_geometry(res.table.c.geom))
    return cols


def page_links(
    request: Request, offset: int, limit: int, returned: int, matched: int, kind: str = "application/json"
) -> list[dict[str, str]]:
    """self / next / prev links of a page of ``kind`` (a media type)."""
    links = [{"rel": "self", "href": str(request.url), "type": kind}]
    if offset + returned < matched:
        url = request.url.include_query_params(offset=offset + limit, limit=limit)
        links.append({"rel": "next", "href": str(url), "type": kind})
    if offset > 0:
        url = request.url.include_query_params(offset=max(0, offset - limit), limit=limit)
        links.append({"rel": "prev", "href": str(url), "type": kind})
    return links


def list_records(
    conn: Connection, res: Resource, user: User, f: Filters, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of records the user may read, and how many match in all."""
    found = allowed_scope(user, res, "read")
    query = _filtered(select(*_columns(res, listing=True)), res, f)
    if found == ORG:
        query = query.where(res.organisation() == user.organisation_id)
    rows = [
        without_personal(res, user, dict(r._mapping))
        for r in conn.execute(query.order_by(res.table.c.id).limit(limit).offset(offset))
    ]
    if offset == 0 and len(rows) < limit:
        return rows, len(rows)  # the whole result is on this page: no need to count
    return rows, conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()


def record_body(res: Resource, row: dict[str, Any]) -> tuple[str, str]:
    """The response text and media type of one record."""
    if res.spatial:
        return geojson.feature_texts([row])[0], "application/geo+json"
    return geojson.dumps(row), "application/json"


def read_record(conn: Connection, res: Resource, user: User, record_id: int) -> dict[str, Any]:
    """One record the user may read (404 when absent or out of scope)."""
    found = allowed_scope(user, res, "read")
    row = conn.execute(select(*_columns(res, listing=False)).where(res.table.c.id == record_id)).first()
    if row is None:
        raise NotFoundError(f"no {res.name} {record_id}")
    _check_record_scope(conn, res, user, record_id, found)
    return without_personal(res, user, dict(row._mapping))


def without_personal(res: Resource, user: User, row: dict[str, Any] | None) -> dict[str, Any] | None:
    """``row`` without the resource's personal-data fields, unless the user may see them."""
    if row is None or not res.personal or user.sees_personal_data:
        return row
    return {k: v for k, v in row.items() if k not in res.personal}


def _record_response(
    res: Resource, row: dict[str, Any], status: int = 200, location: bool = False
) -> Response:
    text, media = record_body(res, row)
    headers = {}
    if "version" in row:
        headers["ETag"] = etag(row["version"])
    if location:
        headers["Location"] = f"/api/{res.name}/{row['id']}"
    return Response(text, status_code=status, media_type=media, headers=headers)


# ---------------------------------------------------------------------------------------------
# generated request bodies


def _python_type(col: Any) -> Any:
    kind = col.type
    if isinstance(kind, Geometry):
        return GeometryIn
    if isinstance(kind, Boolean):
        return bool
    if isinstance(kind, Integer):
        return Annotated[int, Field(ge=-(2**53), le=2**53)]
    if isinstance(kind, Double):
        return Annotated[float, Field(ge=-1e15, le=1e15)]
    if isinstance(kind, Date):
        return date
    return Annotated[str, Field(max_length=10_000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _field_name(name: str) -> str:
    return "geometry" if name == "geom" else name


def _body_model(res: Resource, columns: list[str], mode: str) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for name in columns:
        col = res.table.c[name]
        kind = _python_type(col)
        if mode == "patch" or (mode == "create" and (col.nullable or col.server_default is not None)):
            fields[_field_name(name)] = (kind | None, None)
        elif col.nullable:
            fields[_field_name(name)] = (kind | None, ...)
        else:
            fields[_field_name(name)] = (kind, ...)
    title = "".join(w.capitalize() for w in res.name.split("_"))
    return create_model(f"{title}{mode.capitalize()}", __base__=_Body, **fields)


def _changes(body: BaseModel) -> dict[str, Any]:
    data = body.model_dump(mode="json", exclude_unset=True)
    if "geometry" in data:
        data["geom"] = data.pop("geometry")
    return data


def _create_columns(res: Resource) -> list[str]:
    rules = records.RULES[res.table.name]
    names = records.editable_columns(res.table.name) + sorted(rules.locked - {"geom", "area_m2", "length_m"})
    return [c.name for c in res.table.columns if c.name in names]


# ---------------------------------------------------------------------------------------------
# writing


def _after_write_scope(conn: Connection, res: Resource, user: User, record_id: int, found: str) -> None:
    # A user scoped to an organisation may not move a record out of it (nor create one elsewhere).
    if found == ORG and not _in_scope(conn, res, user, record_id):
        raise Forbidden(f"you may only keep {res.name} of {user.organisation}")


def create(ctx: Any, res: Resource, user: User, body: BaseModel) -> Response:
    """Create a record; the register's validated function for kinds, a checked insert otherwise."""
    found = allowed_scope(user, res, "create")
    with ctx.writing() as conn:
        if res.kind is not None:
            written = kinds.write(conn, res.kind, body, actor=user.username)
            record_id = written.ids[0]
            detail = written.detail
        else:
            record_id = records.create_record(conn, res.table.name, _changes(body), user.username)["id"]
            detail = {}
        _after_write_scope(conn, res, user, record_id, found)
        row = read_record(conn, res, user, record_id)
    response = _record_response(res, row, status=201, location=True)
    if detail:
        # The accounting outcome of a release product rides along as a foreign member.
        response.body = response.body[:-1] + b',"release":' + geojson.dumps(detail).encode() + b"}"
        response.headers["content-length"] = str(len(response.body))
    return response


def change(
    ctx: Any, res: Resource, user: User, record_id: int, if_match: str | None, changes: dict[str, Any]
) -> Response:
    """Apply changes at the If-Match version (428 without, 409 when stale)."""
    version = expected_version(if_match)
    found = allowed_scope(user, res, "update")
    with ctx.writing() as conn:
        _check_record_scope(conn, res, user, record_id, found)
        records.update_record(conn, res.table.name, record_id, version, changes, user.username)
        _after_write_scope(conn, res, user, record_id, found)
        row = read_record(conn, res, user, record_id)
    return _record_response(res, row)


def remove(ctx: Any, res: Resource, user: User, record_id: int, if_match: str | None) -> Response:
    """Delete at the If-Match version."""
    version = expected_version(if_match)
    found = allowed_scope(user, res, "delete")
    with ctx.writing() as conn:
        _check_record_scope(conn, res, user, record_id, found)
        records.delete_record(conn, res.table.name, record_id, version, user.username)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------------
# history and restore


def history(ctx: Any, res: Resource, user: User, record_id: int) -> dict[str, Any]:
    """Every audited change of a record, oldest first."""
    found = allowed_scope(user, res, "read")
    with ctx.reading() as conn:
        exists = conn.execute(select(res.table.c.id).where(res.table.c.id == record_id)).first() is not None
        if exists:
            _check_record_scope(conn, res, user, record_id, found)
        elif found != ALL:
            raise NotFoundError(f"no {res.name} {record_id}")
        items = audit_history(conn, res.table.name, record_id)
    if not items and not exists:
        raise NotFoundError(f"no {res.name} {record_id}")
    if res.personal and not user.sees_personal_data:
        items = [
            item
            | {
                "before": without_personal(res, user, item.get("before")),
                "after": without_personal(res, user, item.get("after")),
            }
            for item in items
        ]
    return {"items": items}


def restore(
    ctx: Any, res: Resource, user: User, record_id: int, audit_id: int, if_match: str | None
) -> Response:
    """Restore the state after an audit entry; itself an audited change."""
    with ctx.reading() as conn:
        exists = conn.execute(select(res.table.c.id).where(res.table.c.id == record_id)).first() is not None
    found = allowed_scope(user, res, "update" if exists else "create")
    version = expected_version(if_match) if exists else None
    with ctx.writing() as conn:
        if exists:
            _check_record_scope(conn, res, user, record_id, found)
        state = records.restore_record(conn, res.table.name, record_id, audit_id, version, user.username)
        _after_write_scope(conn, res, user, record_id, found)
        row = read_record(conn, res, user, record_id)
    response = _record_response(res, row)
    response.headers["X-Demine-Not-Restored"] = ",".join(state["not_restored"])
    return response


# ---------------------------------------------------------------------------------------------
# route generation

RECORD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "application/geo+json": {}}, "description": "The record"},
    404: {"description": "No such record (or not in your organisation)"},
}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Your role may not do this"},
    409: {"description": "Stale If-Match (current version and record in the body) or a locked field"},
    422: {"description": "Validation problems, field by field"},
    428: {"description": "If-Match header missing"},
}


def _add_routes(res: Resource) -> None:
    name, tag = res.name, res.title
    Id = Annotated[int, Path(ge=1, le=2**53, description="Record id.")]

    def list_route(
        request: Request,
        user: CurrentUser,
        ctx: Ctx,
        limit: Limit = 100,
        offset: Offset = 0,
        status: Annotated[str | None, Query(max_length=100)] = None,
        type: Annotated[str | None, Query(max_length=100)] = None,
        organisation: Annotated[str | None, Query(max_length=100)] = None,
        admin_area: Annotated[str | None, Query(max_length=100, description="P-code prefix")] = None,
        date_from: date | None = None,
        date_to: date | None = None,
        bbox: Annotated[str | None, Query(max_length=200, description="minlon,minlat,maxlon,maxlat")] = None,
        hazard: Annotated[str | None, Query(max_length=100, description="Hazard code")] = None,
        parent: Annotated[int | None, Query(ge=1, le=2**53, description="Parent record id")] = None,
    ) -> Response:
        f = Filters(
            status=status,
            type=type,
            organisation=organisation,
            admin_area=admin_area,
            date_from=date_from,
            date_to=date_to,
            bbox=bbox,
            hazard=hazard,
            parent=parent,
        )
        with ctx.reading() as conn:
            rows, matched = list_records(conn, res, user, f, limit, offset)
        media = "application/geo+json" if res.spatial else "application/json"
        links = page_links(request, offset, limit, len(rows), matched, media)
        if res.spatial:
            body = geojson.feature_collection(geojson.feature_texts(rows), matched, links)
            return Response(body, media_type="application/geo+json")
        body = geojson.dumps(
            {"numberMatched": matched, "numberReturned": len(rows), "links": links, "items": rows}
        )
        return Response(body, media_type="application/json")

    list_route.__doc__ = f"List {res.title.lower()} (filters: {', '.join(res.filters)})." + (
        " A GeoJSON FeatureCollection." if res.spatial else ""
    )
    router.add_api_route(
        f"/{name}",
        list_route,
        methods=["GET"],
        tags=[tag],
        name=f"list_{name}",
        dependencies=[permission(res, "read")],
        responses={200: {"content": {"application/json": {}, "application/geo+json": {}}}, 400: {}},
    )

    def get_route(record_id: Id, user: CurrentUser, ctx: Ctx) -> Response:
        with ctx.reading() as conn:
            row = read_record(conn, res, user, record_id)
        return _record_response(res, row)

    get_route.__doc__ = f"One of the {res.title.lower()}, with its version as ETag."
    router.add_api_route(
        f"/{name}/{{record_id}}",
        get_route,
        methods=["GET"],
        tags=[tag],
        name=f"get_{name}",
        responses=RECORD_RESPONSES,
        dependencies=[permission(res, "read")],
    )

    table_rules = records.RULES.get(res.table.name)
    if res.creatable and table_rules is not None:
        CreateBody = (
            kinds.KINDS[res.kind].payload if res.kind else _body_model(res, _create_columns(res), "create")
        )

        def create_route(body: CreateBody, user: CurrentUser, ctx: Ctx) -> Response:  # type: ignore[valid-type]
            return create(ctx, res, user, body)

        create_route.__doc__ = f"Create one of the {res.title.lower()} (validated like every write)."
        router.add_api_route(
            f"/{name}",
            create_route,
            methods=["POST"],
            tags=[tag],
            name=f"create_{name}",
            dependencies=[permission(res, "create")],
            status_code=201,
            responses={
                201: {"content": {"application/json": {}, "application/geo+json": {}}},
                **WRITE_RESPONSES,
            },
        )

    if table_rules is None:
        return
    editable = records.editable_columns(res.table.name)
    PatchBody = _body_model(res, editable, "patch")
    PutBody = _body_model(res, editable, "put")

    def patch_route(
        record_id: Id,
        body: PatchBody,
        user: CurrentUser,
        ctx: Ctx,
        if_match: IfMatch = None,  # type: ignore[valid-type]
    ) -> Response:
        return change(ctx, res, user, record_id, if_match, _changes(body))

    def put_route(
        record_id: Id,
        body: PutBody,
        user: CurrentUser,
        ctx: Ctx,
        if_match: IfMatch = None,  # type: ignore[valid-type]
    ) -> Response:
        return change(ctx, res, user, record_id, if_match, _changes(body))

    def delete_route(record_id: Id, user: CurrentUser, ctx: Ctx, if_match: IfMatch = None) -> Response:
        return remove(ctx, res, user, record_id, if_match)

    def history_route(record_id: Id, user: CurrentUser, ctx: Ctx) -> Response:
        return Response(geojson.dumps(history(ctx, res, user, record_id)), media_type="application/json")

    def restore_route(
        record_id: Id,
        audit_id: Annotated[int, Path(ge=1, le=2**53)],
        user: CurrentUser,
        ctx: Ctx,
        if_match: IfMatch = None,
    ) -> Response:
        return restore(ctx, res, user, record_id, audit_id, if_match)

    patch_route.__doc__ = f"Change some fields of one of the {res.title.lower()} (If-Match required)."
    put_route.__doc__ = f"Replace the editable fields of one of the {res.title.lower()} (If-Match required)."
    delete_route.__doc__ = (
        f"Delete one of the {res.title.lower()} (If-Match required; never with dependants)."
    )
    history_route.__doc__ = "Every change of the record: who, when, before and after."
    restore_route.__doc__ = "Restore the record to its state after an audit entry (If-Match required)."
    path = f"/{name}/{{record_id}}"
    for route, method, label in ((patch_route, "PATCH", "patch"), (put_route, "PUT", "replace")):
        router.add_api_route(
            path,
            route,
            methods=[method],
            tags=[tag],
            name=f"{label}_{name}",
            dependencies=[permission(res, "update")],
            responses={**RECORD_RESPONSES, **WRITE_RESPONSES},
        )
    router.add_api_route(
        path,
        delete_route,
        methods=["DELETE"],
        tags=[tag],
        name=f"delete_{name}",
        dependencies=[permission(res, "delete")],
        status_code=204,
        responses=WRITE_RESPONSES,
    )
    router.add_api_route(
        f"{path}/history",
        history_route,
        methods=["GET"],
        tags=[tag],
        name=f"history_{name}",
        dependencies=[permission(res, "read")],
        responses={404: {}},
    )
    router.add_api_route(
        f"{path}/restore/{{audit_id}}",
        restore_route,
        methods=["POST"],
        tags=[tag],
        name=f"restore_{name}",
        dependencies=[permission(res, "update")],
        responses={**RECORD_RESPONSES, **WRITE_RESPONSES},
    )


for _resource in RESOURCES.values():
    _add_routes(_resource)
