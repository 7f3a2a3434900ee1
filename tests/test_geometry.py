"""Geometry on the ellipsoid: geodesic areas, polygon checks, reading user geometry into WGS 84."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod, Proj
from shapely.geometry.polygon import orient

from demine.domain.errors import ValidationError
from demine.geometry.area import geodesic_area, geodesic_areas
from demine.geometry.polygons import as_multipolygon, point_problems, polygon_problems
from demine.geometry.reading import read_geometry

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free

GEOD = Geod(ellps="WGS84")


def _cell_area(lat0, lat1, dlon):
    """Exact area of a graticule cell on the WGS 84 ellipsoid (authalic latitude formula)."""
    a, e2 = GEOD.a, GEOD.es
    e = math.sqrt(e2)

    def q(phi):
        s = math.sin(phi)
        return (1 - e2) * (s / (1 - e2 * s * s) - 1 / (2 * e) * math.log((1 - e * s) / (1 + e * s)))

    return a * a * math.radians(dlon) / 2 * (q(math.radians(lat1)) - q(math.radians(lat0)))


# --- geodesic area --------------------------------------------------------------------------


def test_one_degree_polygon_at_the_equator():
    # Four vertices joined by geodesics (the northern edge bows poleward of the parallel).
    assert geodesic_area(shapely.box(0, 0, 1, 1)) == pytest.approx(12_308_778_361.47, rel=1e-10)


def test_one_degree_graticule_cell_matches_the_closed_form():
    # Densified along the parallels, the polygon is the graticule cell.
    xs = np.linspace(0, 1, 2001)
    ring = [(x, 0.0) for x in xs] + [(x, 1.0) for x in xs[::-1]]
    assert geodesic_area(shapely.Polygon(ring)) == pytest.approx(_cell_area(0, 1, 1), rel=1e-7)
    assert _cell_area(0, 1, 1) == pytest.approx(12_308_463_894, rel=1e-9)
    # Higher up, a cell shrinks roughly with cos(latitude).
    ring = [(x, 60.0) for x in xs] + [(x, 61.0) for x in xs[::-1]]
    assert geodesic_area(shapely.Polygon(ring)) == pytest.approx(_cell_area(60, 61, 1), rel=1e-7)


def test_whole_sphere_band():
    """A 10° wide band from pole to equator: 1/72 of the ellipsoid's surface."""
    ring = [(0, 0), (10, 0), (10, 90), (0, 90), (0, 0)]
    surface = (
        4
        * math.pi
        * GEOD.a**2
        * (1 - GEOD.es)
        / 2
        * (
            1 / (1 - GEOD.es)
            + 1 / (2 * math.sqrt(GEOD.es)) * math.log((1 + math.sqrt(GEOD.es)) / (1 - math.sqrt(GEOD.es)))
        )
    )
    assert geodesic_area(shapely.Polygon(ring)) == pytest.approx(surface / 72, rel=1e-9)


def test_hectare_drawn_in_utm_measures_a_hectare():
    """100 m × 100 m in UTM 36N where the scale factor is ~1 (180 km off the central meridian)."""
    square = shapely.box(680_000, 5_300_000, 680_100, 5_300_100)
    g = read_geometry(square.wkt, "hazard U", "geometry", crs="EPSG:32636").geometry
    area = geodesic_area(g)
    assert area == pytest.approx(10_000, rel=5e-4)
    # Exactly: the projected area divided by the projection's areal scale there.
    proj = Proj(CRS("EPSG:32636"))
    scale = proj.get_factors(*proj(680_050, 5_300_050, inverse=True)).areal_scale
    assert area == pytest.approx(10_000 / scale, rel=1e-7)


def test_hectare_on_the_central_meridian_is_scaled_by_k0():
    # UTM shrinks the central meridian by k0 = 0.9996: a "hectare" there is 10 008 m².
    square = shapely.box(500_000, 5_300_000, 500_100, 5_300_100)
    g = read_geometry(square.wkt, "hazard U", "geometry", crs="EPSG:32636").geometry
    assert geodesic_area(g) == pytest.approx(10_000 / 0.9996**2, rel=1e-5)


def test_hectare_in_an_equal_area_projection():
    square = shapely.box(3_000_000, 5_500_000, 3_000_100, 5_500_100)  # EASE-Grid 2.0, on WGS 84
    g = read_geometry(square.wkt, "hazard E", "geometry", crs="EPSG:6933").geometry
    assert geodesic_area(g) == pytest.approx(10_000, rel=1e-7)


