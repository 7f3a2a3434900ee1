"""Reviewing with evidence and editing through the workflow, over real HTTP on a real server.

A submission's page must show its fields by their labels, the difference from the register,
the register checks' findings on its polygon (planted outside its district, over another
hazard) and a map holding its neighbours; the queue pages; an edit made from a record page goes
submit → verify → approve and changes the record with an audit row, and an edit overtaken by
another change is refused with a message, never applied over it. One browser test looks at the
page and saves the screenshot the documentation shows.
"""

from __future__ import annotations

import html
import json
import re
from contextlib import closing
from datetime import date
from types import SimpleNamespace
from urllib.parse import urlencode

import httpx
import pytest
import shapely
from sqlalchemy import select

from demine.accounts.users import get_user
from demine.cli.programme import DEMO_PASSWORD, add_demo_users
from demine.storage import schema as S
from demine.storage.database import open_database
from demine.workflow import submissions as workflow
from doc_screenshots import keep_screenshot
from serve_support import start_server, stop_server


@pytest.fixture(scope="module")
def site(demo, store):
    """A server of its own: these tests add submissions and change records."""
    db = store.clone(demo.template, "review")
    engine = open_database(db)
    with engine.begin() as conn:
        add_demo_users(conn)
    process, url = start_server(db)
    yield SimpleNamespace(url=url, db=db, engine=engine)
    stop_server(process)
    engine.dispose()
    store.drop(db)


def _client(site, username: str) -> httpx.Client:
    client = httpx.Client(base_url=site.url, timeout=60)
    login = client.post("/auth/login", json={"username": username, "password": DEMO_PASSWORD})
    assert login.status_code == 200, login.text
    client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    client.csrf = login.json()["csrf_token"]
    return client


def _hazard(site, code: str):
    h = S.hazard
    with site.engine.connect() as conn:
        return conn.execute(select(h).where(h.c.code == code)).one()


def _act(client: httpx.Client, submission: dict, action: str) -> httpx.Response:
    return client.post(
        f"/api/submissions/{submission['id']}/{action}", headers={"If-Match": f'"{submission["version"]}"'}
    )


def _page_text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_a_submission_page_shows_labels_difference_findings_and_neighbours(site):
    # An open HDT hazard in district DL0103; the new one copies most of its polygon (an overlap)
    # but names district DL0101, where it does not lie.
    neighbour = _hazard(site, "HA-000006")
    polygon = shapely.affinity.translate(neighbour.geom, xoff=0.0003)
    payload = {
        "code": "HA-REV-1",
        "hazard_type": "SHA",
        "geometry": json.loads(shapely.to_geojson(polygon)),
        "reported_on": "2024-05-01",
        "admin_pcode": "DL0101",
        "priority": "high",
    }
    with closing(_client(site, "operator")) as operator, closing(_client(site, "manager")) as manager:
        sent = operator.post("/api/submissions", json={"kind": "hazard", "payload": payload})
        assert sent.status_code == 201, sent.text
        page = manager.get(f"/review/{sent.json()['id']}")
        assert page.status_code == 200
        text = _page_text(page.text)
        # Labels from the form and the code lists, not field names and codes.
        assert re.search(r"Type\s+Suspected hazardous area \(SHA\)", text)
        assert re.search(r"Reported on\s+1 May 2024", text)
        assert re.search(r"Administrative area\s+\w[\w ]* \(DL0101\)", text)
        # The difference: a new record, every field on the "submitted" side.
        assert "A new record: nothing in the register yet." in text
        diff = re.search(r'<table id="submission-diff".*?</table>', page.text, re.S)[0]
        assert "Priority" in diff and "High" in diff
        # The checks' own findings: outside the district it names, over its neighbour.
        rules = set(re.findall(r'<li data-rule="([a-z_]+)"', page.text))
        assert "hazard_overlap" in rules
        assert rules & {"outside_admin_area", "partly_outside_admin_area"}
        assert "overlaps hazard HA-000006" in text
        # The map holds the neighbour, the submitted polygon and the admin area it lies in; an
        # overview shows the area it names, far away.
        svg, overview = re.findall(r'<svg class="minimap".*?</svg>', page.text, re.S)
        assert "<title>Hazard HA-000006</title>" in svg
        assert "<title>Submitted hazard</title>" in svg
        assert re.search(r"<title>Lies in admin area [^<]*\(DL0103\)</title>", svg)
        assert re.search(r"<title>Admin area [^<]*\(DL0101\)</title>", overview)
        assert "<title>Where the polygon lies</title>" in overview
        # A verifier sees the action there.
        assert 'data-action="verify"' in page.text

        # Without a P-code the district is derived from the polygon: the neighbour's.
        payload |= {"code": "HA-REV-2"}
        del payload["admin_pcode"]
        derived = operator.post("/api/submissions", json={"kind": "hazard", "payload": payload})
        assert derived.status_code == 201, derived.text
        assert derived.json()["payload"]["admin_pcode"] == neighbour.admin_pcode == "DL0103"
        page = manager.get(f"/review/{derived.json()['id']}")
        rules = set(re.findall(r'<li data-rule="([a-z_]+)"', page.text))
        assert "hazard_overlap" in rules and not rules & {"outside_admin_area", "partly_outside_admin_area"}


