"""Mapbox vector tiles for the map: ``/tiles/{layer}/{z}/{x}/{y}.mvt``.

Layers: ``hazards`` (with status and type, for colouring), ``remaining``,
``release_products``, ``finds``, ``accidents``. A tile is built on demand: the R*Tree gives
the features whose envelope meets the tile (plus a 64/4096 buffer so strokes do not break at
tile edges), shapely moves them to tile coordinates (Web Mercator, 4096 units, y down), makes
valid the few the projection made invalid, clips those crossing the buffered tile's edge and
snaps them all to the integer grid in vectorised passes (slivers with no area left are
dropped), and ``mapbox-vector-tile`` encodes the protobuf. A polygon smaller than about two
pixels at the zoom is sent as its centroid point, so small hazards stay visible on a national
map. An empty tile is ``204 No Content``.

Tiles need a user like everything else with hazard polygons; responses are
``Cache-Control: private`` (a shared cache must not hand them to anyone else) and revalidated
with an ETag computed from the tile's content (``If-None-Match`` gets ``304``). Rendered tiles
are kept in memory per version of the register (:mod:`demine.api.tile_cache`): any committed
change, by anyone, makes every tile render afresh. Most tile requests never reach the route
below: :mod:`demine.api.fastpath` answers them with :func:`cached_tile` and
:func:`tile_response`, the functions the route uses.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Annotated, Any

import mapbox_vector_tile
import numpy as np
import shapely
from fastapi import APIRouter, HTTPException, Path, Request, Response
from sqlalchemy import ColumnElement, Connection, Table, and_, case, func, literal_column, select

from demine.api import geojson, tile_cache
from demine.api.context import Context
from demine.api.features import COLLECTIONS
from demine.api.records import bbox_condition
from demine.api.security import Ctx, CurrentUser

router = APIRouter(prefix="/tiles", tags=["Vector tiles"])

EXTENT = 4096
BUFFER = 64
EARTH_RADIUS = 6378137.0
HALF_WORLD = math.pi * EARTH_RADIUS
MAX_ZOOM = 22
MVT = "application/vnd.mapbox-vector-tile"
POINT_BELOW_UNITS = 2 * EXTENT / 256  # two pixels of a 256-pixel tile


@dataclass(frozen=True)
class Layer:
    """A tile layer: the table and the properties each feature carries."""

    name: str
    table: Table
    properties: tuple[str, ...]
    order_by_area: bool = False

    def columns(self) -> list[ColumnElement]:
        collection = COLLECTIONS[self.name]
        available = {c.name: c for c in collection.selected()}
        return [available[p] for p in self.properties] + [available["geom"]]


LAYERS: dict[str, Layer] = {
    layer.name: layer
    for layer in (
        Layer(
            "hazards",
            COLLECTIONS["hazards"].table,
            (
                "id",
                "code",
                "hazard_type",
                "status",
                "priority",
                "organisation_id",
                "area_m2",
                "remaining_area_m2",
            ),
            order_by_area=True,
        ),
        Layer(
            "remaining",
            COLLECTIONS["remaining"].table,
            ("id", "code", "hazard_type", "status", "area_m2"),
            order_by_area=True,
        ),
        Layer(
            "release_products",
            COLLECTIONS["release_products"].table,
            ("id", "hazard_code", "method", "released_on", "released_area_m2"),
            order_by_area=True,
        ),
        Layer("finds", COLLECTIONS["finds"].table, ("id", "hazard_code", "category", "quantity", "found_on")),
        Layer("accidents", COLLECTIONS["accidents"].table, ("id", "code", "accident_kind", "occurred_on")),
    )
}


def tile_bounds_mercator(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of an XYZ tile in Web Mercator metres."""
    size = 2 * HALF_WORLD / 2**z
    minx = -HALF_WORLD + x * size
    maxy = HALF_WORLD - y * size
    return minx, maxy - size, minx + size, maxy