def test_holes_subtract_and_parts_add():
    shell = shapely.box(30.0, 48.0, 30.01, 48.01)
    hole = shapely.box(30.002, 48.002, 30.004, 48.004)
    other = shapely.box(30.02, 48.0, 30.03, 48.01)
    with_hole = shapely.Polygon(shell.exterior.coords, [hole.exterior.coords])
    assert geodesic_area(with_hole) == pytest.approx(geodesic_area(shell) - geodesic_area(hole), rel=1e-12)
    multi = shapely.MultiPolygon([with_hole, other])
    assert geodesic_area(multi) == pytest.approx(geodesic_area(with_hole) + geodesic_area(other), rel=1e-12)
    # The hole ring above runs counter-clockwise like its shell: demine subtracts it anyway.
    # pyproj's helper needs OGC orientation (shell CCW, holes CW) to agree.
    oriented = shapely.MultiPolygon([orient(p, 1.0) for p in multi.geoms])
    assert geodesic_area(multi) == pytest.approx(GEOD.geometry_area_perimeter(oriented)[0], rel=1e-9)


def test_area_of_nothing_and_of_non_areal_geometry():
    assert geodesic_area(None) == 0
    assert geodesic_area(shapely.Polygon()) == 0
    assert geodesic_area(shapely.MultiPolygon()) == 0
    assert geodesic_area(shapely.Point(30, 48)) == 0
    assert geodesic_area(shapely.LineString([(30, 48), (31, 49)])) == 0
    areas = geodesic_areas([shapely.box(0, 0, 1, 1), None, shapely.Point(0, 0)])
    assert areas.dtype == float and areas.shape == (3,)
    assert list(areas[1:]) == [0, 0] and areas[0] > 1e10


def test_area_is_orientation_independent():
    cw = shapely.Polygon([(30, 48), (30, 48.01), (30.01, 48.01), (30.01, 48)])
    assert not cw.exterior.is_ccw
    assert geodesic_area(cw) == pytest.approx(geodesic_area(shapely.box(30, 48, 30.01, 48.01)), rel=1e-12)


lon = st.floats(min_value=-170.0, max_value=170.0, allow_nan=False)
lat = st.floats(min_value=-75.0, max_value=75.0, allow_nan=False)


@st.composite
def small_polygons(draw):
    """A valid polygon up to ~0.5° across: a convex hull of random points or a buffer."""
    x0, y0 = draw(lon), draw(lat)
    size = draw(st.floats(min_value=1e-4, max_value=0.5))
    if draw(st.booleans()):
        offsets = draw(
            st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=3, max_size=15, unique=True)
        )
        hull = shapely.MultiPoint([(x0 + dx * size, y0 + dy * size) for dx, dy in offsets]).convex_hull
        assume(hull.geom_type == "Polygon" and hull.area > (size * size) * 1e-3)
        return hull
    return shapely.Point(x0, y0).buffer(size / 2, quad_segs=draw(st.integers(2, 8)))


@settings(max_examples=150, deadline=None)
@given(st.lists(small_polygons(), min_size=1, max_size=4))
def test_area_positive_and_additive_over_parts(polys):
    multi = shapely.MultiPolygon(polys)  # parts may overlap: area is the sum over parts
    total = geodesic_area(multi)
    assert total > 0
    parts = [geodesic_area(p) for p in shapely.get_parts(multi)]
    assert all(a > 0 for a in parts)
    assert total == pytest.approx(sum(parts), rel=1e-12)


@settings(max_examples=150, deadline=None)
@given(small_polygons(), st.integers(min_value=0, max_value=1000))
def test_area_invariant_to_reversal_and_rotation(poly, shift):
    coords = list(poly.exterior.coords)[:-1]
    k = shift % len(coords)
    rotated = coords[k:] + coords[:k]
    area = geodesic_area(poly)
    assert area > 0
    assert geodesic_area(shapely.Polygon(coords[::-1])) == pytest.approx(area, rel=1e-9)
    assert geodesic_area(shapely.Polygon(rotated)) == pytest.approx(area, rel=1e-9)
    # Against pyproj's own polygon helper: same ellipsoid, same algorithm.
    assert area == pytest.approx(abs(GEOD.geometry_area_perimeter(poly)[0]), rel=1e-9)


# --- polygon checks -----------------------------------------------------------------------


def _messages(geom):
    problems = polygon_problems(geom, "hazard H1", "geometry")
    assert all((p.record, p.field) == ("hazard H1", "geometry") for p in problems)
    return [p.message for p in problems]


