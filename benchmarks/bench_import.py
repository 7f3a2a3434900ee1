"""Import benchmark: ``demine import`` of 10,000 and 100,000 polygons next to ``ogr2ogr``.

Run ``python benchmarks/bench_import.py [--features 10000,100000] [--crs EPSG:32636]``; prints a
table per size and writes ``benchmarks/results/import.json`` (the largest size at the top
level, every size under ``sizes``).

Both tools read the same file and write a fresh GeoPackage, each in a child process of its
own so that peak memory (``ru_maxrss`` from ``wait4``) is that tool's alone. The reference is
``ogr2ogr -makevalid`` (GDAL checks and repairs every geometry with GEOS, as demine does);
plain ``ogr2ogr``, which copies features as they are, is shown too. demine also checks every
attribute, reprojects, computes geodesic areas, writes the remaining-area layer and the
history rows, and keeps the R*Tree indexes of both layers, all in one transaction. The
machine's load average is printed with each figure: on a shared machine both tools slow
down, so the ratio, measured side by side, is the figure to compare. ``ogr2ogr`` comes from
Debian's gdal-bin: the script installs it when it is missing and it can (root), else skips it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "import.json"


def make_file(path: Path, n: int, crs: str) -> None:
    """``n`` irregular hazard polygons (12 vertices, 1–3 ha) with text attributes."""
    # Imported here: this runs in a child process, so the parent stays small (see run_measured).
    import numpy as np
    import pyogrio.raw
    import shapely
    from pyproj import Transformer

    rng = np.random.default_rng(1)
    lon = rng.uniform(32.0, 34.0, n)
    lat = rng.uniform(47.5, 48.8, n)
    # Strictly increasing angles around the centre: a star-shaped, hence simple, polygon.
    step = 2 * np.pi / 12
    angles = np.arange(12) * step + rng.uniform(0, 0.8 * step, (n, 12))
    radius = rng.uniform(40, 100, (n, 12))  # metres
    dx = radius * np.cos(angles) / (111_320 * np.cos(np.radians(lat)))[:, None]
    dy = radius * np.sin(angles) / 110_540
    rings = np.stack([lon[:, None] + dx, lat[:, None] + dy], axis=-1)
    rings = np.concatenate([rings, rings[:, :1]], axis=1)
    geoms = shapely.polygons(rings)
    if crs != "EPSG:4326":
        t = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
    fields = {
        "sid": np.array([f"S{i}" for i in range(n)], dtype=object),
        "code": np.array([f"BH-{i:06d}" for i in range(n)], dtype=object),
        "hazard_type": np.array(["SHA", "CHA"] * (n // 2) + ["SHA"] * (n % 2), dtype=object),
        "status": np.array(["open"] * n, dtype=object),
        "reported_on": np.array(["2025-03-01"] * n, dtype=object),
        "eo_categories": np.array(["apm,uxo"] * n, dtype=object),
        "priority": np.array(["high", "medium", "low", "low"] * (n // 4) + ["low"] * (n % 4), dtype=object),
    }
    pyogrio.raw.write(
        str(path),
        shapely.to_wkb(geoms),
        list(fields.values()),
        list(fields),
        driver="GPKG",
        layer="hazards",
        crs=crs,
        geometry_type="Polygon",
    )


# CPU seconds (user + system) of the last child run_measured waited for: on a shared machine
# the work each tool does, which other processes' load does not stretch as it stretches wall time.
LAST_CPU = [0.0]


def run_measured(args: list[str]) -> tuple[float, float, str]:
    """Run a command in a child process; wall seconds, the child's peak RSS (MB), stdout.

    Linux carries a process's peak RSS across fork and exec, so a child reports at least the
    parent's size: the parent imports nothing large, and the test file is made in a child.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{err.read()[-2000:]}")
        LAST_CPU[0] = usage.ru_utime + usage.ru_stime
        return elapsed, usage.ru_maxrss / 1024, out.read()


def ensure_ogr2ogr() -> str | None:
    """The path of ogr2ogr, installing Debian's gdal-bin when it is missing and we are root."""
    found = shutil.which("ogr2ogr")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("ogr2ogr is not installed (apt-get install gdal-bin): skipping the comparison")
        return None
    print("installing gdal-bin for ogr2ogr ...")
    attempts = (
        ["apt-get", "install", "-y", "gdal-bin"],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "gdal-bin"],
    )
    for command in attempts:
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if shutil.which("ogr2ogr"):
            break
    found = shutil.which("ogr2ogr")
    if not found:
        print("could not install gdal-bin: skipping the ogr2ogr comparison")
    return found


CHILD = """
import json, sys, time
from demine.ingest import ImportOptions, import_file, plan_import
from demine.storage.database import open_database
path, db, rejects = sys.argv[1:4]
engine = open_database(db, create=True)
start, cpu = time.perf_counter(), time.process_time()
plan = plan_import(path, ImportOptions(kind="hazard", source_id="sid", rejects=rejects))
result = import_file(engine, plan)
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                  "result": result.as_json()}))
"""


