"""The authorization matrix, exhaustively: every role × every resource × every action, over HTTP.

The expectation is computed from :data:`demine.accounts.roles.PERMISSIONS`, the single policy
table, and the server must agree for each cell: a denied request is 403 whatever its body; an
allowed one gets past authorization (it may still fail validation, need If-Match, or find no
record). Organisation scoping is then checked with records of one's own and another
organisation: out-of-scope records look absent (404).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from demine.accounts.roles import PERMISSIONS, ROLES, scope
from demine.api.resources import RESOURCES
from demine.storage import schema
from demine.workflow import records

from .conftest import USERS

ROLE_USER = {role: next(u for u, (r, _o, _p) in USERS.items() if r == role) for role in ROLES}
ACTIONS = ("list", "get", "create", "update", "delete")
PERMISSION_OF = {"list": "read", "get": "read", "create": "create", "update": "update", "delete": "delete"}


def _route_exists(resource: str, action: str) -> bool:
    res = RESOURCES[resource]
    rules = records.RULES.get(res.table.name)
    if action in ("list", "get"):
        return True
    if action == "create":
        return res.creatable and rules is not None
    return rules is not None


@pytest.fixture(scope="module")
def sample_ids(server):
    """An id of a record of each resource (the first one)."""
    engine = server.engine()
    with engine.connect() as conn:
        ids = {
            name: conn.execute(select(res.table.c.id).order_by(res.table.c.id).limit(1)).scalar()
            for name, res in RESOURCES.items()
        }
    engine.dispose()
    return ids


def test_every_resource_has_a_policy():
    assert set(PERMISSIONS) == set(RESOURCES)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("resource", sorted(RESOURCES))
@pytest.mark.parametrize("role", ROLES)
def test_matrix(clients, sample_ids, role, resource, action):
    client = clients[ROLE_USER[role]]
    record_id = sample_ids[resource] or 1
    if action == "list":
        r = client.get(f"/api/{resource}", params={"limit": 1})
    elif action == "get":
        r = client.get(f"/api/{resource}/{record_id}")
    elif action == "create":
        r = client.post(f"/api/{resource}", json={})
    elif action == "update":
        r = client.patch(f"/api/{resource}/{record_id}", json={})  # no If-Match: 428 if allowed
    else:
        r = client.delete(f"/api/{resource}/{record_id}")  # no If-Match: 428 if allowed
    allowed = scope(role, resource, PERMISSION_OF[action]) is not None
    if not _route_exists(resource, action):
        assert not allowed, f"{role} may {action} {resource} but there is no route"
        assert r.status_code == 405
    elif allowed:
        assert r.status_code not in (401, 403, 405), r.text
        if action == "create":
            assert r.status_code in (201, 422)  # past authorization (an empty record may be valid)
        if action in ("update", "delete"):
            assert r.status_code in (428, 404), r.text
    else:
        assert r.status_code == 403, f"{role} {action} {resource}: {r.status_code} {r.text}"


@pytest.mark.parametrize("resource", ["hazards", "teams", "victims", "activities"])
def test_anonymous_gets_401(clients, resource):
    r = clients[None].get(f"/api/{resource}")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.fixture(scope="module")
def org_records(server):
    """Per organisation code: a team, an activity, a progress report and a person of it."""
    engine = server.engine()
    out = {}
    with engine.connect() as conn:
        for code in ("HDT", "SAFEFIELD"):
            org = conn.execute(
                select(schema.organisation.c.id).where(schema.organisation.c.code == code)
            ).scalar()
            team = conn.execute(
                select(schema.team.c.id).where(schema.team.c.organisation_id == org).limit(1)
            ).scalar()
            act = conn.execute(
                select(schema.activity.c.id).where(schema.activity.c.organisation_id == org).limit(1)
            ).scalar()
            report = conn.execute(
                select(schema.progress_report.c.id).where(schema.progress_report.c.team_id == team).limit(1)
            ).scalar()
            person = conn.execute(
                select(schema.person.c.id).where(schema.person.c.organisation_id == org).limit(1)
            ).scalar()
            out[code] = {"teams": team, "activities": act, "progress_reports": report, "persons": person}
    engine.dispose()
    return out


@pytest.mark.parametrize("resource", ["teams", "activities", "progress_reports", "persons"])
@pytest.mark.parametrize("user", ["op_hdt", "mgr_hdt", "op_safe", "mgr_safe"])
def test_operators_read_only_their_organisation(clients, org_records, user, resource):
    own = USERS[user][1]
    other = "SAFEFIELD" if own == "HDT" else "HDT"
    client = clients[user]
    assert client.get(f"/api/{resource}/{org_records[own][resource]}").status_code == 200
    assert client.get(f"/api/{resource}/{org_records[other][resource]}").status_code == 404
    listed = client.get(f"/api/{resource}", params={"limit": 10_000}).json()
    ids = {i["id"] for i in listed["items"]} if "items" in listed else {f["id"] for f in listed["features"]}
    assert org_records[own][resource] in ids and org_records[other][resource] not in ids


@pytest.mark.parametrize("user", ["im", "qa", "viewer"])
def test_authority_and_viewers_read_every_organisation(clients, org_records, user):
    for code in ("HDT", "SAFEFIELD"):
        assert clients[user].get(f"/api/teams/{org_records[code]['teams']}").status_code == 200


def test_managers_update_only_their_own_teams(clients, org_records):
    for code, expected in (("HDT", 200), ("SAFEFIELD", 404)):
        team = org_records[code]["teams"]
        etag = clients["im"].get(f"/api/teams/{team}").headers["etag"]
        r = clients["mgr_hdt"].patch(f"/api/teams/{team}", json={"members": 9}, headers={"If-Match": etag})
        assert r.status_code == expected, r.text


def test_a_manager_cannot_move_a_team_to_another_organisation(clients, org_records, server):
    team = org_records["HDT"]["teams"]
    r = clients["mgr_hdt"].get(f"/api/teams/{team}")
    safe = clients["im"].get("/api/organisations", params={"type": "ngo"}).json()["items"]
    safe_id = next(o["id"] for o in safe if o["code"] == "SAFEFIELD")
    moved = clients["mgr_hdt"].patch(
        f"/api/teams/{team}", json={"organisation_id": safe_id}, headers={"If-Match": r.headers["etag"]}
    )
    assert moved.status_code == 403
    assert clients["mgr_hdt"].get(f"/api/teams/{team}").headers["etag"] == r.headers["etag"]  # rolled back


@pytest.mark.parametrize("user", ["op_hdt", "mgr_hdt", "qa", "viewer"])
def test_victims_personal_data_only_for_the_authority(clients, user):
    assert clients[user].get("/api/victims").status_code == 403
    accident = clients[user].get("/api/accidents", params={"limit": 1}).json()["features"][0]
    assert "victims" not in accident["properties"]
    assert "full_name" not in accident["properties"]


@pytest.mark.parametrize("user", ["admin", "im"])
def test_the_authority_sees_victims(clients, user):
    r = clients[user].get("/api/victims")
    assert r.status_code == 200 and r.json()["numberMatched"] > 0


@pytest.mark.parametrize("user", [u for u in USERS if u != "admin"])
def test_only_admins_manage_users(clients, user):
    assert clients[user].get("/api/users").status_code == 403
    assert clients[user].post("/api/users", json={"username": "x1", "role": "viewer"}).status_code == 403
    assert clients["admin"].get("/api/users").status_code == 200
