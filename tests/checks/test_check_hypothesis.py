"""Random broken geometries never crash the checker or the repairs, and sound ones pass clean.

Geometries are written as raw WKB inside GeoPackage blobs, so the strategies can make what
shapely itself refuses to build: rings of one to three points, unclosed rings, NaN and
infinite coordinates, as well as bow-ties, spikes, repeated vertices, overlapping parts and
holes outside their shell.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from demine.checks.layers import make_layer
from demine.checks.repair import repaired_geometry
from demine.checks.rules import RULES
from demine.checks.run import check_layers
from demine.geometry.area import geodesic_area
from demine.storage import gpkg_blob

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

Ring = list[tuple[float, float]]


def gp_header() -> bytes:
    return struct.pack("<2sBBi", b"GP", 0, 0b001, 4326)  # little-endian, no envelope


def wkb_polygon(rings: list[Ring]) -> bytes:
    out = struct.pack("<BII", 1, 3, len(rings))
    for ring in rings:
        out += struct.pack("<I", len(ring)) + b"".join(struct.pack("<dd", x, y) for x, y in ring)
    return out


def wkb_multipolygon(polygons: list[list[Ring]]) -> bytes:
    return struct.pack("<BII", 1, 6, len(polygons)) + b"".join(wkb_polygon(p) for p in polygons)


def wkb_point(x: float, y: float) -> bytes:
    return struct.pack("<BIdd", 1, 1, x, y)


odd = st.sampled_from([math.nan, math.inf, -math.inf, 1e308, 500.0, -95.0])


@st.composite
def rings(draw, cx: float, cy: float) -> Ring:
    n = draw(st.integers(0, 9))
    r = draw(st.floats(1e-6, 0.05))
    angles = sorted(draw(st.lists(st.floats(0, 2 * math.pi), min_size=n, max_size=n)))
    ring = [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in angles]
    for _ in range(draw(st.integers(0, 3))):
        if not ring:
            break
        k = draw(st.integers(0, len(ring) - 1))
        kind = draw(st.sampled_from(["dup", "swap", "spike", "odd", "far"]))
        if kind == "dup":
            ring.insert(k, ring[k])
        elif kind == "swap" and len(ring) > 1:
            j = draw(st.integers(0, len(ring) - 1))
            ring[k], ring[j] = ring[j], ring[k]
        elif kind == "spike":
            x, y = ring[k]
            ring[k + 1 : k + 1] = [(x + draw(st.floats(-0.1, 0.1)), y), (x, y)]
        elif kind == "odd":
            ring[k] = (draw(odd), ring[k][1]) if draw(st.booleans()) else (ring[k][0], draw(odd))
        else:
            ring[k] = (ring[k][0] + draw(st.floats(-1, 1)), ring[k][1] + draw(st.floats(-1, 1)))
    if ring and draw(st.booleans()):
        ring.append(ring[0])  # closed, as it should be (unless the draw says otherwise)
    return ring


@st.composite
def blobs(draw) -> bytes | None:
    kind = draw(st.sampled_from(["polygon", "polygon", "multi", "none", "junk", "point", "empty"]))
    cx = draw(st.floats(31.0, 31.2))
    cy = draw(st.floats(48.0, 48.1))
    if draw(st.integers(0, 9)) == 0:
        cx, cy = cy, cx  # swapped
    if kind == "none":
        return None
    if kind == "junk":
        return draw(
            st.sampled_from([b"", b"GP", b"XX" + bytes(10), gp_header() + draw(st.binary(max_size=40))])
        )
    if kind == "point":
        return gp_header() + wkb_point(cx, cy)
    if kind == "empty":
        return gp_header() + wkb_polygon([])
    if kind == "polygon":
        parts = [[draw(rings(cx, cy)) for _ in range(draw(st.integers(1, 3)))]]
        return gp_header() + wkb_polygon(parts[0])
    polygons = [[draw(rings(cx + draw(st.floats(-0.02, 0.02)), cy))] for _ in range(draw(st.integers(1, 3)))]
    return gp_header() + wkb_multipolygon(polygons)


def layers_from(hazard_blobs: list[bytes | None], find_points: list[tuple[float, float]]):
    n = len(hazard_blobs)
    hazards = [
        (i + 1, f"HA-{i + 1}", b, "AA01", 1000.0, 1000.0, "open", None) for i, b in enumerate(hazard_blobs)
    ]
    remaining = [(i + 1, f"HA-{i + 1}", b, 1000.0) for i, b in enumerate(hazard_blobs)]
    releases = [
        (i + 1, str(i + 1), b, i + 1, f"HA-{i + 1}", 500.0, 0.0, False, None)
        for i, b in enumerate(hazard_blobs)
    ]
    box = shapely.MultiPolygon([shapely.box(31.0, 48.0, 31.2, 48.1)])
    admin = [(1, "AA01", gpkg_blob.encode(box), geodesic_area(box), 1)]
    finds = [
        (
            k + 1,
            str(k + 1),
            gp_header() + wkb_point(x, y),
            (k % max(n, 1)) + 1,
            (k % max(n, 1)) + 1,
            "2025-01-01",
            None,
        )
        for k, (x, y) in enumerate(find_points)
    ]
    return {
        "hazard": make_layer("hazard", hazards),
        "remaining": make_layer("remaining", remaining),
        "release": make_layer("release", releases),
        "admin": make_layer("admin", admin),
        "find": make_layer("find", finds),
        "accident": make_layer("accident", []),
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(blobs(), min_size=1, max_size=8),
    st.lists(st.tuples(st.floats(-200, 200) | odd, st.floats(-100, 100) | odd), max_size=4),
)
def test_broken_geometries_never_crash_the_checker(hazard_blobs, find_points):
    layers = layers_from(hazard_blobs, find_points)
    findings = check_layers(layers)
    for f in findings:
        event(f.rule)  # --hypothesis-show-statistics shows which rules the draws reach
        assert f.rule in RULES
        assert f.record_id in set(layers[f.layer].ids.tolist())
    # At most one per-geometry verdict on what is wrong with each geometry's form.
    form = {"malformed_geometry", "missing_geometry", "wrong_geometry_type", "too_few_vertices"}
    seen = [(f.layer, f.record_id) for f in findings if f.rule in form]
    assert len(seen) == len(set(seen))
    # Repairs never raise either, whatever they are given.
    for f in findings:
        if RULES[f.rule].repairable:
            geom = layers[f.layer].geoms[layers[f.layer].index_of()[f.record_id]]
            fixed, why = repaired_geometry(f.rule, geom)
            assert fixed is None or fixed.is_valid or f.rule == "duplicate_vertices", why


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-1, 1), st.floats(-1, 1)),
        min_size=3,
        max_size=12,
    ),
    st.floats(31.01, 31.19),
    st.floats(48.01, 48.09),
    st.floats(20.0, 500.0),
)
def test_sound_polygons_pass_clean(offsets, cx, cy, size_m):
    hull = shapely.convex_hull(shapely.MultiPoint(offsets))
    assume(hull.geom_type == "Polygon" and hull.area > 0.05)  # collinear draws make no polygon
    edges = np.diff(shapely.get_coordinates(hull), axis=0)
    assume(np.hypot(edges[:, 0], edges[:, 1]).min() > 0.01)  # nearly equal vertices are duplicates
    scale = np.array([size_m / 74_000.0, size_m / 111_000.0])
    ring = shapely.get_coordinates(hull) * scale + [cx, cy]
    poly = shapely.Polygon(ring)
    layers = layers_from([gpkg_blob.encode(shapely.MultiPolygon([poly]))], [])
    area = geodesic_area(poly)
    layers["hazard"].attrs["area_m2"][0] = area
    layers["hazard"].attrs["remaining_area_m2"][0] = area
    layers["remaining"].attrs["area_m2"][0] = area
    layers["release"] = make_layer("release", [])
    findings = check_layers(layers)
    assert findings == [], [f.message for f in findings]
