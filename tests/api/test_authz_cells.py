"""Key cells of the authorization policy, written out by hand, over HTTP.

``test_authz_matrix`` walks every cell but computes what to expect from the same
``PERMISSIONS`` table the server enforces, so a wrong table passes it. Here the cells that
matter most to a national authority are stated independently of that table: who reads the
register, who writes it directly, who records QA visits, who submits, verifies and approves,
and who sees personal data. A request that is allowed carries a body that succeeds and must
get exactly its success status (200, 201); a refused one gets exactly 403, with the same
valid body, so a wrongly granted permission shows up as a 2xx instead.

The roles (``demine.accounts.roles``): ``admin``; ``im_officer`` (the authority's information
management); ``operator_manager`` and ``operator`` (an operator's staff, scoped to their
organisation); ``qa_officer`` (the authority's quality assurance); ``viewer`` (reads the
approved register). Test users: ``tests/api/conftest.py``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

_serial = itertools.count(1)


def _code(prefix: str) -> str:
    """A code no other test uses (the server is shared by the whole session)."""
    return f"AZC-{prefix}-{next(_serial)}"


def _square(n: int) -> dict[str, Any]:
    # Each new hazard on its own small square inside the demo's area, away from the others'.
    x, y = 31.50 + 0.004 * (n % 50), 47.90 + 0.004 * (n // 50)
    ring = [[x, y], [x + 0.002, y], [x + 0.002, y + 0.002], [x, y + 0.002], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def hazard_body(_ids: dict[str, Any]) -> dict[str, Any]:
    n = next(_serial)
    return {"code": f"AZC-H-{n}", "hazard_type": "CHA", "reported_on": "2026-04-01", "geometry": _square(n)}


def submission_body(ids: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "hazard", "payload": hazard_body(ids)}


def qa_visit_body(_ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "inspected_organisation": "HDT",
        "inspecting_organisation": "NMAA",
        "visited_on": "2026-05-04",
        "visit_type": "monitoring",
        "result": "minor_nc",
        "comments": "marking poles missing on the north side",
    }


def nonconformity_body(ids: dict[str, Any]) -> dict[str, Any]:
    return {"visit_id": ids["qa_visit"], "nc_type": "marking", "severity": "minor", "measures": "re-mark"}


def person_body(ids: dict[str, Any]) -> dict[str, Any]:
    return {"organisation_id": ids["hdt"], "full_name": "Test Deminer", "sex": "female", "role": "deminer"}


def accreditation_body(ids: dict[str, Any]) -> dict[str, Any]:
    return {"team": ids["hdt_team_code"], "activity_type": "clearance", "issued_on": "2026-01-10"}


def user_body(_ids: dict[str, Any]) -> dict[str, Any]:
    return {"username": _code("user").lower(), "role": "viewer"}


def team_body(_ids: dict[str, Any]) -> dict[str, Any]:
    return {"code": _code("T"), "name": "Test team", "organisation": "HDT", "team_type": "manual"}


def team_patch(_ids: dict[str, Any]) -> dict[str, Any]:
    return {"members": 6}


def hazard_patch(_ids: dict[str, Any]) -> dict[str, Any]:
    return {"priority": "high"}


def qa_visit_patch(_ids: dict[str, Any]) -> dict[str, Any]:
    return {"comments": "re-marked on the follow-up visit"}


@dataclass(frozen=True)
class Cell:
    """One request by one test user and the exact status a mine action authority expects."""

    user: str
    method: str
    path: str  # {name} is filled from the ``ids`` fixture
    status: int
    body: Any = None  # a function of ``ids`` giving a body that succeeds when allowed

    def __str__(self) -> str:
        return f"{self.user} {self.method} {self.path} -> {self.status}"


# fmt: off
CELLS = [
    # --- viewer: reads the approved register; no personal data, no staff, no submissions, no writes
    Cell("viewer", "GET", "/api/hazards", 200),
    Cell("viewer", "GET", "/api/hazards/{hazard}", 200),
    Cell("viewer", "GET", "/api/teams", 200),
    Cell("viewer", "GET", "/api/accidents/{accident}", 200),
    Cell("viewer", "GET", "/api/victims", 403),
    Cell("viewer", "GET", "/api/victims/{victim}", 403),
    Cell("viewer", "GET", "/api/persons", 403),
    Cell("viewer", "GET", "/api/training_records", 403),
    Cell("viewer", "GET", "/api/submissions", 403),
    Cell("viewer", "GET", "/api/users", 403),
    Cell("viewer", "POST", "/api/hazards", 403, hazard_body),
    Cell("viewer", "PATCH", "/api/hazards/{hazard}", 403, hazard_patch),
    Cell("viewer", "POST", "/api/submissions", 403, submission_body),
    Cell("viewer", "POST", "/api/qa_visits", 403, qa_visit_body),
    # --- qa_officer: reads the register, records QA visits and their non-conformities
    Cell("qa", "GET", "/api/hazards", 200),
    Cell("qa", "GET", "/api/activities", 200),
    Cell("qa", "GET", "/api/qa_visits", 200),
    Cell("qa", "POST", "/api/qa_visits", 201, qa_visit_body),
    Cell("qa", "PATCH", "/api/qa_visits/{qa_visit}", 200, qa_visit_patch),
    Cell("qa", "POST", "/api/qa_nonconformities", 201, nonconformity_body),
    Cell("qa", "GET", "/api/victims", 403),
    Cell("qa", "GET", "/api/submissions", 403),
    Cell("qa", "POST", "/api/hazards", 403, hazard_body),
    Cell("qa", "PATCH", "/api/hazards/{hazard}", 403, hazard_patch),
    Cell("qa", "POST", "/api/submissions", 403, submission_body),
    Cell("qa", "POST", "/api/accreditations", 403, accreditation_body),
    # --- operator: submits for approval, reads own organisation's operations and staff
    Cell("op_hdt", "GET", "/api/hazards", 200),
    Cell("op_hdt", "GET", "/api/teams/{hdt_team}", 200),
    Cell("op_hdt", "GET", "/api/persons", 200),
    Cell("op_hdt", "GET", "/api/submissions", 200),
    Cell("op_hdt", "POST", "/api/submissions", 201, submission_body),
    Cell("op_hdt", "POST", "/api/hazards", 403, hazard_body),
    Cell("op_hdt", "PATCH", "/api/hazards/{hazard}", 403, hazard_patch),
    Cell("op_hdt", "PATCH", "/api/teams/{hdt_team}", 403, team_patch),
    Cell("op_hdt", "POST", "/api/persons", 403, person_body),
    Cell("op_hdt", "POST", "/api/qa_visits", 403, qa_visit_body),
    Cell("op_hdt", "POST", "/api/accreditations", 403, accreditation_body),
    Cell("op_hdt", "GET", "/api/victims", 403),
    # --- operator_manager: also keeps own teams and staff, but does not accredit or write the register
    Cell("mgr_hdt", "POST", "/api/submissions", 201, submission_body),
    Cell("mgr_hdt", "PATCH", "/api/teams/{hdt_team}", 200, team_patch),
    Cell("mgr_hdt", "POST", "/api/persons", 201, person_body),
    Cell("mgr_hdt", "POST", "/api/teams", 403, team_body),
    Cell("mgr_hdt", "POST", "/api/accreditations", 403, accreditation_body),
    Cell("mgr_hdt", "POST", "/api/hazards", 403, hazard_body),
    Cell("mgr_hdt", "POST", "/api/qa_visits", 403, qa_visit_body),
    Cell("mgr_hdt", "GET", "/api/victims", 403),
    # --- im_officer: the authority writes the register directly and sees personal data
    Cell("im", "POST", "/api/hazards", 201, hazard_body),
    Cell("im", "PATCH", "/api/hazards/{hazard}", 200, hazard_patch),
    Cell("im", "POST", "/api/accreditations", 201, accreditation_body),
    Cell("im", "POST", "/api/qa_visits", 201, qa_visit_body),
    Cell("im", "GET", "/api/victims", 200),
    Cell("im", "GET", "/api/victims/{victim}", 200),
    Cell("im", "GET", "/api/persons", 200),
    Cell("im", "POST", "/api/submissions", 403, submission_body),  # the authority writes, not submits
    Cell("im", "GET", "/api/users", 403),
    Cell("im", "POST", "/api/users", 403, user_body),
    # --- admin: everything, including users
    Cell("admin", "GET", "/api/victims", 200),
    Cell("admin", "GET", "/api/users", 200),
    Cell("admin", "POST", "/api/users", 201, user_body),
]
# fmt: on


@pytest.fixture(scope="module")
def ids(clients) -> dict[str, Any]:
    """Ids of demo records the cells act on, found through the API as the IM officer."""
    im = clients["im"]

    def first(resource: str, **params: Any) -> dict[str, Any]:
        page = im.get(f"/api/{resource}", params={"limit": 1} | params).json()
        items = page.get("features") or page.get("items")
        assert items, f"the demo has no {resource} {params}"
        return items[0]

    team = first("teams", organisation="HDT")
    # The demo has no submissions: one of HDT's, so that reading them shows something.
    submitted = clients["op_hdt"].post("/api/submissions", json=submission_body({}))
    assert submitted.status_code == 201, submitted.text
    orgs = {o["code"]: o["id"] for o in im.get("/api/organisations").json()["items"]}
    return {
        "hazard": first("hazards", status="open")["id"],
        "accident": first("accidents")["id"],
        "victim": first("victims")["id"],
        "qa_visit": first("qa_visits", organisation="HDT")["id"],
        "hdt": orgs["HDT"],
        "hdt_team": team["id"],
        "hdt_team_code": team["properties"]["code"],
    }


def _send(clients: dict, ids: dict[str, Any], cell: Cell) -> httpx.Response:
    path = cell.path.format(**ids)
    body = cell.body(ids) if cell.body is not None else None
    headers = {}
    if cell.method in ("PATCH", "PUT", "DELETE"):
        # The current version, read by the authority: the request is refused, if at all, for
        # the role alone, never for a stale or missing If-Match.
        headers["If-Match"] = clients["im"].get(path).headers["etag"]
    return clients[cell.user].request(cell.method, path, json=body, headers=headers)


@pytest.mark.parametrize("cell", CELLS, ids=str)
def test_cell(clients, ids, cell):
    r = _send(clients, ids, cell)
    assert r.status_code == cell.status, f"{cell}: got {r.status_code} {r.text[:300]}"
    if cell.method == "GET" and cell.status == 200 and "{" not in cell.path:
        page = r.json()
        listed = page.get("numberMatched", len(page.get("items", [])))
        assert listed > 0, f"{cell}: an empty list proves nothing"


# QA officers accredit and monitor operators: IMAS 07.30 (accreditation) and 07.40 (monitoring)
# have the authority check that staff are qualified and trained as the SOPs require, which
# needs the operator's personnel and training records. The policy gives QA no read of either.
QA_STAFF_READ = pytest.mark.xfail(
    strict=True,
    reason="policy disagrees with the domain: a QA officer cannot read operators' staff or training "
    "records (reported to the lead, not encoded as correct)",
)


@QA_STAFF_READ
@pytest.mark.parametrize("resource", ["persons", "training_records"])
def test_qa_officers_read_the_staff_records_they_inspect(clients, resource):
    r = clients["qa"].get(f"/api/{resource}", params={"organisation": "HDT", "limit": 5})
    assert r.status_code == 200 and r.json()["numberMatched"] > 0


def _act(clients, user: str, sid: int, action: str, etag: str) -> httpx.Response:
    return clients[user].post(f"/api/submissions/{sid}/{action}", headers={"If-Match": etag})


def test_who_verifies_and_who_approves(clients, ids):
    """Submitted → verified by the organisation's manager → approved by the authority; no one else."""
    sub = clients["op_hdt"].post("/api/submissions", json=submission_body(ids))
    assert sub.status_code == 201, sub.text
    sid, etag = sub.json()["id"], sub.headers["etag"]
    # Not the author, not a colleague operator, not QA or a viewer: only the manager verifies.
    for user, status in (("op_hdt", 403), ("op_hdt2", 403), ("qa", 403), ("viewer", 403)):
        assert _act(clients, user, sid, "verify", etag).status_code == status, user
    verified = _act(clients, "mgr_hdt", sid, "verify", etag)
    assert verified.status_code == 200 and verified.json()["status"] == "verified", verified.text
    etag = verified.headers["etag"]
    # Operators, their managers, QA and viewers never approve: only the authority does.
    for user in ("op_hdt", "op_hdt2", "mgr_hdt", "qa", "viewer"):
        assert _act(clients, user, sid, "approve", etag).status_code == 403, user
    approved = _act(clients, "im", sid, "approve", etag)
    assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
    record = approved.json()["record_id"]
    assert clients["viewer"].get(f"/api/hazards/{record}").status_code == 200


