"""What every page owes a person: offline API docs, a favicon, HTML errors with a way back, the
demo banner, controls only for roles that can use them, and a base map that needs no network.

HTTP tests talk to a real ``demine serve`` (the web suite's server on the demo programme, and
one on an empty register for what a real programme shows); two browser tests block every
request that leaves the machine and look at the map and the API documentation.
"""

from __future__ import annotations

import html
import re
import threading
import time
from contextlib import closing
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from demine.accounts.users import add_user
from demine.api.app import create_app
from demine.api.context import Settings
from demine.cli.programme import DEMO_PASSWORD
from demine.domain import palette
from demine.storage.database import open_database
from demine.synthetic.marker import BANNER, is_synthetic_demo
from doc_screenshots import keep_screenshot
from serve_support import free_port, start_server, stop_server

ASSET = re.compile(r'(?:src|href)="([^"]+)"')


def _login(url: str, username: str, password: str = DEMO_PASSWORD) -> httpx.Client:
    """A browser-like client logged in through the login form (session cookie)."""
    client = httpx.Client(base_url=url, timeout=60)
    r = client.post("/login", data={"username": username, "password": password, "next": "/map"})
    assert r.status_code == 303 and "demine_session" in client.cookies, r.text
    return client


@pytest.fixture(scope="module")
def viewer(server):
    with closing(_login(server.url, "viewer")) as client:
        yield client


@pytest.fixture(scope="module")
def operator(server):
    with closing(_login(server.url, "operator")) as client:
        yield client


# ---------------------------------------------------------------------------------------------
# /docs, static assets, favicon


