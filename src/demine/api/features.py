"""OGC API – Features, Part 1 Core with GeoJSON, under ``/ogc``: QGIS and GDAL connect directly.

Collections: ``hazards``, ``remaining`` (what is left of each hazard), ``release_products``,
``finds`` and ``accidents``. No personal data: victims never appear, and free-text fields that
might carry names (accident descriptions, notes) are left out. The landing page and the
conformance declaration are public; collections need a user (uncleared hazard polygons are
not public information): send ``Authorization: Bearer <token>`` (GDAL:
``--config GDAL_HTTP_HEADERS "Authorization: Bearer ..."``).

``bbox`` uses the GeoPackage R*Tree; ``datetime`` filters on the collection's date (reported,
released, found, occurred) as an instant or an interval (``a/b``, ``../b``, ``a/..``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from sqlalchemy import ColumnElement, Connection, Table, func, select

from demine.api import geojson
from demine.api.records import bbox_condition, page_links, parse_bbox
from demine.api.security import Ctx, CurrentUser
from demine.storage import schema

router = APIRouter(prefix="/ogc", tags=["OGC API – Features"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GEOJSON = "application/geo+json"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


@dataclass(frozen=True)
class Collection:
    """A feature collection: a layer with the properties it publishes."""

    id: str
    table: Table
    title: str
    description: str
    columns: tuple[str, ...]
    datetime_column: str | None
    extra: Callable[[], list[ColumnElement]] | None = None
    where: Callable[[], ColumnElement] | None = None  # which rows are features

    def selected(self) -> list[ColumnElement]:
        cols = [geojson.as_stored(self.table.c[c]) for c in self.columns]
        if self.extra is not None:
            cols += self.extra()
        return [*cols, geojson.raw_geometry(self.table.c.geom)]


def _hazard_of(table: Table, key: str) -> Callable[[], list[ColumnElement]]:
    h = schema.hazard

    def columns() -> list[ColumnElement]:
        return [
            select(h.c.code).where(h.c.id == table.c[key]).scalar_subquery().label("hazard_code"),
        ]

    return columns


def _remaining_extra() -> list[ColumnElement]:
    h, r = schema.hazard, schema.hazard_remaining
    return [
        select(h.c[c]).where(h.c.id == r.c.id).scalar_subquery().label(c)
        for c in ("code", "hazard_type", "status", "admin_pcode", "priority")
    ]


COLLECTIONS: dict[str, Collection] = {
    c.id: c
    for c in (
        Collection(
            "hazards",
            schema.hazard,
            "Hazardous areas",
            "Suspected and confirmed hazardous areas as recorded (original polygons).",
            (
                "id",
                "code",
                "name",
                "hazard_type",
                "status",
                "organisation_id",
                "admin_pcode",
                "reported_on",
                "priority",
                "eo_categories",
                "evidence",
                "blockages",
                "area_m2",
                "remaining_area_m2",
                "release_date",
                "version",
            ),
            "reported_on",
        ),
        Collection(
            "remaining",
            schema.hazard_remaining,
            "Remaining hazardous area",
            "What remains of each hazard to release, after every land release product so far.",
            ("id", "area_m2"),
            None,
            _remaining_extra,
            lambda: schema.hazard_remaining.c.geom.is_not(None),
        ),
        Collection(
            "release_products",
            schema.release_product,
            "Land release products",
            "Land cancelled by non-technical survey, reduced by technical survey, or cleared.",
            (
                "id",
                "hazard_id",
                "activity_id",
                "method",
                "released_on",
                "area_m2",
                "released_area_m2",
                "clearance_depth_cm",
                "forced",
            ),
            "released_on",
            _hazard_of(schema.release_product, "hazard_id"),
        ),
        Collection(
            "finds",
            schema.eo_find,
            "Explosive ordnance found",
            "Explosive ordnance found, by category, and how it was disposed of.",
            (
                "id",
                "hazard_id",
                "activity_id",
                "found_on",
                "category",
                "model",
                "quantity",
                "depth_cm",
                "condition",
                "disposal_method",
            ),
            "found_on",
            _hazard_of(schema.eo_find, "hazard_id"),
        ),
        Collection(
            "accidents",
            schema.accident,
            "Accidents",
            "Mine/ERW accidents: place, date, kind. No victims, no personal data.",
            ("id", "code", "occurred_on", "accident_kind", "eo_category", "hazard_id", "activity_id"),
            "occurred_on",
        ),
    )
}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _json(data: Any, media: str = "application/json") -> Response:
    return Response(geojson.dumps(data), media_type=media)


@router.get("", include_in_schema=False)
@router.get("/", summary="Landing page (public)")
def landing(request: Request) -> Response:
    """The OGC API landing page: links to the API description, conformance and collections."""
    base = _base(request)
    return _json(
        {
            "title": "demine register",
            "description": "Hazardous areas, land release, finds and accidents of the mine action programme.",
            "links": [
                {"rel": "self", "type": "application/json", "href": f"{base}/ogc/"},
                {
                    "rel": "service-desc",
                    "type": "application/vnd.oai.openapi+json;version=3.0",
                    "href": f"{base}/openapi.json",
                },
                {"rel": "service-doc", "type": "text/html", "href": f"{base}/docs"},
                {"rel": "conformance", "type": "application/json", "href": f"{base}/ogc/conformance"},
                {"rel": "data", "type": "application/json", "href": f"{base}/ogc/collections"},
            ],
        }
    )


@router.get("/conformance", summary="Conformance classes (public)")
def conformance() -> Response:
    """The conformance classes this server implements."""
    return _json({"conformsTo": CONFORMANCE})


def _extent(conn: Connection, c: Collection) -> list[float] | None:
    if conn.dialect.name == "postgresql":
        box = conn.exec_driver_sql(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            f'FROM (SELECT ST_Extent(geom) AS e FROM "{c.table.name}") AS x'
        ).first()
    else:
        rt = f"rtree_{c.table.name}_geom"
        box = conn.exec_driver_sql(f'SELECT min(minx), min(miny), max(maxx), max(maxy) FROM "{rt}"').first()
    return [float(v) for v in box] if box and box[0] is not None else None


def _describe(conn: Connection, c: Collection, base: str) -> dict[str, Any]:
    box = _extent(conn, c)
    data: dict[str, Any] = {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{base}/ogc/collections/{c.id}"},
            {"rel": "items", "type": GEOJSON, "href": f"{base}/ogc/collections/{c.id}/items"},
        ],
    }
    if box is not None:
        data["extent"] = {"spatial": {"bbox": [box], "crs": CRS84}}
    return data


@router.get("/collections")
def collections(request: Request, user: CurrentUser, ctx: Ctx) -> Response:
    """The feature collections."""
    base = _base(request)
    with ctx.reading() as conn:
        items = [_describe(conn, c, base) for c in COLLECTIONS.values()]
    return _json(
        {
            "links": [{"rel": "self", "type": "application/json", "href": f"{base}/ogc/collections"}],
            "collections": items,
        }
    )


CollectionId = Annotated[str, Path(max_length=50, description=", ".join(COLLECTIONS))]


def _collection(collection_id: str) -> Collection:
    c = COLLECTIONS.get(collection_id)
    if c is None:
        raise HTTPException(404, f"no collection {collection_id!r}; there are {', '.join(COLLECTIONS)}")
    return c


@router.get("/collections/{collection_id}", responses={404: {}})
def collection(collection_id: CollectionId, request: Request, user: CurrentUser, ctx: Ctx) -> Response:
    """One collection's description and extent."""
    c = _collection(collection_id)
    with ctx.reading() as conn:
        return _json(_describe(conn, c, _base(request)))