VICTIM = {"status": "injured", "sex": "male", "age_band": "18_59", "full_name": "Karim Haddad"}


def test_personal_data_only_for_the_authority(clients, ids):
    """Victims' names and an accident's description: admin and IM officer only, wherever they appear."""
    accident = {
        "code": _code("ACC"),
        "occurred_on": "2026-05-02",
        "accident_kind": "non_demining",
        "location": [31.62, 47.76],
        "eo_category": "apm",
        "description": "Karim Haddad stepped on a mine near the well",
        "victims": [VICTIM],
    }
    sub = clients["op_hdt"].post("/api/submissions", json={"kind": "accident", "payload": accident})
    assert sub.status_code == 201, sub.text
    sid = sub.json()["id"]
    for user in ("op_hdt", "op_hdt2", "mgr_hdt"):
        seen = clients[user].get(f"/api/submissions/{sid}")
        assert seen.status_code == 200 and "Karim" not in seen.text, user
    full = clients["im"].get(f"/api/submissions/{sid}").json()["payload"]
    assert full["victims"][0]["full_name"] == "Karim Haddad" and full["description"].startswith("Karim")

    made = clients["im"].post("/api/accidents", json=accident | {"code": _code("ACC")})
    assert made.status_code == 201, made.text
    aid = made.json()["id"]
    for user in ("viewer", "qa", "op_hdt", "mgr_hdt"):
        r = clients[user].get(f"/api/accidents/{aid}")
        assert r.status_code == 200 and "description" not in r.json()["properties"], user
        assert "Karim" not in clients[user].get(f"/api/accidents/{aid}/history").text, user
    for user in ("admin", "im"):
        r = clients[user].get(f"/api/accidents/{aid}")
        assert r.status_code == 200 and r.json()["properties"]["description"].startswith("Karim"), user
        victims = clients[user].get("/api/victims", params={"parent": aid}).json()["items"]
        assert [v["full_name"] for v in victims] == ["Karim Haddad"], user
