"""Teams and accreditations, organisations, reports, QA visits and user management as pages.

HTTP tests talk to the web suite's real ``demine serve`` on the demo programme, log in through
the login form as the demo users, and check what each page shows against the database; the
user-management forms really change it (and refuse bad input with a message). One browser test
visits the pages as an admin and saves the screenshots the documentation shows.
"""

from __future__ import annotations

import io
import re
from contextlib import closing
from datetime import date, timedelta

import httpx
import openpyxl
import pytest
from sqlalchemy import func, select

from demine.cli.programme import DEMO_PASSWORD
from demine.register.organisations import team_accreditation_status
from demine.storage import schema as S
from doc_screenshots import keep_screenshot

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
NAV = re.compile(r'<nav aria-label="Main">(.*?)</nav>', re.S)


def _login(server, username: str, password: str = DEMO_PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=120)
    r = client.post("/login", data={"username": username, "password": password, "next": "/map"})
    assert r.status_code == 303 and "demine_session" in client.cookies, r.text
    return client


@pytest.fixture(scope="module")
def clients(server):
    made: dict[str, httpx.Client] = {}

    def get(username: str) -> httpx.Client:
        if username not in made:
            made[username] = _login(server, username)
        return made[username]

    yield get
    for client in made.values():
        client.close()


def _nav(html: str) -> str:
    return NAV.search(html)[1]


def _csrf(html: str) -> str:
    return CSRF.search(html)[1]


def _attr(html: str, name: str) -> list[str]:
    return re.findall(rf'{name}="([^"]*)"', html)


# ---------------------------------------------------------------------------------------------
# teams and organisations


def test_teams_show_every_team_with_its_accreditation_status_and_expiry_flags(clients, db):
    today = date.today()
    with db.connect() as conn:
        codes = sorted(conn.execute(select(S.team.c.code)).scalars())
        ids = dict(conn.execute(select(S.team.c.code, S.team.c.id)).all())
        status = team_accreditation_status(conn, today)
        a = S.accreditation
        held = conn.execute(
            select(a.c.id, a.c.team_id, a.c.activity_type, a.c.issued_on, a.c.expires_on).where(
                a.c.team_id.is_not(None)
            )
        ).all()
    for role in ("admin", "viewer", "qa"):
        page = clients(role).get("/teams")
        assert page.status_code == 200 and 'href="/teams"' in _nav(page.text)
        rows = re.findall(r'<tr data-team="([^"]+)" data-status="([a-z]+)"', page.text)
        assert sorted(code for code, _ in rows) == codes
        assert {code: s for code, s in rows} == {code: status[ids[code]] for code in codes}
    for key in ("valid", "expiring", "expired", "none"):
        shown = re.search(rf'data-teams="{key}" data-count="(\d+)"', page.text)[1]
        assert int(shown) == sum(1 for code in codes if status[ids[code]] == key)
    flags = {
        int(i): (f, r)
        for i, f, r in re.findall(r'data-acc="(\d+)" data-flag="([a-z_]+)" data-renewed="(\w+)"', page.text)
    }
    assert set(flags) == {r.id for r in held}
    # Expired is before today; expiring ends within 90 days (a renewal on record is not flagged).
    by_id = {r.id: r for r in held}
    expired = [i for i, (f, _) in flags.items() if f == "expired"]
    assert expired and all(by_id[i].expires_on < today for i in expired)
    assert all(
        today <= by_id[i].expires_on <= today + timedelta(days=90)
        for i, (f, _) in flags.items()
        if f == "expiring"
    )

    def current(r) -> bool:
        return r.issued_on <= today and (r.expires_on is None or r.expires_on >= today)

    # Renewed: the same team holds a current accreditation for the same activity.
    for i in expired:
        r = by_id[i]
        renewed = any(
            current(o) for o in held if (o.team_id, o.activity_type) == (r.team_id, r.activity_type)
        )
        assert flags[i][1] == ("yes" if renewed else "no"), r
    lapsed = sum(1 for i in expired if flags[i][1] == "no")
    assert re.search(r'data-flag-count="lapsed" data-count="(\d+)"', page.text)[1] == str(lapsed)


