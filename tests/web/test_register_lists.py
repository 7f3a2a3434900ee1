"""The register's lists and record pages over real HTTP, checked against the database itself.

A list page, its CSV/XLSX/GeoJSON download and a direct query of the store must select the
same rows in the same order; a missing record is an HTML page; personal data stays with the
roles allowed it. Two browser tests look at the pages as a person does and save the
screenshots the documentation shows.
"""

from __future__ import annotations

import csv
import io
import json
import re
from contextlib import closing

import openpyxl
import pytest
from sqlalchemy import func, select

from demine.storage import schema as S
from demine.web.register import PAGE_SIZE
from doc_screenshots import keep_screenshot

from .conftest import api_client

CELL = re.compile(r'<td data-col="(?P<col>[a-z_]+)"[^>]*>(?:<a href="(?P<href>[^"]*)">)?(?P<text>[^<]*)')


@pytest.fixture(scope="module")
def viewer(server):
    with closing(api_client(server, "viewer")) as client:
        yield client


def _column(html: str, col: str) -> list[str]:
    return [m["text"] for m in CELL.finditer(html) if m["col"] == col]


def _total(html: str) -> int:
    return int(re.search(r'id="register-count" role="status" data-total="(\d+)"', html)[1])


def _hazards(db, *where, order=None) -> list[str]:
    h = S.hazard
    query = select(h.c.code).where(*where)
    with db.connect() as conn:
        return list(conn.execute(query.order_by(*(order or [h.c.code]))).scalars())


def _org(code: str):
    return select(S.organisation.c.id).where(S.organisation.c.code == code).scalar_subquery()


