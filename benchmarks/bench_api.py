"""API load benchmark: bbox queries at map-view sizes against ``demine serve`` on loopback.

Run ``python benchmarks/bench_api.py [--hazards 100000] [--duration 20] [--connections 16]``.
It builds (or reuses, cached under /tmp) a demo programme of that many hazards, adds a viewer
with an API token, starts ``demine serve --workers N`` on a free loopback port, and drives
it with ``wrk`` (Debian's package, installed with apt-get when missing; a bounded Python
asyncio/httpx load generator is used instead when wrk cannot be had). Two scenarios:

* ``bbox``: ``GET /api/hazards?bbox=...&limit=1000`` — the GeoJSON of the hazards in a map view
  of a 1280×800 screen at zoom 12, 13 or 14 (about 44×19, 22×9 and 11×5 km), at random
  places over the programme;
* ``tiles``: ``GET /tiles/hazards/{z}/{x}/{y}.mvt`` for the tiles of the same views.

``bbox-1conn`` is the bbox scenario with a single client (the latency of one request on an
idle server); ``bbox`` and ``tiles`` run ``--connections`` clients at once (throughput, and
latency including queueing on the server's cores).

Prints a table and writes ``benchmarks/results/api.json`` (p50/p95/p99 latency, throughput,
features per response). Every request loop is bounded by ``--duration`` and only ever
targets 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "api.json"
AS_OF = date(2026, 11, 24)
SCREEN = (1280, 800)
ZOOMS = (12, 13, 14)
SERVE = "import typer; from demine.cli import server; app = typer.Typer(); server.register(app); app()"
BENCH_USER = "bench_viewer"


def cached_database(hazards: int, seed: int) -> Path:
    """The demo programme of ``hazards`` hazards, built once and kept under /tmp."""
    from sqlalchemy import func, select

    from demine.storage import schema
    from demine.storage.database import current_revision, head_revision, migrate, open_engine

    path = Path(tempfile.gettempdir()) / f"demine-bench-{hazards}-seed{seed}.gpkg"
    if path.exists():
        engine = open_engine(path)
        if current_revision(engine) != head_revision():
            migrate(engine)  # an older cached file: bring it to this schema
        with engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(schema.hazard)).scalar_one()
            # A file built before migration 0001 gave every table AUTOINCREMENT (edited in place,
            # so its revision looks current) cannot take new records: rebuild it.
            current = conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'"
            ).scalar_one()
        engine.dispose()
        if n >= hazards and current:
            return path
    print(f"building the demo programme of {hazards:,} hazards into {path} (minutes) ...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "demine", "demo", "--hazards", str(hazards), "--seed", str(seed),
         "--as-of", AS_OF.isoformat(), "--db", str(path), "--replace"],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return path


def bench_token(db: Path) -> str:
    from demine.accounts.tokens import issue_token
    from demine.accounts.users import add_user, get_user
    from demine.storage.database import open_database

    engine = open_database(db)
    with engine.begin() as conn:
        user = get_user(conn, BENCH_USER, missing_ok=True) or add_user(
            conn, BENCH_USER, "viewer", actor="bench"
        )
        token = issue_token(conn, user, name="benchmark").token
    engine.dispose()
    return token


def extent(db: Path) -> tuple[float, float, float, float]:
    from demine.storage.database import open_database

    engine = open_database(db)
    with engine.connect() as conn:
        box = conn.exec_driver_sql(
            "SELECT min(minx), min(miny), max(maxx), max(maxy) FROM rtree_hazard_geom"
        ).one()
    engine.dispose()
    return tuple(box)


def view_size_deg(zoom: int, lat: float) -> tuple[float, float]:
    """Longitude and latitude span of a SCREEN-sized map view at ``zoom`` (Web Mercator)."""
    metres_per_pixel = 2 * math.pi * 6378137 / 256 / 2**zoom * math.cos(math.radians(lat))
    width_m, height_m = SCREEN[0] * metres_per_pixel, SCREEN[1] * metres_per_pixel
    return width_m / (111_320 * math.cos(math.radians(lat))), height_m / 110_574


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def make_paths(box: tuple[float, float, float, float], n: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    minx, miny, maxx, maxy = box
    bbox_paths, tile_paths = [], []
    for i in range(n):
        z = ZOOMS[i % len(ZOOMS)]
        lat = rng.uniform(miny, maxy)
        w, h = view_size_deg(z, lat)
        lon = rng.uniform(minx + w / 2, max(minx + w / 2, maxx - w / 2))
        lat = min(max(lat, miny + h / 2), maxy - h / 2)
        view = (lon - w / 2, lat - h / 2, lon + w / 2, lat + h / 2)
        bbox_paths.append("/api/hazards?limit=1000&bbox=" + ",".join(f"{v:.5f}" for v in view))
        x0, y0 = tile_xy(view[0], view[3], z)
        x1, y1 = tile_xy(view[2], view[1], z)
        tile_paths += [
            f"/tiles/hazards/{z}/{x}/{y}.mvt" for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)
        ]
    rng.shuffle(tile_paths)
    return {"bbox": bbox_paths, "tiles": tile_paths[: 3 * n]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-c", SERVE, "serve", "--db", str(db), "--port", str(port),
           "--workers", str(workers), "--log-level", "warning"]  # fmt: skip
    # Its own process group: stopping it stops uvicorn's worker processes too.
    process = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # a loaded machine imports slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    stop_server(process)
    raise RuntimeError("demine serve did not start")


def stop_server(process: subprocess.Popen) -> None:
    """Stop the server and its workers (the whole process group)."""
    try:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()
    except ProcessLookupError:
        pass


def server_cpu_seconds(pid: int) -> float:
    """User and system CPU time so far of the server and its worker processes (from /proc)."""
    total = 0.0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def ensure_wrk() -> str | None:
    found = shutil.which("wrk")
    if found is None and os.geteuid() == 0:
        subprocess.run(
            "apt-get update -qq && apt-get install -y -qq wrk", shell=True, capture_output=True, check=False
        )
        found = shutil.which("wrk")
    return found


WRK_SCRIPT = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = (i %% #paths) + 1
  return wrk.format("GET", paths[i], {["Authorization"] = "Bearer %(token)s"})
end
done = function(summary, latency, requests)
  local e = summary.errors
  local out = io.open("%(out)s", "w")
  out:write(string.format(
    '{"requests": %%d, "duration_s": %%f, "errors": %%d, '
    .. '"p50_ms": %%f, "p95_ms": %%f, "p99_ms": %%f, "mean_ms": %%f}',
    summary.requests, summary.duration / 1e6,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.mean / 1000))
  out:close()
end
"""