def test_an_operator_sees_only_their_organisations_teams(clients, db):
    with db.connect() as conn:
        t, o = S.team, S.organisation
        own = sorted(
            conn.execute(select(t.c.code).join(o, o.c.id == t.c.organisation_id).where(o.c.code == "HDT"))
            .scalars()
            .all()
        )
        others = conn.execute(select(func.count()).select_from(t)).scalar_one()
    assert own and len(own) < others
    for ask in ("/teams", "/teams?org=MAG", "/teams?org="):
        page = clients("operator").get(ask)
        assert page.status_code == 200
        assert sorted(re.findall(r'<tr data-team="([^"]+)"', page.text)) == own
    assert 'id="f-org"' not in page.text  # no organisation filter for a role that sees one
    missing = clients("viewer").get("/teams", params={"org": "NO-SUCH-ORG"})
    assert missing.status_code == 404 and "NO-SUCH-ORG" in missing.text


def test_organisations_count_teams_and_people_only_for_roles_that_see_them(clients, db):
    with db.connect() as conn:
        o, t, p = S.organisation, S.team, S.person
        orgs = sorted(conn.execute(select(o.c.code)).scalars())
        teams = dict(
            conn.execute(
                select(o.c.code, func.count(t.c.id))
                .outerjoin(t, t.c.organisation_id == o.c.id)
                .group_by(o.c.code)
            ).all()
        )
        people = dict(
            conn.execute(
                select(o.c.code, func.count(p.c.id))
                .outerjoin(p, p.c.organisation_id == o.c.id)
                .group_by(o.c.code)
            ).all()
        )
    cell = r'<tr data-org="{}">.*?data-col="{}">(.*?)</td>'
    admin = clients("admin").get("/organisations")
    assert admin.status_code == 200 and sorted(_attr(admin.text, "data-org")) == orgs
    for code in orgs:
        assert re.sub("<[^>]+>", "", re.search(cell.format(code, "teams"), admin.text, re.S)[1]) == str(
            teams[code]
        )
        assert re.search(cell.format(code, "people"), admin.text, re.S)[1] == str(people[code])
    viewer = clients("viewer").get("/organisations")
    assert viewer.status_code == 200
    assert all("–" in re.search(cell.format(c, "people"), viewer.text, re.S)[1] for c in orgs)
    # An operator counts their own organisation's people, no other's.
    operator = clients("operator").get("/organisations")
    assert re.search(cell.format("HDT", "people"), operator.text, re.S)[1] == str(people["HDT"])
    assert all("–" in re.search(cell.format(c, "people"), operator.text, re.S)[1] for c in orgs if c != "HDT")


# ---------------------------------------------------------------------------------------------
# reports


