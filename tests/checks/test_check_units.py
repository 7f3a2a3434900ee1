"""The building blocks of the checker: blob decoding, measurement, single rules at their thresholds."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import shapely
from pyproj import Geod

from demine.checks.layers import decode_blobs, make_layer
from demine.checks.measure import approx_areas, exact_areas, point_polygon_distances_m
from demine.checks.placement import programme_extent
from demine.checks.polygons import MAX_SEGMENT_M, check_polygons
from demine.checks.rules import RULES, SEVERITIES
from demine.checks.run import check_layers
from demine.storage import gpkg_blob

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

GEOD = Geod(ellps="WGS84")
HEADER = struct.pack("<2sBBi", b"GP", 0, 0b001, 4326)


def ring_wkb(points):
    body = b"".join(struct.pack("<dd", x, y) for x, y in points)
    return HEADER + struct.pack("<BIII", 1, 3, 1, len(points)) + body


def hazard_layer(geoms, areas=None):
    rows = []
    for i, g in enumerate(geoms):
        blob = gpkg_blob.encode(g) if isinstance(g, shapely.Geometry) else g
        area = areas[i] if areas else 1.0
        rows.append((i + 1, f"HA-{i + 1}", blob, None, area, area, "open", None))
    return make_layer("hazard", rows)


def test_decode_blobs_reports_what_it_cannot_read():
    good = gpkg_blob.encode(shapely.box(0, 0, 1, 1))
    blobs = [
        good,
        None,
        b"XX" + bytes(20),
        b"GP\x00\x0f" + bytes(4),  # envelope code 7 does not exist
        ring_wkb([(0, 0), (1, 0), (1, 1)]),  # unclosed: GEOS reads it only by closing it
        HEADER + b"\x01\x03\x00",  # truncated
    ]
    geoms, malformed = decode_blobs(blobs)
    assert geoms[0].equals(shapely.box(0, 0, 1, 1)) and geoms[1] is None
    assert set(malformed) == {2, 3, 4, 5}
    assert "GeoPackage" in malformed[2] and "envelope" in malformed[3]
    assert "not closed" in malformed[4] and malformed[5] == "unreadable WKB"


def test_approximate_areas_are_well_within_the_tolerance():
    rng = np.random.default_rng(3)
    polys = []
    for lat in (-60, -10, 0, 35, 48, 70):
        for size_m in (30, 300, 2500, 30_000):
            n = 8
            angles = np.sort(rng.uniform(0, 2 * np.pi, n))
            r = size_m * rng.uniform(0.6, 1.0, n)
            lon, la, _ = GEOD.fwd(np.full(n, 31.0), np.full(n, lat), np.degrees(angles), r)
            polys.append(shapely.Polygon(np.column_stack([lon, la])))
    polys = np.array(polys, dtype=object)
    rough, exact = approx_areas(polys), exact_areas(polys)
    # A tenth of the 0.1 % tolerance; the 60 km polygons are measured exactly.
    assert np.all(np.abs(rough - exact) / exact < 1e-4)
    assert np.array_equal(rough[3::4], exact[3::4])
    assert np.isnan(approx_areas(np.array([None], dtype=object))[0])
    assert approx_areas(np.array([shapely.Polygon()], dtype=object))[0] == 0


def test_long_segments_are_measured_on_the_ellipsoid():
    # Two thin triangles, one edge just under and one just over 5 km, at 60°N where a
    # degree of longitude is half as long as at the equator.
    geoms = []
    for metres in (MAX_SEGMENT_M - 5, MAX_SEGMENT_M + 5):
        lon, lat, _ = GEOD.fwd(20.0, 60.0, 90.0, metres)
        geoms.append(shapely.Polygon([(20.0, 60.0), (lon, lat), ((20.0 + lon) / 2, 60.0005)]))
    findings = check_polygons(hazard_layer(geoms))
    assert [(f.rule, f.record) for f in findings] == [("long_segment", "HA-2")]
    assert findings[0].value == pytest.approx(MAX_SEGMENT_M + 5, abs=0.1)


def test_holes_and_parts_are_checked_ring_by_ring():
    shell = [(0, 0), (0.01, 0), (0.01, 0.01), (0, 0.01), (0, 0)]
    degenerate_hole = [(0.002, 0.002), (0.003, 0.003), (0.003, 0.003), (0.002, 0.002)]
    repeated_hole = [(0.004, 0.004), (0.005, 0.004), (0.005, 0.004), (0.005, 0.005), (0.004, 0.004)]
    geoms = [
        shapely.Polygon(shell, [degenerate_hole]),
        shapely.MultiPolygon([shapely.Polygon(shell, [repeated_hole]), shapely.box(0.02, 0, 0.03, 0.01)]),
    ]
    findings = {(f.rule, f.record) for f in check_polygons(hazard_layer(geoms))}
    assert findings == {("too_few_vertices", "HA-1"), ("duplicate_vertices", "HA-2")}


def test_closing_vertex_repeating_the_last_is_a_duplicate():
    ring = [(0, 0), (0.01, 0), (0.01, 0.01), (0, 0.01), (0, 0), (0, 0)]
    findings = check_polygons(hazard_layer([ring_wkb(ring)]))
    assert [(f.rule, f.value) for f in findings] == [("duplicate_vertices", 1)]


def test_swapped_coordinates_without_admin_areas():
    # No admin areas: the programme's extent is estimated from the records themselves.
    base = [shapely.box(31 + i * 0.01, 48, 31.001 + i * 0.01, 48.001) for i in range(12)]
    swapped = shapely.box(48, 31.05, 48.001, 31.051)
    layers = {"hazard": hazard_layer([*base, swapped])}
    findings = [f for f in check_layers(layers) if f.rule in ("lat_lon_swapped", "outside_area_of_interest")]
    assert [(f.rule, f.record) for f in findings] == [("lat_lon_swapped", "HA-13")]
    extent = programme_extent(None, [make_layer("hazard", [])])
    assert extent is None


def test_source_ids_used_twice():
    blob = gpkg_blob.encode(shapely.Point(31, 48))
    finds = make_layer(
        "find",
        [
            (1, "1", blob, None, None, "2025-01-01", "S-1"),
            (2, "2", gpkg_blob.encode(shapely.Point(31.1, 48)), None, None, "2025-01-01", "s-1 "),
            (3, "3", gpkg_blob.encode(shapely.Point(31.2, 48)), None, None, "2025-01-01", None),
        ],
    )
    findings = check_layers({"find": finds})
    assert [(f.rule, f.record) for f in findings] == [("duplicate_id", "2")]
    assert "source id" in findings[0].message


def test_point_polygon_distance_is_geodesic():
    poly = shapely.box(31.0, 48.0, 31.001, 48.001)
    lon, lat, _ = GEOD.fwd(31.001, 48.0005, 90.0, 12.0)
    metres = point_polygon_distances_m(
        np.array([shapely.Point(lon, lat)], dtype=object), np.array([poly], dtype=object)
    )
    assert metres[0] == pytest.approx(12.0, abs=0.01)


def test_catalogue():
    assert all(rule.severity in SEVERITIES for rule in RULES.values())
    assert {r for r, rule in RULES.items() if rule.repairable} == {"duplicate_vertices", "invalid_polygon"}
    # geocheck's priorities (issue_count.sql) are kept where geocheck has the rule.
    assert RULES["invalid_polygon"].severity == RULES["duplicate_polygon"].severity == "high"
    assert RULES["hazard_overlap"].severity == RULES["duplicate_vertices"].severity == "high"
    assert RULES["too_few_vertices"].severity == RULES["duplicate_point"].severity == "medium"
    assert RULES["duplicate_id"].severity == "medium"
