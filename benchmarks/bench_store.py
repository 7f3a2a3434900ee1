"""Store benchmarks: building the synthetic programme, summary, bbox queries, a release, GDAL reads.

Run ``python benchmarks/bench_store.py [--hazards 100000]``; prints a table and writes
``benchmarks/results/store.json``. Each figure is measured in this process, on a fresh file.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyogrio.raw
import shapely
from sqlalchemy import select

from demine.geometry.reading import EnteredGeometry
from demine.landrelease.accounting import NewRelease, record_release
from demine.register.hazards import list_hazards
from demine.reports.summary import programme_summary
from demine.storage import schema
from demine.storage.database import open_database
from demine.synthetic.programme import build_programme

AS_OF = date(2026, 11, 24)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(hazards: int, workdir: Path) -> list[tuple[str, float, str]]:
    path = workdir / f"bench-{hazards}.gpkg"
    rows: list[tuple[str, float, str]] = []
    t = time.perf_counter()
    engine = open_database(path, create=True)
    with engine.begin() as conn:
        counts = build_programme(conn, hazards=hazards, seed=1, as_of=AS_OF)
    rows.append((f"build demo programme ({hazards:,} hazards)", time.perf_counter() - t, "s"))
    rows.append(("  release products", counts["release_products"], "rows"))
    rows.append(("  progress reports", counts["progress_reports"], "rows"))
    rows.append(("  file size", path.stat().st_size / 1e6, "MB"))

    with engine.connect() as conn:
        t = time.perf_counter()
        summary = programme_summary(conn, AS_OF)
        rows.append(("summary", time.perf_counter() - t, "s"))
        assert summary["area"]["balanced"]
        minx, miny, maxx, maxy = conn.exec_driver_sql(
            "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = 'hazard'"
        ).one()
    rng = np.random.default_rng(0)
    timings, hits = [], []
    with engine.connect() as conn:
        for _ in range(200):
            # Windows of ~5 km, the size of a planner's map view at district scale.
            x, y = rng.uniform(minx, maxx - 0.07), rng.uniform(miny, maxy - 0.045)
            t = time.perf_counter()
            hits.append(len(list_hazards(conn, bbox=(x, y, x + 0.07, y + 0.045))))
            timings.append(time.perf_counter() - t)
    rows.append(("bbox query p50 (≈5 km window)", statistics.median(timings) * 1e3, "ms"))
    rows.append(("bbox query p95", float(np.percentile(timings, 95)) * 1e3, "ms"))
    rows.append(("  hazards per window (mean)", float(np.mean(hits)), "rows"))

    with engine.connect() as conn:
        open_rows = conn.execute(
            select(schema.hazard.c.code, schema.hazard_remaining.c.geom)
            .join(schema.hazard_remaining, schema.hazard_remaining.c.id == schema.hazard.c.id)
            .where(schema.hazard.c.status == "open")
            .limit(50)
        ).all()
    timings = []
    for code, geom in open_rows:
        piece = shapely.intersection(geom, geom.representative_point().buffer(0.0003))
        t = time.perf_counter()
        with engine.begin() as conn:
            record_release(
                conn,
                NewRelease(code, "cleared", AS_OF, EnteredGeometry(piece, piece.wkt, "EPSG:4326")),
                today=AS_OF,
            )
        timings.append(time.perf_counter() - t)
    rows.append(("record one release (p50, committed)", statistics.median(timings) * 1e3, "ms"))
    engine.dispose()

    t = time.perf_counter()
    _meta, _fids, geoms, _fields = pyogrio.raw.read(str(path), layer="hazard")
    rows.append(("GDAL reads the hazard layer", time.perf_counter() - t, "s"))
    assert len(geoms) == hazards
    rows.append(("peak RSS", peak_rss_mb(), "MB"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hazards", type=int, nargs="*", default=[2000, 100_000])
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.hazards:
            rows = bench(n, Path(tmp))
            results[str(n)] = [{"figure": f, "value": v, "unit": u} for f, v, u in rows]
            print(f"\n{'figure':<48} {'value':>12}  unit")
            for figure, value, unit in rows:
                print(f"{figure:<48} {value:>12,.2f}  {unit}")
            sys.stdout.flush()
    out = Path(__file__).parent / "results" / "store.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
