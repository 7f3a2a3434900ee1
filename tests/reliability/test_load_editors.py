"""Twenty concurrent editors on overlapping records: no lost update, every conflict a 409.

A ``demine serve --workers 2`` (two processes writing the same SQLite file) runs on loopback.
Twenty editor threads, each with its own HTTP client and the ``im_officer`` role, repeat for
``DEMINE_LOAD_SECONDS`` (default 8; 20 in ``make reliability``): read one of ten shared
organisations (ETag), rename it with ``If-Match``. Every answer is recorded. Then:

* every answer to a rename is 200 or 409 (never a 5xx, never another refusal), and every 409
  names the record's current version;
* no lost update: for each record, the versions the 200s announced are exactly
  ``v0 + 1 .. v_final`` (no version granted twice), the final version is ``v0`` plus the number
  of 200s, its final name is the one the highest acknowledged version carried, and the audit
  log holds one update per 200.

Throughput and latency percentiles are reported (``DEMINE_RELIABILITY_RESULTS``).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict

from reliability_support import add_api_users, env_int, percentile, record_result, start_serve
from sqlalchemy import text

from demine.storage.database import open_database

# On both stores: two server processes writing one SQLite file, or one PostgreSQL database.

EDITORS = 20
RECORDS = 10
SECONDS = env_int("DEMINE_LOAD_SECONDS", 8)


def test_concurrent_editors_lose_no_update(demo_store):
    db = demo_store
    tokens = add_api_users(
        db, {"admin": ("admin", None)} | {f"ed{i}": ("im_officer", "NMAA") for i in range(EDITORS)}
    )
    serve = start_serve(db, "--workers", "2")
    try:
        with serve.client(tokens["admin"]) as admin:
            ids = []
            for i in range(RECORDS):
                r = admin.post(
                    "/api/organisations",
                    json={"code": f"LOAD{i}", "name": f"Shared {i}", "organisation_type": "ngo"},
                )
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])
            start_versions = {i: admin.get(f"/api/organisations/{i}").json()["version"] for i in ids}

        lock = threading.Lock()
        granted: dict[int, list[tuple[int, str]]] = defaultdict(list)  # id -> [(version, name)]
        statuses: Counter = Counter()
        unexpected: list[str] = []
        latency = {"read": [], "write": []}
        stop_at = time.monotonic() + SECONDS

        def editor(number: int) -> None:
            rng = random.Random(number)
            seq = 0
            with serve.client(tokens[f"ed{number}"], timeout=60) as client:
                while time.monotonic() < stop_at:
                    record_id = rng.choice(ids)
                    t0 = time.perf_counter()
                    read = client.get(f"/api/organisations/{record_id}")
                    t1 = time.perf_counter()
                    if read.status_code != 200:
                        with lock:
                            unexpected.append(f"GET {read.status_code} {read.text[:200]}")
                        continue
                    seq += 1
                    name = f"editor {number} edit {seq}"
                    write = client.patch(
                        f"/api/organisations/{record_id}",
                        json={"name": name},
                        headers={"If-Match": read.headers["etag"]},
                    )
                    t2 = time.perf_counter()
                    with lock:
                        latency["read"].append(t1 - t0)
                        latency["write"].append(t2 - t1)
                        statuses[write.status_code] += 1
                        if write.status_code == 200:
                            granted[record_id].append((write.json()["version"], name))
                        elif write.status_code == 409:
                            body = write.json()
                            if not isinstance(body.get("current_version"), int):
                                unexpected.append(f"409 without the current version: {write.text[:200]}")
                        else:
                            unexpected.append(f"PATCH {write.status_code} {write.text[:200]}")

        threads = [threading.Thread(target=editor, args=(i,)) for i in range(EDITORS)]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - began

        with serve.client(tokens["admin"]) as admin:
            final = {i: admin.get(f"/api/organisations/{i}").json() for i in ids}
    finally:
        serve.stop()

    assert not unexpected, unexpected[:10]
    assert statuses[200] > 0 and statuses[409] > 0, statuses  # the records really were contended
    engine = open_database(db)
    try:
        with engine.connect() as conn:
            for record_id in ids:
                v0, acks = start_versions[record_id], sorted(granted[record_id])
                versions = [v for v, _ in acks]
                assert versions == list(range(v0 + 1, v0 + 1 + len(acks))), (
                    f"record {record_id}: versions {versions}"
                )
                lost = f"record {record_id}: an update was lost"
                assert final[record_id]["version"] == v0 + len(acks), lost
                if acks:
                    assert final[record_id]["name"] == acks[-1][1], f"record {record_id}: not the last write"
                updates = conn.execute(
                    text(
                        "select count(*) from audit_log where table_name = 'organisation' "
                        "and record_id = :r and action = 'update'"
                    ),
                    {"r": record_id},
                ).scalar_one()
                audited = f"record {record_id}: {updates} audited updates for {len(acks)} 200s"
                assert updates == len(acks), audited
    finally:
        engine.dispose()

    requests = len(latency["read"]) + len(latency["write"])
    ms = {k: [x * 1000 for x in v] for k, v in latency.items()}
    record_result(
        "load_editors",
        {
            "editors": EDITORS,
            "records": RECORDS,
            "server_workers": 2,
            "seconds": round(elapsed, 1),
            "requests": requests,
            "throughput_rps": round(requests / elapsed, 1),
            "edits": statuses[200] + statuses[409],
            "edits_accepted_200": statuses[200],
            "conflicts_409": statuses[409],
            "other_answers": 0,
            "lost_updates": 0,
            "read_ms": {q: round(percentile(ms["read"], q), 1) for q in (50, 95, 99)},
            "write_ms": {q: round(percentile(ms["write"], q), 1) for q in (50, 95, 99)},
        },
    )
