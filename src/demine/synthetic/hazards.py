"""Synthetic hazardous areas: irregular polygons near settlements and roads, with attributes."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import shapely

from demine.register.hazards import NewHazard
from demine.synthetic import parameters as P
from demine.synthetic.region import M_PER_DEG_LAT, Region, m_per_deg_lon

EVIDENCE = [
    "eo_presence",
    "marking",
    "scrap_metal",
    "craters",
    "damaged_infrastructure",
    "land_not_in_use",
    "reported_detonation",
    "accident",
]
BLOCKAGES = ["roads", "agriculture", "housing", "infrastructure", "water"]


def _star_polygon(rng: np.random.Generator, x: float, y: float, area_m2: float) -> shapely.Polygon:
    n = int(rng.integers(6, 15))
    # One vertex in each of n equal sectors: no gap over 180°, so the ring never crosses itself.
    angles = (np.arange(n) + rng.uniform(0.1, 0.9, n)) * (2 * math.pi / n)
    radii = rng.uniform(0.7, 1.3, n)
    # Scale so the polygon's area is about the target: a star-shaped polygon with these
    # radii has area ½ Σ r_i r_{i+1} sin(Δθ).
    dtheta = np.diff(np.append(angles, angles[0] + 2 * math.pi))
    unit_area = 0.5 * np.sum(radii * np.roll(radii, -1) * np.sin(dtheta))
    if unit_area <= 0:
        unit_area = math.pi
    scale = math.sqrt(area_m2 / unit_area)
    dx = scale * radii * np.cos(angles) / m_per_deg_lon(y)
    dy = scale * radii * np.sin(angles) / M_PER_DEG_LAT
    poly = shapely.Polygon(np.column_stack([x + dx, y + dy]))
    return poly if poly.is_valid else shapely.convex_hull(poly)


def draw_hazards(
    rng: np.random.Generator,
    region: Region,
    count: int,
    history_start: date,
    as_of: date,
    operators: list[str],
) -> list[NewHazard]:
    """``count`` non-overlapping hazards; about 40 % reported during the history window."""
    minx, miny, maxx, maxy = region.bounds
    near = np.array([(s["geom"].x, s["geom"].y) for s in region.settlements])
    candidates = int(count * 1.25) + 10
    is_sha = rng.random(candidates) < P.SHA_SHARE
    area = np.where(
        is_sha,
        rng.lognormal(math.log(P.SHA_MEDIAN_M2), P.SHA_SIGMA, candidates),
        rng.lognormal(math.log(P.CHA_MEDIAN_M2), P.CHA_SIGMA, candidates),
    )
    area = np.clip(area, P.MIN_HAZARD_M2, P.MAX_HAZARD_M2)
    # Most contamination lies around settlements (former front lines); the rest anywhere.
    anchor = near[rng.integers(0, len(near), candidates)]
    spread_m = rng.exponential(2500.0, candidates)
    bearing = rng.uniform(0, 2 * math.pi, candidates)
    cx = anchor[:, 0] + spread_m * np.cos(bearing) / m_per_deg_lon(P.CENTRE_LAT)
    cy = anchor[:, 1] + spread_m * np.sin(bearing) / M_PER_DEG_LAT
    anywhere = rng.random(candidates) < 0.3
    cx = np.where(anywhere, rng.uniform(minx, maxx, candidates), cx)
    cy = np.where(anywhere, rng.uniform(miny, maxy, candidates), cy)
    margin = 0.02
    cx, cy = np.clip(cx, minx + margin, maxx - margin), np.clip(cy, miny + margin, maxy - margin)
    polys = [_star_polygon(rng, x, y, a) for x, y, a in zip(cx, cy, area, strict=True)]

    # Keep hazards in draw order, skipping any that overlap one already kept.
    tree = shapely.STRtree(polys)
    left, right = tree.query(polys, predicate="intersects")
    clashes: dict[int, list[int]] = {}
    for a, b in zip(left, right, strict=True):
        if a > b:
            clashes.setdefault(int(a), []).append(int(b))
    kept: list[int] = []
    kept_set: set[int] = set()
    for i in range(candidates):
        if not any(j in kept_set for j in clashes.get(i, ())):
            kept.append(i)
            kept_set.add(i)
        if len(kept) == count:
            break

    districts = region.districts
    district_tree = shapely.STRtree([d["geom"] for d in districts])
    # The district is the one holding a point of the polygon itself, not the draw point.
    centroids = shapely.point_on_surface(np.asarray(polys, dtype=object)[kept])
    where_point, where_district = district_tree.query(centroids, predicate="within")
    pcode_of = {int(p): districts[int(d)]["pcode"] for p, d in zip(where_point, where_district, strict=True)}

    legacy_days = 3 * 365
    window = (as_of - history_start).days
    hazards = []
    for n, i in enumerate(kept):
        sha = bool(is_sha[i])
        if rng.random() < 0.6:
            reported = history_start - timedelta(days=int(rng.integers(1, legacy_days)))
        else:
            reported = history_start + timedelta(days=int(rng.integers(0, window - 30)))
        if sha:
            eo = list(
                rng.choice(["apm", "atm", "uxo", "submunition"], size=rng.integers(1, 3), replace=False)
            )
            evidence = list(rng.choice(EVIDENCE[4:], size=rng.integers(1, 3), replace=False))
        else:
            eo = list(rng.choice(["apm", "atm", "uxo", "ied"], size=rng.integers(1, 4), replace=False))
            evidence = [
                "eo_presence",
                *rng.choice(EVIDENCE[1:], size=rng.integers(0, 3), replace=False),
            ]
        blockages = [b for b in BLOCKAGES if rng.random() < (0.45 if b == "agriculture" else 0.15)]
        poly = polys[i]
        first = poly.exterior.coords[0]
        benchmark = (
            first[0] + 20 / m_per_deg_lon(first[1]) * (1 if first[0] >= cx[i] else -1),
            first[1] + 20 / M_PER_DEG_LAT * (1 if first[1] >= cy[i] else -1),
        )
        people = int(rng.lognormal(math.log(60 if sha else 120), 1.0))
        beneficiaries = {}
        for sex in ("female", "male"):
            for band, share in (
                ("0_4", 0.08),
                ("5_12", 0.14),
                ("13_17", 0.08),
                ("18_59", 0.55),
                ("60_plus", 0.15),
            ):
                beneficiaries[("direct", sex, band)] = round(people * share / 2)
                beneficiaries[("indirect", sex, band)] = round(people * 4 * share / 2)
        hazards.append(
            NewHazard(
                code=f"HA-{n + 1:06d}",
                name=f"Hazard {n + 1}",
                hazard_type="SHA" if sha else "CHA",
                geometry=poly,
                reported_on=reported,
                organisation=operators[int(rng.integers(0, len(operators)))],
                admin_pcode=pcode_of.get(n),
                priority=str(rng.choice(["high", "medium", "low"], p=[0.2, 0.5, 0.3])),
                eo_categories=[str(c) for c in eo],
                evidence=[str(e) for e in evidence],
                blockages=blockages,
                benchmark=benchmark,
                beneficiaries=beneficiaries,
            )
        )
    return hazards
