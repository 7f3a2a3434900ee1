"""Benchmark of impact prioritisation (issue 5): 100,000 hazards × 1,000,000 context features.

Target: under a minute on 2 cores. The programme and its context are drawn here, in memory
(a square region of 200,000 km² at 47.5° N, the demo's density of 2 km² per hazard):

* 100,000 hazard polygons (star-shaped, 10 vertices, median 20,000 m²) with EO categories,
  blockages, beneficiaries and 5,000 accidents with victims;
* 1,000,000 context features: 50,000 settlements with population, 100,000 schools, 30,000
  health facilities, 220,000 water points, 250,000 road segments, 10,000 railway and 40,000
  power line segments, 290,000 farmland fields and 10,000 protected areas.

What is timed is :func:`demine.prioritisation.score_hazards` — projection of all geometries,
every STRtree join, normalisation and ranking — and, separately, the JSON rendering of the top
1,000. The farmland fields are drawn independently, so they overlap: the hazards that meet two or
more fields (``hazards_meeting_2_or_more_fields``, about 7,500 at full size) take the share path
that dissolves the overlapping pieces before measuring them (issue 19), so it is in the timing.
Reading a million features from a GeoPackage is not included (``demine.prioritisation.load``
decodes blobs in bulk; the demo's 250 settlements and 3,000 features read in milliseconds).

Run: ``.venv/bin/python benchmarks/bench_prioritise.py`` (writes benchmarks/results/prioritise.json).
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import shapely

from demine.prioritisation import Accidents, ScoringInputs, score_hazards

# BENCH_SIZE=small: a tenth of the hazards and of the context, for a quick look.
SCALE = 0.1 if os.environ.get("BENCH_SIZE") == "small" else 1.0
HAZARDS = int(100_000 * SCALE)
SEED = 20261125
AS_OF = date(2026, 11, 24)
LON0, LAT0 = 32.0, 47.5
SIDE_KM = math.sqrt(HAZARDS * 2.0)
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(LAT0))
CONTEXT = {
    "settlement": 50_000,
    "school": 100_000,
    "health_facility": 30_000,
    "water_point": 220_000,
    "road": 250_000,
    "railway": 10_000,
    "power_line": 40_000,
    "farmland": 290_000,
    "protected_area": 10_000,
}
CONTEXT = {layer: int(n * SCALE) for layer, n in CONTEXT.items()}
RESULTS = Path(__file__).parent / "results" / "prioritise.json"


def _xy(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    half_lon = SIDE_KM * 500 / M_PER_DEG_LON
    half_lat = SIDE_KM * 500 / M_PER_DEG_LAT
    return rng.uniform(LON0 - half_lon, LON0 + half_lon, n), rng.uniform(LAT0 - half_lat, LAT0 + half_lat, n)


def _stars(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, area_m2: np.ndarray, k: int) -> np.ndarray:
    """Star-shaped polygons with ``k`` vertices, about ``area_m2`` each (vectorised)."""
    n = x.size
    angles = np.sort(rng.uniform(0, 2 * math.pi, (n, k)), axis=1)
    radii = rng.uniform(0.75, 1.25, (n, k))
    scale = np.sqrt(area_m2 / (math.pi * 1.0))[:, None]
    dx = scale * radii * np.cos(angles) / M_PER_DEG_LON
    dy = scale * radii * np.sin(angles) / M_PER_DEG_LAT
    ring = np.stack([x[:, None] + dx, y[:, None] + dy], axis=2)
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    polys = shapely.polygons(ring)
    bad = ~shapely.is_valid(polys)
    polys[bad] = shapely.convex_hull(polys[bad])
    return polys


def _segments(rng: np.random.Generator, n: int, km: tuple[float, float], vertices: int) -> np.ndarray:
    x, y = _xy(rng, n)
    step = rng.uniform(*km, (n, 1)) * 1000 / (vertices - 1)
    heading = rng.uniform(0, 2 * math.pi, (n, 1)) + np.cumsum(rng.normal(0, 0.3, (n, vertices - 1)), axis=1)
    dx = np.concatenate([np.zeros((n, 1)), np.cumsum(step * np.cos(heading), axis=1)], axis=1) / M_PER_DEG_LON
    dy = np.concatenate([np.zeros((n, 1)), np.cumsum(step * np.sin(heading), axis=1)], axis=1) / M_PER_DEG_LAT
    return shapely.linestrings(np.stack([x[:, None] + dx, y[:, None] + dy], axis=2))


def programme() -> ScoringInputs:
    rng = np.random.default_rng(SEED)
    hx, hy = _xy(rng, HAZARDS)
    hazards = _stars(rng, hx, hy, np.clip(rng.lognormal(math.log(20_000), 1.3, HAZARDS), 150, 3e6), 10)
    eo = np.array(["apm", "atm", "uxo", "apm,uxo", "atm,uxo", "submunition", "ied"])
    blockages = np.array(["", "agriculture", "roads", "agriculture,water", "housing,infrastructure"])
    context: dict[str, np.ndarray] = {}
    for name in ("settlement", "school", "health_facility", "water_point"):
        context[name] = shapely.points(*_xy(rng, CONTEXT[name]))
    context["road"] = _segments(rng, CONTEXT["road"], (0.5, 3.0), 4)
    context["railway"] = _segments(rng, CONTEXT["railway"], (2.0, 8.0), 6)
    context["power_line"] = _segments(rng, CONTEXT["power_line"], (1.0, 5.0), 3)
    fx, fy = _xy(rng, CONTEXT["farmland"])
    context["farmland"] = _stars(rng, fx, fy, rng.uniform(0.05e6, 0.5e6, fx.size), 5)
    px, py = _xy(rng, CONTEXT["protected_area"])
    context["protected_area"] = _stars(rng, px, py, rng.uniform(0.5e6, 5e6, px.size), 8)
    ax, ay = _xy(rng, 5_000)
    days = rng.integers(0, 1500, ax.size)
    accidents = Accidents(
        geometry=shapely.points(ax, ay),
        occurred_on=(np.datetime64(AS_OF, "D") - days.astype("timedelta64[D]")),
        victims=rng.integers(0, 4, ax.size),
        hazard_index=np.where(rng.random(ax.size) < 0.3, rng.integers(0, HAZARDS, ax.size), -1),
    )
    return ScoringInputs(
        codes=[f"HA-{i:06d}" for i in range(HAZARDS)],
        geometry=hazards,
        hazard_type=np.where(rng.random(HAZARDS) < 0.35, "CHA", "SHA").astype(object),
        eo_categories=list(rng.choice(eo, HAZARDS)),
        blockages=list(rng.choice(blockages, HAZARDS)),
        beneficiaries=np.floor(rng.lognormal(math.log(80), 1.0, HAZARDS)),
        as_of=AS_OF,
        context=context,
        population=np.maximum(50, rng.lognormal(math.log(900), 1.2, CONTEXT["settlement"])).astype(int),
        accidents=accidents,
    )


def _meeting_several(inputs: ScoringInputs, layer: str) -> int:
    """Hazards that intersect two or more polygons of ``layer`` (degrees are enough to count)."""
    h, _ = shapely.STRtree(inputs.context[layer]).query(inputs.geometry, predicate="intersects")
    return int((np.bincount(h, minlength=inputs.n) > 1).sum())


def main() -> dict:
    t0 = time.perf_counter()
    inputs = programme()
    generate_s = time.perf_counter() - t0
    features = sum(len(v) for v in inputs.context.values())
    load_before = os.getloadavg()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    ranking = score_hazards(inputs)
    score_s = time.perf_counter() - t0
    cpu_s = time.process_time() - cpu0
    t0 = time.perf_counter()
    top = json.dumps(ranking.to_dict(limit=1000), default=str)
    json_s = time.perf_counter() - t0
    result = {
        "benchmark": "demine prioritise: score_hazards",
        "hazards": HAZARDS,
        "context_features": features,
        "features_by_layer": {k: len(v) for k, v in inputs.context.items()},
        "accidents": int(inputs.accidents.victims.size),
        "generate_seconds": round(generate_s, 2),
        "score_seconds": round(score_s, 2),
        "score_cpu_seconds": round(cpu_s, 2),
        "json_top_1000_seconds": round(json_s, 2),
        "json_top_1000_bytes": len(top),
        "target_seconds": 60,
        "meets_target": score_s < 60,
        "score_p50": round(float(np.median(ranking.score)), 3),
        "hazards_meeting_2_or_more_fields": _meeting_several(inputs, "farmland"),
        "hazards_with_population_within_radius": int(
            (ranking.raw[:, [f.name for f in ranking.factors].index("population")] > 0).sum()
        ),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
