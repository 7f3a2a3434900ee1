"""The web interface on a phone (390 px wide, touch): no page scrolls sideways, the map comes
first with its filters and legend folded, a popup stays on the screen, and a form's point is
set from the device's GPS or by a tap on the form's map.

The phone is Chromium's mobile emulation (``is_mobile``: the page's viewport meta tag is obeyed,
so content wider than the screen widens the layout viewport, which is what these tests catch).
Screenshots of the phone layouts are kept in ``docs/screenshots/mobile-*.png``.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from demine.cli.programme import DEMO_PASSWORD
from demine.storage import schema
from demine.storage.database import open_database
from doc_screenshots import keep_screenshot

from .conftest import map_idle

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
WIDTH = PHONE["viewport"]["width"]
# Where the phone's GPS says it is in the geolocation tests: inside the demo's region.
HERE = {"longitude": 32.0123, "latitude": 47.5012, "accuracy": 8}


@pytest.fixture
def phone(browser, server):
    """``phone(username, **context options)``: a logged-in page on a 390 px touch screen."""
    contexts = []

    def login(username: str, **options):
        context = browser.new_context(**PHONE, **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors
        page.goto(f"{server.url}/login")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{server.url}/map")
        return page

    yield login
    for context in contexts:
        context.close()


def _first_hazard_id(db) -> int:
    engine = open_database(db)
    with engine.connect() as conn:
        found = conn.execute(select(schema.hazard.c.id).order_by(schema.hazard.c.id).limit(1)).scalar_one()
    engine.dispose()
    return found


def _a_waiting_submission(db) -> None:
    """An operator's report in the review queue, so that the queue's table is on the page."""
    from demine.accounts.users import get_user
    from demine.workflow import submissions as workflow

    engine = open_database(db)
    with engine.begin() as conn:
        workflow.submit(
            conn,
            get_user(conn, "operator"),
            "accident",
            {"code": "ACC-PHONE-1", "occurred_on": "2024-05-02", "accident_kind": "non_demining"},
        )
    engine.dispose()


def _widths(page) -> dict:
    """The layout viewport's width and the document's: equal to the screen's when nothing overflows."""
    return page.evaluate(
        """(width) => ({
            inner: window.innerWidth,
            scroll: document.documentElement.scrollWidth,
            wider: [...document.querySelectorAll('body *')]
                .filter((e) => e.getBoundingClientRect().right > width + 1)
                .slice(0, 5)
                .map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className),
        })""",
        WIDTH,
    )


def test_no_main_page_scrolls_sideways_on_a_phone(phone, server):
    page = phone("im")
    record = _first_hazard_id(server.db)
    _a_waiting_submission(server.db)
    pages = {
        "map": "/map",
        "dashboard": "/dashboard",
        "register": "/register/hazards",
        "record": f"/records/hazards/{record}",
        "submit": "/submit/hazard",
        "submit-point": "/submit/find",
        "review": "/review",
        "planner": "/planner",
        "teams": "/teams",
        "reports": "/reports",
    }
    overflowing = {}
    for name, path in pages.items():
        response = page.goto(server.url + path)
        assert response.status == 200, path
        if name == "map":
            page.wait_for_function("document.getElementById('map').dataset.rendered > 0", timeout=60_000)
            map_idle(page)
        elif name.startswith("submit"):
            page.wait_for_function("document.querySelector('[data-ready=\"true\"]') !== null", timeout=60_000)
        got = _widths(page)
        if got["inner"] != WIDTH or got["scroll"] > WIDTH:
            overflowing[path] = got
        if name in ("map", "dashboard", "register", "record", "submit-point", "review"):
            keep_screenshot(page, f"mobile-{name}")
    assert overflowing == {}
    # the menu folds behind its button, and opens on a tap
    menu = page.get_by_role("button", name="Menu")
    assert menu.get_attribute("aria-expanded") == "false"
    assert not page.get_by_role("navigation", name="Main").is_visible()
    menu.tap()
    assert menu.get_attribute("aria-expanded") == "true"
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Teams").tap()
    page.wait_for_url(f"{server.url}/teams")
    assert page.js_errors == []


