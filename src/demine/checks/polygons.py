"""Rules on each polygon by itself, vectorised over a whole layer with shapely 2.

Every ring of every polygon is unpacked once (``get_parts`` → ``get_rings`` →
``get_coordinates(return_index=True)``), and the vertex rules work on that flat coordinate
array: duplicate consecutive vertices, distinct vertices per ring, segment lengths (one
``Geod.inv`` call over all long-looking segments). Validity comes from one
``shapely.is_valid_reason`` call.

A record gets one finding per defect: a geometry that cannot be read, is missing, has the
wrong type, non-finite coordinates or too few vertices is not also called invalid (GEOS
would say so, for the same reason).
"""

from __future__ import annotations

import numpy as np
import shapely

from demine.checks.layers import Layer
from demine.checks.measure import approx_distances_m, distances_m
from demine.checks.rules import Finding
from demine.domain.landrelease import CLOSE_BELOW_M2

# Vertices closer than this (about 0.1 mm) are the same vertex entered twice. geocheck compares
# at 0.000001° because IMSMA stores 6 decimals; demine stores full doubles, and overlays
# legitimately leave vertices a few centimetres apart, which are not typing errors.
RESOLUTION_DEG = 1e-9
# Consecutive vertices further apart than this are probably a typing error (geocheck default).
MAX_SEGMENT_M = 5000.0
# Survey polygons have short edges; admin boundaries and derived remainders need not.
LONG_SEGMENT_LAYERS = ("hazard", "release")

POLYGONAL = (3, 6)  # shapely type ids of Polygon and MultiPolygon
TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint"}
TYPE_NAMES |= {5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}


def geometry_needed(layer: Layer) -> np.ndarray:
    """Which records must have a geometry: all, except the remainder of a released hazard."""
    if layer.name == "remaining":
        area = np.array([a if a is not None else 0.0 for a in layer.attrs["area_m2"]], dtype=float)
        return area >= CLOSE_BELOW_M2
    return np.ones(len(layer), dtype=bool)


def basic_findings(
    layer: Layer, expected_types: tuple[int, ...], type_word: str
) -> tuple[list[Finding], np.ndarray]:
    """Unreadable, missing and wrongly typed geometries; returns the mask of the rest."""
    findings: list[Finding] = []
    geoms = layer.geoms
    malformed = np.zeros(len(layer), dtype=bool)
    for i, reason in layer.malformed.items():
        malformed[i] = True
        findings.append(layer.finding(i, "malformed_geometry", f"stored geometry is {reason}"))
    absent = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(absent & ~malformed & geometry_needed(layer)):
        findings.append(layer.finding(i, "missing_geometry", "geometry is missing or empty"))
    type_id = shapely.get_type_id(geoms)
    wrong = ~absent & ~np.isin(type_id, expected_types)
    for i in np.flatnonzero(wrong):
        got = TYPE_NAMES.get(int(type_id[i]), "unknown")
        findings.append(layer.finding(i, "wrong_geometry_type", f"is a {got}, not a {type_word}"))
    return findings, ~absent & ~wrong & ~malformed


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether paired coordinates are the same vertex, at the comparison resolution."""
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.abs(a - b)
    return (d[:, 0] <= RESOLUTION_DEG) & (d[:, 1] <= RESOLUTION_DEG)


def range_message(geom: shapely.Geometry, nonfinite: bool) -> str:
    """Why a geometry's coordinates are out of range, with a hint when they look swapped."""
    if nonfinite:
        return "has a coordinate that is not a number (NaN or infinite)"
    minx, miny, maxx, maxy = shapely.bounds(geom)
    hint = ""
    if max(abs(miny), abs(maxy)) <= 180 and max(abs(minx), abs(maxx)) <= 90:
        hint = "; longitude and latitude look swapped"
    return f"coordinates outside [-180,180]×[-90,90] (bounds {minx:g},{miny:g},{maxx:g},{maxy:g}){hint}"