def measure(work: Path, n: int, crs: str, ogr2ogr: str | None) -> tuple[list[tuple[str, float, str]], dict]:
    """Generate ``n`` polygons, import them with demine and copy them with ogr2ogr."""
    rows: list[tuple[str, float, str]] = []
    results: dict[str, object] = {"features": n, "crs": crs}
    source = work / f"hazards-{n}.gpkg"
    wall, _, _ = run_measured(
        [sys.executable, __file__, "--make", str(source), "--features", str(n), "--crs", crs]
    )
    rows.append((f"generate {n:,} polygons (pyogrio, child process)", wall, "s"))
    rows.append(("  file size", source.stat().st_size / 1e6, "MB"))

    db = work / f"register-{n}.gpkg"
    load = os.getloadavg()[0]
    wall, rss, out = run_measured(
        [sys.executable, "-c", CHILD, str(source), str(db), str(work / f"rejects-{n}.geojson")]
    )
    report = json.loads(out)
    result = report["result"]
    if result["imported"] != n:
        raise SystemExit(f"expected every feature imported: {result}")
    import_rate = n / report["seconds"]
    process_cpu, demine_cpu = LAST_CPU[0], report["cpu"]
    rows.append(("demine import (one transaction)", report["seconds"], "s"))
    rows.append(("  throughput", import_rate, "features/s"))
    rows.append(("  process wall time incl. start-up and migration", wall, "s"))
    rows.append(("  peak RSS of the import process", rss, "MB"))
    rows.append(("  CPU time of the import", demine_cpu, "s"))
    rows.append(("  CPU time of the process incl. start-up and migration", process_cpu, "s"))
    rows.append(("  register file size", db.stat().st_size / 1e6, "MB"))
    rows.append(("  load average when it started", load, ""))
    results["demine"] = {
        "seconds": report["seconds"],
        "features_per_s": import_rate,
        "peak_rss_mb": rss,
        "load": load,
        "cpu_s": demine_cpu,
        "process_cpu_s": process_cpu,
    }
    if ogr2ogr:
        for label, key, extra in (
            ("ogr2ogr -makevalid -f GPKG (same file)", "ogr2ogr", ["-makevalid"]),
            ("ogr2ogr -f GPKG (same file, no checks)", "ogr2ogr_plain", []),
        ):
            target = work / f"{key}-{n}.gpkg"
            load = os.getloadavg()[0]
            wall, rss, _ = run_measured([ogr2ogr, *extra, "-f", "GPKG", str(target), str(source)])
            rows.append((label, wall, "s"))
            rows.append(("  throughput", n / wall, "features/s"))
            rows.append(("  peak RSS", rss, "MB"))
            rows.append(("  CPU time of the process", LAST_CPU[0], "s"))
            rows.append(("  demine import CPU / this process's CPU", demine_cpu / LAST_CPU[0], "×"))
            rows.append(("  load average when it started", load, ""))
            rows.append(("  demine time / this time", report["seconds"] / wall, "×"))
            results[key] = {
                "seconds": wall,
                "features_per_s": n / wall,
                "peak_rss_mb": rss,
                "load": load,
                "process_cpu_s": LAST_CPU[0],
            }
        results["ratio_demine_over_ogr2ogr_makevalid"] = report["seconds"] / results["ogr2ogr"]["seconds"]
        results["ratio_ogr2ogr_over_demine"] = results["ogr2ogr"]["features_per_s"] / import_rate
        results["cpu_ratio_demine_over_ogr2ogr_makevalid"] = demine_cpu / results["ogr2ogr"]["process_cpu_s"]
    return rows, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--features",
        default="10000,100000",
        help="comma-separated numbers of polygons (default 10000,100000)",
    )
    parser.add_argument("--make", metavar="PATH", help=argparse.SUPPRESS)  # child: write the file
    parser.add_argument(
        "--crs", default="EPSG:4326", help="CRS of the generated file (EPSG:32636: reprojection too)"
    )
    args = parser.parse_args()
    sizes = [int(part) for part in str(args.features).split(",") if part.strip()]
    if args.make:
        make_file(Path(args.make), sizes[0], args.crs)
        return
    ogr2ogr = ensure_ogr2ogr()
    every: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            rows, results = measure(Path(tmp), n, args.crs, ogr2ogr)
            every.append(results)
            print(f"\n{n:,} polygons\n{'figure':<52} {'value':>12}  unit")
            for figure, value, unit in rows:
                print(f"{figure:<52} {value:>12,.2f}  {unit}")
            results["rows"] = [{"figure": f, "value": v, "unit": u} for f, v, u in rows]
    # The largest size at the top level (what benchmarks/report.py reads), each size under "sizes".
    largest = max(every, key=lambda r: r["features"])
    summary = dict(largest) | {"sizes": every}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2))
    print(f"\nwritten {RESULTS}")


if __name__ == "__main__":
    main()
