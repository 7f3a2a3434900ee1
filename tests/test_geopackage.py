"""The database file is a valid GeoPackage that GDAL reads back exactly as demine wrote it."""

from __future__ import annotations

import math
import re
import sqlite3
import struct
import subprocess
import warnings
from contextlib import closing
from datetime import date

import numpy as np
import pyogrio
import pyogrio.raw
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text, update

from demine.domain.errors import DemineError
from demine.register.hazards import NewHazard, add_hazards, list_hazards
from demine.storage import gpkg_blob, schema
from demine.storage.database import current_revision, head_revision, migrate, open_database, open_engine
from demine.storage.geopackage import APPLICATION_ID, USER_VERSION

CORE_TABLES = {"gpkg_spatial_ref_sys", "gpkg_contents", "gpkg_geometry_columns", "gpkg_extensions"}
TRIGGER_SUFFIXES = {"insert", "update1", "update2", "update3", "update4", "delete"}
# SQLite's R*Tree stores 32-bit floats, rounding each box outwards: a degree value near 50
# moves by at most one float32 step (~4e-6°).
RTREE_SLACK = 1e-5

# Every test here is about the GeoPackage file itself (GDAL, the SQLite header, the R*Tree).
pytestmark = pytest.mark.sqlite_only


def _sqlite(engine):
    """A plain sqlite3 connection to the engine's file (no demine functions registered)."""
    return closing(sqlite3.connect(engine.url.database))


def _read_layer(path, layer, **kwargs):
    """GDAL's view of a layer: {fid: (geometry, {field: value})}."""
    meta, fids, wkbs, fields = pyogrio.raw.read(path, layer=layer, return_fids=True, **kwargs)
    names = list(meta["fields"])
    return {
        int(fid): (shapely.from_wkb(wkb), {n: fields[i][k] for i, n in enumerate(names)})
        for k, (fid, wkb) in enumerate(zip(fids, wkbs, strict=True))
    }


def _rtree(conn, table="hazard"):
    return {
        r[0]: r[1:] for r in conn.execute(text(f"SELECT id, minx, maxx, miny, maxy FROM rtree_{table}_geom"))
    }


def _assert_rtree_matches(conn, table, geoms):
    """The R*Tree holds exactly one box per non-empty geometry, covering its bounds tightly."""
    boxes = _rtree(conn, table)
    expected = {i: g for i, g in geoms.items() if g is not None and not g.is_empty}
    assert set(boxes) == set(expected)
    for i, g in expected.items():
        minx, miny, maxx, maxy = g.bounds
        rminx, rmaxx, rminy, rmaxy = boxes[i]
        assert rminx <= minx <= rminx + RTREE_SLACK
        assert rminy <= miny <= rminy + RTREE_SLACK
        assert rmaxx - RTREE_SLACK <= maxx <= rmaxx
        assert rmaxy - RTREE_SLACK <= maxy <= rmaxy


# --- file-level validity -------------------------------------------------------------------


def test_header_pragmas(demo_db):
    with _sqlite(demo_db) as raw:
        assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID == 0x47504B47
        assert raw.execute("PRAGMA user_version").fetchone()[0] == USER_VERSION == 10300
    with open(demo_db.url.database, "rb") as f:
        header = f.read(100)
    assert header[:16] == b"SQLite format 3\x00"
    assert header[68:72] == b"GPKG"  # application_id, big-endian, at byte 68


def test_empty_database_is_already_a_geopackage(empty_db):
    with _sqlite(empty_db) as raw:
        assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    layers = dict(pyogrio.list_layers(empty_db.url.database))
    assert layers["hazard"] == "MultiPolygon"
    assert pyogrio.read_info(empty_db.url.database, layer="hazard")["features"] == 0


def test_header_is_on_disk_while_demine_has_the_file_open(empty_db):
    """The header pragmas reach the main file at once, not only the write-ahead log."""
    with empty_db.connect() as conn:
        conn.execute(text("SELECT 1"))
        with open(empty_db.url.database, "rb") as f:
            header = f.read(100)
        assert header[68:72] == b"GPKG"
        assert int.from_bytes(header[60:64], "big") == USER_VERSION
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            pyogrio.list_layers(empty_db.url.database)


