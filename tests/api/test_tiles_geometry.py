"""Tile geometry stays within its feature, and tiles are served fresh after every change.

Release products cut from their hazards carry zero-width spikes that the Mercator projection
turns into self-intersections; ``clip_by_rect`` answered those (and valid slivers a hair wide)
with the whole tile square, so about one product in ten flooded the map at zoom 14-18
(issue 15). Every layer's tiles around such products are decoded here and each feature's
geometry is held to its own bounding box; a property test throws thin slivers and spikes at
the clip itself. The tile cache is tested over HTTP: ETag and 304, and a new tile after an
edit through the API and after a write from outside the server.
"""

from __future__ import annotations

import math

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

import backend_support
from demine.accounts.tokens import issue_token
from demine.accounts.users import add_user
from demine.api import geojson
from demine.api.tile_cache import LruBytes, Tile
from demine.api.tiles import BUFFER, EXTENT, LAYERS, clip_to_tile, to_tile_coordinates
from demine.storage import schema
from demine.storage.database import open_database
from serve_support import start_server, stop_server

from .conftest import Server

ZOOMS = (14, 16, 18)
TOLERANCE = 1.0  # tile units: the encoder rounds to the integer grid
TILE = (-BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)


def within(inner: tuple[float, ...], outer: tuple[float, ...], slack: float = 0.0) -> bool:
    """Whether bounds ``inner`` lie within bounds ``outer`` widened by ``slack``."""
    return (
        inner[0] >= outer[0] - slack
        and inner[1] >= outer[1] - slack
        and inner[2] <= outer[2] + slack
        and inner[3] <= outer[3] + slack
    )


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.fixture(scope="module")
def sources(server) -> dict[str, dict[int, shapely.Geometry]]:
    """Every layer's stored geometries by feature id, read from the server's database."""
    engine = server.engine()
    out = {}
    with engine.connect() as conn:
        for name, layer in LAYERS.items():
            rows = conn.execute(select(*layer.columns())).all()
            geoms = geojson.decode_blobs([r.geom for r in rows])
            out[name] = {r.id: g for r, g in zip(rows, geoms, strict=True) if g is not None}
    engine.dispose()
    return out


def spiky_products(products: dict[int, shapely.Geometry], n: int = 6) -> list[int]:
    """Products the projection to tile units makes invalid (the ones that flooded the map),
    padded with the largest ones."""
    ids = sorted(products)
    spiky = []
    for i in ids:
        g = products[i]
        x, y = tile_of(*g.representative_point().coords[0], 16)
        if not shapely.is_valid(to_tile_coordinates(np.array([g]), 16, x, y)[0]):
            spiky.append(i)
    largest = sorted(ids, key=lambda i: -products[i].area)
    return (spiky[:n] + [i for i in largest if i not in spiky])[:n]


def test_every_feature_stays_within_its_own_bounding_box(clients, sources):
    viewer = clients["viewer"]
    picked = spiky_products(sources["release_products"])
    tiles = sorted(
        {
            (z, *tile_of(*sources["release_products"][p].representative_point().coords[0], z))
            for p in picked
            for z in ZOOMS
        }
    )
    checked = {layer: 0 for layer in LAYERS}
    for layer in LAYERS:
        for z, x, y in tiles:
            r = viewer.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt")
            assert r.status_code in (200, 204), r.text
            if r.status_code == 204:
                continue
            decoded = mapbox_vector_tile.decode(r.content, default_options={"y_coord_down": True})[layer]
            for feature in decoded["features"]:
                shape = shapely.geometry.shape(feature["geometry"])
                assert not shape.is_empty, (layer, z, x, y, feature["id"])
                own = sources[layer][feature["id"]]
                # Web Mercator is monotonic in each axis: the bbox goes to a rectangle.
                own_box = to_tile_coordinates(np.array([shapely.box(*own.bounds)]), z, x, y)[0].bounds
                where = f"{layer} {feature['id']} in tile {z}/{x}/{y}: {shape.bounds} vs its own {own_box}"
                assert within(shape.bounds, own_box, TOLERANCE), where
                assert within(shape.bounds, TILE), where
                if shape.geom_type in ("Polygon", "MultiPolygon"):
                    # shells clockwise on screen: positive area with y down (MVT 4.3.4.4)
                    assert all(p.exterior.is_ccw for p in getattr(shape, "geoms", [shape])), where
                checked[layer] += 1
    # the tiles hold the picked products, and the hazards they were cut from
    assert checked["release_products"] >= len(picked) and checked["hazards"] > 0


@st.composite
def thin_polygons(draw: st.DrawFn) -> shapely.Geometry:
    """A sliver a hair wide (down to none), or a polygon with a spike whose return vertex lies
    on, or a hair across, the spike's outgoing edge (what the projection does to products);
    at any angle, anywhere around the tile, up to five tiles long."""
    kind = draw(st.sampled_from(["sliver", "spike", "spike+sliver"]))
    cx, cy = draw(st.floats(-3000, 7000)), draw(st.floats(-3000, 7000))
    angle = draw(st.floats(0, math.pi))
    length = draw(st.floats(1, 20_000))
    side = draw(st.floats(1, 5000))
    f = draw(st.floats(0.05, 0.95))
    eps = draw(st.sampled_from([0.0, 1e-12, 1e-9, 1e-6, 1e-3, 0.2, 1.0, 5.0])) * draw(
        st.sampled_from([1, -1])
    )
    ux, uy = math.cos(angle), math.sin(angle)

    def at(s: float, t: float) -> tuple[float, float]:  # s along, t across
        return (cx + s * ux - t * uy, cy + s * uy + t * ux)

    if kind == "sliver":
        return shapely.Polygon([at(0, 0), at(length, 0), at(length * f, eps)])
    tip, back = at(side + length, side), at(side + length * f, side + eps)
    spiky = shapely.Polygon([at(0, 0), at(side, 0), at(side, side), tip, back, at(0, side)])
    if kind == "spike":
        return spiky
    body = shapely.Polygon([at(0, 0), at(side, 0), at(side, side), at(0, side)])
    return shapely.MultiPolygon([body, shapely.Polygon([at(side, side), tip, back])])