def test_a_release_partly_outside_its_hazard_is_a_finding(site):
    h, o = S.hazard, S.organisation
    with site.engine.connect() as conn:
        hazard = conn.execute(
            select(h)
            .where(
                h.c.status == "open",
                h.c.remaining_area_m2 == h.c.area_m2,  # nothing released yet: no overlap to refuse
                h.c.organisation_id == select(o.c.id).where(o.c.code == "HDT").scalar_subquery(),
            )
            .order_by(h.c.id)
            .limit(1)
        ).one()
    width = hazard.geom.bounds[2] - hazard.geom.bounds[0]
    product = shapely.affinity.translate(hazard.geom, xoff=width / 2)
    payload = {
        "hazard": hazard.code,
        "method": "cancelled",
        "released_on": date.today().isoformat(),
        "geometry": json.loads(shapely.to_geojson(product)),
        "force": True,  # recorded even though part of it lies outside the hazard
    }
    with closing(_client(site, "operator")) as operator, closing(_client(site, "im")) as im:
        sent = operator.post("/api/submissions", json={"kind": "release", "payload": payload})
        assert sent.status_code == 201, sent.text
        page = im.get(f"/review/{sent.json()['id']}").text
    assert re.search(r'<li data-rule="forced_release_outside_hazard"[^>]*>.*lies outside its hazard', page)
    assert re.search(r"Method\s+[A-Z][^(]* \(cancelled\)", _page_text(page))
    svg = re.search(r'<svg class="minimap".*?</svg>', page, re.S)[0]
    assert f"<title>Hazard {hazard.code}</title>" in svg and "<title>Submitted release</title>" in svg


def test_the_review_queue_is_paginated(site):
    with site.engine.begin() as conn:
        operator = get_user(conn, "operator")
        for day in range(1, 105):
            report = {"team": "T0001", "report_date": f"2024-03-{1 + day % 28:02d}", "area_m2": float(day)}
            workflow.submit(conn, operator, "progress_report", report)
        ids = list(conn.execute(select(S.submission.c.id).order_by(S.submission.c.id.desc())).scalars())
    assert len(ids) > 100
    with closing(_client(site, "im")) as im:
        first = im.get("/review")
        shown = [int(i) for i in re.findall(r'<tr id="submission-(\d+)"', first.text)]
        assert shown == ids[:50]
        assert f'data-total="{len(ids)}"' in first.text and 'href="/review?page=2"' in first.text
        second = im.get("/review", params={"page": 2})
        assert [int(i) for i in re.findall(r'<tr id="submission-(\d+)"', second.text)] == ids[50:100]
        last = im.get("/review", params={"page": 999})  # past the end: the last page
        assert [int(i) for i in re.findall(r'<tr id="submission-(\d+)"', last.text)] == ids[100:][-50:]
        filtered = im.get("/review", params={"status": "submitted", "page": 2})
        assert "status=submitted" in filtered.text  # the filter stays in the page links