def mercator_to_lonlat(mx: float, my: float) -> tuple[float, float]:
    lon = math.degrees(mx / EARTH_RADIUS)
    lat = math.degrees(math.atan(math.sinh(my / EARTH_RADIUS)))
    return lon, lat


def tile_bbox_lonlat(
    z: int, x: int, y: int, buffer: float = BUFFER / EXTENT
) -> tuple[float, float, float, float]:
    """The tile's WGS 84 bounding box, widened by ``buffer`` (a share of the tile)."""
    minx, miny, maxx, maxy = tile_bounds_mercator(z, x, y)
    pad = (maxx - minx) * buffer
    lon0, lat0 = mercator_to_lonlat(max(minx - pad, -HALF_WORLD), max(miny - pad, -HALF_WORLD))
    lon1, lat1 = mercator_to_lonlat(min(maxx + pad, HALF_WORLD), min(maxy + pad, HALF_WORLD))
    return lon0, lat0, lon1, lat1


def to_tile_coordinates(geoms: np.ndarray, z: int, x: int, y: int) -> np.ndarray:
    """WGS 84 geometries in tile units (0..4096, y down), vectorised over all coordinates."""
    minx, _miny, maxx, maxy = tile_bounds_mercator(z, x, y)
    scale = EXTENT / (maxx - minx)

    def transform(coords: np.ndarray) -> np.ndarray:
        lon = np.radians(coords[:, 0])
        lat = np.radians(np.clip(coords[:, 1], -85.0511287798, 85.0511287798))
        mx = EARTH_RADIUS * lon
        my = EARTH_RADIUS * np.log(np.tan(np.pi / 4 + lat / 2))
        return np.column_stack(((mx - minx) * scale, (maxy - my) * scale))

    return shapely.transform(geoms, transform)


def made_valid(tiled: np.ndarray) -> np.ndarray:
    """Tile-unit geometries, the invalid ones made valid (polygons by the 'structure' method:
    shells bound area, slivers collapsed to lines go).

    Valid geometries turn invalid on the way to tile units: a release product cut from its
    hazard can carry a vertex lying on another edge (a clearance of 1e-17 degrees), valid in
    WGS 84 by a rounding, and the non-linear Mercator projection moves it across that edge.
    """
    tiled = np.asarray(tiled, dtype=object)
    invalid = ~shapely.is_valid(tiled)
    if not invalid.any():
        return tiled
    tiled = tiled.copy()
    polygonal = np.isin(shapely.get_type_id(tiled), (3, 6))
    tiled[invalid & ~polygonal] = shapely.make_valid(tiled[invalid & ~polygonal])
    todo = np.flatnonzero(invalid & polygonal)
    # make_valid itself can leave a spike a hair wide crossing its shell: once more, and a
    # buffer of zero for what still is not valid.
    for attempt in range(3):
        if attempt < 2:
            tiled[todo] = shapely.make_valid(tiled[todo], method="structure", keep_collapsed=False)
        else:
            tiled[todo] = shapely.buffer(tiled[todo], 0)
        todo = todo[~shapely.is_valid(tiled[todo])]
        if not len(todo):
            break
    return tiled


def clip_to_tile(tiled: np.ndarray) -> np.ndarray:
    """Tile-unit geometries clipped to the buffered tile, ready for the encoder: on the tile's
    integer grid, exterior rings wound clockwise on screen (positive area with y down), holes
    the other way, as the MVT specification asks.

    Empty where nothing is left: outside the tile, or a polygon with no area on the grid (a
    sliver thinner than a unit, which would go out as a ring of zero area, which renderers
    skip, and any holes after it would be taken for shells).

    ``clip_by_rect`` is no use here: it answers an invalid polygon, and even a valid sliver a
    hair wide, with garbage (often the whole tile square) or an exception. Geometries inside
    the tile are kept as they are; only those crossing its edge go through the full overlay.
    """
    return _clip_valid(made_valid(tiled))


