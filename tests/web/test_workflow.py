"""Data entry and review in a real browser: an operator's hazard goes through verification and
approval, and the dashboard (which must equal ``demine summary``) counts it only once approved."""

from __future__ import annotations

import json
import math
import subprocess
import sys


def summary_json(db) -> dict:
    """``demine summary --json`` on the server's database, as a user would run it."""
    done = subprocess.run(
        [sys.executable, "-m", "demine", "summary", "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def dashboard_figures(page) -> dict[str, float]:
    """Every figure of the dashboard that carries a ``data-key`` (its unformatted value)."""
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('[data-key]'))
            .map((el) => [el.dataset.key, Number(el.dataset.value)]))"""
    )


def expected_figures(summary: dict) -> dict[str, float]:
    out = {"hazards.count": summary["hazards"]["count"], "accidents": summary["accidents"]}
    out |= {f"area.{k}": v for k, v in summary["area"].items() if k != "balanced"}
    out |= {f"victims.{k}": v for k, v in summary["victims"].items()}
    out |= {f"eo_found.{k}": v for k, v in summary["eo_found"].items()}
    for row in summary["teams"]:
        out |= {
            f"teams.{row['team_type']}.{k}": row[k] for k in ("total", "valid", "expiring", "expired", "none")
        }
    return out


def assert_dashboard_equals_summary(page, db) -> dict[str, float]:
    shown = dashboard_figures(page)
    expected = expected_figures(summary_json(db))
    assert set(shown) == set(expected)
    for key, value in expected.items():
        assert math.isclose(shown[key], value, rel_tol=1e-9, abs_tol=1e-6), key
    # and the by-type-and-status table sums to the same total
    counts = page.evaluate(
        "Array.from(document.querySelectorAll('#hazards-by-type-status tbody tr td:nth-child(3)'))"
        ".map((td) => Number(td.dataset.value))"
    )
    assert sum(counts) == expected["hazards.count"]
    return shown


def draw_square(page) -> None:
    """Click four corners of a square in the middle of the drawing map, then finish."""
    page.wait_for_function("document.getElementById('draw-map').dataset.ready === 'true'")
    page.evaluate("window.demineDraw.map.jumpTo({zoom: 15})")  # a small polygon, clear of the region edge
    box = page.locator("#draw-map canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.get_by_role("button", name="Start drawing").click()
    for dx, dy in ((-60, -40), (60, -40), (60, 40), (-60, 40)):
        page.mouse.click(cx + dx, cy + dy)
    page.get_by_role("button", name="Finish polygon").click()
    geometry = json.loads(page.locator("#f-geometry").input_value())
    assert geometry["type"] == "Polygon" and len(geometry["coordinates"][0]) == 5


def test_a_hazard_goes_from_operator_to_register_and_the_dashboard_follows(open_as, server, screenshot):
    im = open_as("im")
    im.goto(f"{server.url}/dashboard")
    before = assert_dashboard_equals_summary(im, server.db)
    screenshot(im, "dashboard-before")

    # The operator's first try is incomplete: the problems show next to their fields.
    operator = open_as("operator")
    operator.goto(f"{server.url}/submit/hazard")
    operator.get_by_role("button", name="Send for review").click()
    operator.locator("#form-result .notice.error").wait_for()
    assert operator.locator("#err-code").inner_text() != ""
    assert operator.locator("#err-hazard_type").inner_text() != ""
    assert operator.locator("#err-geometry").inner_text() != ""
    assert operator.locator(".field[data-field='code']").get_attribute("class").split() == [
        "field",
        "invalid",
    ]
    assert operator.locator("#f-code").get_attribute("aria-invalid") == "true"

    # A code already in the register is refused by the register's own rules, next to the code.
    operator.get_by_label("Code").fill("HA-000001")
    operator.locator("#f-hazard_type").select_option("CHA")
    draw_square(operator)
    operator.get_by_role("button", name="Send for review").click()
    operator.locator("#err-code").filter(has_text="already exists").wait_for()
    screenshot(operator, "submit-hazard-problems")

    operator.get_by_label("Code").fill("HA-WEB-0001")
    operator.get_by_label("Name").fill("Drawn in the browser")
    operator.get_by_role("button", name="Send for review").click()
    operator.locator("#submission-id").wait_for()
    submission = operator.locator("#submission-id").inner_text()
    assert operator.locator("#err-code").inner_text() == ""

    # Not in the register yet: the figures are unchanged.
    im.reload()
    assert dashboard_figures(im)["hazards.count"] == before["hazards.count"]

    manager = open_as("manager")
    manager.goto(f"{server.url}/review?status=submitted")
    row = manager.locator(f"#submission-{submission}")
    row.get_by_role("button", name=f"Verify submission {submission}").click()
    manager.locator("#review-message").filter(has_text=f"Submission {submission} verified.").wait_for()
    screenshot(manager, "review-verified")

    im.goto(f"{server.url}/review?status=verified")
    row = im.locator(f"#submission-{submission}")
    assert "HA-WEB-0001" in row.inner_text()
    row.get_by_role("button", name=f"Approve submission {submission}").click()
    im.locator("#review-message").filter(has_text=f"Submission {submission} approved.").wait_for()
    screenshot(im, "review-approved")

    im.goto(f"{server.url}/dashboard")
    after = assert_dashboard_equals_summary(im, server.db)
    assert after["hazards.count"] == before["hazards.count"] + 1
    assert after["area.original_m2"] > before["area.original_m2"]
    assert after["area.remaining_m2"] > before["area.remaining_m2"]
    screenshot(im, "dashboard-after")

    # The record and its history: written by the approval, with who submitted and verified it.
    im.goto(f"{server.url}/review?status=approved")
    im.locator(f"#submission-{submission}").get_by_role("link", name="open the record").click()
    im.wait_for_url("**/records/hazards/*")
    assert im.locator("td[data-field='code']").inner_text() == "HA-WEB-0001"
    history = im.locator("#history").inner_text()
    assert "insert by im" in history
    assert f"approved submission {submission} by operator (verified by manager)" in history
    assert im.js_errors == operator.js_errors == manager.js_errors == []


def test_a_change_is_audited_and_can_be_restored(open_as, server):
    im = open_as("im")
    record = im.request.get(f"{server.url}/api/hazards?limit=1&status=open").json()["features"][0]
    hazard_id, version = record["id"], record["properties"]["version"]
    csrf = im.locator("meta[name='csrf-token']").get_attribute("content")
    for name in ("First name", "Second name, by mistake"):
        changed = im.request.patch(
            f"{server.url}/api/hazards/{hazard_id}",
            data={"name": name},
            headers={"If-Match": f'"{version}"', "X-CSRF-Token": csrf},
        )
        assert changed.status == 200, changed.text()
        version = changed.json()["properties"]["version"]
    im.goto(f"{server.url}/records/hazards/{hazard_id}")
    assert im.locator("td[data-field='name']").inner_text() == "Second name, by mistake"
    entries = im.locator("#history > li")  # newest first
    assert entries.count() == 2
    assert "Second name, by mistake" in entries.nth(0).inner_text()
    entries.nth(1).get_by_role("button", name="Restore this version").click()
    im.locator("#history > li").nth(2).wait_for()  # the page reloads with the restore on top
    assert im.locator("td[data-field='name']").inner_text() == "First name"
    assert im.locator("#history > li").first.inner_text().startswith("restore by im")
    assert im.js_errors == []


def test_pages_work_on_a_tablet_and_by_keyboard(open_as, server, screenshot):
    page = open_as("operator", width=800, height=1100)
    page.goto(f"{server.url}/dashboard")
    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    assert skip.inner_text() == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # no horizontal scrolling of the page itself at tablet width
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "dashboard-tablet")
    page.goto(f"{server.url}/submit/hazard")
    # every input has an accessible name (the required-field asterisk is hidden from screen readers)
    for role, name in (
        ("textbox", "Code"),
        ("combobox", "Type"),
        ("textbox", "Polygon"),
        ("button", "Or upload a GeoJSON file"),
        ("button", "Send for review"),
    ):
        assert page.get_by_role(role, name=name, exact=True).count() == 1, name
    unlabelled = page.evaluate(
        """() => Array.from(document.querySelectorAll(
                'main input:not([type=hidden]), main select, main textarea'))
            .filter((el) => !el.labels.length && !el.getAttribute('aria-label')).map((el) => el.name)"""
    )
    assert unlabelled == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