def run_wrk(
    wrk: str, url: str, token: str, paths: list[str], duration: int, connections: int, threads: int
) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path_file, out, script = Path(tmp, "paths.txt"), Path(tmp, "out.json"), Path(tmp, "bench.lua")
        path_file.write_text("\n".join(paths) + "\n")
        script.write_text(WRK_SCRIPT % {"paths": path_file, "token": token, "out": out})
        subprocess.run(
            [
                wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{duration}s",
                "--timeout",
                "30s",
                "-s",
                str(script),
                url,
            ],
            check=True,
            capture_output=True,
            timeout=duration + 120,
        )
        result = json.loads(out.read_text())
    result["throughput_rps"] = result["requests"] / result["duration_s"]
    return result


async def _python_load(url: str, token: str, paths: list[str], duration: int, connections: int) -> dict:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + duration
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, limits=limits
    ) as c:

        async def worker(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.monotonic() < stop:
                t = time.perf_counter()
                r = await c.get(paths[i % len(paths)], timeout=30)
                latencies.append(time.perf_counter() - t)
                errors += r.status_code >= 400
                i += connections

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(connections)))
        elapsed = time.perf_counter() - t0
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "duration_s": elapsed,
        "errors": errors,
        "p50_ms": q[49] * 1000,
        "p95_ms": q[94] * 1000,
        "p99_ms": q[98] * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
        "throughput_rps": len(latencies) / elapsed,
    }


def sample_sizes(url: str, token: str, paths: dict[str, list[str]]) -> dict[str, float]:
    """Features and bytes per response, from a sample, checking every answer is good."""
    features, sizes, tile_bytes = [], [], []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        for p in paths["bbox"][:60]:
            r = c.get(p)
            r.raise_for_status()
            features.append(r.json()["numberReturned"])
            sizes.append(len(r.content))
        for p in paths["tiles"][:60]:
            r = c.get(p)
            assert r.status_code in (200, 204), r.status_code
            tile_bytes.append(len(r.content))
    return {
        "bbox_features_mean": statistics.fmean(features),
        "bbox_features_max": max(features),
        "bbox_response_kb_mean": statistics.fmean(sizes) / 1024,
        "tile_kb_mean": statistics.fmean(tile_bytes) / 1024,
    }


