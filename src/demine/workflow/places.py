"""Where a polygon lies: the administrative area a hazard belongs to, derived from its polygon.

A hazard reported without a P-code gets the deepest administrative area (district before
province) that holds the largest part of its polygon, so that a report drawn on the map needs
no P-code typed in, and the admin-area checks have something to check against.
"""

from __future__ import annotations

import json
from typing import Any

import shapely
from sqlalchemy import Connection, select

from demine.domain.errors import ValidationError
from demine.geometry.reading import read_geometry
from demine.storage import schema


def admin_area_of(conn: Connection, geometry: shapely.Geometry | None) -> str | None:
    """The P-code of the deepest admin area holding most of ``geometry`` (None if none touches it)."""
    if geometry is None or geometry.is_empty:
        return None
    a = schema.admin_area
    minx, miny, maxx, maxy = geometry.bounds
    best: tuple[int, float, str] | None = None
    rows = conn.execute(select(a.c.pcode, a.c.level, a.c.geom).where(a.c.geom.is_not(None)))
    for pcode, level, area in rows:
        if area is None or area.is_empty:
            continue
        x0, y0, x1, y1 = area.bounds
        if x0 > maxx or x1 < minx or y0 > maxy or y1 < miny:
            continue
        try:
            share = (
                shapely.intersection(area, geometry).area if geometry.area else float(area.covers(geometry))
            )
        except shapely.errors.GEOSException:
            continue
        if share <= 0:
            continue
        key = (int(level or 0), share, pcode)
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best is not None else None


def payload_geometry(value: dict[str, Any] | str | None, crs: str | None) -> shapely.Geometry | None:
    """A payload's geometry (GeoJSON or WKT in ``crs``) in WGS 84, or None when it cannot be read."""
    if value is None:
        return None
    text = json.dumps(value) if isinstance(value, dict) else value
    try:
        return read_geometry(text, "record", "geometry", crs).geometry
    except ValidationError:
        return None
