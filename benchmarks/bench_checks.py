"""Geometry check benchmark: 100,000 hazard polygons with planted defects, checked in seconds.

Run ``python benchmarks/bench_checks.py [--hazards 100000] [--seed 1]``; prints a table and
writes ``benchmarks/results/checks.json``.

The register is written directly (not through the demo simulation, which takes minutes at
this size): star-shaped hazards of 6-14 vertices on a jittered grid in 100 P-coded
districts, 30 % of them with a release product (their west half) and an EO find, and a
thousandth of the records given each kind of defect. Every timed step runs in a fresh
child process, so its peak memory is its own. A naive check (one polygon at a time:
``explain_validity``, pyproj area, per-segment distances) runs on 10,000 of the polygons
for comparison.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import shapely
import shapely.affinity
from sqlalchemy import insert

from demine.geometry.area import WGS84, geodesic_area
from demine.storage import gpkg_blob, schema
from demine.storage.database import open_database

LON0, LAT0 = 30.0, 47.0
CELL_LON, CELL_LAT = 0.005, 0.0035  # about 370 m × 390 m at 47.5°N
M_LON, M_LAT = 1 / 75_300.0, 1 / 111_200.0
DAY = date(2025, 3, 1)
RESULTS = Path(__file__).parent / "results" / "checks.json"


def peak_rss_mb() -> float:
    """Peak resident memory of this process image in MB.

    Linux's ``ru_maxrss`` survives ``exec`` (a child would report its parent's peak at the
    fork); ``VmHWM`` belongs to the new image only.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def star_polygons(rng: np.random.Generator, cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """Star-shaped (hence simple) polygons of 6-14 vertices around the given centres."""
    n = len(cx)
    k = rng.integers(6, 15, n)
    ring_of = np.repeat(np.arange(n), k)
    # One vertex per equal sector: gaps stay under 180°, so every polygon is simple.
    starts = np.concatenate([[0], np.cumsum(k)[:-1]])
    j = np.arange(k.sum()) - starts[ring_of]
    angles = (j + rng.uniform(0.1, 0.9, k.sum())) * 2 * np.pi / k[ring_of]
    size = np.clip(rng.lognormal(math.log(60), 0.5, n), 15, 130)[ring_of]
    radius = size * rng.uniform(0.7, 1.0, k.sum())
    x = cx[ring_of] + radius * np.cos(angles) * M_LON
    y = cy[ring_of] + radius * np.sin(angles) * M_LAT
    # Close every ring: repeat each ring's first vertex after its last.
    xs = np.insert(x, np.cumsum(k), x[starts])
    ys = np.insert(y, np.cumsum(k), y[starts])
    rings = shapely.linearrings(np.column_stack([xs, ys]), indices=np.repeat(np.arange(n), k + 1))
    return shapely.polygons(rings)


def areas(geoms) -> list[float]:
    return [geodesic_area(g) for g in geoms]


def build(path: Path, hazards: int, seed: int) -> dict[str, int]:
    """Write the benchmark register; returns how many of each defect were planted."""
    rng = np.random.default_rng(seed)
    side = math.ceil(math.sqrt(hazards))
    cells = rng.permutation(side * side)[:hazards]
    cx = LON0 + (cells % side + 0.5 + rng.uniform(-0.1, 0.1, hazards)) * CELL_LON
    cy = LAT0 + (cells // side + 0.5 + rng.uniform(-0.1, 0.1, hazards)) * CELL_LAT
    polys = star_polygons(rng, cx, cy)
    span_lon, span_lat = side * CELL_LON, side * CELL_LAT
    districts = []
    for i in range(10):
        for j in range(10):
            box = shapely.box(
                LON0 + i * span_lon / 10,
                LAT0 + j * span_lat / 10,
                LON0 + (i + 1) * span_lon / 10,
                LAT0 + (j + 1) * span_lat / 10,
            )
            districts.append((f"BD{i + 1:02d}{j + 1:02d}", box))
    col = np.minimum(((cx - LON0) / (span_lon / 10)).astype(int), 9)
    row = np.minimum(((cy - LAT0) / (span_lat / 10)).astype(int), 9)
    pcodes = [f"BD{i + 1:02d}{j + 1:02d}" for i, j in zip(col, row, strict=True)]

    per = max(1, hazards // 1000)  # each defect in a thousandth of the records
    planted: dict[str, int] = {}
    order = rng.permutation(hazards)
    with_product = np.zeros(hazards, dtype=bool)
    with_product[order[: int(0.3 * hazards)]] = True
    pool = iter(order[int(0.3 * hazards) :])  # hazards without products, to damage

    def take(count: int) -> list[int]:
        return [int(next(pool)) for _ in range(count)]

    geoms = polys.copy()
    for i in take(per):  # bow-tie: two vertices swapped (some swaps leave a simple polygon)
        c = shapely.get_coordinates(geoms[i])[:-1]
        for j in range(2, len(c)):
            bow = c.copy()
            bow[[1, j]] = bow[[j, 1]]
            if not shapely.Polygon(bow).is_valid:
                break
        geoms[i] = shapely.Polygon(bow)
    for i in take(per):  # spike out of the first vertex
        c = shapely.get_coordinates(geoms[i])[:-1]
        tip = c[0] + (c[0] - c.mean(axis=0)) * 0.5
        geoms[i] = shapely.Polygon([c[0], tip, *c])
    for i in take(per):  # repeated vertex
        c = shapely.get_coordinates(geoms[i])[:-1]
        geoms[i] = shapely.Polygon([c[0], c[0], *c[1:]])
    planted["invalid_polygon"] = 4 * per  # two kinds, each in the hazard and its remainder
    planted["duplicate_vertices"] = 2 * per
    wrong_pcode = take(per)
    for i in wrong_pcode:
        pcodes[i] = "BD0101" if pcodes[i] != "BD0101" else "BD1010"
    planted["outside_admin_area"] = per

    # Extra hazards: exact duplicates, overlapping copies, long thin ones, bad P-codes.
    src = take(2 * per)
    extra = [(polys[i], pcodes[i]) for i in src[:per]]
    extra += [(shapely.affinity.translate(polys[i], xoff=30 * M_LON), pcodes[i]) for i in src[per:]]
    planted["duplicate_polygon"] = per
    planted["hazard_overlap"] = per
    top = LAT0 + span_lat + 0.01
    for k in range(per):  # 6 km long, 40 m wide, north of the grid (inside the admin margin)
        x = LON0 + k * (span_lon / per)
        extra.append((shapely.box(x, top, x + 40 * M_LON, top + 6000 * M_LAT), None))
    planted["long_segment"] = per
    for k in range(per):  # south of the grid, with a P-code nobody has
        x = LON0 + k * (span_lon / per)
        extra.append((shapely.box(x, LAT0 - 0.02, x + 1e-3, LAT0 - 0.019), "ZZ99"))
    planted["unknown_admin_area"] = per

    engine = open_database(path, create=True)
    with engine.begin() as conn:
        conn.execute(
            insert(schema.admin_area),
            [
                {
                    "pcode": p,
                    "name": p,
                    "level": 2,
                    "area_m2": geodesic_area(g),
                    "geom": shapely.MultiPolygon([g]),
                }
                for p, g in districts
            ],
        )
        all_geoms = [*geoms, *(g for g, _ in extra)]
        all_pcodes = [*pcodes, *(p for _, p in extra)]
        n = len(all_geoms)
        original_area = areas(polys) + areas([g for g, _ in extra])
        # Damaged hazards keep the area they were registered with (before the damage).
        products, remaining = {}, {}
        wp = np.flatnonzero(with_product)
        west = shapely.box(cx[wp] - 1.0, cy[wp] - 1.0, cx[wp], cy[wp] + 1.0)
        for i, piece, rest in zip(
            wp, shapely.intersection(polys[wp], west), shapely.difference(polys[wp], west), strict=True
        ):
            products[int(i)] = piece
            remaining[int(i)] = rest
        rem_area = {i: geodesic_area(g) for i, g in remaining.items()}
        hazard_rows, remaining_rows, product_rows, find_rows = [], [], [], []
        for i in range(n):
            blob = gpkg_blob.encode(shapely.MultiPolygon([all_geoms[i]]))
            left = rem_area.get(i, original_area[i])
            hazard_rows.append(
                {
                    "id": i + 1,
                    "code": f"HA-{i + 1:06d}",
                    "hazard_type": "CHA",
                    "status": "open",
                    "admin_pcode": all_pcodes[i],
                    "reported_on": DAY,
                    "area_m2": original_area[i],
                    "remaining_area_m2": left,
                    "geom": blob,
                }
            )
            rem_blob = gpkg_blob.encode(shapely.MultiPolygon([remaining[i]])) if i in remaining else blob
            remaining_rows.append({"id": i + 1, "area_m2": left, "geom": rem_blob})
        for k, (i, piece) in enumerate(products.items()):
            product_rows.append(
                {
                    "id": k + 1,
                    "hazard_id": i + 1,
                    "method": "cleared",
                    "released_on": DAY,
                    "area_m2": geodesic_area(piece),
                    "released_area_m2": original_area[i] - rem_area[i],
                    "geom": gpkg_blob.encode(shapely.MultiPolygon([piece])),
                }
            )
            point = shapely.point_on_surface(piece)
            find_rows.append(
                {
                    "hazard_id": i + 1,
                    "release_product_id": k + 1,
                    "found_on": DAY,
                    "category": "apm",
                    "geom": gpkg_blob.encode(point),
                }
            )
        # Products outside their hazard, degenerate products, finds out of range.
        for k in range(per):
            i = int(wp[k])
            moved = shapely.affinity.translate(products[i], xoff=-500 * M_LON)
            product_rows.append(
                {
                    "id": len(product_rows) + 1,
                    "hazard_id": i + 1,
                    "method": "cleared",
                    "released_on": DAY,
                    "area_m2": geodesic_area(moved),
                    "released_area_m2": 0.0,
                    "geom": gpkg_blob.encode(shapely.MultiPolygon([moved])),
                }
            )
            x, y = cx[i], cy[i]
            flat = shapely.Polygon([(x, y), (x + 1e-4, y), (x + 1e-4, y), (x, y)])
            product_rows.append(
                {
                    "id": len(product_rows) + 1,
                    "hazard_id": i + 1,
                    "method": "cleared",
                    "released_on": DAY,
                    "area_m2": 1.0,
                    "released_area_m2": 0.0,
                    "geom": gpkg_blob.encode(shapely.MultiPolygon([flat])),
                }
            )
            find_rows.append(
                {
                    "hazard_id": None,
                    "release_product_id": None,
                    "found_on": DAY,
                    "category": "uxo",
                    "geom": gpkg_blob.encode(shapely.Point(200.0, y)),
                }
            )
        planted["release_outside_hazard"] = per
        planted["too_few_vertices"] = per
        planted["coordinates_out_of_range"] = per
        accident_rows = []
        for k in range(10 * per):
            x, y = float(cx[k]), float(cy[k])
            swapped = k < per
            accident_rows.append(
                {
                    "id": k + 1,
                    "code": f"ACC-{k + 1:05d}",
                    "occurred_on": DAY,
                    "accident_kind": "non_demining",
                    "geom": gpkg_blob.encode(shapely.Point(y, x) if swapped else shapely.Point(x + 1e-5, y)),
                }
            )
        planted["lat_lon_swapped"] = per
        for table, rows in (
            (schema.hazard, hazard_rows),
            (schema.hazard_remaining, remaining_rows),
            (schema.release_product, product_rows),
            (schema.eo_find, find_rows),
            (schema.accident, accident_rows),
        ):
            for start in range(0, len(rows), 20_000):
                conn.execute(insert(table), rows[start : start + 20_000])
    engine.dispose()
    return planted


def measure(path: str, step: str) -> None:
    """Child process: time one step on the database and print JSON with the peak memory."""
    from demine.checks.layers import load_layers
    from demine.checks.polygons import check_polygons
    from demine.checks.repair import repair_findings
    from demine.checks.run import check_layers, run_checks

    engine = open_database(path)
    base = peak_rss_mb()
    out: dict[str, object] = {}
    if step == "check":  # what `demine check` does, alone in its process (peak memory)
        with engine.connect() as conn:
            t, cpu = time.perf_counter(), time.process_time()
            report = run_checks(conn)
            out["run_checks_s"] = time.perf_counter() - t
            out["run_checks_cpu_s"] = time.process_time() - cpu
        out["counts"] = report.counts
        out["findings"] = len(report.findings)
    elif step == "stages":
        with engine.connect() as conn:
            t, cpu = time.perf_counter(), time.process_time()
            layers = load_layers(conn)
            out["load_s"], out["load_cpu_s"] = time.perf_counter() - t, time.process_time() - cpu
        t, cpu = time.perf_counter(), time.process_time()
        check_layers(layers)
        out["rules_s"], out["rules_cpu_s"] = time.perf_counter() - t, time.process_time() - cpu
        out["records"] = {name: len(layer) for name, layer in layers.items()}
        out["vertices"] = len(shapely.get_coordinates(layers["hazard"].geoms))
    elif step == "per-geometry":
        with engine.connect() as conn:
            layers = load_layers(conn, ["hazard"])
        t = time.perf_counter()
        check_polygons(layers["hazard"])
        out["per_geometry_s"] = time.perf_counter() - t
    elif step == "fix":
        t = time.perf_counter()
        with engine.begin() as conn:
            report = run_checks(conn)
            repairs = repair_findings(conn, report.findings)
            after = run_checks(conn)
        out["fix_s"] = time.perf_counter() - t
        out["repaired"] = sum(r.repaired for r in repairs)
        out["refused"] = sum(not r.repaired for r in repairs)
        out["high_after"] = after.high
    elif step == "naive":
        from shapely.validation import explain_validity

        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT geom FROM hazard ORDER BY id LIMIT 10000").all()
        t = time.perf_counter()
        for (blob,) in rows:
            geom = gpkg_blob.decode(blob)
            explain_validity(geom)
            geodesic_area(geom)
            for part in shapely.get_parts(geom):
                c = np.asarray(part.exterior.coords)
                for (x1, y1), (x2, y2) in itertools.pairwise(c):
                    WGS84.inv(x1, y1, x2, y2)
        out["naive_s"] = time.perf_counter() - t
        out["naive_n"] = len(rows)
    out["peak_rss_mb"] = peak_rss_mb()
    out["rss_at_start_mb"] = base
    print(json.dumps(out))


def child(path: Path, step: str) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--measure", str(path), "--step", step], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"step {step!r} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hazards", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", metavar="PATH", help="Build the register here and keep it.")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.step)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "bench-checks.gpkg"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        t = time.perf_counter()
        planted = build(path, args.hazards, args.seed)
        build_s = time.perf_counter() - t
        check = child(path, "check")
        stages = child(path, "stages")
        per_geometry = child(path, "per-geometry")
        naive = child(path, "naive")
        copy = Path(tmp) / "fix.gpkg"
        shutil.copy(path, copy)
        fixed = child(copy, "fix")
        size_mb = path.stat().st_size / 1e6
    found = check["counts"]
    rows = [
        (f"build register ({args.hazards:,} hazards + planted extras)", build_s, "s"),
        ("  file size", size_mb, "MB"),
        ("  hazard vertices", stages["vertices"], ""),
        ("read all six layers into shapely arrays (wall)", stages["load_s"], "s"),
        ("  CPU", stages["load_cpu_s"], "s"),
        ("all rules over the layers in memory (wall)", stages["rules_s"], "s"),
        ("  CPU", stages["rules_cpu_s"], "s"),
        ("run_checks (read + every rule) = `demine check` (wall)", check["run_checks_s"], "s"),
        ("  CPU (wall is longer when the machine is shared)", check["run_checks_cpu_s"], "s"),
        ("  peak memory of the check process", check["peak_rss_mb"], "MB"),
        ("per-geometry rules on the hazard layer alone", per_geometry["per_geometry_s"], "s"),
        (f"naive one-at-a-time check of {naive['naive_n']:,} hazards", naive["naive_s"], "s"),
        (
            "  naive, extrapolated to the hazard layer",
            naive["naive_s"] * stages["records"]["hazard"] / naive["naive_n"],
            "s",
        ),
        ("check --fix (check, repair, check again, one transaction)", fixed["fix_s"], "s"),
        ("  repaired / refused", f"{fixed['repaired']} / {fixed['refused']}", ""),
    ]
    print(f"{'step':<62} {'value':>12}")
    for name, value, unit in rows:
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{name:<62} {shown:>12} {unit}")
    print(f"\n{'rule':<28} {'planted':>8} {'found':>8}")
    for rule in sorted(set(planted) | set(found)):
        print(f"{rule:<28} {planted.get(rule, ''):>8} {found.get(rule, 0):>8}")
    # A finding is not a planted defect: hazards of the grid that straddle a district boundary
    # are found too (partly_outside_admin_area), though nothing was planted for them.
    planted_found = sum(min(n, found.get(rule, 0)) for rule, n in planted.items())
    unplanted = check["findings"] - sum(found.get(rule, 0) for rule in planted)
    print(
        f"planted defects found: {planted_found:,} of {sum(planted.values()):,}; "
        f"findings in all: {check['findings']:,}, of which {unplanted:,} by rules nothing was planted for"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "hazards": args.hazards,
                "seed": args.seed,
                "build_s": build_s,
                "file_mb": size_mb,
                "check": check,
                "stages": stages,
                "per_geometry": per_geometry,
                "naive": naive,
                "fix": fixed,
                "planted": planted,
                "python": sys.version.split()[0],
                "shapely": shapely.__version__,
                "geos": shapely.geos_version_string,
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
    )
    print(f"\nload average during the run: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