def test_hazard_list_filters_sorts_and_pages_like_the_database(viewer, db):
    h = S.hazard
    expected = _hazards(
        db, h.c.status == "open", order=[h.c.remaining_area_m2.desc(), h.c.id]
    )  # the demo has more than a page of open hazards
    assert len(expected) > PAGE_SIZE
    first = viewer.get("/register/hazards", params={"status": "open", "sort": "-remaining_area_m2"})
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/html")
    assert _total(first.text) == len(expected)
    assert _column(first.text, "code") == expected[:PAGE_SIZE]
    second = viewer.get(
        "/register/hazards", params={"status": "open", "sort": "-remaining_area_m2", "page": 2}
    )
    assert _column(second.text, "code") == expected[PAGE_SIZE : 2 * PAGE_SIZE]
    mangled = viewer.get(
        "/register/hazards", params={"status": "open", "sort": "-remaining_area_m2", "page": "x"}
    )
    assert _column(mangled.text, "code") == expected[:PAGE_SIZE]
    # Past the end: the last page, not an empty one.
    past = viewer.get(
        "/register/hazards", params={"status": "open", "sort": "-remaining_area_m2", "page": 99}
    )
    assert _column(past.text, "code") == expected[PAGE_SIZE * ((len(expected) - 1) // PAGE_SIZE) :]

    # Every filter at once: type, organisation, admin area (a P-code prefix) and priority.
    params = {"type": "SHA", "org": "HDT", "admin": "DL01", "priority": "low", "sort": "reported_on"}
    combined = _hazards(
        db,
        h.c.hazard_type == "SHA",
        h.c.organisation_id == _org("HDT"),
        h.c.admin_pcode.startswith("DL01"),
        h.c.priority == "low",
        order=[h.c.reported_on, h.c.id],
    )
    assert combined
    page = viewer.get("/register/hazards", params=params)
    assert _column(page.text, "code") == combined[:PAGE_SIZE]
    # Labels, not codes, and areas in m².
    assert set(_column(page.text, "hazard_type")) == {"Suspected hazardous area"}
    assert all(text.endswith(" m²") for text in _column(page.text, "area_m2"))


def test_search_by_code_or_name_ignores_case(viewer, db):
    h = S.hazard
    expected = _hazards(db, func.lower(h.c.name).contains("hazard 1") | h.c.code.contains("hazard 1"))
    page = viewer.get("/register/hazards", params={"q": "HAZARD 1"})
    assert _total(page.text) == len(expected) > 1
    assert _column(page.text, "code") == expected[:PAGE_SIZE]
    one = viewer.get("/register/hazards", params={"q": "ha-000007"})
    assert _column(one.text, "code") == ["HA-000007"]
    # A wildcard is text: nothing is named with a percent sign.
    assert _total(viewer.get("/register/hazards", params={"q": "%"}).text) == 0


def test_downloads_hold_every_row_of_the_current_filter(viewer, db):
    h = S.hazard
    expected = set(_hazards(db, h.c.status == "open", h.c.admin_pcode.startswith("DL01")))
    assert len(expected) > PAGE_SIZE  # more than one page: the download is not the page
    params = {"status": "open", "admin": "DL01", "page": 2}
    got = viewer.get("/register/hazards.csv", params=params)
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert {r["code"] for r in rows} == expected and len(rows) == len(expected)
    assert {r["status_label"] for r in rows} == {"Open"}

    book = openpyxl.load_workbook(io.BytesIO(viewer.get("/register/hazards.xlsx", params=params).content))
    sheet = list(book.active.iter_rows(values_only=True))
    assert {row[sheet[0].index("code")] for row in sheet[1:]} == expected

    geo = viewer.get("/register/hazards.geojson", params=params)
    assert geo.headers["content-type"].startswith("application/geo+json")
    features = json.loads(geo.text)["features"]
    assert {f["properties"]["code"] for f in features} == expected
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in features)


def test_every_kind_lists_and_downloads_the_same_rows(server, viewer, db):
    a, p, f, acc = S.activity, S.release_product, S.eo_find, S.accident
    hazard_admin = select(S.hazard.c.id).where(S.hazard.c.admin_pcode.startswith("DL01"))
    with db.connect() as conn:
        releases = conn.execute(
            select(func.count()).where(p.c.method == "cleared", p.c.hazard_id.in_(hazard_admin))
        ).scalar_one()
        finds = conn.execute(select(func.count()).where(f.c.category == "apm")).scalar_one()
        accidents = conn.execute(select(func.count()).select_from(acc)).scalar_one()
        hdt_activities = list(
            conn.execute(
                select(a.c.code)
                .where(a.c.organisation_id == _org("HDT"))
                .order_by(a.c.start_date.is_(None), a.c.start_date.desc(), a.c.id)
            ).scalars()
        )
        all_activities = conn.execute(select(func.count()).select_from(a)).scalar_one()
        other_activity = conn.execute(
            select(a.c.id).where(a.c.organisation_id != _org("HDT")).order_by(a.c.id).limit(1)
        ).scalar_one()
    cases = [
        ("release_products", {"type": "cleared", "admin": "DL01"}, releases),
        ("finds", {"type": "apm"}, finds),
        ("accidents", {}, accidents),
        ("activities", {}, all_activities),
    ]
    for kind, params, count in cases:
        page = viewer.get(f"/register/{kind}", params=params)
        assert page.status_code == 200, kind
        assert _total(page.text) == count, kind
        rows = list(csv.DictReader(io.StringIO(viewer.get(f"/register/{kind}.csv", params=params).text)))
        assert len(rows) == count, kind

    # An operator sees only their organisation's activities, on the page and in the download.
    with closing(api_client(server, "operator")) as operator:
        page = operator.get("/register/activities")
        assert _total(page.text) == len(hdt_activities) < all_activities
        assert _column(page.text, "code") == hdt_activities[:PAGE_SIZE]
        rows = list(csv.DictReader(io.StringIO(operator.get("/register/activities.csv").text)))
        assert {r["organisation"] for r in rows} == {"HDT"} and len(rows) == len(hdt_activities)
        # Another organisation's activity looks absent, as in the API: an HTML 404.
        hidden = operator.get(f"/records/activities/{other_activity}")
        assert hidden.status_code == 404 and hidden.headers["content-type"].startswith("text/html")


def test_accident_descriptions_only_reach_roles_allowed_personal_data(server, viewer):
    header = next(csv.reader(io.StringIO(viewer.get("/register/accidents.csv").text)))
    assert "description" not in header and "killed" in header
    with closing(api_client(server, "im")) as im:
        header = next(csv.reader(io.StringIO(im.get("/register/accidents.csv").text)))
    assert "description" in header


def test_a_missing_record_or_list_is_an_html_404(viewer):
    for path in (
        "/records/hazards/987654",
        "/records/hazards/0",
        "/records/hazards/not-a-number",
        "/records/no_such_kind/1",
        "/register/no_such_kind",
        "/register/hazards.pdf",
    ):
        page = viewer.get(path)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html"), path
        assert "<h1>Not found" in page.text and 'href="/register/hazards"' in page.text, path
    api = viewer.get("/api/hazards/987654")  # the API keeps its JSON answer
    assert api.status_code == 404 and api.json()["detail"] == "no hazards 987654"
    # The victims' records are not for a viewer: an HTML page saying so, not JSON.
    refused = viewer.get("/records/victims/1")
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")


def test_a_hazard_page_shows_labels_areas_a_map_and_its_linked_records(viewer, db):
    h, p, a = S.hazard, S.release_product, S.activity
    with db.connect() as conn:
        hazard_id = conn.execute(
            select(p.c.hazard_id)
            .group_by(p.c.hazard_id)
            .order_by(func.count().desc(), p.c.hazard_id)
            .limit(1)
        ).scalar_one()
        hazard = conn.execute(select(h).where(h.c.id == hazard_id)).one()
        releases = set(conn.execute(select(p.c.id).where(p.c.hazard_id == hazard_id)).scalars())
        activities = set(conn.execute(select(a.c.code).where(a.c.hazard_id == hazard_id)).scalars())
    page = viewer.get(f"/records/hazards/{hazard_id}")
    assert page.status_code == 200
    html = page.text
    assert f'<h1>Hazardous area <span class="record-code">{hazard.code}</span>' in html
    assert re.search(
        r'data-field="hazard_type">(Suspected|Confirmed) hazardous area <span class="code">', html
    )
    ha = f"{hazard.area_m2:,.0f} m² ({hazard.area_m2 / 10_000:,.2f} ha)"
    assert f'data-field="area_m2">{ha}</td>' in html
    reported = hazard.reported_on
    assert f'data-field="reported_on">{reported.day} {reported:%b %Y}</td>' in html
    assert '<svg class="minimap"' in html and "<path d=" in html
    linked = set(map(int, re.findall(r'href="/records/release_products/(\d+)"', html)))
    assert linked == releases
    assert set(re.findall(r'href="/records/activities/\d+">(ACT-\d+)</a>', html)) == activities


def test_browse_the_hazard_list_filtered_sorted_and_paged(open_as, server, db):
    page = open_as("viewer")
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.get_by_role("link", name="Register").click()
    page.wait_for_url("**/register/hazards")
    page.get_by_label("Status").select_option("open")
    page.get_by_label("Admin area").select_option("DL01")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**status=open**")
    h = S.hazard
    expected = _hazards(db, h.c.status == "open", h.c.admin_pcode.startswith("DL01"))
    count = page.locator("#register-count")
    assert count.inner_text().startswith(f"1–{PAGE_SIZE} of {len(expected)} hazardous areas matching")
    page.locator("th a[data-sort='remaining_area_m2']").click()  # ascending, then descending
    page.locator("th a[data-sort='remaining_area_m2']").click()
    page.wait_for_url("**sort=-remaining_area_m2**")
    assert page.locator("th[aria-sort='descending']").inner_text().startswith("Remaining")
    by_remaining = _hazards(
        db,
        h.c.status == "open",
        h.c.admin_pcode.startswith("DL01"),
        order=[h.c.remaining_area_m2.desc(), h.c.id],
    )
    codes = page.locator("td[data-col='code']").all_inner_texts()
    assert codes == by_remaining[:PAGE_SIZE]
    keep_screenshot(page, "register-hazards")
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url("**page=2**")
    assert page.locator("td[data-col='code']").all_inner_texts() == by_remaining[PAGE_SIZE : 2 * PAGE_SIZE]
    assert page.get_by_label("Status").input_value() == "open"  # the filter stays on the next page
    page.locator("td[data-col='code'] a").first.click()
    page.wait_for_url("**/records/hazards/*")
    assert page.locator("td[data-field='code']").inner_text() == by_remaining[PAGE_SIZE]
    assert page.js_errors == [] and console == []


def test_a_hazard_record_page_with_its_map_and_history(open_as, server, db):
    h, p, f = S.hazard, S.release_product, S.eo_find
    with db.connect() as conn:
        # An open hazard partly released, with finds: the map has something of everything.
        hazard_id, code, version = conn.execute(
            select(h.c.id, h.c.code, h.c.version)
            .where(
                h.c.status == "open",
                h.c.remaining_area_m2 > 0,
                h.c.id.in_(select(p.c.hazard_id)),
                h.c.id.in_(select(f.c.hazard_id)),
            )
            .order_by(h.c.id)
            .limit(1)
        ).one()
    im = open_as("im")
    console: list[str] = []
    im.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    csrf = im.locator("meta[name='csrf-token']").get_attribute("content")
    changed = im.request.patch(
        f"{server.url}/api/hazards/{hazard_id}",
        data={"priority": "high"},
        headers={"If-Match": f'"{version}"', "X-CSRF-Token": csrf},
    )
    assert changed.status == 200, changed.text()
    im.goto(f"{server.url}/records/hazards/{hazard_id}")
    assert im.locator("h1").inner_text().startswith(f"Hazardous area {code}")
    minimap = im.locator("svg.minimap")
    assert minimap.is_visible()
    box = minimap.bounding_box()
    assert box is not None and box["width"] > 300
    assert minimap.locator("path").count() >= 3  # the recorded polygon, what remains, a release
    assert minimap.locator("circle").count() >= 1  # a find
    latest = im.locator("#history > li").first.inner_text()
    assert latest.startswith("update by im") and "Priority" in latest and "High" in latest
    assert im.locator("#linked-release_products li").count() >= 1
    keep_screenshot(im, "register-hazard-record", full_page=True)
    assert im.js_errors == [] and console == []
