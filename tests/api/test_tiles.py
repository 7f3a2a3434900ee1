"""Vector tiles decode back to the features of the tile."""

from __future__ import annotations

import math

import mapbox_vector_tile
import pytest
import shapely
from sqlalchemy import select

from demine.api.tiles import tile_bbox_lonlat
from demine.storage import schema


def tile_of(lon, lat, z):
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.fixture(scope="module")
def layers(server):
    engine = server.engine()
    with engine.connect() as conn:
        hazards = {r.id: r.geom for r in conn.execute(select(schema.hazard.c.id, schema.hazard.c.geom))}
        finds = {r.id: r.geom for r in conn.execute(select(schema.eo_find.c.id, schema.eo_find.c.geom))}
    engine.dispose()
    return {"hazards": hazards, "finds": finds}


def _decode(response, layer):
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(response.content)[layer]


def test_a_low_zoom_tile_holds_every_hazard(clients, layers):
    center = shapely.GeometryCollection(list(layers["hazards"].values())).centroid
    x, y = tile_of(center.x, center.y, 5)
    r = clients["viewer"].get(f"/tiles/hazards/5/{x}/{y}.mvt")
    decoded = _decode(r, "hazards")
    assert len(decoded["features"]) == len(layers["hazards"])
    assert r.headers["cache-control"].startswith("private")
    # tiny at this zoom: sent as points, with their properties for styling
    first = decoded["features"][0]
    assert first["geometry"]["type"] == "Point"
    assert {"id", "status", "hazard_type", "code"} <= set(first["properties"])
    # the same on both stores: the feature id and an ``id`` property (the web map links by it)
    assert all(f["properties"]["id"] == f["id"] for f in decoded["features"])


@pytest.mark.parametrize("layer", ["hazards", "finds"])
@pytest.mark.parametrize("z", [12, 14])
def test_tile_features_are_exactly_those_meeting_the_tile(clients, layers, layer, z):
    geoms = layers[layer]
    some = next(g for g in geoms.values() if g is not None)
    x, y = tile_of(some.centroid.x, some.centroid.y, z)
    box = shapely.box(*tile_bbox_lonlat(z, x, y))
    expected = {i for i, g in geoms.items() if g is not None and g.intersects(box)}
    decoded = _decode(clients["viewer"].get(f"/tiles/{layer}/{z}/{x}/{y}.mvt"), layer)
    got = {f["id"] for f in decoded["features"]}
    assert got == expected and expected


def test_empty_tiles_missing_layers_and_auth(clients):
    assert clients["viewer"].get("/tiles/hazards/10/0/0.mvt").status_code == 204
    assert clients["viewer"].get("/tiles/victims/10/0/0.mvt").status_code == 404
    assert clients["viewer"].get("/tiles/hazards/2/9/0.mvt").status_code == 404
    assert clients[None].get("/tiles/hazards/10/0/0.mvt").status_code == 401
    tj = clients["viewer"].get("/tiles/hazards.json").json()
    assert tj["tiles"][0].endswith("/tiles/hazards/{z}/{x}/{y}.mvt")


def test_unchanged_tiles_revalidate(clients, layers):
    some = next(iter(layers["hazards"].values()))
    x, y = tile_of(some.centroid.x, some.centroid.y, 12)
    first = clients["viewer"].get(f"/tiles/hazards/12/{x}/{y}.mvt")
    again = clients["viewer"].get(
        f"/tiles/hazards/12/{x}/{y}.mvt", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
