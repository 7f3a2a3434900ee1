"""The bulk write path of an import gives what writing one polygon at a time gave.

``demine.storage.bulk`` measures, encodes and indexes whole batches; these tests hold it to
the one-at-a-time functions (``geodesic_area``, ``as_multipolygon``, ``gpkg_blob.encode``)
and to the GeoPackage R*Tree triggers, on real registers.
"""

from __future__ import annotations

import sqlite3
from datetime import date

import numpy as np
import pytest
import shapely
from ingest_support import hazard_fields, run_import, write_layer
from pyproj import Geod
from shapely.geometry.polygon import orient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from demine.geometry.area import geodesic_area
from demine.geometry.polygons import as_multipolygon
from demine.register.hazards import NewHazard, insert_hazards
from demine.storage import bulk, gpkg_blob, schema


def star_polygons(n: int, seed: int = 1) -> list[shapely.Polygon]:
    """Irregular 12-vertex hazards of 1–3 ha around Ukraine, as the import benchmark makes."""
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(32.0, 34.0, n), rng.uniform(47.5, 48.8, n)
    step = 2 * np.pi / 12
    angles = np.arange(12) * step + rng.uniform(0, 0.8 * step, (n, 12))
    radius = rng.uniform(40, 100, (n, 12))
    dx = radius * np.cos(angles) / (111_320 * np.cos(np.radians(lat)))[:, None]
    dy = radius * np.sin(angles) / 110_540
    rings = np.stack([lon[:, None] + dx, lat[:, None] + dy], axis=-1)
    return list(shapely.polygons(np.concatenate([rings, rings[:, :1]], axis=1)))


def awkward_geometries() -> list[shapely.Geometry | None]:
    """Holes, several parts, a large admin-sized polygon, the south, the antimeridian's edge."""
    box = shapely.box(30, 40, 30.1, 40.1)
    holed = box.difference(shapely.box(30.02, 40.02, 30.05, 40.05))
    two = shapely.MultiPolygon(
        [
            shapely.box(31, 41, 31.01, 41.01),
            shapely.box(31.02, 41, 31.03, 41.01).difference(shapely.box(31.022, 41.002, 31.025, 41.005)),
        ]
    )
    return [
        holed,
        two,
        shapely.box(20, 10, 21, 11),  # ~12,000 km²
        shapely.box(-70.001, -33.001, -70.0, -33.0),
        shapely.box(179.99, 60, 180, 60.01),
        shapely.MultiPolygon([holed]),
        None,
        shapely.Polygon(),
    ]


def test_bulk_geometry_is_what_one_polygon_at_a_time_gives():
    geoms = np.array(star_polygons(500) + awkward_geometries(), dtype=object)
    multi = bulk.multipolygons(geoms)
    expected = [as_multipolygon(g) for g in geoms]
    assert [None if g is None else g.wkb for g in multi] == [None if g is None else g.wkb for g in expected]

    areas = bulk.geodesic_areas(multi)
    # The same Karney algorithm on the same rings: equal to the last bit, not approximately.
    assert areas.tolist() == [geodesic_area(g) for g in expected]
    # And what pyproj's own per-geometry call gives (the register's definition of an area);
    # it adds signed ring areas, so shells go anticlockwise and holes clockwise first.
    geod = Geod(ellps="WGS84")
    for area, g in zip(areas, expected, strict=True):
        if g is not None:
            oriented = shapely.MultiPolygon([orient(part) for part in g.geoms])
            assert area == pytest.approx(geod.geometry_area_perimeter(oriented)[0], rel=1e-9)
    assert areas[-2:].tolist() == [0.0, 0.0]  # None and empty measure nothing

    shapes = np.array([*expected, shapely.MultiPolygon()], dtype=object)
    assert bulk.gpkg_blobs(shapes) == [gpkg_blob.encode(g) for g in shapes]


def _trigger_sql(conn) -> dict[str, str]:
    return dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all())


