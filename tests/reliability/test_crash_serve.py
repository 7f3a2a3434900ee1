"""SIGKILL a writing ``demine serve`` at random moments: no acknowledged write is lost or half-written.

One register (a copy of the demo programme) goes through every cycle. In each cycle a server
starts on it, writer threads create hazards (each with its remaining polygon, R*Tree entry,
area history and audit row) and organisations and rename their organisations with If-Match,
and after a random delay the server is killed with SIGKILL. Every 2xx answer a client got is
written down as acknowledged; a request that got no answer is written down as in flight.
After every kill, before the next start:

* ``PRAGMA integrity_check`` is ``ok`` and no hazard is half-written (see
  :func:`reliability_support.invariant_violations`);
* every acknowledged creation is there with what was sent; every acknowledged rename is there,
  or a later one: a record's version is its last acknowledged one, or one more when the
  request in flight at the kill committed before its answer was sent (then it holds what that
  request sent), never anything else;
* the audit log's latest entry for each record is its current state (no change went unaudited);
* a creation in flight is either wholly there or wholly absent.

``DEMINE_SERVE_KILLS`` sets the number of cycles (default: half of
``DEMINE_RELIABILITY_ROUNDS``, i.e. 5 in ``make test`` and 25 in ``make reliability``).
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest
from reliability_support import (
    add_api_users,
    env_int,
    integrity,
    invariant_violations,
    record_result,
    start_serve,
)

# About the SQLite/GeoPackage file itself: its write-ahead log, integrity_check, R*Trees.
pytestmark = pytest.mark.sqlite_only

KILLS = env_int("DEMINE_SERVE_KILLS", env_int("DEMINE_RELIABILITY_ROUNDS", 10) // 2)
WRITERS = 4
SEED = 20261126


@dataclass
class Ledger:
    """What one writer was told: acknowledged writes, and the one request without an answer."""

    hazards: dict[str, dict] = field(default_factory=dict)  # code -> acknowledged body
    organisations: dict[int, tuple[int, str]] = field(default_factory=dict)  # id -> (version, name)
    org_codes: dict[str, int] = field(default_factory=dict)  # acknowledged code -> id
    in_flight: tuple | None = None
    acknowledged: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)  # unexpected 4xx/5xx answers


def hazard_body(code: str, n: int) -> dict:
    lon, lat = -10.0 + (n % 500) * 0.003, -40.0 + (n // 500) * 0.003
    ring = [[lon, lat], [lon + 0.002, lat], [lon + 0.002, lat + 0.002], [lon, lat + 0.002], [lon, lat]]
    return {
        "code": code,
        "hazard_type": "CHA" if n % 2 else "SHA",
        "reported_on": "2026-03-01",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def writer(client: httpx.Client, ledger: Ledger, prefix: str, counter: list[int], rng: random.Random) -> None:
    """Write until the server goes away; every answer is recorded before the next request."""
    while True:
        n = counter[0]
        counter[0] += 1
        choice = rng.random()
        try:
            if choice < 0.4 or not ledger.organisations:
                if choice < 0.2:
                    code = f"{prefix}-H{n:05d}"
                    body = hazard_body(code, n + int(prefix[1:]) * 100_000)
                    ledger.in_flight = ("hazard", code, body)
                    r = client.post("/api/hazards", json=body)
                    if r.status_code == 201:
                        ledger.hazards[code] = body
                else:
                    code = f"{prefix}-O{n:05d}"
                    body = {"code": code, "name": f"Operator {code}", "organisation_type": "ngo"}
                    ledger.in_flight = ("organisation", code, body)
                    r = client.post("/api/organisations", json=body)
                    if r.status_code == 201:
                        ledger.org_codes[code] = r.json()["id"]
                        ledger.organisations[r.json()["id"]] = (r.json()["version"], body["name"])
            else:
                record_id = rng.choice(list(ledger.organisations))
                version, _ = ledger.organisations[record_id]
                name = f"renamed {prefix} {n}"
                ledger.in_flight = ("rename", record_id, version, name)
                r = client.patch(
                    f"/api/organisations/{record_id}",
                    json={"name": name},
                    headers={"If-Match": f'"{version}"'},
                )
                if r.status_code == 200:
                    assert r.json()["version"] == version + 1
                    ledger.organisations[record_id] = (version + 1, name)
        except httpx.TransportError:
            return  # the server was killed: ledger.in_flight has no answer
        if 200 <= r.status_code < 300:
            ledger.acknowledged += 1
            ledger.in_flight = None
        else:
            ledger.refused.append((r.status_code, r.text[:300]))
            ledger.in_flight = None


def check_ledger(db, ledger: Ledger) -> list[str]:
    """Every acknowledged write is in the file; the write in flight is wholly there or absent."""
    problems = []
    con = sqlite3.connect(db)
    try:
        for code, body in ledger.hazards.items():
            row = con.execute(
                "select hazard_type, reported_on from hazard where code = ?", (code,)
            ).fetchone()
            if row != (body["hazard_type"], body["reported_on"]):
                problems.append(f"acknowledged hazard {code} is {row}")
        for code, record_id in ledger.org_codes.items():
            if con.execute("select id from organisation where code = ?", (code,)).fetchone() != (record_id,):
                problems.append(f"acknowledged organisation {code} (id {record_id}) is missing")
        flight = ledger.in_flight
        for record_id, (version, name) in ledger.organisations.items():
            row = con.execute("select version, name from organisation where id = ?", (record_id,)).fetchone()
            allowed = {(version, name)}
            if flight and flight[0] == "rename" and flight[1] == record_id and flight[2] == version:
                allowed.add((version + 1, flight[3]))  # committed, but killed before answering
            if row not in allowed:
                problems.append(f"organisation {record_id}: acknowledged {version, name}, found {row}")
                continue
            audit = con.execute(
                "select after from audit_log where table_name = 'organisation' and record_id = ? "
                "order by id desc limit 1",
                (record_id,),
            ).fetchone()
            after = json.loads(audit[0]) if audit else {}
            if (after.get("version"), after.get("name")) != row:
                problems.append(f"organisation {record_id}: audit log ends at {after}, record is {row}")
        if flight and flight[0] in ("hazard", "organisation"):
            table = "hazard" if flight[0] == "hazard" else "organisation"
            n = con.execute(f"select count(*) from {table} where code = ?", (flight[1],)).fetchone()[0]
            if n > 1:
                problems.append(f"{flight[1]} written {n} times")
    finally:
        con.close()
    return problems


def test_sigkilled_server_loses_no_acknowledged_write(demo_file):
    db = demo_file
    tokens = add_api_users(db, {"admin": ("admin", None)})
    rng = random.Random(SEED)
    ledgers = [Ledger() for _ in range(WRITERS)]
    counters = [[0] for _ in range(WRITERS)]
    in_flight_at_kill = committed_in_flight = 0
    started = time.monotonic()
    for cycle in range(KILLS):
        serve = start_serve(db)
        clients = [serve.client(tokens["admin"], timeout=60) for _ in range(WRITERS)]
        threads = [
            threading.Thread(
                target=writer,
                args=(clients[i], ledgers[i], f"W{i}", counters[i], random.Random(rng.random())),
                daemon=True,
            )
            for i in range(WRITERS)
        ]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.2, 1.5))
        serve.kill()
        for t in threads:
            t.join(timeout=60)
            assert not t.is_alive(), "a writer did not notice the server had gone"
        for c in clients:
            c.close()

        assert integrity(db) == "ok", f"cycle {cycle}: integrity_check failed"
        problems = invariant_violations(db)
        for ledger in ledgers:
            assert not ledger.refused, f"cycle {cycle}: unexpected answers {ledger.refused[:3]}"
            problems += check_ledger(db, ledger)
            if ledger.in_flight is not None:
                in_flight_at_kill += 1
                flight = ledger.in_flight
                if flight[0] == "rename":
                    con = sqlite3.connect(db)
                    (v,) = con.execute(
                        "select version from organisation where id = ?", (flight[1],)
                    ).fetchone()
                    con.close()
                    if v == flight[2] + 1:
                        # Committed without an answer: from now on, that is the acknowledged state.
                        committed_in_flight += 1
                        ledger.organisations[flight[1]] = (v, flight[3])
                ledger.in_flight = None
        assert not problems, f"cycle {cycle}: {problems[:10]}"

    acknowledged = sum(ledger.acknowledged for ledger in ledgers)
    assert acknowledged > KILLS, "too few writes were acknowledged to test anything"
    record_result(
        "crash_serve",
        {
            "sigkills": KILLS,
            "writers": WRITERS,
            "acknowledged_writes": acknowledged,
            "acknowledged_hazards": sum(len(ledger.hazards) for ledger in ledgers),
            "acknowledged_organisations": sum(len(ledger.org_codes) for ledger in ledgers),
            "requests_in_flight_at_kills": in_flight_at_kill,
            "in_flight_renames_found_committed": committed_in_flight,
            "acknowledged_writes_lost": 0,
            "half_written_records": 0,
            "integrity_checks_ok": KILLS,
            "seconds": round(time.monotonic() - started, 1),
        },
    )
