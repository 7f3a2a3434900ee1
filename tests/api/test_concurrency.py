"""No lost updates: parallel conflicting writes with the same If-Match — exactly one wins."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from sqlalchemy import select

from demine.storage import schema
from demine.storage.audit import history

PARALLEL = 12


def _race(server, user, method, url, bodies, etag):
    barrier = Barrier(len(bodies))

    def one(body):
        with server.client(user) as client:
            barrier.wait()  # release every request at once
            return client.request(method, url, json=body, headers={"If-Match": etag})

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(one, bodies))


def test_parallel_conflicting_updates_exactly_one_wins(server, clients):
    team = clients["im"].get("/api/teams", params={"limit": 1, "offset": 3}).json()["features"][0]
    url = f"/api/teams/{team['id']}"
    first = clients["im"].get(url)
    etag, version = first.headers["etag"], first.json()["properties"]["version"]
    names = [f"Team renamed by writer {i}" for i in range(PARALLEL)]
    responses = _race(server, "im", "PATCH", url, [{"name": n} for n in names], etag)
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * (PARALLEL - 1), codes
    winner = next(r for r in responses if r.status_code == 200).json()["properties"]
    assert winner["version"] == version + 1
    for loser in (r for r in responses if r.status_code == 409):
        body = loser.json()
        assert body["current_version"] == version + 1
        assert body["current"]["name"] == winner["name"]  # the loser is told what won
    final = clients["im"].get(url).json()["properties"]
    assert final["name"] == winner["name"] and final["version"] == version + 1
    engine = server.engine()
    with engine.connect() as conn:
        changes = [h for h in history(conn, "team", team["id"]) if h["action"] == "update"]
    engine.dispose()
    assert [c["after"]["name"] for c in changes][-1] == winner["name"]
    assert sum(1 for c in changes if c["before"]["version"] == version) == 1  # one audited change


def test_parallel_approvals_write_the_record_once(server, clients):
    payload = {
        "code": "RACE-H1",
        "hazard_type": "SHA",
        "reported_on": "2026-03-01",
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[31.75, 47.72], [31.751, 47.72], [31.751, 47.721], [31.75, 47.721], [31.75, 47.72]]
            ],
        },
    }
    sub = clients["op_hdt"].post("/api/submissions", json={"kind": "hazard", "payload": payload})
    assert sub.status_code == 201, sub.text
    sid = sub.json()["id"]
    verified = clients["mgr_hdt"].post(
        f"/api/submissions/{sid}/verify", headers={"If-Match": sub.headers["etag"]}
    )
    assert verified.status_code == 200, verified.text
    responses = _race(
        server, "im", "POST", f"/api/submissions/{sid}/approve", [None] * 6, verified.headers["etag"]
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 5
    engine = server.engine()
    with engine.connect() as conn:
        n = conn.execute(select(schema.hazard.c.id).where(schema.hazard.c.code == "RACE-H1")).all()
    engine.dispose()
    assert len(n) == 1