def test_integrity_and_foreign_keys(demo_db):
    with _sqlite(demo_db) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


def test_core_tables_and_required_srs_rows(demo_db):
    with _sqlite(demo_db) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables >= CORE_TABLES
        srs = {
            r[0]: r[1:]
            for r in raw.execute(
                "SELECT srs_id, organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys"
            )
        }
    assert srs[-1] == ("NONE", -1, "undefined")
    assert srs[0] == ("NONE", 0, "undefined")
    organization, coordsys, definition = srs[4326]
    assert (organization.upper(), coordsys) == ("EPSG", 4326)
    assert definition.startswith('GEOGCS["WGS 84"') and 'AUTHORITY["EPSG","4326"]' in definition


def test_every_spatial_table_is_a_registered_layer(demo_db):
    with _sqlite(demo_db) as raw:
        contents = {
            r[0]: r[1:]
            for r in raw.execute("SELECT table_name, data_type, srs_id, identifier FROM gpkg_contents")
        }
        columns = {
            r[0]: r[1:]
            for r in raw.execute(
                "SELECT table_name, column_name, geometry_type_name, srs_id, z, m FROM gpkg_geometry_columns"
            )
        }
        for table, (column, geometry_type, _description) in schema.SPATIAL_TABLES.items():
            assert contents[table][:2] == ("features", 4326)
            assert columns[table] == (column, geometry_type, 4326, 0, 0)
            info = {r[1]: r for r in raw.execute(f'PRAGMA table_info("{table}")')}
            # The geometry column's declared type is the geometry type name (GPKG req. 25) and
            # the table has an INTEGER PRIMARY KEY (req. 29).
            assert info[column][2] == geometry_type
            pks = [r for r in info.values() if r[5]]
            assert len(pks) == 1 and pks[0][2] == "INTEGER"
    # Attribute tables are declared too, and nothing else is a layer.
    assert set(columns) == set(schema.SPATIAL_TABLES)
    attributes = {t for t, (kind, *_rest) in contents.items() if kind == "attributes"}
    # layer_styles holds QGIS's default styles (demine.storage.qgis_styles), outside the schema.
    assert attributes == set(schema.metadata.tables) - set(schema.SPATIAL_TABLES) | {"layer_styles"}
    assert all(contents[t][1] is None for t in attributes)
    # GDAL agrees on the geometry type of every layer.
    gdal_layers = dict(pyogrio.list_layers(demo_db.url.database))
    names = {"MULTIPOLYGON": "MultiPolygon", "POINT": "Point", "LINESTRING": "LineString"}
    for table, (_column, geometry_type, _description) in schema.SPATIAL_TABLES.items():
        assert gdal_layers[table] == names[geometry_type]
    assert "alembic_version" not in gdal_layers


def test_rtree_tables_triggers_and_extension_rows(demo_db):
    with _sqlite(demo_db) as raw:
        extensions = {
            (r[0], r[1]): r[2:]
            for r in raw.execute(
                "SELECT table_name, column_name, extension_name, definition, scope FROM gpkg_extensions"
            )
        }
        triggers = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
        sql = {r[0]: r[1] for r in raw.execute("SELECT name, sql FROM sqlite_master")}
    for table, (column, _type, _description) in schema.SPATIAL_TABLES.items():
        rtree = f"rtree_{table}_{column}"
        assert "USING rtree(id, minx, maxx, miny, maxy)" in sql[rtree]
        assert {
            t.removeprefix(rtree + "_") for t in triggers if t.startswith(rtree + "_")
        } == TRIGGER_SUFFIXES
        name, definition, scope = extensions[(table, column)]
        assert name == "gpkg_rtree_index"
        assert definition.startswith("http://www.geopackage.org/spec")
        assert scope == "write-only"