def test_the_map_comes_first_and_its_popup_stays_on_the_screen(phone, server):
    page = phone("viewer")
    page.wait_for_function("document.getElementById('map').dataset.rendered > 0", timeout=60_000)
    map_idle(page)
    box = page.locator("#map").bounding_box()
    # the map starts within the first screen and fills most of what is left of it
    assert box["y"] < 250 and box["y"] + box["height"] <= 844 and box["height"] >= 0.55 * 844
    assert box["width"] >= WIDTH - 40
    # filters and legend are folded below the map, and unfold on a tap
    assert not page.get_by_label("Status").is_visible()
    assert page.locator("#map-panel, .map-panel").bounding_box()["y"] >= box["y"] + box["height"]
    page.get_by_text("Filters and layers").tap()
    assert page.get_by_label("Status").is_visible()
    page.get_by_text("Filters and layers").tap()
    assert not page.locator("#map-legend li").first.is_visible()
    page.evaluate("window.scrollTo(0, 0)")

    # The biggest hazard in view, zoomed on, then moved to the map's bottom right-hand corner
    # (above the attribution button), where a 320 px popup would stick out of a 390 px screen
    # unless the map makes room for it.
    page.evaluate(
        """() => {
            const map = window.demineMap.map;
            const f = map.queryRenderedFeatures({layers: ['hazards-fill']})
                .sort((a, b) => b.properties.area_m2 - a.properties.area_m2)[0];
            const g = f.geometry;
            const ring = g.type === 'Polygon' ? g.coordinates[0] : g.coordinates[0][0];
            const xs = ring.map((p) => p[0]), ys = ring.map((p) => p[1]);
            map.fitBounds([[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]],
                          {padding: 60, animate: false});
        }"""
    )
    map_idle(page)
    spot = page.evaluate(
        """() => {
            const map = window.demineMap.map, canvas = map.getCanvas();
            const w = canvas.clientWidth, h = canvas.clientHeight;
            const points = ['accidents', 'finds', 'hazards-point'];
            for (let y = 20; y < h - 20; y += 6)
              for (let x = 20; x < w - 20; x += 6) {
                const hit = map.queryRenderedFeatures([x, y], {layers: ['hazards-fill']});
                const near = map.queryRenderedFeatures([[x - 8, y - 8], [x + 8, y + 8]], {layers: points});
                if (hit.length && !near.length) {
                    map.panBy([x - (w - 24), y - (h - 70)], {animate: false});
                    return {x: w - 24, y: h - 70, code: hit[0].properties.code};
                }
              }
            return null;
        }"""
    )
    assert spot is not None
    map_idle(page)
    hit = page.evaluate(
        """([x, y]) => window.demineMap.map.queryRenderedFeatures([x, y], {layers: ['hazards-fill']})
            .map((f) => f.properties.code)""",
        [spot["x"], spot["y"]],
    )
    assert spot["code"] in hit
    canvas = page.locator("#map canvas").bounding_box()
    page.touchscreen.tap(canvas["x"] + spot["x"], canvas["y"] + spot["y"])
    popup = page.locator(".maplibregl-popup")
    popup.wait_for()
    assert spot["code"] in popup.inner_text()
    rect = popup.bounding_box()
    screen = page.evaluate("() => ({width: window.innerWidth, height: window.innerHeight})")
    assert screen["width"] == WIDTH
    assert rect["x"] >= 0 and rect["x"] + rect["width"] <= screen["width"], rect
    assert rect["y"] >= 0 and rect["y"] + rect["height"] <= screen["height"], rect
    assert popup.get_by_role("link", name="Open the record and its history").is_visible()
    keep_screenshot(page, "mobile-map-popup")
    assert page.js_errors == []