def test_import_writes_areas_codes_history_and_indexes_as_before(register, tmp_path):
    polygons = star_polygons(300, seed=7) + [g for g in awkward_geometries()[:2]]
    n = len(polygons)
    path = write_layer(tmp_path / "hazards.gpkg", polygons, hazard_fields(n))
    sqlite = register.dialect.name == "sqlite"
    if sqlite:
        with register.connect() as conn:
            triggers = _trigger_sql(conn)
    result = run_import(register, path, source_id="sid")
    assert result.imported == n and result.rejected == 0

    h, r, e = schema.hazard, schema.hazard_remaining, schema.hazard_area_event
    with register.connect() as conn:
        hazards = conn.execute(select(h).order_by(h.c.id)).all()
        remaining = {row.id: row for row in conn.execute(select(r))}
        events = {row.hazard_id: row for row in conn.execute(select(e))}
        orgs = dict(conn.execute(select(schema.organisation.c.id, schema.organisation.c.code)).all())
        if sqlite:
            assert _trigger_sql(conn) == triggers  # set aside during the import, put back verbatim
            boxes = {
                table: {row[0]: row[1:] for row in conn.exec_driver_sql(f"SELECT * FROM rtree_{table}_geom")}
                for table in ("hazard", "hazard_remaining")
            }
            nodes = {
                table: conn.exec_driver_sql(f"SELECT * FROM rtree_{table}_geom_node ORDER BY 1").all()
                for table in ("hazard", "hazard_remaining")
            }
            checks = [
                conn.exec_driver_sql(f"SELECT rtreecheck('rtree_{table}_geom')").scalar()
                for table in ("hazard", "hazard_remaining")
            ]
    assert len(hazards) == n
    for row in hazards:
        area = geodesic_area(row.geom)
        assert row.area_m2 == row.remaining_area_m2 == area  # exact, as one at a time
        assert row.organisation_code == orgs[row.organisation_id]
        left = remaining[row.id]
        assert (left.code, left.status, left.area_m2) == (row.code, row.status, area)
        assert left.geom.equals_exact(row.geom, 0)
        event = events[row.id]
        assert (event.event, event.occurred_on, event.change_m2, event.remaining_m2) == (
            "registered",
            row.reported_on,
            area,
            area,
        )
    if sqlite:
        # What the R*Tree triggers write: each envelope, rounded outwards to 32-bit floats.
        probe = sqlite3.connect(":memory:")
        probe.execute("CREATE VIRTUAL TABLE t USING rtree(id, minx, maxx, miny, maxy)")
        for row in hazards:
            minx, miny, maxx, maxy = row.geom.bounds
            probe.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)", (row.id, minx, maxx, miny, maxy))
        expected = {row[0]: row[1:] for row in probe.execute("SELECT * FROM t")}
        assert boxes["hazard"] == expected
        assert boxes["hazard_remaining"] == expected
        # Node for node the trees the triggers build (the remaining layer's is copied, not rebuilt).
        built = [tuple(row) for row in probe.execute("SELECT * FROM t_node ORDER BY 1")]
        assert [tuple(row) for row in nodes["hazard"]] == built
        assert [tuple(row) for row in nodes["hazard_remaining"]] == built
        assert checks == ["ok", "ok"]


@pytest.mark.sqlite_only
def test_a_failed_bulk_insert_puts_the_index_trigger_back(register):
    polygon = star_polygons(1, seed=3)[0]
    first = NewHazard("H-1", "SHA", polygon, date(2025, 1, 1))
    with register.begin() as conn:
        before = _trigger_sql(conn)
        insert_hazards(conn, [first], {})
    with register.begin() as conn:
        savepoint = conn.begin_nested()
        with pytest.raises(IntegrityError):
            insert_hazards(conn, [NewHazard("H-1", "SHA", polygon, date(2025, 1, 1))], {})
        # Before the savepoint is rolled back: the finally clause already restored the trigger.
        assert _trigger_sql(conn) == before
        savepoint.rollback()
        # The trigger works again: a hazard written the plain SQLAlchemy way is indexed by it.
        conn.execute(
            schema.hazard.insert().values(
                code="H-2",
                hazard_type="SHA",
                reported_on=date(2025, 1, 1),
                area_m2=1.0,
                remaining_area_m2=1.0,
                geom=polygon,
            )
        )
        indexed = conn.exec_driver_sql("SELECT count(*) FROM rtree_hazard_geom").scalar()
    assert indexed == 2