def test_gdal_sees_the_spatial_index_and_extent(demo, demo_db):
    path = str(demo.path)
    _meta, _fids, _geoms, fields = pyogrio.raw.read(path, sql="SELECT HasSpatialIndex('hazard', 'geom') AS h")
    assert fields[0][0] == 1
    info = pyogrio.read_info(path, layer="hazard")
    assert info["capabilities"]["fast_spatial_filter"]
    assert info["crs"] == "EPSG:4326"
    assert info["fid_column"] == "id" and info["geometry_name"] == "geom"
    with demo_db.connect() as conn:
        geoms = conn.execute(select(schema.hazard.c.geom)).scalars().all()
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    gminx, gminy, gmaxx, gmaxy = info["total_bounds"]
    assert gminx <= minx <= gminx + RTREE_SLACK and gminy <= miny <= gminy + RTREE_SLACK
    assert gmaxx - RTREE_SLACK <= maxx <= gmaxx and gmaxy - RTREE_SLACK <= maxy <= gmaxy
    # refresh_extents wrote the layer's extent into gpkg_contents.
    with _sqlite(demo_db) as raw:
        extent = raw.execute(
            "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = 'hazard'"
        ).fetchone()
    assert extent == pytest.approx((minx, miny, maxx, maxy), abs=RTREE_SLACK)


def test_opening_with_gdal_raises_no_warnings(demo):
    path = str(demo.path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pyogrio.list_layers(path)
        for table in schema.SPATIAL_TABLES:
            pyogrio.read_info(path, layer=table)
        pyogrio.raw.read(path, layer="hazard", columns=["code", "reported_on", "area_m2"])


DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$")


def test_datetime_columns_are_geopackage_datetimes(demo):
    with closing(sqlite3.connect(demo.path)) as raw:
        stamps = [r[0] for r in raw.execute("SELECT created_at FROM hazard LIMIT 5")]
    assert all(DATETIME_RE.match(s) for s in stamps), stamps
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pyogrio.raw.read(str(demo.path), layer="hazard", columns=["code", "created_at", "updated_at"])


# --- GDAL reads back what demine wrote -----------------------------------------------------


def test_gdal_reads_hazards_back_identically(demo, demo_db):
    with demo_db.connect() as conn:
        ours = {r.id: r for r in conn.execute(select(schema.hazard))}
    columns = ["code", "hazard_type", "status", "area_m2", "remaining_area_m2", "reported_on", "release_date"]
    gdal = _read_layer(str(demo.path), "hazard", columns=columns)
    assert len(gdal) == len(ours) == demo.counts["hazards"]
    assert set(gdal) == set(ours)
    for fid, (geom, fields) in gdal.items():
        row = ours[fid]
        assert geom.geom_type == "MultiPolygon"
        assert geom.equals_exact(row.geom, tolerance=0)
        assert shapely.to_wkb(shapely.normalize(geom)) == shapely.to_wkb(shapely.normalize(row.geom))
        assert fields["code"] == row.code
        assert fields["hazard_type"] == row.hazard_type
        assert fields["status"] == row.status
        assert fields["area_m2"] == pytest.approx(row.area_m2, rel=1e-12)
        assert fields["remaining_area_m2"] == pytest.approx(row.remaining_area_m2, rel=1e-12, abs=1e-9)
        assert fields["reported_on"] == np.datetime64(row.reported_on)
        if row.release_date is None:
            assert np.isnat(fields["release_date"])
        else:
            assert fields["release_date"] == np.datetime64(row.release_date)


@pytest.mark.parametrize("table", ["hazard_remaining", "release_product", "settlement", "road", "eo_find"])
def test_gdal_reads_other_layers_back(demo, demo_db, table):
    t = schema.metadata.tables[table]
    with demo_db.connect() as conn:
        ours = dict(conn.execute(select(t.c.id, t.c.geom)).all())
    gdal = _read_layer(str(demo.path), table, columns=[])
    assert set(gdal) == set(ours)
    for fid, (geom, _fields) in gdal.items():
        if ours[fid] is None:
            assert geom is None
        else:
            assert geom.equals_exact(ours[fid], tolerance=0)


def test_our_decoder_reads_gdal_written_blobs(tmp_path):
    """Blobs GDAL writes (envelope for polygons, none for points) decode to the same shapes."""
    path = str(tmp_path / "gdal.gpkg")
    geoms = [
        shapely.MultiPolygon([shapely.box(30, 48, 30.01, 48.02)]),
        shapely.MultiPolygon(
            [shapely.box(31, 47, 31.5, 47.5).difference(shapely.box(31.1, 47.1, 31.2, 47.2))]
        ),
        shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)]),
    ]
    pyogrio.raw.write(
        path,
        np.array(shapely.to_wkb(geoms), dtype=object),
        [np.array([1, 2, 3], dtype=np.int64)],
        ["n"],
        driver="GPKG",
        layer="polys",
        geometry_type="MultiPolygon",
        crs="EPSG:4326",
    )
    pyogrio.raw.write(
        path,
        np.array([shapely.to_wkb(shapely.Point(30.5, 48.5))], dtype=object),
        [np.array([1], dtype=np.int64)],
        ["n"],
        driver="GPKG",
        layer="points",
        geometry_type="Point",
        crs="EPSG:4326",
        append=True,
    )
    with closing(sqlite3.connect(path)) as raw:
        polys = [r[0] for r in raw.execute("SELECT geom FROM polys ORDER BY n")]
        (point,) = raw.execute("SELECT geom FROM points").fetchone()
    for blob, geom in zip(polys, geoms, strict=True):
        assert gpkg_blob.decode(blob).equals_exact(geom, tolerance=0)
        minx, miny, maxx, maxy = geom.bounds
        assert gpkg_blob.envelope(blob) == (minx, maxx, miny, maxy)
        assert not gpkg_blob.is_empty(blob)
    assert gpkg_blob.decode(point).equals_exact(shapely.Point(30.5, 48.5), tolerance=0)
    assert gpkg_blob.envelope(point) == (30.5, 30.5, 48.5, 48.5)