def _clip_valid(tiled: np.ndarray) -> np.ndarray:
    lo, hi = -BUFFER, EXTENT + BUFFER
    bounds = shapely.bounds(tiled)
    with np.errstate(invalid="ignore"):  # empty geometries have NaN bounds
        inside = (bounds[:, :2] >= lo).all(axis=1) & (bounds[:, 2:] <= hi).all(axis=1)
    cross = ~inside & ~shapely.is_empty(tiled)
    clipped = tiled.copy()
    clipped[cross] = _intersect_box(tiled[cross], shapely.box(lo, lo, hi, hi))
    # Rounded here, as the encoder would, so that flat rings are seen and windings are right.
    grid = shapely.transform(clipped, np.rint)
    flat = np.isin(shapely.get_type_id(grid), (3, 6)) & (shapely.area(grid) == 0)
    return shapely.orient_polygons(np.where(flat, shapely.Polygon(), grid))


def _intersect_box(geoms: np.ndarray, box: shapely.Polygon) -> np.ndarray:
    try:
        out = shapely.intersection(geoms, box)
    except shapely.errors.GEOSException:
        # One bad geometry spoils the batch: the others again one by one.
        out = np.array([_intersect_one(g, box) for g in geoms], dtype=object)
    # A polygon touching the tile's edge, or a sliver collapsing in the overlay, gives lines
    # too, or only: of a polygon only area is kept.
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    for i in np.flatnonzero(polygonal & ~np.isin(shapely.get_type_id(out), (3, 6))):
        out[i] = _polygons_of(out[i])
    # The overlay too can be fooled by a sliver (into the tile square with a hole): a result
    # larger than its polygon, or reaching beyond it, is done again from the polygon's
    # buffer of zero, or left out.
    wrong = polygonal & ~_within_source(out, geoms)
    for i in np.flatnonzero(wrong):
        again = _polygons_of(_intersect_one(shapely.buffer(geoms[i], 0), box))
        out[i] = again if _within_source(np.array([again]), geoms[i : i + 1])[0] else shapely.Polygon()
    return out