@settings(deadline=None, max_examples=300)
@given(thin_polygons())
def test_clipping_slivers_stays_within_the_tile_and_the_polygon(polygon):
    clipped = clip_to_tile(np.array([polygon], dtype=object))[0]
    if clipped.is_empty:
        return
    assert shapely.get_type_id(clipped) in (3, 6)  # polygonal, never a collection of lines
    assert clipped.area > 0  # no ring of zero area left for the encoder
    assert within(clipped.bounds, TILE)
    # snapping to the grid moves a vertex by at most half a unit
    assert within(clipped.bounds, polygon.bounds, 0.5), (clipped.wkt, polygon.wkt)


# --- the tile cache: ETag, 304, never stale -------------------------------------------------


@pytest.fixture(scope="module")
def own_server(demo, tmp_path_factory):
    """A server of this module's own (the tests here change the register), with a viewer and an
    IM officer holding API tokens."""
    db = backend_support.clone(demo.template, tmp_path_factory.mktemp("tiles") / "server.gpkg")
    engine = open_database(db)
    with engine.begin() as conn:
        tokens = {
            name: issue_token(conn, add_user(conn, name, role, org, actor="tests"), name="tests").token
            for name, role, org in (("viewer", "viewer", None), ("im", "im_officer", "NMAA"))
        }
    engine.dispose()
    process, url = start_server(db)
    yield Server(url=url, db=db, process=process, tokens=tokens)
    stop_server(process)


def _hazard_tile(server: Server) -> tuple[dict, str]:
    """An open hazard and the zoom-14 hazards tile holding it."""
    with server.client("viewer") as c:
        hazard = c.get("/api/hazards", params={"status": "open", "limit": 1}).json()["features"][0]
    g = shapely.geometry.shape(hazard["geometry"])
    x, y = tile_of(*g.representative_point().coords[0], 14)
    return hazard, f"/tiles/hazards/14/{x}/{y}.mvt"


def _priority(response, hazard_id: int) -> str:
    features = mapbox_vector_tile.decode(response.content)["hazards"]["features"]
    return next(f["properties"]["priority"] for f in features if f["id"] == hazard_id)


def test_tiles_revalidate_and_change_with_every_edit(own_server):
    hazard, url = _hazard_tile(own_server)
    with own_server.client("viewer") as viewer, own_server.client("im") as im:
        first = viewer.get(url)
        tag = first.headers["etag"]
        again = viewer.get(url)  # from the cache: the same tile
        assert again.content == first.content and again.headers["etag"] == tag
        assert viewer.get(url, headers={"If-None-Match": tag}).status_code == 304
        assert viewer.get(url, headers={"If-None-Match": f'"other", W/{tag}'}).status_code == 304
        assert viewer.get(url, headers={"If-None-Match": '"other"'}).status_code == 200

        # an edit through the API
        before = _priority(first, hazard["id"])
        new = "low" if before != "low" else "high"
        record = f"/api/hazards/{hazard['id']}"
        etag = im.get(record).headers["etag"]
        edited = im.patch(record, json={"priority": new}, headers={"If-Match": etag})
        assert edited.status_code == 200, edited.text
        after = viewer.get(url, headers={"If-None-Match": tag})
        assert after.status_code == 200 and after.headers["etag"] != tag
        assert _priority(after, hazard["id"]) == new

        # a write from outside the server (QGIS on the GeoPackage, the command line)
        engine = own_server.engine()
        with engine.begin() as conn:
            conn.execute(
                update(schema.hazard).where(schema.hazard.c.id == hazard["id"]).values(priority=before)
            )
        engine.dispose()
        outside = viewer.get(url, headers={"If-None-Match": after.headers["etag"]})
        assert outside.status_code == 200 and _priority(outside, hazard["id"]) == before
        assert outside.content == first.content and outside.headers["etag"] == tag


def test_the_cache_is_bounded_by_bytes_least_recently_used_first():
    body = bytes(1000)
    size = Tile(body, False, '"t"').nbytes
    cache = LruBytes(max_bytes=3 * size)
    for k in range(3):
        cache.put(k, Tile(body, False, f'"{k}"'))
    assert cache.get(0) is not None  # 0 is now the most recently used
    cache.put(3, Tile(body, False, '"3"'))
    assert cache.get(1) is None and {k for k in (0, 2, 3) if cache.get(k)} == {0, 2, 3}
    assert len(cache) == 3 and cache.nbytes == 3 * size
    cache.put(4, Tile(bytes(10 * size), False, '"big"'))  # larger than the whole cache: not kept
    assert cache.get(4) is None and cache.nbytes <= cache.max_bytes