def test_the_api_documentation_loads_only_files_from_this_server(server):
    r = httpx.get(f"{server.url}/docs", timeout=30)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assets = ASSET.findall(r.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    # no CDN, no absolute address at all: the page works on a machine without internet
    assert all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    assert "cdn" not in r.text.lower() and "http://" not in r.text and "https://" not in r.text
    for asset in assets:
        got = httpx.get(f"{server.url}{asset}", timeout=30)
        assert got.status_code == 200, asset
        assert len(got.content) > 300, asset
    assert httpx.get(f"{server.url}/openapi.json", timeout=30).json()["info"]["title"] == "demine"
    # ReDoc is not shipped: its address leads to the one documentation page
    redoc = httpx.get(f"{server.url}/redoc", timeout=30)
    assert redoc.status_code == 301 and redoc.headers["location"] == "/docs"


def test_vendored_assets_are_served_with_their_types(server):
    for path, kind in [
        ("/static/vendor/natural-earth/countries-50m.json", "application/json"),
        ("/static/vendor/topojson-client/topojson-client.min.js", "javascript"),
        ("/static/vendor/swagger-ui/swagger-ui-bundle.js", "javascript"),
        ("/static/vendor/swagger-ui/swagger-ui.css", "text/css"),
    ]:
        r = httpx.get(f"{server.url}{path}", timeout=30)
        assert r.status_code == 200 and kind in r.headers["content-type"], (path, r.headers)
    world = httpx.get(f"{server.url}/static/vendor/natural-earth/countries-50m.json", timeout=30).json()
    assert world["type"] == "Topology" and set(world["objects"]) == {"countries", "land"}
    assert len(world["objects"]["countries"]["geometries"]) > 200  # every country, not a sample


def test_the_favicon_is_linked_and_answers_at_favicon_ico(server):
    page = httpx.get(f"{server.url}/login", timeout=30).text
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    r = httpx.get(f"{server.url}/favicon.ico", timeout=30, follow_redirects=True)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert r.text.startswith("<svg") and "</svg>" in r.text


# ---------------------------------------------------------------------------------------------
# errors: HTML pages for people, JSON for programs


def _is_error_page(r: httpx.Response, status: int, back: str) -> str:
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"].startswith("text/html"), r.headers
    assert "<!doctype html>" in r.text.lower()
    assert f'href="{back}"' in r.text, f"no link back to {back}"
    return html.unescape(re.search(r'<p id="error-message">(.*?)</p>', r.text, re.S)[1])


def test_page_errors_are_html_with_a_way_back_while_the_api_keeps_json(server, viewer):
    message = _is_error_page(viewer.get("/no-such-page"), 404, "/map")
    assert "/no-such-page" in message
    message = _is_error_page(viewer.get("/submit/no-such-form"), 404, "/map")
    assert "no form 'no-such-form'" in message
    # a viewer reads the register: the review queue and data entry are not for them
    message = _is_error_page(viewer.get("/review"), 403, "/map")
    assert "viewer does not see submissions" in message
    _is_error_page(viewer.get("/submit/hazard"), 403, "/map")
    # a value the page cannot use in the address
    message = _is_error_page(viewer.get("/submit/hazard?zoom=99"), 422, "/map")
    assert "zoom" in message
    _is_error_page(viewer.get("/logout"), 405, "/map")  # logging out is a form post

    # the same kinds of mistake through the API and the script helpers: JSON, as before
    for path, status in [
        ("/api/no-such-resource", 404),
        ("/api/hazards/999999999", 404),
        ("/api/submissions", 403),
        ("/api/hazards?limit=lots", 422),
        ("/web/map/hazards?status=" + "x" * 60, 422),
        ("/static/no-such-file.js", 404),
    ]:
        r = viewer.get(path)
        assert r.status_code == status, (path, r.text[:300])
        assert r.headers["content-type"].startswith("application/json"), path
        assert "detail" in r.json()


def test_a_page_without_a_session_leads_to_the_login_page(server):
    r = httpx.get(f"{server.url}/dashboard", timeout=30)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/dashboard"
    assert r.headers["content-type"].startswith("text/html")
    assert "href='/login?next=/dashboard'" in r.text  # for anything that does not follow redirects
    # logged out, an error page offers the login page as the way back
    _is_error_page(httpx.get(f"{server.url}/no-such-page", timeout=30), 404, "/login")
    # the API still answers 401 in JSON
    api = httpx.get(f"{server.url}/api/hazards", timeout=30)
    assert api.status_code == 401 and api.headers["content-type"].startswith("application/json")


def test_an_unexpected_server_error_is_a_page_for_people_and_json_for_programs(fresh_db):
    """A page that fails with an error nobody foresaw (added to the real app for the test)."""
    app = create_app(Settings(db=str(fresh_db)))

    @app.get("/a-failing-page")
    def failing_page():
        raise RuntimeError("a bug")

    @app.get("/api/a-failing-call")
    def failing_call():
        raise RuntimeError("a bug")

    port = free_port()
    served = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    try:
        for _ in range(600):  # bounded: at most a minute on a busy machine
            if served.started:
                break
            time.sleep(0.1)
        # one connection each: uvicorn closes a connection whose request raised
        page = httpx.get(f"http://127.0.0.1:{port}/a-failing-page", timeout=30)
        assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
        assert "Something went wrong" in page.text and 'href="/login"' in page.text
        assert "a bug" not in page.text  # no internals shown to the person
        call = httpx.get(f"http://127.0.0.1:{port}/api/a-failing-call", timeout=30)
        assert call.status_code == 500 and call.json() == {"detail": "Internal Server Error"}
    finally:
        served.should_exit = True
        thread.join(timeout=30)


# ---------------------------------------------------------------------------------------------
# the demo banner, and what each role is shown


def test_every_page_of_the_demo_says_it_is_synthetic(server, viewer):
    engine = open_database(server.db)
    with engine.connect() as conn:
        assert is_synthetic_demo(conn)
    engine.dispose()
    for r in (
        httpx.get(f"{server.url}/login", timeout=30),
        viewer.get("/map"),
        viewer.get("/dashboard"),
        viewer.get("/no-such-page"),
    ):
        assert f'<p class="demo-banner" id="demo-banner" role="note">{BANNER}</p>' in r.text, r.url


def test_a_real_register_shows_no_demo_banner(fresh_db):
    engine = open_database(fresh_db)
    with engine.begin() as conn:
        assert not is_synthetic_demo(conn)
        add_user(conn, "im", "im_officer", None, "a long enough password", actor="tests")
    engine.dispose()
    process, url = start_server(fresh_db)
    try:
        assert "demo-banner" not in httpx.get(f"{url}/login", timeout=30).text
        with closing(_login(url, "im", "a long enough password")) as im:
            for path in ("/map", "/dashboard", "/no-such-page"):
                r = im.get(path)
                assert r.status_code in (200, 404) and "<main" in r.text, path
                assert "demo-banner" not in r.text and "Synthetic" not in r.text, path
    finally:
        stop_server(process)


def test_the_map_offers_data_entry_only_to_roles_that_enter_records(viewer, operator):
    seen = viewer.get("/map").text
    assert 'id="new-hazard"' not in seen and 'href="/submit"' not in seen and 'href="/review"' not in seen
    offered = operator.get("/map").text
    assert 'id="new-hazard"' in offered and 'href="/submit"' in offered


def test_the_legend_beside_the_map_uses_the_shared_palette(viewer):
    html = viewer.get("/map").text
    legend = re.search(r'<aside class="legend map-legend".*?</aside>', html, re.S)[0]
    for colour in (*palette.HAZARD_STATUS.values(), *palette.RELEASE_METHOD.values()):
        assert f"background:{colour}" in legend
    # closed hazards and cleared land are told apart, and no two statuses or methods share a colour
    assert palette.HAZARD_STATUS["closed"] != palette.RELEASE_METHOD["cleared"]
    colours = [*palette.HAZARD_STATUS.values(), *palette.RELEASE_METHOD.values()]
    assert len(set(colours)) == len(colours)
    assert "Natural Earth" in legend


# ---------------------------------------------------------------------------------------------
# in the browser, with the network cut off


def _offline(page, server_url: str) -> list[str]:
    """Abort every request that would leave this machine; returns the list of those attempted."""
    local = urlsplit(server_url).netloc
    blocked: list[str] = []

    def route(r):
        if urlsplit(r.request.url).netloc == local or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.context.route("**/*", route)
    return blocked


def _console_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def _pixel(page, lon: float, lat: float) -> list[int]:
    """The map canvas's colour at a place (WebGL reads bottom-up, in device pixels)."""
    return page.evaluate(
        """([lon, lat]) => {
            const map = window.demineMap.map, canvas = map.getCanvas();
            const p = map.project([lon, lat]), r = canvas.width / canvas.clientWidth;
            const gl = canvas.getContext('webgl2') || canvas.getContext('webgl');
            const out = new Uint8Array(4);
            const x = Math.round(p.x * r), y = Math.round(canvas.height - p.y * r);
            gl.readPixels(x, y, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, out);
            return Array.from(out);
        }""",
        [lon, lat],
    )


def _rgb(colour: str) -> list[int]:
    return [int(c) for c in palette.rgb(colour).split(",")]


def _near(got: list[int], want: str, tolerance: int = 6) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(got[:3], _rgb(want), strict=True))