def server_peak_rss_mb(pid: int) -> dict[str, float]:
    """Peak resident memory (VmHWM) of the server and its worker processes, read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    peaks, todo = [], [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
        peaks.append(kb / 1024)
    return {"total": round(sum(peaks), 1), "largest_process": round(max(peaks, default=0.0), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hazards", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duration", type=int, default=20, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="uvicorn worker processes")
    parser.add_argument("--views", type=int, default=600)
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-write", action="store_true", help="do not write benchmarks/results/api.json")
    args = parser.parse_args()

    db = cached_database(args.hazards, args.seed)
    # Other work on the machine skews every figure: the load average is recorded with them.
    load = os.getloadavg()
    token = bench_token(db)
    paths = make_paths(extent(db), args.views, seed=7)
    wrk = ensure_wrk() if args.tool in ("auto", "wrk") else None
    if args.tool == "wrk" and wrk is None:
        raise SystemExit("wrk is not available")
    tool = "wrk" if wrk else "python asyncio/httpx"
    process, url = start_server(db, args.workers)
    try:
        sizes = sample_sizes(url, token, paths)
        results = {}
        # One client alone gives the latency of a request; many at once, the throughput. The
        # first tiles run renders most tiles (once per worker process); the second serves the
        # same tiles again, from each worker's cache, as a map server mostly does.
        runs = [
            ("bbox-1conn", "bbox", 1),
            ("bbox", "bbox", args.connections),
            ("tiles", "tiles", args.connections),
            ("tiles-warm", "tiles", args.connections),
        ]
        for name, scenario, connections in runs:
            cpu = server_cpu_seconds(process.pid)
            if wrk:
                threads = min(2, connections)
                results[name] = run_wrk(wrk, url, token, paths[scenario], args.duration, connections, threads)
            else:
                results[name] = asyncio.run(
                    _python_load(url, token, paths[scenario], args.duration, connections)
                )
            # Requests per CPU-second of the server: what the server costs, whatever else the
            # machine is doing (the load generator runs on the same cores).
            spent = server_cpu_seconds(process.pid) - cpu
            results[name]["server_cpu_s"] = spent
            results[name]["requests_per_cpu_s"] = results[name]["requests"] / spent if spent > 0 else 0.0
        server_rss = server_peak_rss_mb(process.pid)
    finally:
        stop_server(process)

    report = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hazards": args.hazards,
        "database_mb": round(db.stat().st_size / 1e6, 1),
        "load_tool": tool,
        "connections": args.connections,
        "server_workers": args.workers,
        "duration_s_per_scenario": args.duration,
        "views": f"{SCREEN[0]}x{SCREEN[1]} px at zoom {', '.join(map(str, ZOOMS))}; bbox pages of up to 1000",
        "sizes": {k: round(v, 1) for k, v in sizes.items()},
        "server_peak_rss_mb": server_rss,
        "load_average_before": [round(x, 2) for x in load],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "results": {k: {m: round(v, 2) for m, v in r.items()} for k, r in results.items()},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    print(f"\nAPI benchmark: {args.hazards:,} hazards, {tool}, {args.connections} connections, "
          f"{args.workers} server workers, {args.duration} s per scenario")  # fmt: skip
    print(f"  bbox views: {sizes['bbox_features_mean']:.0f} hazards on average "
          f"(max {sizes['bbox_features_max']}), {sizes['bbox_response_kb_mean']:.0f} KiB; "
          f"tiles {sizes['tile_kb_mean']:.0f} KiB; load average before {load[0]:.1f}")  # fmt: skip
    head = ("scenario", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "req/cpu-s", "errors")
    print(f"  {head[0]:<12}" + "".join(f"{h:>10}" for h in head[1:-1]) + f"{head[-1]:>8}")
    for name, r in results.items():
        print(
            f"  {name:<12}{r['requests']:>10}{r['throughput_rps']:>10.1f}{r['p50_ms']:>10.1f}"
            f"{r['p95_ms']:>10.1f}{r['p99_ms']:>10.1f}{r['requests_per_cpu_s']:>10.1f}{r['errors']:>8}"
        )
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