def check_polygons(layer: Layer) -> list[Finding]:
    """Per-polygon rules over a polygon layer; sets ``layer.usable`` for the relation rules."""
    findings, present = basic_findings(layer, POLYGONAL, "polygon")
    n = len(layer)
    idx = np.flatnonzero(present)
    parts, part_of = shapely.get_parts(layer.geoms[idx], return_index=True)
    rings, ring_of_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    ring_geom = idx[part_of[ring_of_part]]  # layer index of each ring
    coord_geom = ring_geom[coord_ring]

    # Coordinates: finite and within WGS 84 ranges.
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(coords).all(axis=1)
        in_range = finite & (np.abs(coords[:, 0]) <= 180) & (np.abs(coords[:, 1]) <= 90)
    nonfinite_geom = np.zeros(n, dtype=bool)
    nonfinite_geom[coord_geom[~finite]] = True
    outside_geom = np.zeros(n, dtype=bool)
    outside_geom[coord_geom[~in_range]] = True
    for i in np.flatnonzero(outside_geom):
        message = range_message(layer.geoms[i], bool(nonfinite_geom[i]))
        findings.append(layer.finding(i, "coordinates_out_of_range", message))
    sound = present & ~outside_geom

    # Fewer than 3 distinct vertices: every vertex of the ring is one of its first two
    # distinct points. One pass over the coordinates, no sorting.
    count = np.bincount(coord_ring, minlength=len(rings))
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    position = np.arange(len(coords))
    differs = ~_same(coords, coords[start[coord_ring]])
    second = np.full(len(rings), len(coords))
    np.minimum.at(second, coord_ring[differs], position[differs])
    has_second = second < len(coords)
    third = differs & ~_same(coords, coords[np.minimum(second, len(coords) - 1)[coord_ring]])
    has_third = np.bincount(coord_ring[third], minlength=len(rings)) > 0
    distinct = np.where(has_third, 3, (count > 0).astype(int) + has_second)  # 3 means "3 or more"
    least = np.full(n, 3)
    np.minimum.at(least, ring_geom, distinct)
    few = sound & (least < 3)
    for i in np.flatnonzero(few):
        what = f"a ring has {least[i]} distinct vertices; a polygon needs at least 3"
        findings.append(layer.finding(i, "too_few_vertices", what, int(least[i])))
    sound &= ~few

    # Consecutive vertices: duplicates and long segments, ring by ring. The closing vertex
    # follows the last one, so a last vertex repeating the first counts as a duplicate too.
    seg_geom = coord_geom[1:]
    seg_ok = (coord_ring[1:] == coord_ring[:-1]) & sound[seg_geom]
    dup = np.flatnonzero(seg_ok & _same(coords[:-1], coords[1:]))
    dup_geoms, first, counts = np.unique(seg_geom[dup], return_index=True, return_counts=True)
    for i, j, count in zip(dup_geoms, first, counts, strict=True):
        x, y = coords[dup[j] + 1]
        what = f"{count} duplicate consecutive vertex(es), the first at ({x:.6f}, {y:.6f})"
        findings.append(layer.finding(int(i), "duplicate_vertices", what, int(count)))

    a, b = coords[:-1], coords[1:]
    seg = np.flatnonzero(seg_ok) if layer.name in LONG_SEGMENT_LAYERS else np.zeros(0, dtype=np.int64)
    rough = approx_distances_m(a[seg, 0], a[seg, 1], b[seg, 0], b[seg, 1])
    # The estimate is within a few per cent at this range: measure only plausible candidates.
    cand = seg[rough > 0.9 * MAX_SEGMENT_M]
    exact = distances_m(a[cand, 0], a[cand, 1], b[cand, 0], b[cand, 1])
    too_long = exact > MAX_SEGMENT_M
    long_geom, long_len = seg_geom[cand[too_long]], exact[too_long]
    if len(long_geom):
        longest = np.zeros(n)
        np.maximum.at(longest, long_geom, long_len)
        number = np.bincount(long_geom, minlength=n)
        for i in np.flatnonzero(number):
            what = (
                f"{number[i]} segment(s) longer than {MAX_SEGMENT_M / 1000:g} km between consecutive "
                f"vertices (longest {longest[i] / 1000:,.2f} km)"
            )
            findings.append(layer.finding(int(i), "long_segment", what, round(float(longest[i]), 1)))

    # Validity, on what is left (GEOS would only restate the defects found above).
    check = np.flatnonzero(sound)
    reasons = shapely.is_valid_reason(layer.geoms[check])
    invalid = reasons != "Valid Geometry"
    for i, reason in zip(check[invalid], reasons[invalid], strict=True):
        findings.append(layer.finding(int(i), "invalid_polygon", f"invalid polygon: {reason}"))
    usable = np.zeros(n, dtype=bool)
    usable[check[~invalid]] = True
    layer.usable = usable
    return findings
