"""Checks that a polygon is fit to store, and promotion to MultiPolygon.

The rules are GICHD geocheck's basic ones: the geometry must exist, be a polygon, have at
least three distinct vertices, be valid (OGC simple features) and lie within WGS 84 bounds.
On top of them, three plausibility limits (:func:`implausible`) that no real hazard or
release product reaches and that a mistake or an attack easily does:

* at most :data:`MAX_VERTICES` vertices (a surveyed traverse has tens to thousands; a
  million-vertex polygon costs the server hundreds of MiB and every page that draws it);
* no more than 180° of longitude: a polygon across the antimeridian, written in plain
  lon/lat, is read as the long way round the globe;
* at most :data:`MAX_AREA_M2` (10,000 km², about the size of Lebanon) on the ellipsoid: a
  20° × 20° "hazard" is a typing error in the coordinates, not a minefield.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.validation import explain_validity

from demine.domain.errors import Problem
from demine.geometry.area import geodesic_area

MAX_VERTICES = 50_000
MAX_AREA_M2 = 1e10
# Below this bounding box (square degrees) a polygon cannot reach MAX_AREA_M2 at any latitude
# (a degree of latitude is at most 111.7 km), so its geodesic area need not be computed here.
_SMALL_BOX_DEG2 = MAX_AREA_M2 / 111_700.0**2


def implausible(geoms: np.ndarray) -> list[str | None]:
    """For each (multi)polygon, why it is implausible for the register (or None), vectorised."""
    geoms = np.asarray(geoms, dtype=object)
    out: list[str | None] = [None] * len(geoms)
    if not len(geoms):
        return out
    counts = shapely.get_num_coordinates(geoms)
    bounds = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        width = bounds[:, 2] - bounds[:, 0]
        box = width * (bounds[:, 3] - bounds[:, 1])
    for i in np.flatnonzero(counts > MAX_VERTICES):
        out[i] = (
            f"has {counts[i]:,} vertices; at most {MAX_VERTICES:,} are accepted: simplify it "
            "(e.g. ogr2ogr -simplify 0.1 in metres) or split it into several hazards"
        )
    for i in np.flatnonzero(width > 180):
        out[i] = out[i] or (
            f"spans {width[i]:.0f}° of longitude: a polygon across the antimeridian (±180°) must be "
            "given as a MultiPolygon with one part on each side"
        )
    for i in np.flatnonzero(box > _SMALL_BOX_DEG2):
        if out[i] is None:
            area = geodesic_area(geoms[i])
            if area > MAX_AREA_M2:
                out[i] = (
                    f"covers {area / 1e6:,.0f} km², more than the {MAX_AREA_M2 / 1e6:,.0f} km² any hazard "
                    "or release reaches: check the coordinates (order, units, CRS)"
                )
    return out


def polygon_problems(geom: shapely.Geometry | None, record: str, field: str) -> list[Problem]:
    """Everything wrong with a polygon a user gave for ``record.field``; empty when fit."""
    if geom is None or geom.is_empty:
        return [Problem(record, field, "geometry is missing or empty")]
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return [Problem(record, field, f"must be a Polygon or MultiPolygon, got {geom.geom_type}")]
    problems: list[Problem] = []
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        problems.append(
            Problem(
                record,
                field,
                f"coordinates outside [-180,180]×[-90,90] (bounds {minx:g},{miny:g},{maxx:g},{maxy:g});"
                " longitude must come first",
            )
        )
    if problems:
        return problems
    reason = implausible(np.array([geom], dtype=object))[0]
    if reason is not None:
        return [Problem(record, field, reason)]
    for i, part in enumerate(shapely.get_parts(geom)):
        distinct = len(set(part.exterior.coords))
        if distinct < 3:
            where = f" (part {i + 1})" if geom.geom_type == "MultiPolygon" else ""
            problems.append(
                Problem(record, field, f"polygon{where} has {distinct} distinct vertices; needs ≥ 3")
            )
    if not problems and not geom.is_valid:
        problems.append(Problem(record, field, f"invalid polygon: {explain_validity(geom)}"))
    return problems


def point_problems(geom: shapely.Geometry | None, record: str, field: str) -> list[Problem]:
    """Everything wrong with a point a user gave for ``record.field``."""
    if geom is None or geom.is_empty:
        return [Problem(record, field, "geometry is missing or empty")]
    if geom.geom_type != "Point":
        return [Problem(record, field, f"must be a Point, got {geom.geom_type}")]
    if not (-180 <= geom.x <= 180 and -90 <= geom.y <= 90):
        return [Problem(record, field, f"({geom.x:g}, {geom.y:g}) is outside [-180,180]×[-90,90]")]
    return []


def as_multipolygon(geom: shapely.Geometry | None) -> shapely.MultiPolygon | None:
    """The polygonal part of ``geom`` as a MultiPolygon (None when nothing areal is left).

    Differences and intersections can return collections with slivers of lower dimension;
    only the polygons carry area, so only they are kept.
    """
    if geom is None or geom.is_empty:
        return None
    polys = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    if geom.geom_type == "GeometryCollection":
        polys = [
            q
            for p in shapely.get_parts(geom)
            for q in shapely.get_parts(p)
            if q.geom_type == "Polygon" and not q.is_empty
        ]
    if not polys:
        return None
    return shapely.MultiPolygon(polys)