# --- the R*Tree index ---------------------------------------------------------------------


def test_rtree_matches_every_geometry(demo_db):
    with demo_db.connect() as conn:
        for table in ("hazard", "hazard_remaining", "release_product", "settlement", "road", "team"):
            t = schema.metadata.tables[table]
            _assert_rtree_matches(conn, table, dict(conn.execute(select(t.c.id, t.c.geom)).all()))


def test_rtree_follows_updates_and_deletes(demo_copy):
    h, r = schema.hazard, schema.hazard_remaining
    moved = shapely.MultiPolygon([shapely.box(10.0, 20.0, 10.02, 20.01)])
    with demo_copy.begin() as conn:
        ids = conn.execute(select(h.c.id).order_by(h.c.id)).scalars().all()
        first, second, third = ids[:3]
        conn.execute(update(h).where(h.c.id == first).values(geom=moved))  # update1
        conn.execute(update(h).where(h.c.id == second).values(geom=None))  # update2 (NULL)
        conn.execute(update(h).where(h.c.id == third).values(geom=shapely.MultiPolygon()))  # update2 (empty)
        conn.execute(update(h).where(h.c.id == ids[3]).values(name="renamed"))  # no geometry change
        conn.execute(delete(r).where(r.c.id == ids[4]))
        conn.execute(delete(h).where(h.c.id == ids[4]))  # delete
    with demo_copy.connect() as conn:
        geoms = dict(conn.execute(select(h.c.id, h.c.geom)).all())
        assert geoms[first].equals(moved)
        assert ids[4] not in geoms
        _assert_rtree_matches(conn, "hazard", geoms)
        _assert_rtree_matches(conn, "hazard_remaining", dict(conn.execute(select(r.c.id, r.c.geom)).all()))
        boxes = _rtree(conn)
        assert second not in boxes and third not in boxes
        assert boxes[first][0] == pytest.approx(10.0, abs=RTREE_SLACK)
    with demo_copy.begin() as conn:  # back from NULL: update1 re-inserts
        conn.execute(update(h).where(h.c.id == second).values(geom=moved))
    with demo_copy.connect() as conn:
        _assert_rtree_matches(conn, "hazard", dict(conn.execute(select(h.c.id, h.c.geom)).all()))
        assert list_hazards(conn, bbox=(10.0, 20.0, 10.01, 20.01)) == list_hazards(
            conn, bbox=(9.9, 19.9, 10.1, 20.1)
        )
        assert len(list_hazards(conn, bbox=(9.9, 19.9, 10.1, 20.1))) == 2


