"""An accessibility check of the main pages with axe-core, in a real browser, per role.

axe-core is vendored in ``tests/web/vendor/axe-core/`` (see its README: version, licence,
checksum), so the check needs no network. Every rule axe runs by default (WCAG 2 A and AA and
its best practices) is applied after the page's scripts have drawn it; a violation of impact
"serious" or "critical" fails the test, listed with the elements it concerns.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from demine.cli.programme import DEMO_PASSWORD
from demine.storage import schema
from demine.storage.database import open_database

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"  # 4.14.1, see README
BLOCKING = ("serious", "critical")


def _axe(page) -> list[dict]:
    """axe's violations on the page as it is now: rule, impact, help and up to five elements."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations.map((v) => ({
                rule: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ': ' + n.failureSummary),
            }));
        }"""
    )


def _blocking(page) -> list[dict]:
    return [v for v in _axe(page) if v["impact"] in BLOCKING]


def _ids(db) -> dict[str, int]:
    engine = open_database(db)
    with engine.connect() as conn:
        hazard = conn.execute(select(schema.hazard.c.id).order_by(schema.hazard.c.id).limit(1)).scalar_one()
    engine.dispose()
    return {"hazard": hazard}


def _ready(page, path: str) -> None:
    """Until the page's scripts have drawn what axe should see (maps, the drawing tools)."""
    if path == "/map":
        page.wait_for_function("document.getElementById('map').dataset.ready === 'true'", timeout=60_000)
    elif path.startswith("/submit/"):
        page.wait_for_function("document.querySelector('[data-ready=\"true\"]') !== null", timeout=60_000)


def test_the_vendored_axe_is_the_recorded_release():
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == AXE_SHA256
    assert AXE.read_text()[:40].startswith("/*! axe v4.14.1")


def test_the_login_page_has_no_serious_accessibility_violation(browser, server):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.url}/login")
    found = _blocking(page)
    # a wrong password: the error is announced, and the page stays clean
    page.get_by_label("Username").fill("viewer")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    page.locator("#login-error").wait_for()
    found += _blocking(page)
    # the check sees what it is for: an image without a text alternative is reported
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"/static/favicon.svg\">')"
    )
    planted = _blocking(page)
    context.close()
    assert found == []
    assert [v["rule"] for v in planted] == ["image-alt"]


# The main pages, split between two roles (each page once, the map, with its role's menu, twice).
PAGES = {
    "operator": ["/map", "/dashboard", "/register/hazards", "/records/hazards/{hazard}", "/submit/hazard",
                 "/submit/find", "/review"],
    "im": ["/map", "/register/finds", "/review", "/review/{submission}", "/planner", "/teams", "/reports"],
}  # fmt: skip


@pytest.mark.parametrize("role", sorted(PAGES))
def test_main_pages_have_no_serious_accessibility_violation(open_as, server, role):
    ids = _ids(server.db)
    if "/review/{submission}" in PAGES[role]:
        # a submission waiting for review, so the queue and its evidence page have content
        author = open_as("operator")
        sent = author.evaluate(
            """async () => (await demine.api('POST', '/api/submissions', {kind: 'find', payload: {
                category: 'uxo', found_on: '2026-01-15', location: [32.01, 47.51], quantity: 1}})).data"""
        )
        ids["submission"] = sent["id"]
    page = open_as(role)
    found = {}
    for path in PAGES[role]:
        url = path.format(**ids)
        response = page.goto(server.url + url)
        assert response.status == 200, url
        _ready(page, path)
        violations = _blocking(page)
        if violations:
            found[url] = violations
    assert found == {}
    assert page.js_errors == []


def test_the_phone_layout_has_no_serious_accessibility_violation(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.url}/map")
    found = {}
    for path in ("/map", "/submit/find"):
        page.goto(server.url + path)
        _ready(page, path)
        violations = _blocking(page)
        page.get_by_role("button", name="Menu").click()  # and with the menu unfolded
        violations += _blocking(page)
        if violations:
            found[path] = violations
    context.close()
    assert found == {}
