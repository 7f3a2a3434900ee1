"""Checks that a polygon is fit to store, and promotion to MultiPolygon.

The rules are GICHD geocheck's basic ones: the geometry must exist, be a polygon, have at
least three distinct vertices, be valid (OGC simple features) and lie within WGS 84 bounds.
"""

from __future__ import annotations

import shapely
from shapely.validation import explain_validity

from demine.domain.errors import Problem


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
