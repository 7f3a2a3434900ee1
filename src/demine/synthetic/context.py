"""Synthetic context layers for a demo programme: schools, health facilities, water points,
farmland, railways, power lines, protected areas, and a ground slope for every hazard.

Added to a programme that already has its region, settlements and hazards (see
:func:`demine.synthetic.programme.build_programme`), so prioritisation and the workplan have
something to join with. Deterministic for a seed; it draws from its own random stream, so the
rest of the demo programme is the same with or without it. All numbers here are assumptions
chosen to look plausible for a rural steppe programme, not sourced figures.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Connection, bindparam, insert, select, update

from demine.storage import gpkg_blob, schema
from demine.synthetic.region import M_PER_DEG_LAT, m_per_deg_lon

# Settlement sizes that have a school / a health facility (assumption).
SCHOOL_FROM_POPULATION = 400
HEALTH_FROM_POPULATION = 1500
WATER_POINTS_PER_SETTLEMENT = 2
FIELDS_PER_SETTLEMENT = 4
FIELD_KM2 = (0.2, 2.0)
# Slope in degrees: mostly flat steppe, a tail of ravines and hillsides (gamma, mean 6°).
SLOPE_SHAPE, SLOPE_SCALE = 1.5, 4.0


def _offset(
    rng: np.random.Generator, lon: np.ndarray, lat: np.ndarray, metres: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points scattered about ``metres`` (exponentially) around the given ones."""
    d = rng.exponential(metres, lon.size)
    bearing = rng.uniform(0, 2 * math.pi, lon.size)
    return lon + d * np.cos(bearing) / m_per_deg_lon(float(np.mean(lat))), lat + d * np.sin(
        bearing
    ) / M_PER_DEG_LAT


def _field(rng: np.random.Generator, x: float, y: float, km2: float) -> shapely.MultiPolygon:
    """A rotated rectangle of about ``km2`` (fields are long strips, 1:1 to 1:4)."""
    ratio = rng.uniform(1.0, 4.0)
    w = math.sqrt(km2 * 1e6 / ratio)
    h = w * ratio
    corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2
    a = rng.uniform(0, math.pi)
    rot = corners @ np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    lon = x + rot[:, 0] / m_per_deg_lon(y)
    lat = y + rot[:, 1] / M_PER_DEG_LAT
    return shapely.MultiPolygon([shapely.Polygon(np.column_stack([lon, lat]))])


def _lines_between(points: np.ndarray, order: np.ndarray) -> list[shapely.LineString]:
    """Each point joined to the nearest one before it in ``order`` (a tree)."""
    lines = []
    for rank in range(1, order.size):
        i = order[rank]
        prior = order[:rank]
        d = ((points[prior] - points[i]) ** 2).sum(axis=1)
        j = prior[int(np.argmin(d))]
        lines.append(shapely.LineString([points[j], points[i]]))
    return lines