def test_reports_download_as_html_xlsx_and_pdf_and_refuse_a_bad_period(clients, db):
    viewer = clients("viewer")
    form = viewer.get("/reports")
    assert form.status_code == 200 and 'href="/reports"' in _nav(form.text)
    assert all(f'value="{k}"' in form.text for k in ("monthly", "annual", "article7", "pdf", "xlsx", "html"))
    with db.connect() as conn:
        year = conn.execute(select(func.max(S.release_product.c.released_on))).scalar()
    year = str(year)[:4]
    html = viewer.get("/reports/download", params={"kind": "annual", "period": year, "format": "html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert f'filename="annual-{year}.html"' in html.headers["content-disposition"]
    assert "Annual national mine action report" in html.text
    xlsx = viewer.get("/reports/download", params={"kind": "article7", "period": year, "format": "xlsx"})
    assert xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert len(book.sheetnames) >= 1
    pdf = viewer.get("/reports/download", params={"kind": "monthly", "period": f"{year}-06", "format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    bad = viewer.get("/reports/download", params={"kind": "monthly", "period": "2026-13", "format": "pdf"})
    assert bad.status_code == 422 and 'id="report-error"' in bad.text and "2026-13" in bad.text
    # An operator reports on their own organisation, whatever the address asks for.
    own = clients("operator").get(
        "/reports/download",
        params={"kind": "monthly", "period": f"{year}-06", "format": "html", "organisation": "MAG"},
    )
    assert own.status_code == 200 and "— HDT" in own.text and "— MAG" not in own.text


# ---------------------------------------------------------------------------------------------
# QA


def test_a_qa_officer_is_sent_from_the_review_queue_to_the_qa_visits(clients, db):
    qa = clients("qa")
    review = qa.get("/review")
    assert review.status_code == 303 and review.headers["location"] == "/qa?from=review"
    page = qa.get("/qa?from=review")
    assert page.status_code == 200 and 'id="qa-from-review"' in page.text
    nav = _nav(page.text)
    assert 'href="/qa"' in nav and 'href="/review"' not in nav and 'href="/admin/users"' not in nav
    with db.connect() as conn:
        v, o = S.qa_visit, S.organisation
        total = conn.execute(select(func.count()).select_from(v)).scalar_one()
        hdt = conn.execute(
            select(func.count())
            .select_from(v)
            .join(o, o.c.id == v.c.inspected_organisation_id)
            .where(o.c.code == "HDT")
        ).scalar_one()
    assert total > hdt > 0
    assert re.search(r'id="qa-count" data-total="(\d+)"', page.text)[1] == str(total)
    operator = clients("operator").get("/qa")
    assert re.search(r'id="qa-count" data-total="(\d+)"', operator.text)[1] == str(hdt)
    # The register still refuses what the role may not do: a viewer has no review queue.
    refused = clients("viewer").get("/review")
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]


# ---------------------------------------------------------------------------------------------
# users (admins)


def test_only_an_admin_sees_user_management(clients):
    admin = clients("admin").get("/admin/users")
    assert admin.status_code == 200 and 'href="/admin/users"' in _nav(admin.text)
    assert set(_attr(admin.text, "data-user")) >= {"admin", "im", "manager", "operator", "qa", "viewer"}
    for role in ("im", "manager", "operator", "qa", "viewer"):
        page = clients(role).get("/admin/users")
        assert page.status_code == 403 and "text/html" in page.headers["content-type"]
        assert "Only an admin manages users." in page.text
        assert 'href="/admin/users"' not in _nav(page.text)
        posted = clients(role).post(
            "/admin/users", data={"csrf": _csrf(page.text), "username": "x1", "role": "viewer"}
        )
        assert posted.status_code == 403


def _user(db, username: str):
    u = S.app_user
    with db.connect() as conn:
        return conn.execute(
            select(u.c.role, u.c.active, u.c.organisation_id).where(u.c.username == username)
        ).first()


def test_an_admin_adds_changes_tokens_and_disables_a_user(clients, server, db):
    admin = clients("admin")
    csrf = _csrf(admin.get("/admin/users").text)
    name = "field.clerk"
    # Refused with a message, and nothing written.
    no_org = admin.post("/admin/users", data={"csrf": csrf, "username": name, "role": "operator"})
    assert no_org.status_code == 422 and "needs an organisation" in no_org.text and _user(db, name) is None
    weak = admin.post(
        "/admin/users", data={"csrf": csrf, "username": name, "role": "viewer", "password": "x"}
    )
    assert weak.status_code == 422 and "password" in weak.text and _user(db, name) is None
    forged = admin.post("/admin/users", data={"csrf": "wrong", "username": name, "role": "viewer"})
    assert forged.status_code == 403 and _user(db, name) is None

    password = "correct horse battery staple 7"
    added = admin.post(
        "/admin/users",
        data={
            "csrf": csrf,
            "username": name,
            "role": "operator",
            "organisation": "HDT",
            "password": password,
        },
    )
    assert added.status_code == 303 and added.headers["location"] == f"/admin/users?done=added&user={name}"
    assert _user(db, name).role == "operator"
    assert "Added user field.clerk." in admin.get(added.headers["location"]).text
    again = admin.post("/admin/users", data={"csrf": csrf, "username": name, "role": "viewer"})
    assert again.status_code == 422 and "already exists" in again.text

    changed = admin.post(
        f"/admin/users/{name}/role", data={"csrf": csrf, "role": "qa_officer", "organisation": ""}
    )
    assert changed.status_code == 303 and _user(db, name).role == "qa_officer"

    issued = admin.post(
        f"/admin/users/{name}/tokens", data={"csrf": csrf, "name": "QGIS laptop", "days": "30"}
    )
    assert issued.status_code == 200
    token = re.search(r'<code id="new-token">([^<]+)</code>', issued.text)[1]
    me = httpx.get(f"{server.url}/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert me.status_code == 200 and me.json()["user"]["username"] == name
    token_id = re.search(r'<span data-token="(\d+)">QGIS laptop', issued.text)[1]
    bad_days = admin.post(f"/admin/users/{name}/tokens", data={"csrf": csrf, "days": "999"})
    assert bad_days.status_code == 422 and "days must be 1 to 366" in bad_days.text

    revoked = admin.post(f"/admin/users/{name}/tokens/{token_id}/revoke", data={"csrf": csrf})
    assert revoked.status_code == 303
    assert (
        httpx.get(
            f"{server.url}/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
        ).status_code
        == 401
    )

    with closing(_login(server, name, password)) as clerk:
        assert clerk.get("/qa").status_code == 200
        disabled = admin.post(f"/admin/users/{name}/disable", data={"csrf": csrf})
        assert disabled.status_code == 303 and _user(db, name).active in (False, 0)
        # Their open session ends with the account.
        assert clerk.get("/qa").status_code == 303
    refused = httpx.post(f"{server.url}/login", data={"username": name, "password": password}, timeout=60)
    assert refused.status_code == 401

    yourself = admin.post("/admin/users/admin/disable", data={"csrf": csrf})
    assert yourself.status_code == 422 and "cannot disable yourself" in yourself.text
    assert _user(db, "admin").active in (True, 1)


# ---------------------------------------------------------------------------------------------
# in the browser


def test_the_admin_pages_in_a_browser(open_as, server):
    page = open_as("admin")
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Teams").click()
    page.wait_for_url(f"{server.url}/teams")
    assert page.locator("#teams-table tbody tr").count() > 0
    keep_screenshot(page, "teams")
    for path in ("/organisations", "/reports", "/qa"):
        page.goto(f"{server.url}{path}")
        assert page.locator("h1").count() == 1
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    page.wait_for_url(f"{server.url}/admin/users")
    assert page.locator("#users-table tbody tr").count() >= 6
    row = page.locator('#users-table tr[data-user="viewer"]')
    row.get_by_text("New token").click()
    row.get_by_label("For").fill("QGIS on laptop 3")
    row.get_by_role("button", name="Issue").click()
    assert page.locator("#new-token").inner_text().startswith("dm_")
    assert page.locator('#users-table tr[data-user="viewer"]').get_by_text("QGIS on laptop 3").count() == 1
    keep_screenshot(page, "admin-users")
    assert page.js_errors == [] and console == []


def test_risk_education_sessions_with_attendance_by_organisation_scope(clients, db):
    with db.connect() as conn:
        e, p, o = S.eore_session, S.eore_participant, S.organisation
        total = conn.execute(select(func.count()).select_from(e)).scalar_one()
        attended = conn.execute(select(func.coalesce(func.sum(p.c.count), 0))).scalar_one()
        hdt = conn.execute(
            select(func.count())
            .select_from(e)
            .join(o, o.c.id == e.c.organisation_id)
            .where(o.c.code == "HDT")
        ).scalar_one()
    assert total > hdt > 0
    page = clients("viewer").get("/eore")
    assert page.status_code == 200
    shown = re.search(r'id="eore-count" data-total="(\d+)" data-attended="(\d+)"', page.text)
    assert (int(shown[1]), int(shown[2])) == (total, attended)
    assert len(re.findall(r'<tr data-session="', page.text)) == min(total, 50)  # 50 a page
    # Risk education is public register data (every role reads all of it), unlike QA visits.
    operator = clients("operator").get("/eore")
    assert re.search(r'id="eore-count" data-total="(\d+)"', operator.text)[1] == str(total)
