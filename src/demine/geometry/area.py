"""Geodesic areas in square metres on the WGS 84 ellipsoid.

Areas are never square degrees: pyproj's ``Geod`` (Karney's algorithm, exact on the
ellipsoid) measures every polygon when it is written.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import shapely
from pyproj import Geod

WGS84 = Geod(ellps="WGS84")


def _ring_area(coords: np.ndarray) -> float:
    area, _ = WGS84.polygon_area_perimeter(coords[:, 0], coords[:, 1])
    return abs(area)


def geodesic_area(geom: shapely.Geometry | None) -> float:
    """Area in m² of a (multi)polygon in WGS 84 lon/lat; 0 for empty, None or non-areal."""
    if geom is None or geom.is_empty:
        return 0.0
    total = 0.0
    for part in shapely.get_parts(geom):
        if part.geom_type != "Polygon":
            continue
        total += _ring_area(np.asarray(part.exterior.coords))
        for hole in part.interiors:
            total -= _ring_area(np.asarray(hole.coords))
    return total


def geodesic_areas(geoms: Iterable[shapely.Geometry | None]) -> np.ndarray:
    """Areas in m² of many geometries (one float per input)."""
    return np.fromiter((geodesic_area(g) for g in geoms), dtype=float)