def test_cascading_delete_clears_the_child_index(empty_db):
    with empty_db.begin() as conn:
        add_hazards(conn, [NewHazard("A", "SHA", shapely.box(30, 48, 30.01, 48.01), date(2025, 1, 1))])
        conn.execute(delete(schema.hazard))
    with empty_db.connect() as conn:
        assert _rtree(conn, "hazard") == {}
        assert _rtree(conn, "hazard_remaining") == {}


def test_rtree_follows_primary_key_changes(empty_db):
    s = schema.settlement
    with empty_db.begin() as conn:
        conn.execute(s.insert(), [{"id": 1, "name": "A", "geom": shapely.Point(30, 48)}])
        conn.execute(s.insert(), [{"id": 2, "name": "B", "geom": shapely.Point(31, 49)}])
        conn.execute(update(s).where(s.c.id == 1).values(id=10))  # update3
        conn.execute(update(s).where(s.c.id == 2).values(id=20, geom=None))  # update4
    with empty_db.connect() as conn:
        boxes = _rtree(conn, "settlement")
    assert set(boxes) == {10}
    assert boxes[10] == pytest.approx((30, 30, 48, 48), abs=RTREE_SLACK)


def _bboxes(seed, bounds, n):
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = bounds
    dx, dy = maxx - minx, maxy - miny
    boxes = [(minx - dx, miny - dy, minx - dx / 2, miny - dy / 2), (minx, miny, maxx, maxy)]
    for _ in range(n):
        x0, x1 = np.sort(rng.uniform(minx - 0.1 * dx, maxx + 0.1 * dx, 2))
        y0, y1 = np.sort(rng.uniform(miny - 0.1 * dy, maxy + 0.1 * dy, 2))
        boxes.append((float(x0), float(y0), float(x1), float(y1)))
    # A point-sized box and a thin strip across everything.
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    boxes += [(cx, cy, cx, cy), (minx, cy, maxx, cy + dy / 1000)]
    return boxes


def _envelope_hits(bounds, box):
    """Codes whose bounds intersect ``box``: (certain hits, hits allowing float32 R*Tree slack)."""
    x0, y0, x1, y1 = box
    strict, loose = set(), set()
    for code, (minx, miny, maxx, maxy) in bounds.items():
        if maxx >= x0 and minx <= x1 and maxy >= y0 and miny <= y1:
            strict.add(code)
        s = RTREE_SLACK
        if maxx + s >= x0 and minx - s <= x1 and maxy + s >= y0 and miny - s <= y1:
            loose.add(code)
    return strict, loose


def test_bbox_query_matches_brute_force(demo, demo_db):
    with demo_db.connect() as conn:
        geoms = dict(conn.execute(select(schema.hazard.c.code, schema.hazard.c.geom)).all())
        bounds = {code: g.bounds for code, g in geoms.items()}
        extent = shapely.total_bounds(list(geoms.values()))
        nonempty = 0
        for box in _bboxes(1, extent, 25):
            got = {h["code"] for h in list_hazards(conn, bbox=box)}
            strict, loose = _envelope_hits(bounds, box)
            assert strict <= got <= loose
            if strict == loose:
                assert got == strict
            nonempty += bool(got)
            # With a filter on top, the bbox composes (AND) with the other filters.
            closed = {h["code"] for h in list_hazards(conn, bbox=box, status="closed")}
            assert closed == {h["code"] for h in list_hazards(conn, status="closed")} & got
            # GDAL's spatial filter uses the same R*Tree, then refines to geometries that
            # really intersect the box: a subset of the envelope hits, exactly the true hits.
            _meta, _fids, _wkb, fields = pyogrio.raw.read(
                str(demo.path), layer="hazard", bbox=box, columns=["code"]
            )
            ogr = set(fields[0])
            rect = shapely.box(*box)
            assert ogr == {code for code, g in geoms.items() if g.intersects(rect)}
            assert ogr <= got
    assert nonempty > 10


