"""Shared parts of the reliability tests: real servers, real imports, database invariants, results.

Nothing here is mocked: servers are ``demine serve`` processes on loopback, imports are
``demine import`` processes, and every check reads the GeoPackage file with SQLite itself.

Sizes come from the environment so that CI runs a bounded version and a nightly run a large
one: ``DEMINE_RELIABILITY_ROUNDS`` (import kills; serve kill cycles are half of it),
``DEMINE_FUZZ_EXAMPLES`` (hypothesis examples per fuzz test, and the schemathesis budget),
``DEMINE_LOAD_SECONDS`` (the concurrent editors' run). When ``DEMINE_RELIABILITY_RESULTS``
names a folder, each test writes its figures there as JSON (``benchmarks/reliability.py``
turns them into ``docs/reliability.md``).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from demine.accounts.tokens import issue_token
from demine.accounts.users import add_user
from demine.storage.database import open_database
from serve_support import start_server, stop_server

DEMINE = [sys.executable, "-m", "demine"]
# Land release tolerance (README): max(1 m², 0.1 %).
ABS_TOL_M2 = 1.0
REL_TOL = 0.001


def env_int(name: str, default: int) -> int:
    """A positive size from the environment, or the CI default."""
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def record_result(name: str, figures: dict[str, Any]) -> None:
    """Write this test's figures to ``$DEMINE_RELIABILITY_RESULTS/name.json`` when asked to."""
    folder = os.environ.get("DEMINE_RELIABILITY_RESULTS")
    if not folder:
        return
    path = Path(folder) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    figures = {"test": name, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())} | figures
    path.write_text(json.dumps(figures, indent=2, default=str) + "\n")


def add_api_users(db: Path, users: dict[str, tuple[str, str | None]]) -> dict[str, str]:
    """Add users (name -> (role, organisation code)) without passwords; returns their tokens."""
    engine = open_database(db)
    tokens = {}
    with engine.begin() as conn:
        for name, (role, org) in users.items():
            user = add_user(conn, name, role, org, None, actor="reliability")
            tokens[name] = issue_token(conn, user, name="reliability").token
    engine.dispose()
    return tokens


@dataclass
class Serve:
    """A ``demine serve`` process (one worker: SIGKILL then ends every writer at once)."""

    process: subprocess.Popen
    url: str

    def client(self, token: str, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, as a power cut or the OOM killer would."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        stop_server(self.process, timeout=15)


def start_serve(db: Path, *extra: str, timeout: float = 90) -> Serve:
    """Start ``demine serve`` on a free loopback port and wait until ``/health`` answers."""
    return Serve(*start_server(db, *extra, timeout=timeout, poll=0.05))


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of the file, read with plain sqlite3 (recovering its WAL)."""
    con = sqlite3.connect(db)
    try:
        return ";".join(row[0] for row in con.execute("PRAGMA integrity_check"))
    finally:
        con.close()


def invariant_violations(db: Path, after_hazard_id: int = 0) -> list[str]:
    """Everything that would show a half-written record, as readable lines (empty when sound).

    ``after_hazard_id`` limits the per-hazard checks to hazards with a greater id (those a run
    may have added); the orphan checks always cover the whole register.

    * every hazard has exactly one remaining row and its R*Tree entry; no orphans either way;
    * every hazard's first area event is its registration, and the events add up to what remains;
    * the land release identity: original = released by every product + remaining;
    * foreign keys hold.
    """
    postgres = str(db).startswith("postgresql")
    tol = f"{'greatest' if postgres else 'max'}({ABS_TOL_M2}, {REL_TOL} * h.area_m2)"
    queries = {
        "hazard without a remaining row": """
            select count(*) from hazard h left join hazard_remaining r on r.id = h.id
            where r.id is null and h.id > :after""",
        "remaining row without a hazard": """
            select count(*) from hazard_remaining r left join hazard h on h.id = r.id where h.id is null""",
        "hazard without its R*Tree entry": """
            select count(*) from hazard h where h.geom is not null and h.id > :after
            and not exists (select 1 from rtree_hazard_geom t where t.id = h.id)""",
        "R*Tree entry without a hazard": """
            select count(*) from rtree_hazard_geom t left join hazard h on h.id = t.id where h.id is null""",
        "hazard without a registration event": """
            select count(*) from hazard h where h.id > :after and not exists (
                select 1 from hazard_area_event e where e.hazard_id = h.id and e.event = 'registered')""",
        "land release identity broken (original != released + remaining)": f"""
            select count(*) from hazard h join hazard_remaining r on r.id = h.id
            where h.id > :after and abs(h.area_m2 - r.area_m2 - coalesce((select sum(p.released_area_m2)
                from release_product p where p.hazard_id = h.id), 0)) > {tol}""",
        "area events do not add up to what remains": f"""
            select count(*) from hazard h join hazard_remaining r on r.id = h.id
            where h.id > :after and abs(r.area_m2 - (select sum(e.change_m2)
                from hazard_area_event e where e.hazard_id = h.id)) > {tol}""",
    }
    if postgres:
        # PostGIS keeps its GiST index inside the table (no R*Tree table to fall out of step) and
        # PostgreSQL enforces foreign keys on every write: the other checks are the same.
        return _postgres_violations(str(db), after_hazard_id, queries)
    con = sqlite3.connect(db)
    problems = []
    try:
        for what, sql in queries.items():
            n = con.execute(sql, {"after": after_hazard_id} if ":after" in sql else {}).fetchone()[0]
            if n:
                problems.append(f"{what}: {n}")
        fk = con.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            problems.append(f"foreign key violations: {fk[:5]}")
    finally:
        con.close()
    return problems


def _postgres_violations(url: str, after_hazard_id: int, queries: dict[str, str]) -> list[str]:
    engine = create_engine(url)
    problems = []
    try:
        with engine.connect() as conn:
            for what, sql in queries.items():
                if "rtree_" in sql:
                    continue
                params = {"after": after_hazard_id} if ":after" in sql else {}
                n = conn.execute(text(sql), params).scalar_one()
                if n:
                    problems.append(f"{what}: {n}")
    finally:
        engine.dispose()
    return problems


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by nearest rank; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def write_round_file(path, round_no: int, n: int) -> None:
    """``n`` small squares far from the demo programme, on a row of their own for this round."""
    features = []
    lat0 = -30.0 + round_no * 0.05
    for i in range(n):
        lon, lat = 20.0 + (i % 200) * 0.002, lat0 + (i // 200) * 0.002
        ring = [[lon, lat], [lon + 0.001, lat], [lon + 0.001, lat + 0.001], [lon, lat + 0.001], [lon, lat]]
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": f"K{round_no:04d}-{i:05d}",
                    "hazard_type": "SHA" if i % 2 else "CHA",
                    "reported_on": "2025-03-01",
                    "eo_categories": "apm",
                },
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
