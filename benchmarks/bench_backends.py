"""SQLite/GeoPackage vs PostgreSQL/PostGIS: importing hazards, bbox queries, moving a register.

Run ``python benchmarks/bench_backends.py [--hazards 100000]``; prints a table and writes
``benchmarks/results/backends.json``. PostgreSQL is a throwaway local cluster with its default
durability (fsync and synchronous commit on), as SQLite runs with ``synchronous = FULL``.

* import: the register's own write path (``add_hazards``: validation, geodesic areas, remaining
  areas, history rows) for N hazards in batches of 5,000, one committed transaction per batch;
* bbox: ``list_hazards(bbox=...)`` over 300 random ~5 km windows (the R*Tree on SQLite, the GiST
  index with ``&&`` on PostGIS), p50 and p95;
* copy: ``demine db copy`` of that register from SQLite to PostGIS, including its row-by-row check.

Both answers are also compared with the exact test (the hazard's bounding box, in doubles, meets
the window). They may differ by hazards within a fraction of a metre of a window's edge: both
indexes keep single-precision (float32) boxes rounded outwards, so a box that stops a float32
step or two short of the window (up to about 5 × 10⁻⁶° at these coordinates, half a metre) can
still meet it; SQLite's R*Tree compares those boxes with the window as given, while PostGIS's ``&&``
also rounds the window outwards to float32, so PostGIS returns a few more such hazards than
SQLite. Neither misses a hazard whose box meets the window. ``backends.json`` records, for each
store, the hits beyond the exact test, the misses (expected 0) and how far the farthest extra
lies outside its window, and lists the windows where the two stores differ with the hazards
only one of them returned.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import shapely

from demine.register.hazards import NewHazard, add_hazards, list_hazards
from demine.storage.copy import copy_database
from demine.storage.database import open_database
from demine.storage.pgcluster import Cluster

REPORTED = date(2025, 3, 1)
BATCH = 5_000
# The hazards lie in a 3° x 2° region, like a province.
REGION = (30.0, 47.0, 33.0, 49.0)


def make_hazards(n: int, seed: int = 1) -> list[NewHazard]:
    """``n`` polygons of 0.5-20 ha scattered over the region (irregular convex hexagons)."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = REGION
    xs, ys = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
    radii = rng.uniform(0.0005, 0.0025, n)
    out = []
    for i in range(n):
        angles = np.sort(rng.uniform(0, 2 * np.pi, 6))
        r = radii[i] * rng.uniform(0.6, 1.0, 6)
        ring = np.column_stack([xs[i] + r * np.cos(angles), ys[i] + r * np.sin(angles) * 0.7])
        out.append(
            NewHazard(
                code=f"BH-{i:06d}",
                hazard_type="CHA" if i % 3 else "SHA",
                geometry=shapely.Polygon(ring).convex_hull,  # always a valid polygon
                reported_on=REPORTED,
            )
        )
    return out


def windows(count: int, seed: int = 2) -> list[tuple[float, float, float, float]]:
    """Random ~5 km x 5 km boxes inside the region."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = REGION
    out = []
    for _ in range(count):
        x, y = rng.uniform(minx, maxx - 0.07), rng.uniform(miny, maxy - 0.045)
        out.append((x, y, x + 0.07, y + 0.045))
    return out


def exact_hits(hazards: list[NewHazard], boxes: list) -> list[set[str]]:
    """Per window, the codes of the hazards whose bounding box (in doubles) meets it."""
    bounds = np.array([h.geometry.bounds for h in hazards])
    codes = np.array([h.code for h in hazards])
    out = []
    for minx, miny, maxx, maxy in boxes:
        meets = (
            (bounds[:, 2] >= minx) & (bounds[:, 0] <= maxx) & (bounds[:, 3] >= miny) & (bounds[:, 1] <= maxy)
        )
        out.append(set(codes[meets].tolist()))
    return out


def gap_m(box: tuple[float, float, float, float], bounds: tuple[float, float, float, float]) -> float:
    """How far (m, approximately) a hazard's bounding box lies outside a window; 0 if they meet."""
    minx, miny, maxx, maxy = box
    hminx, hminy, hmaxx, hmaxy = bounds
    dx = max(minx - hmaxx, hminx - maxx, 0.0) * 111_320 * np.cos(np.radians((miny + maxy) / 2))
    dy = max(miny - hmaxy, hminy - maxy, 0.0) * 110_574
    return float(max(dx, dy))