def test_the_map_draws_the_natural_earth_base_map_with_no_network(open_as, server, wait_for_map_idle):
    page = open_as("viewer", width=1400, height=900)
    blocked = _offline(page, server.url)
    errors = _console_errors(page)
    page.reload()
    page.wait_for_function("document.getElementById('map').dataset.ready === 'true'", timeout=60_000)
    page.wait_for_function("document.getElementById('map').dataset.naturalEarthLoaded === 'true'")
    # Demoland and the coast south of it; then far enough out for the country borders
    page.evaluate("window.demineMap.map.jumpTo({center: [31.75, 47.1], zoom: 8.1})")
    wait_for_map_idle(page)
    map_ = "window.demineMap.map"
    assert page.evaluate(f"{map_}.getLayer('basemap')") is None  # nothing configured
    assert page.evaluate(f"{map_}.queryRenderedFeatures({{layers: ['ne-coastline']}}).length") > 0
    # the Black Sea is water, the steppe east of Demoland is land, and the register is on top
    assert _near(_pixel(page, 31.3, 46.6), palette.BASE_MAP["water"]), _pixel(page, 31.3, 46.6)
    assert _near(_pixel(page, 32.6, 47.1), palette.BASE_MAP["land"]), _pixel(page, 32.6, 47.1)
    assert page.evaluate("window.demineMap.renderedHazardCount()") > 0
    assert page.locator("#map-legend").is_visible()
    box, legend = page.locator("#map").bounding_box(), page.locator("#map-legend").bounding_box()
    assert legend["x"] >= box["x"] + box["width"] and legend["y"] < box["y"] + box["height"]  # beside it
    keep_screenshot(page, "map-offline-basemap")
    page.evaluate("window.demineMap.map.jumpTo({center: [30.5, 46.8], zoom: 5.5})")
    wait_for_map_idle(page)
    assert page.evaluate(f"{map_}.queryRenderedFeatures({{layers: ['ne-borders']}}).length") > 0
    assert blocked == [] and errors == [] and page.js_errors == []


def test_the_api_documentation_renders_with_no_network(browser, server):
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    try:
        page = context.new_page()
        blocked = _offline(page, server.url)
        errors = _console_errors(page)
        page.goto(f"{server.url}/docs")
        page.locator(".swagger-ui .info .title").filter(has_text="demine").wait_for(timeout=60_000)
        page.locator(".opblock").first.wait_for()  # the operations, read from /openapi.json
        assert "Authentication" in page.locator(".opblock-tag").first.inner_text()  # the first section
        assert blocked == [] and errors == []
    finally:
        context.close()