def test_a_find_takes_its_point_from_the_gps_or_a_tap_on_the_map(phone, server):
    page = phone("operator", geolocation=HERE, permissions=["geolocation"])
    page.goto(f"{server.url}/submit/find")
    page.wait_for_function("document.getElementById('point-map-location').dataset.ready === 'true'")
    longitude, latitude = page.get_by_label("Longitude"), page.get_by_label("Latitude")

    page.get_by_role("button", name="Use my location").tap()
    page.locator("#point-status-location").filter(has_text="from your location").wait_for()
    assert float(longitude.input_value()) == HERE["longitude"]
    assert float(latitude.input_value()) == HERE["latitude"]
    assert "±8 m" in page.locator("#point-status-location").inner_text()
    assert page.evaluate("window.deminePoint.location.marker.getLngLat().toArray()") == [
        HERE["longitude"],
        HERE["latitude"],
    ]

    # A tap on the form's map moves the point there.
    point_map = page.locator("#point-map-location")
    point_map.scroll_into_view_if_needed()
    box = point_map.bounding_box()
    x, y = box["width"] * 0.3, box["height"] * 0.6
    expected = page.evaluate(
        "([x, y]) => window.deminePoint.location.map.unproject([x, y]).toArray()", [x, y]
    )
    page.touchscreen.tap(box["x"] + x, box["y"] + y)
    page.locator("#point-status-location").filter(has_text="on the map").wait_for()
    lon, lat = float(longitude.input_value()), float(latitude.input_value())
    assert abs(lon - expected[0]) < 1e-5 and abs(lat - expected[1]) < 1e-5
    assert (lon, lat) != (HERE["longitude"], HERE["latitude"])

    # the tapped point is what the form sends for review
    page.locator("#f-category").select_option("uxo")
    page.get_by_role("button", name="Send for review").tap()
    page.locator("#submission-id").wait_for()
    submission = int(page.locator("#submission-id").inner_text())
    engine = open_database(server.db)
    with engine.connect() as conn:
        payload = conn.execute(
            select(schema.submission.c.payload).where(schema.submission.c.id == submission)
        ).scalar_one()
    engine.dispose()
    assert json.loads(payload)["location"] == [lon, lat]
    assert page.js_errors == []


def test_a_refused_location_says_so_and_leaves_the_point_empty(phone, server):
    page = phone("operator")  # geolocation not granted
    page.goto(f"{server.url}/submit/find")
    page.get_by_role("button", name="Use my location").tap()
    page.locator("#point-status-location").filter(has_text="No position").wait_for()
    assert "not allowed" in page.locator("#point-status-location").inner_text()
    assert page.get_by_label("Longitude").input_value() == ""
    assert page.get_by_label("Latitude").input_value() == ""


def test_a_polygon_is_drawn_by_taps_and_gps_corners(phone, server):
    page = phone("operator", geolocation=HERE, permissions=["geolocation"])
    page.goto(f"{server.url}/submit/hazard")
    page.wait_for_function("document.getElementById('draw-map').dataset.ready === 'true'")
    page.get_by_role("button", name="Start drawing").tap()
    page.get_by_role("button", name="Use my location").tap()  # first corner: where the phone is
    page.locator("#draw-status").filter(has_text="from your location").wait_for()
    draw_map = page.locator("#draw-map")
    draw_map.scroll_into_view_if_needed()
    box = draw_map.bounding_box()
    for fx, fy in ((0.7, 0.3), (0.7, 0.7), (0.3, 0.7)):
        page.touchscreen.tap(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    page.locator("#draw-status").filter(has_text="4 corner(s)").wait_for()
    page.get_by_role("button", name="Finish polygon").tap()
    geometry = json.loads(page.locator("#f-geometry").input_value())
    ring = geometry["coordinates"][0]
    assert geometry["type"] == "Polygon" and len(ring) == 5 and ring[0] == ring[-1]
    assert ring[0] == [HERE["longitude"], HERE["latitude"]]
    assert page.js_errors == []
