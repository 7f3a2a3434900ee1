"""The approval workflow end to end over HTTP: submit → verify → approve → official figures."""

from __future__ import annotations

import pytest

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[31.62, 47.76], [31.623, 47.76], [31.623, 47.762], [31.62, 47.762], [31.62, 47.76]]],
}


def _hazard(code, **extra):
    return {"code": code, "hazard_type": "CHA", "reported_on": "2026-04-01", "geometry": SQUARE} | extra


def _submit(clients, user, kind, payload):
    r = clients[user].post("/api/submissions", json={"kind": kind, "payload": payload})
    assert r.status_code == 201, r.text
    return r


def _act(clients, user, sid, action, etag, **kwargs):
    return clients[user].post(f"/api/submissions/{sid}/{action}", headers={"If-Match": etag}, **kwargs)


def test_submit_verify_approve_changes_the_official_figures(clients):
    before = clients["viewer"].get("/api/summary").json()
    sub = _submit(clients, "op_hdt", "hazard", _hazard("WF-H1"))
    data = sub.json()
    assert data["status"] == "submitted" and data["author"] == "op_hdt" and data["organisation"] == "HDT"
    assert data["payload"]["organisation"] == "HDT"  # attributed to the operator's organisation
    # Not in the register, nor in the figures, until approved.
    assert (
        clients["viewer"].get("/api/hazards", params={"status": "open", "limit": 1}).json()["numberMatched"]
        > 0
    )
    assert clients["viewer"].get("/api/summary").json()["hazards"]["count"] == before["hazards"]["count"]
    assert clients["im"].get("/api/hazards", params={"type": "CHA", "limit": 10_000}).text.count("WF-H1") == 0
    # The author cannot verify their own; a colleague operator cannot verify at all.
    assert _act(clients, "op_hdt", data["id"], "verify", sub.headers["etag"]).status_code == 403
    assert _act(clients, "op_hdt2", data["id"], "verify", sub.headers["etag"]).status_code == 403
    # Approval needs verification first.
    assert _act(clients, "im", data["id"], "approve", sub.headers["etag"]).status_code == 409
    verified = _act(clients, "mgr_hdt", data["id"], "verify", sub.headers["etag"])
    assert verified.status_code == 200 and verified.json()["verifier"] == "mgr_hdt"
    # A manager does not approve; a stale version is refused.
    assert _act(clients, "mgr_hdt", data["id"], "approve", verified.headers["etag"]).status_code == 403
    assert _act(clients, "im", data["id"], "approve", sub.headers["etag"]).status_code == 409
    approved = _act(clients, "im", data["id"], "approve", verified.headers["etag"])
    assert approved.status_code == 200, approved.text
    result = approved.json()
    assert result["status"] == "approved" and result["record_table"] == "hazard"
    hazard = clients["viewer"].get(f"/api/hazards/{result['record_id']}").json()["properties"]
    assert hazard["code"] == "WF-H1"
    after = clients["viewer"].get("/api/summary").json()
    assert after["hazards"]["count"] == before["hazards"]["count"] + 1
    assert after["area"]["original_m2"] == pytest.approx(before["area"]["original_m2"] + hazard["area_m2"])
    history = clients["im"].get(f"/api/hazards/{result['record_id']}/history").json()["items"]
    assert history[0]["action"] == "insert" and history[0]["changed_by"] == "im"
    assert "approved submission" in history[0]["reason"]


def test_rejection_returns_to_the_author_who_revises(clients):
    sub = _submit(clients, "op_safe", "hazard", _hazard("WF-H2"))
    sid = sub.json()["id"]
    assert (
        _act(clients, "mgr_safe", sid, "reject", sub.headers["etag"], json={"reason": " "}).status_code == 422
    )
    rejected = _act(clients, "mgr_safe", sid, "reject", sub.headers["etag"], json={"reason": "wrong polygon"})
    assert rejected.status_code == 200
    seen = clients["op_safe"].get(f"/api/submissions/{sid}").json()
    assert seen["status"] == "rejected" and seen["reason"] == "wrong polygon"
    assert sid in [
        s["id"]
        for s in clients["op_safe"].get("/api/submissions", params={"status": "rejected"}).json()["items"]
    ]
    # A rejected submission is not verified or approved until revised.
    assert _act(clients, "mgr_safe", sid, "verify", rejected.headers["etag"]).status_code == 409
    # Only the author revises.
    revision = {"payload": _hazard("WF-H2", name="Corrected")}
    assert (
        clients["mgr_safe"]
        .put(f"/api/submissions/{sid}", json=revision, headers={"If-Match": rejected.headers["etag"]})
        .status_code
        == 403
    )
    revised = clients["op_safe"].put(
        f"/api/submissions/{sid}", json=revision, headers={"If-Match": rejected.headers["etag"]}
    )
    assert revised.status_code == 200 and revised.json()["status"] == "submitted"
    assert revised.json()["payload"]["name"] == "Corrected"
    verified = _act(clients, "mgr_safe", sid, "verify", revised.headers["etag"])
    rejected_again = _act(
        clients, "im", sid, "reject", verified.headers["etag"], json={"reason": "duplicate of HA-000001"}
    )
    assert rejected_again.status_code == 200 and rejected_again.json()["status"] == "rejected"