def test_gdal_bbox_refines_but_list_hazards_uses_envelopes(empty_db):
    """An L-shaped hazard: a box in its notch meets the envelope, not the polygon."""
    ell = shapely.Polygon(
        [(30, 48), (30.01, 48), (30.01, 48.002), (30.002, 48.002), (30.002, 48.01), (30, 48.01)]
    )
    with empty_db.begin() as conn:
        add_hazards(conn, [NewHazard("L1", "SHA", ell, date(2025, 1, 1))])
    notch = (30.006, 48.006, 30.008, 48.008)
    with empty_db.connect() as conn:
        assert [h["code"] for h in list_hazards(conn, bbox=notch)] == ["L1"]
    path = empty_db.url.database
    assert len(pyogrio.raw.read(path, layer="hazard", bbox=notch, columns=["code"])[3][0]) == 0
    assert list(
        pyogrio.raw.read(path, layer="hazard", bbox=(30.0, 48.0, 30.001, 48.001), columns=["code"])[3][0]
    ) == ["L1"]


# --- GeoPackage geometry blobs ------------------------------------------------------------

coordinate = st.floats(min_value=-179.999, max_value=179.999, allow_nan=False, allow_infinity=False)
latitude = st.floats(min_value=-89.999, max_value=89.999, allow_nan=False, allow_infinity=False)
points = st.builds(shapely.Point, coordinate, latitude)


@st.composite
def polygons(draw):
    pts = draw(st.lists(st.tuples(coordinate, latitude), min_size=3, max_size=12))
    hull = shapely.MultiPoint(pts).convex_hull
    if hull.geom_type != "Polygon":
        hull = shapely.Point(pts[0]).buffer(draw(st.floats(0.001, 1.0)), quad_segs=4)
    if draw(st.booleans()):
        hole = shapely.Point(hull.centroid).buffer(1e-4, quad_segs=2)
        if hull.contains(hole):
            hull = shapely.Polygon(hull.exterior.coords, [hole.exterior.coords])
    return hull


multipolygons = st.lists(polygons(), min_size=1, max_size=4).map(shapely.MultiPolygon)
empties = st.sampled_from(
    [
        shapely.Point(),
        shapely.Polygon(),
        shapely.MultiPolygon(),
        shapely.LineString(),
        shapely.GeometryCollection(),
    ]
)
geometries = st.one_of(points, polygons(), multipolygons, empties)


def _header(blob):
    magic, version, flags, srs_id = struct.unpack("<2sBBi", blob[:8])
    return magic, version, flags, srs_id


@settings(max_examples=150, deadline=None)
@given(geometries)
def test_blob_round_trip(geom):
    blob = gpkg_blob.encode(geom)
    back = gpkg_blob.decode(blob)
    assert back.geom_type == geom.geom_type
    assert back.is_empty == geom.is_empty
    if not geom.is_empty:
        assert back.equals_exact(geom, tolerance=0)
        assert shapely.to_wkb(back) == shapely.to_wkb(geom)
    assert gpkg_blob.is_empty(blob) == geom.is_empty
    magic, version, flags, srs_id = _header(blob)
    assert (magic, version, srs_id) == (b"GP", 0, 4326)
    assert flags & 0b0010_0000 == 0  # standard GeoPackage binary, not extended
    assert flags & 0b1 == 1  # little-endian header
    if geom.is_empty:
        assert flags & 0b1_0000
        assert (flags >> 1) & 0b111 == 0  # no envelope
        assert len(blob) == 8 + len(shapely.to_wkb(geom, byte_order=1, flavor="iso"))
    else:
        assert not flags & 0b1_0000
        assert (flags >> 1) & 0b111 == 1  # [minx, maxx, miny, maxy]
        minx, miny, maxx, maxy = geom.bounds
        assert struct.unpack("<4d", blob[8:40]) == (minx, maxx, miny, maxy)
        assert gpkg_blob.envelope(blob) == (minx, maxx, miny, maxy)
        assert blob[40:] == shapely.to_wkb(geom, byte_order=1, flavor="iso")