def _instant(text: str) -> date | None:
    if text in ("", ".."):
        return None
    try:
        return (
            datetime.fromisoformat(text.replace("Z", "+00:00")).date()
            if "T" in text
            else date.fromisoformat(text)
        )
    except ValueError as exc:
        raise HTTPException(400, f"datetime {text!r} is not an RFC 3339 date or date-time") from exc


def datetime_interval(value: str) -> tuple[date | None, date | None]:
    """An OGC ``datetime`` parameter as an inclusive (start, end) pair of dates."""
    if "/" in value:
        start, _, end = value.partition("/")
        return _instant(start), _instant(end)
    day = _instant(value)
    return day, day


@router.get(
    "/collections/{collection_id}/items",
    responses={200: {"content": {GEOJSON: {}}}, 400: {}, 404: {}},
)
def items(
    collection_id: CollectionId,
    request: Request,
    user: CurrentUser,
    ctx: Ctx,
    bbox: Annotated[
        str | None, Query(max_length=200, description="minlon,minlat,maxlon,maxlat (CRS84)")
    ] = None,
    datetime_: Annotated[str | None, Query(alias="datetime", max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Response:
    """Features of a collection, filtered and paged, as GeoJSON."""
    c = _collection(collection_id)
    query = select(*c.selected())
    if c.where is not None:
        query = query.where(c.where())
    if bbox is not None:
        query = query.where(bbox_condition(c.table, f"rtree_{c.table.name}_geom", parse_bbox(bbox)))
    if datetime_ is not None:
        if c.datetime_column is None:
            raise HTTPException(400, f"collection {c.id} has no date to filter on")
        start, end = datetime_interval(datetime_)
        column = c.table.c[c.datetime_column]
        if start is not None:
            query = query.where(column >= start)
        if end is not None:
            query = query.where(column <= end)
    with ctx.reading() as conn:
        rows = [
            dict(r._mapping) for r in conn.execute(query.order_by(c.table.c.id).limit(limit).offset(offset))
        ]
        if offset == 0 and len(rows) < limit:
            matched = len(rows)
        else:
            matched = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    links = page_links(request, offset, limit, len(rows), matched, GEOJSON)
    links.append(
        {"rel": "collection", "type": "application/json", "href": f"{_base(request)}/ogc/collections/{c.id}"}
    )
    stamp = {"timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    body = geojson.feature_collection(geojson.feature_texts(rows), matched, links, stamp)
    return Response(body, media_type=GEOJSON)


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    responses={200: {"content": {GEOJSON: {}}}, 404: {}},
)
def item(
    collection_id: CollectionId,
    feature_id: Annotated[int, Path(ge=1, le=2**53)],
    request: Request,
    user: CurrentUser,
    ctx: Ctx,
) -> Response:
    """One feature."""
    c = _collection(collection_id)
    with ctx.reading() as conn:
        row = conn.execute(select(*c.selected()).where(c.table.c.id == feature_id)).first()
    if row is None:
        raise HTTPException(404, f"no feature {feature_id} in {c.id}")
    text = geojson.feature_texts([dict(row._mapping)])[0]
    base = _base(request)
    links = [
        {"rel": "self", "type": GEOJSON, "href": f"{base}/ogc/collections/{c.id}/items/{feature_id}"},
        {"rel": "collection", "type": "application/json", "href": f"{base}/ogc/collections/{c.id}"},
    ]
    return Response(text[:-1] + ',"links":' + geojson.dumps(links) + "}", media_type=GEOJSON)
