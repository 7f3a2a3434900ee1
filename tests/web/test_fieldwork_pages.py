"""QA visits, risk education, accidents and victims, the QA officer's view of a submission, and
the forms that add teams, accreditations, organisations and QA visits.

A real ``demine serve`` of this module's own (the forms write to its database) on a copy of the
demo programme; HTTP tests log in through the login form as the demo users and compare what
the pages and downloads show with the database; the forms really write (audit rows included)
or refuse with a message and write nothing. One browser test goes through the pages as the
roles that use them and keeps the screenshots the documentation shows.
"""

from __future__ import annotations

import csv
import io
import re
from contextlib import closing
from types import SimpleNamespace

import httpx
import openpyxl
import pytest
from sqlalchemy import and_, func, select

from demine.accounts.users import get_user
from demine.cli.programme import DEMO_PASSWORD, add_demo_users
from demine.storage import schema as S
from demine.storage.database import open_database
from demine.workflow import kinds
from demine.workflow import submissions as workflow
from doc_screenshots import keep_screenshot
from serve_support import start_server, stop_server

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
SECRET_NAME = "Zorana Quellwitz"
SECRET_STORY = "Stepped off the path near the well"


@pytest.fixture(scope="module")
def site(demo, store):
    """A server of its own: these tests add records and a submission."""
    db = store.clone(demo.template, "fieldwork")
    engine = open_database(db)
    with engine.begin() as conn:
        add_demo_users(conn)
    process, url = start_server(db)
    yield SimpleNamespace(url=url, db=db, engine=engine)
    stop_server(process)
    engine.dispose()
    store.drop(db)


@pytest.fixture(scope="module")
def clients(site):
    made: dict[str, httpx.Client] = {}

    def get(username: str) -> httpx.Client:
        if username not in made:
            client = httpx.Client(base_url=site.url, timeout=120)
            r = client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "next": "/map"})
            assert r.status_code == 303, r.text
            made[username] = client
        return made[username]

    yield get
    for client in made.values():
        client.close()


def _csrf(client: httpx.Client, path: str = "/map") -> str:
    return CSRF.search(client.get(path).text)[1]


def _count(site, table, *where) -> int:
    with site.engine.connect() as conn:
        query = select(func.count()).select_from(table)
        return conn.execute(query.where(*where) if where else query).scalar_one()


def _csv_rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.fixture(scope="module")
def accident_submission(site):
    """An operator's accident report naming a victim (personal data)."""
    with site.engine.begin() as conn:
        operator = get_user(conn, "operator")
        sent = workflow.submit(
            conn,
            operator,
            "accident",
            {
                "code": "ACC-QA-1",
                "occurred_on": "2024-05-02",
                "accident_kind": "non_demining",
                "description": SECRET_STORY,
                "victims": [{"status": "injured", "sex": "female", "full_name": SECRET_NAME}],
            },
        )
    return sent["id"]


# ---------------------------------------------------------------------------------------------
# the QA officer in review


