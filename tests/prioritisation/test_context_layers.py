"""The context layers (migration 0005) and the synthetic context the demo can add."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pyogrio
import pytest
from alembic import command
from sqlalchemy import func, select

from demine.storage import schema
from demine.storage.database import alembic_config, current_revision, head_revision
from demine.synthetic.context import add_context

LAYERS = {"context_point": "Point", "context_line": "LineString", "context_area": "MultiPolygon"}


@pytest.mark.sqlite_only  # GDAL reads the layers from the GeoPackage file
def test_context_layers_are_geopackage_layers_gdal_reads(demo_copy):
    with demo_copy.begin() as conn:
        counts = add_context(conn, seed=7)
    assert counts["context_points"] > 0 and counts["context_areas"] > 0 and counts["hazard_slopes"] > 0
    path = demo_copy.url.database
    demo_copy.dispose()
    layers = dict(pyogrio.list_layers(path))
    for table, kind in LAYERS.items():
        assert layers[table] == kind
        info = pyogrio.read_info(path, layer=table)
        assert info["crs"] == "EPSG:4326" and info["capabilities"]["fast_spatial_filter"]
    with closing(sqlite3.connect(path)) as raw:
        found = {r[0] for r in raw.execute("SELECT DISTINCT layer FROM context_point")}
        slopes = raw.execute(
            "SELECT count(*), min(slope_deg) FROM hazard WHERE slope_deg IS NOT NULL"
        ).fetchone()
        rtree = raw.execute("SELECT count(*) FROM rtree_context_area_geom").fetchone()[0]
        areas = raw.execute("SELECT count(*) FROM context_area").fetchone()[0]
    assert found == {"school", "health_facility", "water_point"}
    assert slopes[0] == counts["hazard_slopes"] and slopes[1] >= 0
    assert rtree == areas >= counts["context_areas"]


def test_add_context_is_deterministic(demo, tmp_path):
    import backend_support
    from demine.storage.database import open_database

    rows = []
    for name in ("a.gpkg", "b.gpkg"):
        path = backend_support.clone(demo.template, tmp_path / name)
        engine = open_database(path)
        with engine.begin() as conn:
            add_context(conn, seed=3)
            t = schema.context_area
            rows.append(
                conn.execute(select(t.c.layer, func.count(), func.sum(t.c.id)).group_by(t.c.layer)).all()
            )
        engine.dispose()
    assert rows[0] == rows[1]


@pytest.mark.sqlite_only  # GeoPackage registration and SQLite's catalogue
def test_migration_0005_downgrades_and_upgrades(empty_db):
    config = alembic_config(empty_db)
    command.downgrade(config, "0004")
    with empty_db.connect() as conn:
        tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
        columns = {r[1] for r in conn.exec_driver_sql("PRAGMA table_info(hazard)")}
        contents = {r[0] for r in conn.exec_driver_sql("SELECT table_name FROM gpkg_contents")}
    assert not {"context_point", "context_line", "context_area", "rtree_context_point_geom"} & tables
    assert "slope_deg" not in columns and "context_area" not in contents
    command.upgrade(config, "head")
    assert current_revision(empty_db) == head_revision()
    with empty_db.connect() as conn:
        columns = {r[1] for r in conn.exec_driver_sql("PRAGMA table_info(hazard)")}
    assert "slope_deg" in columns
