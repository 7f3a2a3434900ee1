"""Audit history and restore over HTTP: every change is kept, any version can come back."""

from __future__ import annotations


def _patch(client, url, body):
    etag = client.get(url).headers["etag"]
    r = client.patch(url, json=body, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    return r


def test_history_records_who_when_before_and_after(clients):
    im = clients["im"]
    org = im.get("/api/organisations").json()["items"][1]
    url = f"/api/organisations/{org['id']}"
    _patch(im, url, {"name": "First rename"})
    _patch(clients["admin"], url, {"name": "Second rename"})
    items = im.get(f"{url}/history").json()["items"]
    updates = [i for i in items if i["action"] == "update"][-2:]
    assert [u["changed_by"] for u in updates] == ["im", "admin"]
    assert updates[0]["after"]["name"] == "First rename" and updates[1]["before"]["name"] == "First rename"
    assert updates[1]["after"]["version"] == updates[1]["before"]["version"] + 1
    assert all(u["changed_at"] for u in updates)


def test_restore_brings_back_a_version_as_a_new_audited_change(clients):
    im = clients["im"]
    hazard = im.get("/api/hazards", params={"status": "open", "limit": 1, "offset": 5}).json()["features"][0]
    url = f"/api/hazards/{hazard['id']}"
    original = hazard["properties"]
    _patch(im, url, {"priority": "low", "name": "Typo here"})
    changed = _patch(im, url, {"name": "Worse typo"})
    history = im.get(f"{url}/history").json()["items"]
    target = history[-2]  # the state after the first change
    assert im.post(f"{url}/restore/{target['id']}").status_code == 428
    stale = im.post(f"{url}/restore/{target['id']}", headers={"If-Match": '"1"'})
    assert stale.status_code == 409
    restored = im.post(f"{url}/restore/{target['id']}", headers={"If-Match": changed.headers["etag"]})
    assert restored.status_code == 200, restored.text
    props = restored.json()["properties"]
    assert props["name"] == "Typo here" and props["priority"] == "low"
    assert props["version"] == changed.json()["properties"]["version"] + 1
    last = im.get(f"{url}/history").json()["items"][-1]
    assert last["action"] == "restore" and str(target["id"]) in last["reason"]
    # and back to the very first state
    first = next(h for h in im.get(f"{url}/history").json()["items"] if h["action"] == "update")
    back = im.post(f"{url}/restore/{first['id']}", headers={"If-Match": restored.headers["etag"]})
    assert back.status_code == 200
    assert back.json()["properties"]["name"] == first["after"]["name"]
    assert original["remaining_area_m2"] == back.json()["properties"]["remaining_area_m2"]


def test_a_deleted_record_can_be_restored(clients):
    im = clients["im"]
    created = im.post("/api/settlements", json={"name": "Gone village", "population": 120})
    sid = created.json()["id"]
    assert (
        im.delete(f"/api/settlements/{sid}", headers={"If-Match": created.headers["etag"]}).status_code == 204
    )
    history = im.get(f"/api/settlements/{sid}/history").json()["items"]
    assert [h["action"] for h in history] == ["insert", "delete"]
    back = im.post(f"/api/settlements/{sid}/restore/{history[-1]['id']}")
    assert back.status_code == 200, back.text
    assert back.json()["properties"]["name"] == "Gone village"
    assert im.get(f"/api/settlements/{sid}").status_code == 200


def test_restore_needs_update_rights_and_a_matching_entry(clients):
    im = clients["im"]
    org = im.get("/api/organisations").json()["items"][2]
    url = f"/api/organisations/{org['id']}"
    r = _patch(im, url, {"country": "Elsewhere"})
    entry = im.get(f"{url}/history").json()["items"][-1]
    assert (
        clients["viewer"]
        .post(f"{url}/restore/{entry['id']}", headers={"If-Match": r.headers["etag"]})
        .status_code
        == 403
    )
    other = im.get("/api/organisations").json()["items"][3]
    wrong = im.post(f"/api/organisations/{other['id']}/restore/{entry['id']}", headers={"If-Match": '"1"'})
    assert wrong.status_code in (404, 409)


def test_operators_see_history_only_of_their_records(clients):
    teams = clients["op_hdt"].get("/api/teams").json()["features"]
    assert teams
    assert clients["op_hdt"].get(f"/api/teams/{teams[0]['id']}/history").status_code == 200
    others = clients["op_safe"].get("/api/teams").json()["features"]
    assert clients["op_hdt"].get(f"/api/teams/{others[0]['id']}/history").status_code == 404