def test_a_qa_officer_reads_a_submission_with_its_evidence_but_no_actions_nor_names(
    site, clients, accident_submission
):
    qa = clients("qa")
    page = qa.get(f"/review/{accident_submission}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="read-only-note"' in page.text and 'id="personal-hidden"' in page.text
    assert 'id="submission-fields"' in page.text and 'id="h-diff"' in page.text
    assert "data-action=" not in page.text and "submission-actions" not in page.text
    assert SECRET_NAME not in page.text and SECRET_STORY not in page.text
    # The authority sees the people, and the actions it may take.
    im = clients("im").get(f"/review/{accident_submission}")
    assert im.status_code == 200 and SECRET_NAME in im.text and 'data-action="verify"' in im.text
    # Victims read as people, not as a Python list of dicts.
    assert "[{" not in im.text and "&#39;status&#39;" not in im.text
    assert re.search(r"1\. [^<]*Status: injured", im.text), "victims are listed one by one"
    # Reading gave QA no workflow action: the API still refuses it.
    verify = qa.post(
        f"/api/submissions/{accident_submission}/verify",
        headers={"If-Match": '"1"', "X-CSRF-Token": _csrf(qa)},
    )
    assert verify.status_code == 403
    with site.engine.connect() as conn:
        status = conn.execute(select(S.submission.c.status).where(S.submission.c.id == accident_submission))
        assert status.scalar_one() == "submitted"
    listed = qa.get("/qa/submissions")
    assert listed.status_code == 200 and f'data-submission="{accident_submission}"' in listed.text
    assert SECRET_NAME not in listed.text
    missing = qa.get("/review/999999")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    # Roles with no part in review or QA still get a page saying so.
    for role in ("viewer",):
        refused = clients(role).get(f"/review/{accident_submission}")
        assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
        assert clients(role).get("/qa/submissions").status_code == 403


# ---------------------------------------------------------------------------------------------
# accidents and victims


def test_victims_names_only_for_the_roles_allowed_personal_data(site, clients):
    v, a = S.victim, S.accident
    with site.engine.connect() as conn:
        row = conn.execute(
            select(a.c.id, a.c.code, v.c.full_name)
            .join(v, v.c.accident_id == a.c.id)
            .where(v.c.full_name.is_not(None))
            .order_by(a.c.id)
            .limit(1)
        ).one()
        victims = conn.execute(select(func.count()).where(v.c.accident_id == row.id)).scalar_one()
    name = row.full_name
    for role in ("admin", "im"):
        page = clients(role).get("/accidents", params={"q": row.code})
        assert page.status_code == 200 and name in page.text and 'id="personal-shown"' in page.text
        assert len(re.findall(r'<tr data-victim="\d+">', page.text)) == victims
        file = clients(role).get("/accidents/victims.csv", params={"q": row.code})
        assert file.status_code == 200 and name in {r["full_name"] for r in _csv_rows(file.content)}
    for role in ("viewer", "qa", "operator", "manager"):
        client = clients(role)
        page = client.get("/accidents", params={"q": row.code})
        assert page.status_code == 200 and name not in page.text and 'id="personal-hidden"' in page.text
        assert f'data-accident="{row.id}"' in page.text and "data-victim=" not in page.text
        assert "victims.csv" not in page.text
        refused = client.get("/accidents/victims.csv", params={"q": row.code})
        assert refused.status_code == 403 and "personal data" in refused.text
        rows = _csv_rows(client.get("/accidents/accidents.csv", params={"q": row.code}).content)
        assert [r["code"] for r in rows] == [row.code] and "description" not in rows[0]
        assert name not in str(rows)


def test_accidents_filter_by_period_and_paginate(site, clients):
    a = S.accident
    with site.engine.connect() as conn:
        days = sorted(conn.execute(select(a.c.occurred_on)).scalars())
    start, end = days[0], days[-2]  # all but the latest
    total = _count(site, a)
    within = _count(site, a, and_(a.c.occurred_on >= start, a.c.occurred_on <= end))
    assert total > within > 0
    viewer = clients("viewer")
    page = viewer.get("/accidents", params={"date_from": str(start), "date_to": str(end)})
    assert re.search(r'id="accidents-count" data-total="(\d+)"', page.text)[1] == str(within)
    assert len(re.findall(r'<tr data-accident="', page.text)) == min(within, 50)
    file = viewer.get("/accidents/accidents.xlsx", params={"date_from": str(start), "date_to": str(end)})
    sheet = openpyxl.load_workbook(io.BytesIO(file.content)).active
    assert sheet.max_row - 1 == within
    bad = viewer.get("/accidents", params={"date_from": "2020-02-30"})
    assert bad.status_code == 422 and "is not a date" in bad.text
    assert re.search(r'data-total="(\d+)"', bad.text)[1] == str(total)  # the bad bound is left out


# ---------------------------------------------------------------------------------------------
# QA visits and risk education: filters, pages, downloads


def test_qa_visits_filter_by_organisation_and_period_with_downloads(site, clients):
    v, n, o = S.qa_visit, S.qa_nonconformity, S.organisation
    with site.engine.connect() as conn:
        org = (
            conn.execute(
                select(o.c.code)
                .join(v, v.c.inspected_organisation_id == o.c.id)
                .group_by(o.c.code)
                .order_by(func.count().desc())
            )
            .scalars()
            .first()
        )
        org_id = conn.execute(select(o.c.id).where(o.c.code == org)).scalar_one()
        days = sorted(
            conn.execute(select(v.c.visited_on).where(v.c.inspected_organisation_id == org_id)).scalars()
        )
    start, end = days[len(days) // 4], days[-1]
    match = and_(v.c.inspected_organisation_id == org_id, v.c.visited_on >= start, v.c.visited_on <= end)
    expected = _count(site, v, match)
    ncs = _count(site, n.join(v, v.c.id == n.c.visit_id), match)
    assert 0 < expected < _count(site, v)
    params = {"org": org, "date_from": str(start), "date_to": str(end)}
    im = clients("im")
    page = im.get("/qa", params=params)
    assert page.status_code == 200
    assert re.search(r'id="qa-count" data-total="(\d+)"', page.text)[1] == str(expected)
    visits = _csv_rows(im.get("/qa/visits.csv", params=params).content)
    assert len(visits) == expected and {r["inspected_organisation"] for r in visits} == {org}
    assert all(str(start) <= r["visited_on"] <= str(end) for r in visits)
    assert sum(int(r["nonconformities"]) for r in visits) == ncs
    found = openpyxl.load_workbook(io.BytesIO(im.get("/qa/nonconformities.xlsx", params=params).content))
    assert found.active.max_row - 1 == ncs
    # Every visit, 50 a page; page 2 continues where page 1 stopped (more visits than a page).
    missing = 61 - _count(site, v)
    with site.engine.begin() as conn:
        for day in range(1, missing):
            visit = {"inspected_organisation": "HDT", "inspecting_organisation": "NMAA"}
            visit |= {"visited_on": f"2019-0{1 + day % 9}-{1 + day % 28:02d}", "visit_type": "monitoring"}
            kinds.write(conn, "qa_visit", visit, actor="test")
    total = _count(site, v)
    assert total > 50
    first, second = im.get("/qa"), im.get("/qa", params={"page": 2})
    one = re.findall(r'<tr data-visit="(\d+)"', first.text)
    two = re.findall(r'<tr data-visit="(\d+)"', second.text)
    assert len(one) == min(total, 50) and not set(one) & set(two) and 'rel="next"' in first.text
    # An operator's list is their own organisation's, whatever the address asks for.
    operator = clients("operator").get("/qa", params={"org": org})
    assert 'id="f-org"' not in operator.text and 'id="f-org"' in page.text
    hdt = _count(site, v.join(o, o.c.id == v.c.inspected_organisation_id), o.c.code == "HDT")
    assert re.search(r'id="qa-count" data-total="(\d+)"', operator.text)[1] == str(hdt if org == "HDT" else 0)


def test_risk_education_filters_pages_and_downloads(site, clients):
    e, p = S.eore_session, S.eore_participant
    with site.engine.connect() as conn:
        days = sorted(conn.execute(select(e.c.held_on)).scalars())
    start, end = days[len(days) // 3], days[2 * len(days) // 3]
    match = and_(e.c.held_on >= start, e.c.held_on <= end)
    expected = _count(site, e, match)
    with site.engine.connect() as conn:
        attended = conn.execute(
            select(func.coalesce(func.sum(p.c.count), 0)).join(e, e.c.id == p.c.session_id).where(match)
        ).scalar_one()
    viewer = clients("viewer")
    params = {"date_from": str(start), "date_to": str(end)}
    page = viewer.get("/eore", params=params)
    shown = re.search(r'id="eore-count" data-total="(\d+)" data-attended="(\d+)"', page.text)
    assert (int(shown[1]), int(shown[2])) == (expected, attended)
    assert len(re.findall(r'<tr data-session="', page.text)) == min(expected, 50)
    rows = _csv_rows(viewer.get("/eore/sessions.csv", params=params).content)
    assert len(rows) == expected and sum(int(r["participants"]) for r in rows) == attended
    book = openpyxl.load_workbook(io.BytesIO(viewer.get("/eore/sessions.xlsx", params=params).content))
    assert book.active.max_row - 1 == expected
    backwards = viewer.get("/eore", params={"date_from": str(end), "date_to": str(start)})
    assert backwards.status_code == 422 and "From is after To" in backwards.text
    assert viewer.get("/eore/sessions.pdf").status_code == 404


# ---------------------------------------------------------------------------------------------
# forms


def _audits(site, table: str, record_id: int) -> int:
    a = S.audit_log
    return _count(site, a, a.c.table_name == table, a.c.record_id == record_id)


def test_the_authority_adds_organisations_teams_and_accreditations(site, clients):
    im = clients("im")
    csrf = _csrf(im, "/organisations")
    with site.engine.connect() as conn:
        org_type = (
            conn.execute(select(S.code_list.c.code).where(S.code_list.c.list_name == "organisation_type"))
            .scalars()
            .first()
        )
        team_type = (
            conn.execute(select(S.code_list.c.code).where(S.code_list.c.list_name == "team_type"))
            .scalars()
            .first()
        )
    sent = im.post(
        "/organisations",
        data={"csrf": csrf, "code": "NGO-X", "name": "New NGO", "organisation_type": org_type},
    )
    assert (
        sent.status_code == 303
        and im.get(sent.headers["location"]).text.count("Added organisation NGO-X") == 1
    )
    with site.engine.connect() as conn:
        org_id = conn.execute(
            select(S.organisation.c.id).where(S.organisation.c.code == "NGO-X")
        ).scalar_one()
    assert _audits(site, "organisation", org_id) == 1
    # The same code again: refused with a message, nothing more saved.
    orgs = _count(site, S.organisation)
    again = im.post(
        "/organisations", data={"csrf": csrf, "code": "NGO-X", "name": "Twice", "organisation_type": org_type}
    )
    assert again.status_code == 422 and 'id="organisations-errors"' in again.text
    assert "Nothing was saved" in again.text and 'value="Twice"' in again.text
    assert _count(site, S.organisation) == orgs

    team = {
        "csrf": csrf,
        "code": "T-NEW",
        "name": "New team",
        "organisation": "NGO-X",
        "team_type": team_type,
    }
    bad = im.post("/teams", data=team | {"members": "lots", "base_lon": "66.9"})
    assert (
        bad.status_code == 422 and "not a whole number" in bad.text and "longitude and latitude" in bad.text
    )
    unknown = im.post("/teams", data=team | {"organisation": "NOPE"})
    assert unknown.status_code == 422 and "NOPE" in unknown.text
    assert _count(site, S.team, S.team.c.code == "T-NEW") == 0
    added = im.post("/teams", data=team | {"members": "8", "base_lon": "66.95", "base_lat": "34.51"})
    assert added.status_code == 303
    with site.engine.connect() as conn:
        row = conn.execute(select(S.team).where(S.team.c.code == "T-NEW")).one()
    assert row.members == 8 and _audits(site, "team", row.id) == 1
    acc = {"csrf": csrf, "team": "T-NEW", "activity_type": "clearance", "issued_on": "2026-01-01"}
    wrong = im.post("/teams/accreditations", data=acc | {"issued_on": "01/01/2026"})
    assert wrong.status_code == 422 and 'id="teams-errors"' in wrong.text
    assert _count(site, S.accreditation, S.accreditation.c.team_id == row.id) == 0
    ok = im.post("/teams/accreditations", data=acc | {"expires_on": "2027-12-31"})
    assert ok.status_code == 303
    assert _count(site, S.accreditation, S.accreditation.c.team_id == row.id) == 1
    page = im.get("/teams", params={"org": "NGO-X"})
    assert 'data-team="T-NEW" data-status="valid"' in page.text


def test_only_allowed_roles_see_and_send_the_forms(site, clients):
    for role in ("manager", "operator", "qa", "viewer"):
        client = clients(role)
        page = client.get("/organisations")
        assert 'id="add-organisation-form"' not in page.text
        csrf = _csrf(client, "/organisations")
        sent = client.post("/organisations", data={"csrf": csrf, "code": "X-" + role, "name": "x"})
        assert sent.status_code == 403 and "text/html" in sent.headers["content-type"]
        assert client.post("/teams", data={"csrf": csrf, "code": "T-" + role}).status_code == 403
    assert _count(site, S.organisation, S.organisation.c.code.like("X-%")) == 0
    assert 'id="add-team-form"' in clients("im").get("/teams").text
    assert 'id="qa-form"' in clients("qa").get("/qa").text
    assert 'id="qa-form"' not in clients("operator").get("/qa").text
    assert clients("operator").post("/qa", data={"csrf": _csrf(clients("operator"))}).status_code == 403
    # A form without the session's CSRF token is refused before anything is read.
    assert clients("im").post("/organisations", data={"csrf": "forged", "code": "Y"}).status_code == 403


def test_a_qa_officer_records_a_visit_with_nonconformities(site, clients):
    qa = clients("qa")
    csrf = _csrf(qa, "/qa")
    with site.engine.connect() as conn:
        codes = {
            name: conn.execute(select(S.code_list.c.code).where(S.code_list.c.list_name == name))
            .scalars()
            .first()
            for name in ("qa_visit_type", "qa_result", "nc_type", "nc_severity")
        }
    visits = _count(site, S.qa_visit)
    form = {
        "csrf": csrf,
        "inspected_organisation": "HDT",
        "inspecting_organisation": "NMAA",
        "visited_on": "2026-02-03",
        "visit_type": codes["qa_visit_type"],
        "result": codes["qa_result"],
        "comments": "Marking poles missing on the east side",
        "nc0_nc_type": codes["nc_type"],
        "nc0_severity": codes["nc_severity"],
        "nc0_measures": "Re-mark before work resumes",
    }
    half = qa.post("/qa", data=form | {"nc1_measures": "a measure with no type"})
    assert half.status_code == 422 and "Non-conformity 2: choose its type and its severity." in half.text
    unknown = qa.post("/qa", data=form | {"inspected_organisation": "NOPE"})
    assert unknown.status_code == 422 and 'id="qa-form-errors"' in unknown.text and "NOPE" in unknown.text
    assert 'value="Re-mark before work resumes"' in unknown.text  # what was typed is kept
    assert _count(site, S.qa_visit) == visits
    sent = qa.post("/qa", data=form)
    assert sent.status_code == 303
    visit_id = int(re.search(r"done=(\d+)", sent.headers["location"])[1])
    assert _count(site, S.qa_visit) == visits + 1
    assert _count(site, S.qa_nonconformity, S.qa_nonconformity.c.visit_id == visit_id) == 1
    assert _audits(site, "qa_visit", visit_id) == 1
    shown = qa.get("/qa", params={"date_from": "2026-02-03", "date_to": "2026-02-03", "org": "HDT"})
    assert f'<tr data-visit="{visit_id}"' in shown.text and "Re-mark before work resumes" in shown.text


# ---------------------------------------------------------------------------------------------
# in the browser


def _login(browser, site, username: str, start: str):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The refusals this test provokes answer 422, which Chromium reports on the console as a
    # failed load; any other console error counts.
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "status of 422" not in m.text else None,
    )
    # Straight to the page under test: the map (WebGL in software) is slow to draw.
    page.goto(f"{site.url}/login?next={start}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site.url}{start}")
    return context, page, errors


def test_the_field_work_pages_in_a_browser(browser, site, accident_submission):
    context, page, errors = _login(browser, site, "qa", "/qa")
    with closing(context):
        page.get_by_label("From").fill("2020-01-01")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url(re.compile(r"date_from=2020-01-01"))
        assert page.locator("#qa-table tbody tr").count() > 0
        form = page.locator("#qa-form")
        form.get_by_label("Inspected organisation").select_option("HDT")
        form.get_by_label("Type of visit").select_option(index=1)
        form.get_by_label("Type 1").select_option(index=1)
        form.get_by_label("Corrective measures 1").fill("Fence the breach")
        form.get_by_role("button", name="Record the visit").click()
        assert page.locator("#qa-form-errors").inner_text().startswith("The visit was not saved")
        page.locator("#qa-form").get_by_label("Severity 1").select_option(index=1)
        page.locator("#qa-form").get_by_role("button", name="Record the visit").click()
        page.wait_for_url(re.compile(r"done=\d+"))
        assert "Recorded QA visit" in page.locator("#qa-recorded").inner_text()
        page.goto(f"{site.url}/qa")
        keep_screenshot(page, "qa-visits", full_page=False)
        page.goto(f"{site.url}/review/{accident_submission}")
        assert (
            page.locator("#read-only-note").is_visible() and page.locator("button[data-action]").count() == 0
        )
        assert SECRET_NAME not in page.content()
        keep_screenshot(page, "review-qa-read-only", full_page=False)
        page.goto(f"{site.url}/eore")
        assert 0 < page.locator("#eore-table tbody tr").count() <= 50
        keep_screenshot(page, "eore-sessions", full_page=False)
        assert errors == []
    context, page, errors = _login(browser, site, "im", "/accidents")
    with closing(context):
        assert page.locator("#personal-shown").is_visible() and page.locator("tr[data-victim]").count() > 0
        keep_screenshot(page, "accidents-victims", full_page=False)
        page.goto(f"{site.url}/teams")
        page.locator("#add-team summary").click()
        form = page.locator("#add-team-form")
        form.get_by_label("Code").fill("T-BROWSER")
        form.get_by_label("Name").fill("Browser team")
        form.get_by_label("Organisation").select_option("HDT")
        form.get_by_label("Type").select_option(index=1)
        form.get_by_label("Members").fill("six")
        form.get_by_role("button", name="Add team").click()
        assert "not a whole number" in page.locator("#teams-errors").inner_text()
        page.locator("#add-team-form").get_by_label("Members").fill("6")
        page.locator("#add-team-form").get_by_role("button", name="Add team").click()
        page.wait_for_url(re.compile(r"/teams\?"))
        assert page.locator('tr[data-team="T-BROWSER"]').count() == 1
        page.goto(f"{site.url}/organisations")
        assert page.locator("#add-organisation-form").is_visible()
        keep_screenshot(page, "organisations-add", full_page=False)
        assert errors == []
    context, page, errors = _login(browser, site, "viewer", "/accidents")
    with closing(context):
        assert page.locator("#personal-hidden").is_visible() and page.locator("tr[data-victim]").count() == 0
        keep_screenshot(page, "accidents-viewer", full_page=False)
        assert errors == []
