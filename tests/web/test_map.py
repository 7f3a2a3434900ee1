"""The map in a real browser: vector tiles render, filters change what is drawn, popups link records."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from demine.storage import schema
from demine.storage.database import open_database

from .conftest import map_idle


def _hazard_count(db, **where) -> int:
    engine = open_database(db)
    h = schema.hazard
    query = select(func.count()).select_from(h)
    if "status" in where:
        query = query.where(h.c.status == where["status"])
    if "admin_area" in where:
        query = query.where(h.c.admin_pcode.startswith(where["admin_area"]))
    if "organisation" in where:
        o = schema.organisation
        query = query.where(
            h.c.organisation_id == select(o.c.id).where(o.c.code == where["organisation"]).scalar_subquery()
        )
    with engine.connect() as conn:
        n = conn.execute(query).scalar_one()
    engine.dispose()
    return n


def _matched(page, expected: int) -> int:
    page.wait_for_function(f"document.getElementById('map').dataset.matched === '{expected}'")
    map_idle(page)
    return page.evaluate("window.demineMap.renderedHazardCount()")


def test_login_page_says_when_the_password_is_wrong(browser, server):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.url}/dashboard")
    assert "/login" in page.url  # pages need a session
    page.get_by_label("Username").fill("viewer")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    assert page.locator("#login-error").inner_text() == "Wrong username or password."
    context.close()


def test_map_renders_features_and_filters_change_them(open_as, server, screenshot, wait_for_map_idle):
    page = open_as("viewer")
    started = time.perf_counter()
    page.wait_for_function("document.getElementById('map').dataset.rendered > 0", timeout=60_000)
    wait_for_map_idle(page)
    print(f"map ready in {time.perf_counter() - started:.2f} s after login")
    total = _hazard_count(server.db)
    assert page.evaluate("window.demineMap.map.queryRenderedFeatures().length") > 0
    everything = _matched(page, total)
    assert everything > 0
    screenshot(page, "map-all")

    closed = _hazard_count(server.db, status="closed")
    page.get_by_label("Status").select_option("closed")
    shown_closed = _matched(page, closed)
    assert 0 < shown_closed < everything
    assert page.locator("#map-status").inner_text().startswith(f"{closed} hazards match")

    # The admin area is not in the tiles: the map filters by the ids the server matched.
    in_area = _hazard_count(server.db, status="closed", admin_area="DL01")
    page.get_by_label("Administrative area").select_option("DL01")
    shown_in_area = _matched(page, in_area)
    assert shown_in_area <= in_area
    assert shown_in_area < shown_closed
    screenshot(page, "map-closed-DL01")

    page.get_by_role("button", name="Clear filters").click()
    assert _matched(page, total) == everything

    by_hdt = _hazard_count(server.db, organisation="HDT")
    page.get_by_label("Organisation").select_option("HDT")
    assert 0 < _matched(page, by_hdt) < everything
    assert page.evaluate(
        """() => window.demineMap.map.queryRenderedFeatures({layers: ['hazards-fill', 'hazards-point']})
            .every((f) => f.properties.organisation_id === Number(
                document.querySelector('#f-organisation option[value=HDT]').dataset.id))"""
    )
    assert page.js_errors == []


def test_clicking_a_hazard_opens_a_popup_linking_its_record(open_as, screenshot, wait_for_map_idle):
    page = open_as("viewer")
    page.wait_for_function("document.getElementById('map').dataset.rendered > 0", timeout=60_000)
    wait_for_map_idle(page)
    # Zoom on the biggest rendered hazard polygon so a click in its middle surely hits it.
    target = page.evaluate(
        """() => {
            const map = window.demineMap.map;
            const f = map.queryRenderedFeatures({layers: ['hazards-fill']})
                .sort((a, b) => b.properties.area_m2 - a.properties.area_m2)[0];
            return {id: window.demineMap.recordId(f), code: f.properties.code};
        }"""
    )
    page.evaluate(
        """(id) => {
            const map = window.demineMap.map;
            const f = map.queryRenderedFeatures({layers: ['hazards-fill']})
                .find((x) => window.demineMap.recordId(x) === id);
            const g = f.geometry;
            const ring = g.type === 'Polygon' ? g.coordinates[0] : g.coordinates[0][0];
            const xs = ring.map((p) => p[0]), ys = ring.map((p) => p[1]);
            map.fitBounds([[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]],
                          {padding: 200, animate: false});
        }""",
        target["id"],
    )
    wait_for_map_idle(page)
    point = page.evaluate(
        """(id) => {
            const map = window.demineMap.map;
            const canvas = map.getCanvas().getBoundingClientRect();
            // scan a grid for a pixel where this hazard is the top feature
            const points = ['accidents', 'finds', 'hazards-point'];
            for (let y = 40; y < canvas.height - 40; y += 12)
              for (let x = 40; x < canvas.width - 40; x += 12) {
                const hit = map.queryRenderedFeatures([x, y], {layers: ['hazards-fill']});
                const near = map.queryRenderedFeatures([[x - 4, y - 4], [x + 4, y + 4]], {layers: points});
                if (hit.length && window.demineMap.recordId(hit[0]) === id && !near.length)
                    return {x: canvas.left + x, y: canvas.top + y};
            }
            return null;
        }""",
        target["id"],
    )
    assert point is not None
    page.mouse.click(point["x"], point["y"])
    popup = page.locator(".maplibregl-popup-content")
    popup.wait_for()
    link = popup.get_by_role("link", name="Open the record and its history")
    assert link.get_attribute("href") == f"/records/hazards/{target['id']}"
    screenshot(page, "map-popup")
    link.click()
    page.wait_for_url(f"**/records/hazards/{target['id']}")
    assert page.locator("td[data-field='code']").inner_text() == target["code"]
