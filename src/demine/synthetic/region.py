"""The synthetic region: its extent, admin areas (two levels, P-coded), settlements and roads."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from demine.synthetic import parameters as P

M_PER_DEG_LAT = 111_320.0

_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "ne",
    "vo",
    "ti",
    "sa",
    "du",
    "ye",
    "ro",
    "pa",
    "li",
    "ze",
    "ko",
    "na",
    "ba",
    "vi",
    "to",
    "me",
    "lu",
    "da",
    "ri",
    "sho",
]


def m_per_deg_lon(lat: float) -> float:
    """Metres per degree of longitude at a latitude (spherical approximation: for drawing only)."""
    return M_PER_DEG_LAT * math.cos(math.radians(lat))


def place_name(rng: np.random.Generator) -> str:
    """A pronounceable made-up place name."""
    return "".join(rng.choice(_SYLLABLES, size=rng.integers(2, 4))).capitalize()


@dataclass
class Region:
    """Extent, admin areas, settlements and roads of the synthetic programme."""

    bounds: tuple[float, float, float, float]
    admin: list[dict]
    settlements: list[dict]
    roads: list[dict]

    @property
    def districts(self) -> list[dict]:
        """The level-2 admin areas, where hazards are located."""
        return [a for a in self.admin if a["level"] == 2]


def build_region(rng: np.random.Generator, hazards: int) -> Region:
    """Draw a square region sized for ``hazards`` hazards."""
    side_km = max(40.0, math.sqrt(hazards * P.REGION_KM2_PER_HAZARD))
    half_lat = side_km * 500 / M_PER_DEG_LAT
    half_lon = side_km * 500 / m_per_deg_lon(P.CENTRE_LAT)
    minx, maxx = P.CENTRE_LON - half_lon, P.CENTRE_LON + half_lon
    miny, maxy = P.CENTRE_LAT - half_lat, P.CENTRE_LAT + half_lat
    extent = shapely.box(minx, miny, maxx, maxy)

    admin: list[dict] = []
    k1 = max(2, min(8, round(math.sqrt(hazards) / 25)))
    xs, ys = np.linspace(minx, maxx, k1 + 1), np.linspace(miny, maxy, k1 + 1)
    provinces = []
    for i in range(k1):
        for j in range(k1):
            pcode = f"DL{len(provinces) + 1:02d}"
            geom = shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1])
            provinces.append((pcode, geom))
            admin.append(
                {
                    "pcode": pcode,
                    "name": place_name(rng) + " Oblast",
                    "level": 1,
                    "parent_pcode": None,
                    "geom": geom,
                }
            )
    # Districts: Voronoi cells of jittered seeds, clipped to the region, P-coded by province.
    n_districts = max(4, min(900, hazards // 60))
    seeds = shapely.points(rng.uniform(minx, maxx, n_districts), rng.uniform(miny, maxy, n_districts))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=extent))
    cells = shapely.intersection(cells, extent)
    province_tree = shapely.STRtree([g for _, g in provinces])
    counters: dict[str, int] = {}
    for cell in cells:
        if cell.is_empty or cell.area == 0:
            continue
        # A district belongs to the province holding its representative point; it is
        # clipped to that province so the hierarchy nests exactly.
        hit = province_tree.query(cell.point_on_surface(), predicate="intersects")
        parent, parent_geom = provinces[int(hit[0])]
        cell = shapely.intersection(cell, parent_geom)
        counters[parent] = counters.get(parent, 0) + 1
        admin.append(
            {
                "pcode": f"{parent}{counters[parent]:02d}",
                "name": place_name(rng),
                "level": 2,
                "parent_pcode": parent,
                "geom": cell,
            }
        )
    # Pieces of cells cut off by the province clip are folded into a district of their province.
    covered = shapely.union_all([a["geom"] for a in admin if a["level"] == 2])
    gaps = shapely.get_parts(shapely.difference(extent, covered))
    districts = [a for a in admin if a["level"] == 2]
    district_tree = shapely.STRtree([a["geom"] for a in districts])
    for gap in gaps:
        if gap.area == 0:
            continue
        touching = district_tree.query(gap, predicate="touches")
        if len(touching):
            target = districts[int(touching[0])]
            target["geom"] = shapely.union(target["geom"], gap)

    n_settlements = max(20, min(5000, hazards // 8))
    sx, sy = rng.uniform(minx, maxx, n_settlements), rng.uniform(miny, maxy, n_settlements)
    population = np.maximum(50, rng.lognormal(np.log(900), 1.2, n_settlements)).astype(int)
    settlements = [
        {
            "name": place_name(rng),
            "pcode": f"C{i + 1:05d}",
            "population": int(pop),
            "geom": shapely.Point(x, y),
        }
        for i, (x, y, pop) in enumerate(zip(sx, sy, population, strict=True))
    ]
    roads = _roads(sx, sy, population, settlements)
    return Region((minx, miny, maxx, maxy), admin, settlements, roads)


def _roads(sx: np.ndarray, sy: np.ndarray, pop: np.ndarray, settlements: list[dict]) -> list[dict]:
    # Every settlement is joined to the nearest larger one: a tree of roads, trunk roads
    # between the large towns.
    order = np.argsort(-pop)
    roads = []
    lon_scale = m_per_deg_lon(P.CENTRE_LAT) / M_PER_DEG_LAT
    for rank in range(1, len(order)):
        i = order[rank]
        prior = order[:rank]
        d = ((sx[prior] - sx[i]) * lon_scale) ** 2 + (sy[prior] - sy[i]) ** 2
        j = prior[int(np.argmin(d))]
        cls = "primary" if pop[j] > 5000 and pop[i] > 2000 else "secondary" if pop[i] > 800 else "track"
        roads.append(
            {
                "name": f"{settlements[j]['name']}–{settlements[i]['name']}",
                "road_class": cls,
                "geom": shapely.LineString([(sx[j], sy[j]), (sx[i], sy[i])]),
            }
        )
    return roads
