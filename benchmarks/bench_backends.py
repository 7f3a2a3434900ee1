"""SQLite/GeoPackage vs PostgreSQL/PostGIS: importing hazards, bbox queries, moving a register.

Run ``python benchmarks/bench_backends.py [--hazards 100000]``; prints a table and writes
``benchmarks/results/backends.json``. PostgreSQL is a throwaway local cluster with its default
durability (fsync and synchronous commit on), as SQLite runs with ``synchronous = FULL``.

* import: the register's own write path (``add_hazards``: validation, geodesic areas, remaining
  areas, history rows) for N hazards in batches of 5,000, one committed transaction per batch;
* bbox: ``list_hazards(bbox=...)`` over 300 random ~5 km windows (the R*Tree on SQLite, the GiST
  index with ``&&`` on PostGIS), p50 and p95;
* copy: ``demine db copy`` of that register from SQLite to PostGIS, including its row-by-row check.
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


def bench_store(ref: str, hazards: list[NewHazard], boxes: list) -> dict[str, float]:
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
            hits.append(len(list_hazards(conn, bbox=box)))
            timings.append(time.perf_counter() - t)
    engine.dispose()
    return {
        "import_s": imported,
        "import_hazards_per_s": len(hazards) / imported,
        "bbox_p50_ms": statistics.median(timings) * 1e3,
        "bbox_p95_ms": float(np.percentile(timings, 95)) * 1e3,
        "bbox_hits_mean": float(np.mean(hits)),
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
        pairs = list(zip(results["sqlite"].pop("hits"), results["postgresql"].pop("hits"), strict=True))
        # SQLite's R*Tree keeps 32-bit boxes rounded outwards: a hazard within ~1e-5° of a window's
        # edge can be a hit there and not on PostGIS.
        differing = [(a, b) for a, b in pairs if a != b]
        same = not differing
        results["same_hits_in_every_window"] = same
        results["windows_with_different_hits"] = len(differing)
        results["hit_differences"] = differing[:20]
        t = time.perf_counter()
        report = copy_database(sqlite_ref, cluster.create_database("copied"))
        results["copy_sqlite_to_postgresql_s"] = time.perf_counter() - t
        results["copy_rows"] = sum(report.rows.values())
        results["copy_verified"] = report.verified
    print(f"\n{'figure':<36} {'SQLite':>12} {'PostGIS':>12}")
    for key in ("import_s", "import_hazards_per_s", "bbox_p50_ms", "bbox_p95_ms", "bbox_hits_mean"):
        print(f"{key:<36} {results['sqlite'][key]:>12,.2f} {results['postgresql'][key]:>12,.2f}")
    print(f"same hazards found in every window: {same} ({len(differing)} of {len(pairs)} windows differ)")
    seconds = results["copy_sqlite_to_postgresql_s"]
    print(f"copy SQLite -> PostGIS ({results['copy_rows']:,} rows, checked): {seconds:.1f} s")
    out = Path(__file__).parent / "results" / "backends.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