def test_a_good_polygon_has_no_problems():
    assert _messages(shapely.box(30, 48, 30.01, 48.01)) == []
    assert _messages(shapely.MultiPolygon([shapely.box(0, 0, 0.1, 0.1), shapely.box(2, 2, 2.1, 2.1)])) == []
    # The bounds are inclusive.
    assert _messages(shapely.box(179.9, 89.9, 180, 90)) == []
    assert _messages(shapely.box(-180, -90, -179.9, -89.9)) == []


@pytest.mark.parametrize(
    ("geom", "expected"),
    [
        (None, "missing or empty"),
        (shapely.Polygon(), "missing or empty"),
        (shapely.MultiPolygon(), "missing or empty"),
        (shapely.Point(30, 48), "must be a Polygon or MultiPolygon, got Point"),
        (shapely.LineString([(30, 48), (31, 48)]), "got LineString"),
        (shapely.GeometryCollection([shapely.box(0, 0, 1, 1)]), "got GeometryCollection"),
        (shapely.from_wkt("POLYGON((30 48, 31 48, 30 48, 30 48))"), "has 2 distinct vertices; needs ≥ 3"),
        (shapely.from_wkt("POLYGON((30 48, 30 48, 30 48, 30 48))"), "has 1 distinct vertices"),
        (
            shapely.from_wkt("MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 5 5, 5 5)))"),
            "polygon (part 2) has 2 distinct vertices",
        ),
        # Latitude first: (48, 120) reads as latitude 120.
        (shapely.box(48, 120, 48.01, 120.01), "outside [-180,180]×[-90,90]"),
        (shapely.box(179.5, 0, 180.5, 1), "longitude must come first"),
        # Projected metres entered as degrees.
        (shapely.box(680_000, 5_300_000, 680_100, 5_300_100), "outside [-180,180]×[-90,90]"),
        (
            shapely.from_wkt("POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))"),
            "invalid polygon: Self-intersection[0.5 0.5]",
        ),
        (shapely.from_wkt("POLYGON((0 0, 1 0, 2 0, 0 0))"), "invalid polygon: Self-intersection"),
        (
            shapely.from_wkt(
                "POLYGON((0 0, .04 0, .04 .04, 0 .04, 0 0), (.01 .01, .05 .01, .05 .02, .01 .02, .01 .01))"
            ),
            "invalid polygon: ",
        ),
        (
            shapely.MultiPolygon([shapely.box(0, 0, 0.02, 0.02), shapely.box(0.01, 0.01, 0.03, 0.03)]),
            "invalid polygon: Self-intersection",
        ),
    ],
)
def test_polygon_problems(geom, expected):
    messages = _messages(geom)
    assert len(messages) == 1, messages
    assert expected in messages[0]


def test_bow_tie_reason_names_the_crossing():
    bow_tie = shapely.Polygon([(30, 48), (30.01, 48.01), (30.01, 48), (30, 48.01)])
    (message,) = _messages(bow_tie)
    assert message == "invalid polygon: Self-intersection[30.005 48.005]"


def test_point_problems():
    assert point_problems(shapely.Point(30, 48), "find F1", "location") == []
    for geom, expected in [
        (None, "missing or empty"),
        (shapely.Point(), "missing or empty"),
        (shapely.box(0, 0, 1, 1), "must be a Point"),
        (shapely.Point(48, 120), "outside [-180,180]×[-90,90]"),
    ]:
        (problem,) = point_problems(geom, "find F1", "location")
        assert (problem.record, problem.field) == ("find F1", "location")
        assert expected in problem.message


def test_as_multipolygon_keeps_only_area():
    a, b = shapely.box(0, 0, 1, 1), shapely.box(2, 0, 3, 1)
    assert as_multipolygon(None) is None
    assert as_multipolygon(shapely.Polygon()) is None
    assert as_multipolygon(a).equals(shapely.MultiPolygon([a]))
    assert as_multipolygon(a).geom_type == "MultiPolygon"
    mixed = shapely.GeometryCollection([a, shapely.LineString([(5, 5), (6, 6)]), shapely.MultiPolygon([b])])
    assert as_multipolygon(mixed).equals(shapely.MultiPolygon([a, b]))
    assert as_multipolygon(shapely.LineString([(0, 0), (1, 1)])) is None
    # Two squares touching along an edge: the intersection is a line, not an area.
    assert as_multipolygon(shapely.box(0, 0, 1, 1).intersection(shapely.box(1, 0, 2, 1))) is None


# --- reading what users type --------------------------------------------------------------

SQUARE = shapely.box(30.0, 48.0, 30.01, 48.01)