def add_context(conn: Connection, seed: int = 1) -> dict[str, Any]:
    """Add context layers and hazard slopes to the programme in ``conn``; returns the counts."""
    rng = np.random.default_rng([seed, 5])
    s = schema.settlement
    rows = conn.execute(select(s.c.geom, s.c.population)).all()
    if not rows:
        return {"context_points": 0, "context_lines": 0, "context_areas": 0, "hazard_slopes": 0}
    lon = np.array([g.x for g, _ in rows])
    lat = np.array([g.y for g, _ in rows])
    pop = np.array([p or 0 for _, p in rows], dtype=float)
    minx, maxx, miny, maxy = lon.min(), lon.max(), lat.min(), lat.max()

    points: list[dict[str, Any]] = []
    big = pop >= SCHOOL_FROM_POPULATION
    sx, sy = _offset(rng, lon[big], lat[big], 300.0)
    points += [
        {
            "layer": "school",
            "name": f"School {i + 1}",
            "value": float(round(p * 0.15)),
            "geom": shapely.Point(x, y),
        }
        for i, (x, y, p) in enumerate(zip(sx, sy, pop[big], strict=True))
    ]
    town = pop >= HEALTH_FROM_POPULATION
    hx, hy = _offset(rng, lon[town], lat[town], 400.0)
    points += [
        {"layer": "health_facility", "name": f"Health post {i + 1}", "geom": shapely.Point(x, y)}
        for i, (x, y) in enumerate(zip(hx, hy, strict=True))
    ]
    wlon = np.repeat(lon, WATER_POINTS_PER_SETTLEMENT)
    wlat = np.repeat(lat, WATER_POINTS_PER_SETTLEMENT)
    wx, wy = _offset(rng, wlon, wlat, 900.0)
    points += [
        {"layer": "water_point", "name": f"Well {i + 1}", "geom": shapely.Point(x, y)}
        for i, (x, y) in enumerate(zip(wx, wy, strict=True))
    ]

    areas: list[dict[str, Any]] = []
    flon = np.repeat(lon, FIELDS_PER_SETTLEMENT)
    flat = np.repeat(lat, FIELDS_PER_SETTLEMENT)
    fx, fy = _offset(rng, flon, flat, 1800.0)
    km2 = rng.uniform(*FIELD_KM2, fx.size)
    areas += [
        {"layer": "farmland", "name": f"Field {i + 1}", "category": "arable", "geom": _field(rng, x, y, a)}
        for i, (x, y, a) in enumerate(zip(fx, fy, km2, strict=True))
    ]
    for i in range(max(1, round((maxx - minx) * (maxy - miny) * 4))):
        cx, cy = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        reserve = shapely.Point(cx, cy).buffer(rng.uniform(0.01, 0.04), quad_segs=6)
        areas.append(
            {
                "layer": "protected_area",
                "name": f"Nature reserve {i + 1}",
                "geom": shapely.MultiPolygon([reserve]),
            }
        )

    lines: list[dict[str, Any]] = []
    xy = np.column_stack([lon * math.cos(math.radians(float(lat.mean()))), lat])
    towns = np.argsort(-pop)[: max(3, pop.size // 12)]
    for line in _lines_between(np.column_stack([lon, lat])[towns], np.arange(towns.size)):
        lines.append({"layer": "power_line", "name": "Power line", "category": "110 kV", "geom": line})
    # Two railways across the region, through the largest towns in the west–east and south–north order.
    for axis in (0, 1):
        stops = towns[: max(3, towns.size // 3)]
        stops = stops[np.argsort(xy[stops, axis])]
        lines.append(
            {
                "layer": "railway",
                "name": f"Railway {axis + 1}",
                "geom": shapely.LineString(np.column_stack([lon[stops], lat[stops]])),
            }
        )

    for table, batch in (
        (schema.context_point, points),
        (schema.context_line, lines),
        (schema.context_area, areas),
    ):
        if batch:
            conn.execute(
                insert(table),
                [
                    {
                        "layer": r["layer"],
                        "name": r.get("name"),
                        "category": r.get("category"),
                        "value": r.get("value"),
                        "source_id": None,
                        "geom": gpkg_blob.encode(r["geom"]),
                    }
                    for r in batch
                ],
            )

    h = schema.hazard
    ids = list(conn.execute(select(h.c.id).order_by(h.c.id)).scalars())
    slopes = np.round(rng.gamma(SLOPE_SHAPE, SLOPE_SCALE, len(ids)), 1)
    if ids:
        conn.execute(
            update(h).where(h.c.id == bindparam("hid")).values(slope_deg=bindparam("slope")),
            [{"hid": i, "slope": float(v)} for i, v in zip(ids, slopes, strict=True)],
        )
    return {
        "context_points": len(points),
        "context_lines": len(lines),
        "context_areas": len(areas),
        "hazard_slopes": len(ids),
    }