def _edit_form(client: httpx.Client, hazard_id: int) -> tuple[list[tuple[str, str]], str]:
    """The form's fields as a browser would send them unchanged, and the page."""
    page = client.get(f"/records/hazards/{hazard_id}/edit")
    assert page.status_code == 200, page.text
    fields = re.findall(
        r'<input (?:type="hidden" )?(?:id="f-\w+" )?name="(\w+)"[^>]*value="([^"]*)"', page.text
    )
    for name, options in re.findall(r'<select id="f-\w+" name="(\w+)"[^>]*>(.*?)</select>', page.text, re.S):
        fields += [(name, v) for v in re.findall(r'<option value="([^"]*)" selected>', options)]
    return fields, page.text


def test_an_edit_goes_through_review_and_changes_the_record(site):
    hazard = _hazard(site, "HA-000013")
    with (
        closing(_client(site, "operator")) as operator,
        closing(_client(site, "manager")) as manager,
        closing(_client(site, "im")) as im,
        closing(_client(site, "viewer")) as viewer,
    ):
        record = operator.get(f"/records/hazards/{hazard.id}")
        assert 'id="edit-record"' in record.text
        assert 'id="edit-record"' not in viewer.get(f"/records/hazards/{hazard.id}").text
        assert viewer.get(f"/records/hazards/{hazard.id}/edit").status_code == 403

        fields, _ = _edit_form(operator, hazard.id)
        values = dict(fields)
        assert values["name"] == hazard.name and values["version"] == str(hazard.version)
        assert values["priority"] == hazard.priority and values["csrf"] == operator.csrf
        assert sorted(v for k, v in fields if k == "eo_categories") == sorted(hazard.eo_categories.split(","))
        changed = [(k, {"name": "Hazard 13, north field", "priority": "low"}.get(k, v)) for k, v in fields]
        sent = operator.post(
            f"/records/hazards/{hazard.id}/edit",
            content=urlencode(changed),  # repeated keys, as a browser sends a multiple select
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert sent.status_code == 303, sent.text
        submission_id = int(sent.headers["location"].rsplit("/", 1)[1])
        page = _page_text(manager.get(f"/review/{submission_id}").text)
        assert "Changes to version" in page
        assert re.search(r"Name\s+Hazard 13\s+Hazard 13, north field", page)
        assert re.search(r"Priority\s+Medium \(medium\)\s+Low \(low\)", page), page
        assert f"edit of hazard {hazard.id}: Name, Priority" in manager.get("/review").text
        submission = manager.get(f"/api/submissions/{submission_id}").json()
        assert submission["kind"] == "edit"
        assert set(submission["payload"]["changes"]) == {"name", "priority"}  # only what changed

        assert _hazard(site, "HA-000013").name == hazard.name  # nothing changes before approval
        verified = _act(manager, submission, "verify")
        assert verified.status_code == 200, verified.text
        approved = _act(im, verified.json(), "approve")
        assert approved.status_code == 200, approved.text
        assert approved.json()["record_table"] == "hazard" and approved.json()["record_id"] == hazard.id

    after = _hazard(site, "HA-000013")
    assert (after.name, after.priority, after.version) == (
        "Hazard 13, north field",
        "low",
        hazard.version + 1,
    )
    a = S.audit_log
    with site.engine.connect() as conn:
        audit = conn.execute(
            select(a).where(a.c.table_name == "hazard", a.c.record_id == hazard.id).order_by(a.c.id.desc())
        ).first()
    assert audit.action == "update" and audit.changed_by == "im"
    assert f"approved submission {submission_id} by operator" in audit.reason
    assert json.loads(audit.before)["name"] == "Hazard 13" and json.loads(audit.after)["priority"] == "low"


def test_an_edit_overtaken_by_another_change_is_refused(site):
    h = S.hazard
    with site.engine.connect() as conn:
        hazard = conn.execute(
            select(h)
            .where(
                h.c.status == "open",
                h.c.organisation_id
                == select(S.organisation.c.id).where(S.organisation.c.code == "HDT").scalar_subquery(),
                h.c.code != "HA-000013",
            )
            .order_by(h.c.id)
            .limit(1)
        ).one()
    with (
        closing(_client(site, "operator")) as operator,
        closing(_client(site, "manager")) as manager,
        closing(_client(site, "im")) as im,
    ):
        edit = {
            "table": "hazard",
            "record_id": hazard.id,
            "version": hazard.version,
            "changes": {"name": "mine"},
        }
        sent = operator.post("/api/submissions", json={"kind": "edit", "payload": edit})
        assert sent.status_code == 201, sent.text
        verified = _act(manager, sent.json(), "verify")
        assert verified.status_code == 200, verified.text
        # Meanwhile the authority changes the record directly.
        direct = im.patch(
            f"/api/hazards/{hazard.id}", json={"name": "theirs"}, headers={"If-Match": f'"{hazard.version}"'}
        )
        assert direct.status_code == 200, direct.text
        page = _page_text(im.get(f"/review/{sent.json()['id']}").text)
        assert "The record changed since this edit was made" in page
        refused = _act(im, verified.json(), "approve")
        assert refused.status_code == 409
        assert f"is at version {hazard.version + 1}, not {hazard.version}" in refused.text
        assert _hazard(site, hazard.code).name == "theirs"  # never overwritten
        assert im.get(f"/api/submissions/{sent.json()['id']}").json()["status"] == "verified"

        # The form sent with the version read before that change: a message, nothing submitted.
        stale = operator.post(
            f"/records/hazards/{hazard.id}/edit",
            data={"csrf": operator.csrf, "version": str(hazard.version), "name": "again"},
        )
        assert stale.status_code == 409
        assert "changed by someone else after you opened the form" in stale.text
        assert 'value="theirs"' in stale.text  # the form shows the current values

        # Another organisation's record cannot be edited: it looks absent.
        other = _other_organisation_hazard(site)
        foreign = {
            "table": "hazard",
            "record_id": other.id,
            "version": other.version,
            "changes": {"name": "x"},
        }
        assert operator.post("/api/submissions", json={"kind": "edit", "payload": foreign}).status_code == 404


def _other_organisation_hazard(site):
    h, o = S.hazard, S.organisation
    with site.engine.connect() as conn:
        return conn.execute(
            select(h)
            .where(h.c.organisation_id != select(o.c.id).where(o.c.code == "HDT").scalar_subquery())
            .limit(1)
        ).one()


def test_a_manager_reviews_a_submission_with_its_evidence_and_verifies_it(site, browser):
    neighbour = _hazard(site, "HA-000006")
    polygon = shapely.affinity.scale(shapely.affinity.translate(neighbour.geom, xoff=0.0006), 0.8, 0.8)
    payload = {
        "code": "HA-REV-3",
        "name": "Orchard east of the river",
        "hazard_type": "CHA",
        "geometry": json.loads(shapely.to_geojson(polygon)),
        "reported_on": "2024-06-12",
        "admin_pcode": "DL0102",
        "priority": "high",
        "eo_categories": ["apm", "uxo"],
    }
    with closing(_client(site, "operator")) as operator:
        sent = operator.post("/api/submissions", json={"kind": "hazard", "payload": payload})
    assert sent.status_code == 201, sent.text
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{site.url}/login")
        page.get_by_label("Username").fill("manager")
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{site.url}/map")
        page.goto(f"{site.url}/review?status=submitted")
        page.get_by_role("link", name=f"review with evidence (submission {sent.json()['id']})").click()
        page.wait_for_url(f"**/review/{sent.json()['id']}")
        minimap = page.locator("svg.minimap").first
        box = minimap.bounding_box()
        assert box is not None and box["width"] > 300
        assert page.locator("#overview svg.minimap").is_visible()  # the district it names, far away
        assert page.locator("#findings li[data-rule='hazard_overlap']").count() >= 1
        assert (
            page.locator("#submission-fields td[data-field='hazard_type']")
            .inner_text()
            .startswith("Confirmed hazardous area")
        )
        keep_screenshot(page, "review-evidence", full_page=True)
        page.get_by_role("button", name="Verify").click()
        page.wait_for_function("document.getElementById('submission-status').textContent === 'verified'")
        assert errors == []
    finally:
        context.close()
