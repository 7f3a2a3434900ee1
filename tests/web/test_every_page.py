"""Every page as every demo role sees it, in a real browser.

For each role the test opens every page of the web interface (those in its menu and those
reached from them: the register lists, a record, organisations, risk education, QA, the API
documentation) and checks what a person would meet: a page the menu offers opens with one
heading and no script or console error; a page the role may not use is not in its menu and,
when typed in, answers with an HTML page that says so and leads back, never JSON or a blank
page.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from demine.cli.programme import DEMO_USERS
from demine.storage import schema as S
from demine.storage.database import open_database

ROLES = [username for username, _, _ in DEMO_USERS]

# Pages reached from the menu's pages rather than from the menu itself.
LINKED = [
    "/register/hazards",
    "/register/activities",
    "/register/release_products",
    "/register/finds",
    "/register/accidents",
    "/organisations",
    "/eore",
    "/qa",
    "/qa/submissions",
    "/admin/users",
    "/docs",
]

# The planner computes its baseline forecast after the page loads (cached once computed).
SLOW_REQUEST_MS = 300_000


@pytest.fixture(scope="module")
def a_hazard(server) -> int:
    engine = open_database(server.db)
    with engine.connect() as conn:
        found = conn.execute(select(S.hazard.c.id).order_by(S.hazard.c.id).limit(1)).scalar_one()
    engine.dispose()
    return found


@pytest.mark.parametrize("role", ROLES)
def test_every_page_opens_for_the_roles_it_is_offered_to(open_as, server, a_hazard, role):
    page = open_as(role)
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    menu = page.locator('nav[aria-label="Main"] a').evaluate_all("links => links.map(a => a.pathname)")
    assert menu and menu[0] == "/map"
    pages = list(dict.fromkeys(menu + LINKED + [f"/records/hazards/{a_hazard}"]))
    opened, refused = [], []
    for path in pages:
        before = len(console)
        response = page.goto(f"{server.url}{path}")
        status = response.status
        assert "text/html" in response.headers["content-type"], (role, path, status)
        if path in menu:
            assert status == 200, f"{role}: {path} is in the menu but answers {status}"
        if status == 200:
            opened.append(path)
            if path != "/docs":  # Swagger UI draws its own headings
                assert page.locator("h1").count() == 1, (role, path)
            page.wait_for_load_state("networkidle", timeout=SLOW_REQUEST_MS)
        else:
            refused.append(path)
            assert status == 403, (role, path, status)
            # Chromium logs the refused page itself as a failed load; nothing else may fail.
            if len(console) > before and "status of 403" in console[before]:
                del console[before]
            assert path not in menu
            # An error page says why and leads somewhere useful.
            assert page.locator("h1").count() == 1
            assert page.locator("main a[href]").count() >= 1, f"{role}: {path} leads nowhere"
    assert page.js_errors == [], page.js_errors
    assert console == [], console
    # Every role opens at least the map, the register, the dashboard, the reports and the planner.
    assert {"/map", "/register", "/dashboard", "/reports", "/planner"} <= set(opened)
    print(f"{role}: opened {len(opened)}, refused {len(refused)}: {', '.join(refused) or 'none'}")


def test_menus_differ_by_role_as_the_permissions_do(open_as):
    """The menus themselves: the admin alone manages users; a viewer enters nothing."""
    menus = {}
    for role in ("admin", "viewer", "operator"):
        page = open_as(role)
        menus[role] = page.locator('nav[aria-label="Main"] a').evaluate_all(
            "links => links.map(a => a.pathname)"
        )
    assert "/admin/users" in menus["admin"] and "/admin/users" not in menus["viewer"]
    assert "/submit" not in menus["viewer"] and "/submit" in menus["operator"]
    assert not any(re.search(r"/api/", href) for hrefs in menus.values() for href in hrefs)