def test_other_operators_cannot_see_or_touch_a_submission(clients):
    sub = _submit(clients, "op_hdt", "hazard", _hazard("WF-H3"))
    sid, etag = sub.json()["id"], sub.headers["etag"]
    for outsider in ("op_safe", "mgr_safe"):
        assert clients[outsider].get(f"/api/submissions/{sid}").status_code == 404
        assert sid not in [s["id"] for s in clients[outsider].get("/api/submissions").json()["items"]]
        # an operator may not verify at all (403); another organisation's manager does not see it (404)
        expected = 404 if outsider == "mgr_safe" else 403
        assert _act(clients, outsider, sid, "verify", etag).status_code == expected
        assert _act(clients, outsider, sid, "reject", etag, json={"reason": "no"}).status_code == expected
    for blind in ("viewer", "qa"):
        assert clients[blind].get(f"/api/submissions/{sid}").status_code == 403
        assert clients[blind].get("/api/submissions").status_code == 403
    assert clients["op_hdt2"].get(f"/api/submissions/{sid}").status_code == 200  # same organisation
    assert clients["im"].get(f"/api/submissions/{sid}").status_code == 200


def test_problems_are_reported_at_submission(clients):
    r = clients["op_hdt"].post(
        "/api/submissions",
        json={"kind": "hazard", "payload": _hazard("HA-000001", hazard_type="XYZ")},
    )
    assert r.status_code == 422
    fields = {(p["field"], p["message"]) for p in r.json()["problems"]}
    assert ("code", "already exists") in fields and any(f == "hazard_type" for f, _ in fields)
    other_org = clients["op_hdt"].post(
        "/api/submissions", json={"kind": "hazard", "payload": _hazard("WF-H4", organisation="SAFEFIELD")}
    )
    assert other_org.status_code == 422 and other_org.json()["problems"][0]["field"] == "organisation"
    assert (
        clients["im"]
        .post("/api/submissions", json={"kind": "hazard", "payload": _hazard("WF-H5")})
        .status_code
        == 403
    )


def test_an_operator_submits_a_release_for_its_own_activity(clients, server):
    from sqlalchemy import select

    from demine.storage import schema

    engine = server.engine()
    with engine.connect() as conn:
        a, h, o = schema.activity, schema.hazard, schema.organisation
        row = conn.execute(
            select(
                a.c.code,
                a.c.activity_type,
                h.c.code.label("hazard"),
                o.c.code.label("org"),
                schema.hazard_remaining.c.geom,
            )
            .join(h, h.c.id == a.c.hazard_id)
            .join(o, o.c.id == a.c.organisation_id)
            .join(schema.hazard_remaining, schema.hazard_remaining.c.id == h.c.id)
            .where(a.c.activity_type.in_(("nts", "ts", "clearance")), h.c.status == "open", o.c.code == "HDT")
            .limit(1)
        ).first()
    engine.dispose()
    assert row is not None, "the demo (deterministic) has an activity of HDT on an open hazard"
    import shapely

    piece = row.geom.geoms[0].representative_point().buffer(0.0003).intersection(row.geom)
    payload = {
        "hazard": row.hazard,
        "method": {"nts": "cancelled", "ts": "reduced", "clearance": "cleared"}[row.activity_type],
        "released_on": "2026-06-30",
        "activity": row.code,
        "geometry": shapely.geometry.mapping(piece),
    }
    before = clients["viewer"].get("/api/summary").json()["area"]
    sub = _submit(clients, "op_hdt", "release", payload)
    ver = _act(clients, "mgr_hdt", sub.json()["id"], "verify", sub.headers["etag"])
    assert ver.status_code == 200, ver.text
    app = _act(clients, "im", sub.json()["id"], "approve", ver.headers["etag"])
    assert app.status_code == 200, app.text
    after = clients["viewer"].get("/api/summary").json()["area"]
    assert after["released_m2"] > before["released_m2"] and after["balanced"]
    # Someone else's activity is out of scope for HDT's operators.
    assert (
        clients["op_safe"].post("/api/submissions", json={"kind": "release", "payload": payload}).status_code
        == 422
    )


def test_operators_cannot_write_the_register_directly(clients):
    r = clients["op_hdt"].post("/api/hazards", json=_hazard("WF-H6"))
    assert r.status_code == 403 and "/api/submissions" in r.json()["detail"]


def test_approval_checks_the_register_again(clients):
    sub = _submit(clients, "op_hdt", "hazard", _hazard("WF-H7"))
    verified = _act(clients, "mgr_hdt", sub.json()["id"], "verify", sub.headers["etag"])
    # Meanwhile the authority registers the same code directly.
    direct = clients["im"].post("/api/hazards", json=_hazard("WF-H7"))
    assert direct.status_code == 201
    refused = _act(clients, "im", sub.json()["id"], "approve", verified.headers["etag"])
    assert refused.status_code == 422 and refused.json()["problems"][0]["message"] == "already exists"
    still = clients["im"].get(f"/api/submissions/{sub.json()['id']}").json()
    assert still["status"] == "verified" and still["version"] == verified.json()["version"]
    rejected = _act(
        clients, "im", still["id"], "reject", verified.headers["etag"], json={"reason": "duplicate"}
    )
    assert rejected.json()["status"] == "rejected"