@settings(max_examples=60, deadline=None)
@given(st.one_of(points, polygons(), multipolygons), st.sampled_from([1, 0]))
def test_blob_decoder_reads_other_headers(geom, byte_order):
    """Blobs without an envelope, or big-endian, as other writers may produce them."""
    wkb = shapely.to_wkb(geom, byte_order=byte_order, flavor="iso")
    minx, miny, maxx, maxy = geom.bounds
    bare = struct.pack("<2sBBi", b"GP", 0, 0b1, 4326) + wkb
    order = "<" if byte_order else ">"
    big = struct.pack(f"{order}2sBBi4d", b"GP", 0, 0b10 | byte_order, 4326, minx, maxx, miny, maxy) + wkb
    for blob in (bare, big):
        assert gpkg_blob.decode(blob).equals_exact(geom, tolerance=0)
        assert gpkg_blob.envelope(blob) == (minx, maxx, miny, maxy)
        assert not gpkg_blob.is_empty(blob)


def test_blob_none_and_bad_magic():
    assert gpkg_blob.encode(None) is None
    assert gpkg_blob.decode(None) is None
    assert gpkg_blob.is_empty(None)
    with pytest.raises(ValueError, match="GP"):
        gpkg_blob.decode(shapely.to_wkb(shapely.Point(1, 2)))


def test_sql_envelope_functions_match_the_blob(empty_db):
    geom = shapely.MultiPolygon([shapely.box(30.25, 48.5, 30.75, 48.875)])
    with empty_db.connect() as conn:
        row = conn.execute(
            text("SELECT ST_MinX(:b), ST_MaxX(:b), ST_MinY(:b), ST_MaxY(:b), ST_IsEmpty(:b), ST_IsEmpty(:e)"),
            {"b": gpkg_blob.encode(geom), "e": gpkg_blob.encode(shapely.MultiPolygon())},
        ).one()
    assert tuple(row) == (30.25, 30.75, 48.5, 48.875, 0, 1)
    assert not any(math.isnan(v) for v in row[:4])


# --- opening and migrating ----------------------------------------------------------------


def test_reopening_with_create_is_idempotent(empty_db):
    path = empty_db.url.database
    tables = sorted(CORE_TABLES | {"code_list"})
    with _sqlite(empty_db) as raw:
        before = {t: raw.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    empty_db.dispose()
    again = open_database(path, create=True)
    again.dispose()
    with _sqlite(again) as raw:
        after = {t: raw.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    assert after == before
    engine = open_engine(path)
    assert current_revision(engine) == head_revision() is not None
    engine.dispose()


def test_refuses_a_missing_or_unmigrated_file(tmp_path):
    with pytest.raises(DemineError, match="no database at"):
        open_database(tmp_path / "missing.gpkg")
    assert not (tmp_path / "missing.gpkg").exists()
    plain = tmp_path / "plain.sqlite"
    with closing(sqlite3.connect(plain)) as raw:
        raw.execute("CREATE TABLE t (x)")
    with pytest.raises(DemineError, match="schema revision None"):
        open_database(plain)


def test_connections_enforce_foreign_keys(empty_db):
    with empty_db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_gdal_opens_the_file_without_a_warning(ogrinfo, demo_db):
    """Debian's GDAL (3.6) warns about GeoPackage 1.4 files; demine writes 1.3."""
    proc = subprocess.run(
        [ogrinfo, "-ro", "-so", demo_db.url.database], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "ERROR" not in proc.stderr, proc.stderr
    assert "hazard (Multi Polygon)" in proc.stdout


def test_migrate_brings_an_older_file_to_the_version_gdal_reads(ogrinfo, tmp_path):
    path = tmp_path / "old.gpkg"
    open_database(path, create=True).dispose()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 10400")  # what demine wrote before
    with closing(sqlite3.connect(path)) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # into the header GDAL reads
    assert (
        "partially supported"
        in subprocess.run([ogrinfo, "-ro", "-so", str(path)], capture_output=True, text=True).stderr
    )
    migrate(open_engine(str(path)))
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == USER_VERSION
    assert (
        "Warning"
        not in subprocess.run([ogrinfo, "-ro", "-so", str(path)], capture_output=True, text=True).stderr
    )