def against_exact(
    found: list[set[str]], exact: list[set[str]], boxes: list, bounds: dict[str, tuple]
) -> dict[str, float]:
    """Hits beyond the exact test, misses, and the farthest extra's distance from its window."""
    extra = [(i, code) for i, (f, e) in enumerate(zip(found, exact, strict=True)) for code in f - e]
    missed = sum(len(e - f) for f, e in zip(found, exact, strict=True))
    return {
        "hits_beyond_exact": len(extra),
        "windows_beyond_exact": len({i for i, _ in extra}),
        "hits_missed": missed,
        "farthest_extra_m": max((gap_m(boxes[i], bounds[code]) for i, code in extra), default=0.0),
    }


def bench_store(ref: str, hazards: list[NewHazard], boxes: list) -> dict[str, object]:
    engine = open_database(ref, create=True)
    t = time.perf_counter()
    for start in range(0, len(hazards), BATCH):
        with engine.begin() as conn:
            add_hazards(conn, hazards[start : start + BATCH], today=REPORTED)
    imported = time.perf_counter() - t
    timings, hits = [], []
    with engine.connect() as conn:
        list_hazards(conn, bbox=boxes[0])  # warm the connection and the plan
        for box in boxes:
            t = time.perf_counter()
            rows = list_hazards(conn, bbox=box)
            timings.append(time.perf_counter() - t)
            hits.append({row["code"] for row in rows})
    engine.dispose()
    return {
        "import_s": imported,
        "import_hazards_per_s": len(hazards) / imported,
        "bbox_p50_ms": statistics.median(timings) * 1e3,
        "bbox_p95_ms": float(np.percentile(timings, 95)) * 1e3,
        "bbox_hits_mean": float(np.mean([len(h) for h in hits])),
        "hits": hits,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hazards", type=int, default=100_000)
    parser.add_argument("--windows", type=int, default=300)
    args = parser.parse_args()
    hazards = make_hazards(args.hazards)
    boxes = windows(args.windows)
    results: dict[str, object] = {"hazards": args.hazards, "windows": args.windows}
    with tempfile.TemporaryDirectory() as tmp, Cluster(fast=False) as cluster:
        sqlite_ref = str(Path(tmp) / "bench.gpkg")
        results["sqlite"] = bench_store(sqlite_ref, hazards, boxes)
        print("sqlite done", file=sys.stderr, flush=True)
        results["postgresql"] = bench_store(cluster.create_database("bench"), hazards, boxes)
        print("postgresql done", file=sys.stderr, flush=True)
        sq_hits, pg_hits = results["sqlite"].pop("hits"), results["postgresql"].pop("hits")
        # Why the stores can differ, and by how much: see the module docstring.
        exact = exact_hits(hazards, boxes)
        bounds = {h.code: h.geometry.bounds for h in hazards}
        results["exact_hits_mean"] = float(np.mean([len(e) for e in exact]))
        results["sqlite"] |= against_exact(sq_hits, exact, boxes, bounds)
        results["postgresql"] |= against_exact(pg_hits, exact, boxes, bounds)
        differing = [
            {
                "window": i,
                "sqlite": len(a),
                "postgresql": len(b),
                "only_sqlite": sorted(a - b),
                "only_postgresql": sorted(b - a),
                "outside_window_m": max(gap_m(boxes[i], bounds[c]) for c in a ^ b),
            }
            for i, (a, b) in enumerate(zip(sq_hits, pg_hits, strict=True))
            if a != b
        ]
        same = not differing
        results["same_hits_in_every_window"] = same
        results["windows_with_different_hits"] = len(differing)
        results["hit_differences"] = [[d["sqlite"], d["postgresql"]] for d in differing[:20]]
        results["differing_windows"] = differing[:20]
        t = time.perf_counter()
        report = copy_database(sqlite_ref, cluster.create_database("copied"))
        results["copy_sqlite_to_postgresql_s"] = time.perf_counter() - t
        results["copy_rows"] = sum(report.rows.values())
        results["copy_verified"] = report.verified
    print(f"\n{'figure':<36} {'SQLite':>12} {'PostGIS':>12}")
    for key in ("import_s", "import_hazards_per_s", "bbox_p50_ms", "bbox_p95_ms", "bbox_hits_mean"):
        print(f"{key:<36} {results['sqlite'][key]:>12,.2f} {results['postgresql'][key]:>12,.2f}")
    print(f"same hazards found in every window: {same} ({len(differing)} of {len(boxes)} windows differ)")
    for name in ("sqlite", "postgresql"):
        r = results[name]
        print(
            f"{name}: {r['hits_beyond_exact']} hits beyond the exact box test "
            f"(farthest {r['farthest_extra_m']:.2f} m outside its window), {r['hits_missed']} missed"
        )
    seconds = results["copy_sqlite_to_postgresql_s"]
    print(f"copy SQLite -> PostGIS ({results['copy_rows']:,} rows, checked): {seconds:.1f} s")
    out = Path(__file__).parent / "results" / "backends.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