def _within_source(out: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    a, b = shapely.bounds(out), shapely.bounds(geoms)
    slack = 1e-6 * (1 + np.abs(b).max(axis=1))
    with np.errstate(invalid="ignore"):  # empty results have NaN bounds: within anything
        below = (a[:, :2] < b[:, :2] - slack[:, None]).any(axis=1)
        above = (a[:, 2:] > b[:, 2:] + slack[:, None]).any(axis=1)
    return ~below & ~above & (shapely.area(out) <= shapely.area(geoms) * (1 + 1e-9) + slack)


def _polygons_of(geom: shapely.Geometry) -> shapely.Geometry:
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    polygons = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
    return shapely.union_all(polygons) if polygons else shapely.Polygon()


def _intersect_one(geom: shapely.Geometry, box: shapely.Polygon) -> shapely.Geometry:
    # On the integer grid (snap-rounding) when the floating-point overlay fails.
    for grid_size in (None, 1.0):
        try:
            return shapely.intersection(geom, box, grid_size=grid_size)
        except shapely.errors.GEOSException:
            continue
    return shapely.Polygon()


def render_tile(rows: list[dict[str, Any]], layer: Layer, z: int, x: int, y: int) -> bytes | None:
    """The encoded tile of ``rows`` (None when nothing lands in it)."""
    if not rows:
        return None
    geoms = np.array(geojson.decode_blobs([r.pop("geom") for r in rows]), dtype=object)
    present = np.array([g is not None for g in geoms], dtype=bool)
    geoms, rows = geoms[present], [r for r, keep in zip(rows, present, strict=True) if keep]
    if not len(rows):
        return None
    tiled = made_valid(to_tile_coordinates(geoms, z, x, y))
    bounds = shapely.bounds(tiled)
    small = (bounds[:, 2] - bounds[:, 0] < POINT_BELOW_UNITS) & (
        bounds[:, 3] - bounds[:, 1] < POINT_BELOW_UNITS
    )
    polygonal = np.isin(shapely.get_type_id(tiled), (3, 6))
    tiled = np.where(small & polygonal, shapely.centroid(tiled), tiled)
    clipped = _clip_valid(tiled)
    keep = ~shapely.is_empty(clipped)
    features = [
        {"geometry": g, "properties": {k: _plain(v) for k, v in r.items() if v is not None}, "id": r["id"]}
        for g, r, k in zip(clipped, rows, keep, strict=True)
        if k
    ]
    if not features:
        return None
    return mapbox_vector_tile.encode(
        [{"name": layer.name, "features": features}],
        # clip_to_tile rounded and wound every ring: the encoder's own pass, one Python polygon
        # rebuilt and checked at a time, was a third of the time of a tile.
        default_options={"extents": EXTENT, "y_coord_down": True, "check_winding_order": False},
    )


def postgis_tile(
    conn: Connection, layer: Layer, z: int, x: int, y: int, cap: int
) -> tuple[bytes | None, bool]:
    """The tile built inside PostGIS (``ST_AsMVTGeom`` + ``ST_AsMVT``), and whether the cap cut it.

    The same rules as :func:`render_tile`: features whose envelope meets the buffered tile
    (GiST ``&&``), the largest first past the cap, polygons under two pixels as centroids.
    """
    t = layer.table
    props = [c for c in layer.columns() if c.name != "geom"]
    by_area = layer.order_by_area and "area_m2" in t.c
    # Past the cap, the largest features are kept: they are the ones visible at this zoom.
    order = t.c.area_m2 if by_area else t.c.id
    src = (
        select(*props, func.ST_Transform(t.c.geom, 3857).label("merc"), order.label("rank"))
        .where(bbox_condition(t, "", tile_bbox_lonlat(z, x, y)), t.c.geom.is_not(None))
        .order_by(order.desc() if by_area else order)
        .limit(cap + 1)
        .subquery("src")
    )
    kept = select(src).order_by(src.c.rank.desc() if by_area else src.c.rank).limit(cap).subquery("kept")
    minx, _miny, maxx, _maxy = tile_bounds_mercator(z, x, y)
    tiny = POINT_BELOW_UNITS * (maxx - minx) / EXTENT  # two pixels, in metres at this zoom
    m = kept.c.merc
    small = and_(
        func.ST_XMax(m) - func.ST_XMin(m) < tiny,
        func.ST_YMax(m) - func.ST_YMin(m) < tiny,
        func.ST_Dimension(m) == 2,
    )
    shape = case((small, func.ST_Centroid(m)), else_=m)
    tiled = func.ST_AsMVTGeom(shape, func.ST_TileEnvelope(z, x, y), EXTENT, BUFFER, True).label("geom")
    # ST_AsMVT drops the feature-id column from the properties; a copy under another name keeps
    # ``id`` a property too, as render_tile (SQLite) writes it and the web map reads it.
    features = select(*(kept.c[c.name] for c in props), kept.c.id.label("mvt_fid"), tiled).subquery(
        "features"
    )
    matched = select(func.count()).select_from(src).scalar_subquery()
    query = select(
        func.ST_AsMVT(literal_column("features"), layer.name, EXTENT, "geom", "mvt_fid"), matched
    ).where(features.c.geom.is_not(None))
    data, rows = conn.execute(query).one()
    return (bytes(data) if data else None), rows > cap


def _plain(value: Any) -> Any:
    # MVT values are strings, numbers or booleans.
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


@router.get(
    "/{layer}/{z}/{x}/{y}.mvt",
    responses={200: {"content": {MVT: {}}}, 204: {"description": "Empty tile"}, 404: {}},
)
def tile(
    layer: Annotated[str, Path(max_length=50, description=", ".join(LAYERS))],
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
    x: Annotated[int, Path(ge=0, le=2**MAX_ZOOM)],
    y: Annotated[int, Path(ge=0, le=2**MAX_ZOOM)],
    request: Request,
    user: CurrentUser,
    ctx: Ctx,
) -> Response:
    """One Mapbox vector tile (XYZ scheme, Web Mercator)."""
    spec = LAYERS.get(layer)
    if spec is None:
        raise HTTPException(404, f"no tile layer {layer!r}; there are {', '.join(LAYERS)}")
    if x >= 2**z or y >= 2**z:
        raise HTTPException(404, f"tile {z}/{x}/{y} does not exist")
    cache = tile_cache.of(request.app, ctx.read_engine)
    found = cached_tile(ctx, cache, spec, z, x, y)
    return tile_response(found, request.headers.get("if-none-match"))


def cached_tile(
    ctx: Context, cache: tile_cache.TileCache, spec: Layer, z: int, x: int, y: int
) -> tile_cache.Tile:
    """The tile from the cache, or read and rendered (and kept) at the register's version."""
    with ctx.reading() as conn:
        version, keepable = cache.version(conn)  # first: the snapshot the tile is read from
        key = (spec.name, z, x, y, version)
        found = cache.get(key)
        if found is None:
            data, truncated = _read_tile(conn, spec, z, x, y, ctx.settings.tile_feature_cap)
            etag = None if data is None else '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
            found = tile_cache.Tile(data, truncated, etag)
            if keepable:
                cache.put(key, found)
    return found


def tile_response(found: tile_cache.Tile, if_none_match: str | None) -> Response:
    """The answer for a tile: 204 when empty, 304 when the client holds it, else the tile."""
    headers = {"Cache-Control": "private, max-age=60"}
    if found.truncated:
        headers["X-Demine-Truncated"] = "true"
    if found.data is None:
        return Response(status_code=204, headers=headers)
    headers["ETag"] = found.etag
    if _matches(if_none_match, found.etag):
        return Response(status_code=304, headers=headers)
    return Response(found.data, media_type=MVT, headers=headers)


def _read_tile(conn: Connection, spec: Layer, z: int, x: int, y: int, cap: int) -> tuple[bytes | None, bool]:
    """The encoded tile and whether the feature cap cut it."""
    if conn.dialect.name == "postgresql":
        return postgis_tile(conn, spec, z, x, y, cap)
    query = select(*spec.columns()).where(
        bbox_condition(spec.table, f"rtree_{spec.table.name}_geom", tile_bbox_lonlat(z, x, y))
    )
    if spec.order_by_area and "area_m2" in spec.table.c:
        # Past the cap, the largest features are kept: they are the ones visible at this zoom.
        query = query.order_by(spec.table.c.area_m2.desc())
    rows = [dict(r._mapping) for r in conn.execute(query.limit(cap + 1))]
    return render_tile(rows[:cap], spec, z, x, y), len(rows) > cap


def _matches(if_none_match: str | None, etag: str | None) -> bool:
    # A list of ETags, weak ones too (RFC 9110: If-None-Match compares weakly), or "*".
    if not if_none_match or etag is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag in tags or "*" in tags


@router.get("/{layer}.json")
def tilejson(layer: Annotated[str, Path(max_length=50)], request: Request, user: CurrentUser) -> dict:
    """TileJSON 3.0 for a layer (for MapLibre and QGIS)."""
    if layer not in LAYERS:
        raise HTTPException(404, f"no tile layer {layer!r}; there are {', '.join(LAYERS)}")
    base = str(request.base_url).rstrip("/")
    return {
        "tilejson": "3.0.0",
        "name": layer,
        "tiles": [f"{base}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "vector_layers": [{"id": layer, "fields": dict.fromkeys(LAYERS[layer].properties, "")}],
    }
