"""More of the forms in a real browser: a GeoJSON upload, a find with a location; the demo logins."""

from __future__ import annotations

import json
import subprocess
import sys

from sqlalchemy import select

from demine.storage import schema
from demine.storage.database import open_database


def test_a_geojson_file_fills_the_polygon_and_is_drawn(open_as, server, tmp_path):
    page = open_as("operator")
    page.goto(f"{server.url}/submit/hazard")
    page.wait_for_function("document.getElementById('draw-map').dataset.ready === 'true'")
    ring = [[32.01, 47.51], [32.012, 47.51], [32.012, 47.512], [32.01, 47.512], [32.01, 47.51]]
    upload = tmp_path / "survey.geojson"
    upload.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        )
    )
    page.get_by_label("Or upload a GeoJSON file").set_input_files(str(upload))
    page.locator("#draw-status").filter(has_text="Polygon loaded from survey.geojson").wait_for()
    assert json.loads(page.locator("#f-geometry").input_value()) == {"type": "Polygon", "coordinates": [ring]}
    # the uploaded polygon is on the drawing map
    drawn = page.evaluate("window.demineDraw.map.getSource('sketch')._data.features[0].geometry.type")
    assert drawn == "Polygon"


def test_a_find_is_submitted_with_its_location(open_as, server):
    page = open_as("operator")
    page.goto(f"{server.url}/submit/find")
    page.locator("#f-category").select_option("uxo")
    page.get_by_label("Longitude").fill("32.0")
    page.get_by_label("Latitude").fill("95")  # out of range: refused next to the field
    page.get_by_role("button", name="Send for review").click()
    page.locator("#err-location").filter(has_text="90").wait_for()
    page.get_by_label("Latitude").fill("47.5")
    page.get_by_label("Quantity").fill("3")
    page.get_by_role("button", name="Send for review").click()
    page.locator("#submission-id").wait_for()
    submission = page.locator("#submission-id").inner_text()
    page.goto(f"{server.url}/review")
    row = page.locator(f"#submission-{submission}")
    assert row.get_attribute("data-status") == "submitted"
    assert "category: uxo" in row.inner_text()
    # the author cannot verify their own submission: no buttons for them
    assert row.get_by_role("button").count() == 0

    # The manager sends it back with a reason; the author corrects it from the queue.
    manager = open_as("manager")
    manager.goto(f"{server.url}/review?status=submitted")
    row = manager.locator(f"#submission-{submission}")
    row.get_by_label(f"Reason for rejecting submission {submission}").fill("two items, not three")
    row.get_by_role("button", name=f"Reject submission {submission}").click()
    manager.locator("#review-message").filter(has_text=f"Submission {submission} rejected.").wait_for()

    page.goto(f"{server.url}/review?status=rejected")
    row = page.locator(f"#submission-{submission}")
    assert "reason: two items, not three" in row.inner_text()
    row.get_by_role("link", name=f"Edit and resubmit submission {submission}").click()
    page.wait_for_url(f"**/submit/find?revise={submission}")
    assert "two items, not three" in page.locator("#revision-notice").inner_text()
    assert page.get_by_label("Quantity").input_value() == "3"  # the form holds the submitted payload
    assert page.get_by_label("Latitude").input_value() == "47.5"
    assert page.locator("#f-category").input_value() == "uxo"
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Send the revision").click()
    page.locator("#form-result").filter(has_text="revised and sent again").wait_for()
    page.goto(f"{server.url}/review")
    row = page.locator(f"#submission-{submission}")
    assert row.get_attribute("data-status") == "submitted"
    revised = page.request.get(f"{server.url}/api/submissions/{submission}").json()
    assert revised["payload"]["quantity"] == 2 and revised["payload"]["location"] == [32.0, 47.5]
    assert page.js_errors == manager.js_errors == []


def test_demo_users_are_printed_for_make_run(tmp_path):
    db = tmp_path / "demo.gpkg"
    done = subprocess.run(
        [sys.executable, "-m", "demine", "demo", "--hazards", "20", "--db", str(db), "--users"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "password for all: demine-demo" in done.stdout
    for login in ("admin", "im", "manager", "operator", "qa", "viewer"):
        assert f"│ {login} " in done.stdout


def test_logging_out_ends_the_session(open_as, server):
    page = open_as("viewer")
    cookie = next(c for c in page.context.cookies() if c["name"] == "demine_session")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{server.url}/login")
    page.goto(f"{server.url}/dashboard")
    assert "/login?next=/dashboard" in page.url
    # the old session token is revoked on the server, not only forgotten by the browser
    revoked = page.request.get(
        f"{server.url}/auth/me", headers={"Cookie": f"demine_session={cookie['value']}"}
    )
    assert revoked.status == 401


def test_every_form_renders_and_a_progress_report_is_submitted(open_as, server):
    page = open_as("operator")
    for kind in ("hazard", "activity", "release", "progress_report", "find"):
        page.goto(f"{server.url}/submit/{kind}")
        unlabelled = page.evaluate(
            """() => Array.from(document.querySelectorAll(
                    'main input:not([type=hidden]), main select, main textarea'))
                .filter((el) => !el.labels.length && !el.getAttribute('aria-label')).map((el) => el.name)"""
        )
        assert unlabelled == [], kind
    # the team list offers only the operator's own organisation's teams
    page.goto(f"{server.url}/submit/progress_report")
    teams = page.evaluate("Array.from(document.querySelectorAll('#list-team option')).map((o) => o.value)")
    engine = open_database(server.db)
    t, o = schema.team, schema.organisation
    with engine.connect() as conn:
        own = conn.execute(
            select(t.c.code).join(o, o.c.id == t.c.organisation_id).where(o.c.code == "HDT", t.c.active)
        ).scalars()
        assert sorted(teams) == sorted(own)
    engine.dispose()
    assert teams
    page.get_by_label("Team").fill(teams[0])
    page.get_by_label("Area worked (m²)").fill("-5")
    page.get_by_role("button", name="Send for review").click()
    page.locator("#err-area_m2").filter(has_text="greater than or equal to 0").wait_for()
    page.get_by_label("Area worked (m²)").fill("450")
    page.get_by_label("Hours worked").fill("6.5")
    page.get_by_role("button", name="Send for review").click()
    page.locator("#submission-id").wait_for()
    submission = page.locator("#submission-id").inner_text()
    sent = page.request.get(f"{server.url}/api/submissions/{submission}").json()
    assert sent["kind"] == "progress_report" and sent["status"] == "submitted"
    assert (
        sent["payload"]["team"] == teams[0]
        and sent["payload"]["area_m2"] == 450
        and sent["payload"]["hours"] == 6.5
    )
    assert page.js_errors == []