@pytest.mark.parametrize(
    "text",
    [
        SQUARE.wkt,
        "  " + SQUARE.wkt + "\n",
        shapely.to_geojson(SQUARE),
        json.dumps(
            {
                "type": "Feature",
                "properties": {"code": "H1"},
                "geometry": json.loads(shapely.to_geojson(SQUARE)),
            }
        ),
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {}, "geometry": json.loads(shapely.to_geojson(SQUARE))}
                ],
            }
        ),
    ],
    ids=["wkt", "wkt-padded", "geojson-geometry", "geojson-feature", "geojson-collection"],
)
def test_read_geometry_formats(text):
    entered = read_geometry(text, "hazard H1", "geometry")
    assert entered.geometry.equals_exact(SQUARE, tolerance=0)
    assert entered.entered_text == text.strip()
    assert entered.entered_crs == "EPSG:4326"


def test_read_multipolygon_geojson():
    multi = shapely.MultiPolygon([SQUARE, shapely.box(31, 48, 31.01, 48.01)])
    entered = read_geometry(shapely.to_geojson(multi), "hazard H1", "geometry")
    assert entered.geometry.equals_exact(multi, tolerance=0)


def test_read_utm_into_wgs84_and_keep_what_was_entered():
    text = "POLYGON((680000 5300000, 680100 5300000, 680100 5300100, 680000 5300100, 680000 5300000))"
    entered = read_geometry(text, "hazard U1", "geometry", crs="EPSG:32636")
    assert entered.entered_text == text
    assert entered.entered_crs == "EPSG:32636"
    g = entered.geometry
    assert g.geom_type == "Polygon" and g.is_valid
    assert polygon_problems(g, "hazard U1", "geometry") == []
    minx, miny, maxx, maxy = g.bounds
    # 180 km east of 33°E at 5300 km north: about 35.4°E, 47.8°N, in lon/lat order.
    assert 35.0 < minx < maxx < 36.0 and 47.0 < miny < maxy < 48.5
    assert g.exterior.coords[0] == pytest.approx(
        Proj(CRS("EPSG:32636"))(680000, 5300000, inverse=True), abs=1e-9
    )


def test_read_geojson_in_utm():
    text = json.dumps(
        {
            "type": "Polygon",
            "coordinates": [[[680000, 5300000], [680100, 5300000], [680100, 5300100], [680000, 5300000]]],
        }
    )
    entered = read_geometry(text, "hazard U2", "geometry", crs="EPSG:32636")
    assert geodesic_area(entered.geometry) == pytest.approx(5_000, rel=5e-4)


def test_explicit_wgs84_is_not_transformed():
    for crs in ("EPSG:4326", "epsg:4326", None):
        entered = read_geometry(SQUARE.wkt, "hazard H1", "geometry", crs=crs)
        assert entered.geometry.equals_exact(SQUARE, tolerance=0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "garbage",
        "42",
        "{",
        '{"type": "Polygon"}',
        '{"type": "Feature"}',
        '{"type": "Feature", "geometry": null}',
        '{"type": "FeatureCollection", "features": []}',
        json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None}] * 2}),
        "POLYGON((0 0, 1 0))",
        "POLYGON((0 0, 1 0, 1 1))",
    ],
)
def test_unreadable_geometry_names_record_and_field(text):
    with pytest.raises(ValidationError) as err:
        read_geometry(text, "hazard H9", "geometry")
    (problem,) = err.value.problems
    assert (problem.record, problem.field) == ("hazard H9", "geometry")
    assert problem.message.startswith("cannot read geometry")
    assert str(err.value).startswith("hazard H9: geometry: cannot read geometry")


@pytest.mark.parametrize("crs", ["EPSG:999999", "not a crs", "EPSG:-1"])
def test_unknown_crs_names_record_and_field(crs):
    with pytest.raises(ValidationError) as err:
        read_geometry(SQUARE.wkt, "release R1", "geometry", crs=crs)
    (problem,) = err.value.problems
    assert (problem.record, problem.field) == ("release R1", "geometry")
    assert problem.message == f"unknown CRS {crs!r}"


def test_projected_coordinates_outside_their_zone_are_refused():
    # A northing with one digit too many: the inverse projection lands somewhere plausible.
    wkt = "POLYGON ((500000 95320000, 500100 95320000, 500100 95320100, 500000 95320000))"
    with pytest.raises(ValidationError, match="outside the area where EPSG:32636 is defined") as err:
        read_geometry(wkt, "hazard H1", "geometry", "EPSG:32636")
    assert err.value.problems[0].field == "geometry"
