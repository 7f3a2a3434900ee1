"""The dashboard's filters and drill-down over real HTTP and in a real browser.

Every figure links to the register list it counts: the list must show the same number of
records, and its CSV download must sum to the same area (or items, or victims), under each
filter (period, region, organisation, and all three at once) and for a role whose reading is
scoped to its organisation. The filtered figures are checked against the database itself, and
the page names things by their labels. The browser test sets a filter in the form, follows a
figure to its list, and saves the screenshots the documentation shows.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
import subprocess
import sys
from contextlib import closing
from datetime import date
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from demine.storage import schema as S
from doc_screenshots import keep_screenshot

from .conftest import api_client

DRILL = re.compile(r'<a class="drill" href="(?P<href>[^"]*)" data-count="(?P<count>\d+)"(?P<rest>[^>]*)>')
KEY = re.compile(r'data-key="(?P<key>[^"]+)" data-value="(?P<value>[^"]*)"')
TOTAL = re.compile(r'id="register-count" role="status" data-total="(\d+)"')


@pytest.fixture(scope="module")
def viewer(server):
    with closing(api_client(server, "viewer")) as client:
        yield client


@pytest.fixture(scope="module")
def operator(server):
    with closing(api_client(server, "operator")) as client:
        yield client


@pytest.fixture(scope="module")
def choice(db):
    """A year, a region and an organisation the demo has plenty of records for."""
    h, p, a, o, ar = S.hazard, S.release_product, S.activity, S.organisation, S.admin_area
    with db.connect() as conn:
        released = conn.execute(select(p.c.released_on)).scalars().all()
        years = sorted({d.year for d in released})
        # the busiest full year of releases
        year = max(years, key=lambda y: sum(1 for d in released if d.year == y))
        region = conn.execute(
            select(ar.c.pcode)
            .where(ar.c.level == 1)
            .order_by(
                select(func.count()).where(h.c.admin_pcode.startswith(ar.c.pcode)).scalar_subquery().desc(),
                ar.c.pcode,
            )
            .limit(1)
        ).scalar_one()
        org = conn.execute(
            select(o.c.code)
            .select_from(p.join(a, a.c.id == p.c.activity_id).join(o, o.c.id == a.c.organisation_id))
            .group_by(o.c.code)
            .order_by(func.count().desc(), o.c.code)
            .limit(1)
        ).scalar_one()
    return {"year": year, "admin": region, "org": org}


def drills(page: str) -> list[dict]:
    """Every figure's link: its list, the count it claims, what its download must sum to."""
    out = []
    for m in DRILL.finditer(page):
        item = {"href": html.unescape(m["href"]), "count": int(m["count"])}
        rest = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', m["rest"]))
        if "sum" in rest:
            item |= {"sum": float(rest["sum"]), "col": rest["sum-col"]}
        out.append(item)
    return out


def figures(page: str) -> dict[str, float]:
    return {m["key"]: float(m["value"]) for m in KEY.finditer(page)}


def _list_total(client: httpx.Client, href: str) -> int:
    r = client.get(href)
    assert r.status_code == 200, (href, r.text[:300])
    return int(TOTAL.search(r.text)[1])


def _filters(choice: dict) -> list[dict]:
    return [
        {},
        {"year": choice["year"]},
        {"admin": choice["admin"]},
        {"org": choice["org"]},
        {"year": choice["year"], "admin": choice["admin"], "org": choice["org"]},
    ]


def test_every_figure_links_to_a_list_of_as_many_records(viewer, operator, choice):
    checked = 0
    for client, filters in [(viewer, f) for f in _filters(choice)] + [(operator, {"org": choice["org"]})]:
        page = client.get("/dashboard", params=filters)
        assert page.status_code == 200
        links = drills(page.text)
        kinds = {urlsplit(d["href"]).path for d in links}
        assert {"/register/hazards", "/register/release_products", "/register/finds"} <= kinds, filters
        by_href = {d["href"]: d["count"] for d in links}
        for href, count in by_href.items():
            query = parse_qs(urlsplit(href).query)
            # the dashboard's filter travels with every link
            if "admin" in filters:
                assert query["admin"] == [filters["admin"]], href
            if "org" in filters:
                assert query["org"] == [filters["org"]], href
            if "year" in filters:
                assert query["date_from"][0] >= f"{filters['year']}-01-01", href
                assert query["date_to"][0] <= f"{filters['year']}-12-31", href
            assert _list_total(client, href) == count, (filters, href)
            checked += 1
    print(f"{checked} figure links checked")
    assert checked > 80


def test_area_and_count_figures_equal_the_sums_of_their_lists_downloads(viewer, choice):
    everything = {"year": choice["year"], "admin": choice["admin"], "org": choice["org"]}
    for filters in ({}, everything):
        links = [d for d in drills(viewer.get("/dashboard", params=filters).text) if "sum" in d]
        assert {d["col"] for d in links} >= {"area_m2", "remaining_area_m2", "released_area_m2", "quantity"}
        downloads: dict[str, list[dict]] = {}
        for d in links:
            url = urlsplit(d["href"])
            if d["href"] not in downloads:
                r = viewer.get(f"{url.path}.csv", params=parse_qs(url.query))
                assert r.status_code == 200
                downloads[d["href"]] = list(csv.DictReader(io.StringIO(r.text)))
            rows = downloads[d["href"]]
            assert len(rows) == d["count"], d
            total = sum(float(row[d["col"]] or 0) for row in rows)
            assert math.isclose(total, d["sum"], rel_tol=1e-9, abs_tol=1e-3), d


def test_figures_follow_the_filter_and_the_database(viewer, db, choice):
    year, region, org = choice["year"], choice["admin"], choice["org"]
    whole = figures(viewer.get("/dashboard").text)
    shown = figures(viewer.get("/dashboard", params={"year": year, "admin": region, "org": org}).text)
    h, p, a, o, f = S.hazard, S.release_product, S.activity, S.organisation, S.eo_find
    org_id = select(o.c.id).where(o.c.code == org).scalar_subquery()
    hazard_admin = select(h.c.admin_pcode).where(h.c.id == p.c.hazard_id).scalar_subquery()
    with db.connect() as conn:
        hazards = conn.execute(
            select(func.count(), func.sum(h.c.area_m2), func.sum(h.c.remaining_area_m2)).where(
                h.c.reported_on.between(date(int(year), 1, 1), date(int(year), 12, 31)),
                h.c.admin_pcode.startswith(region),
                h.c.organisation_id == org_id,
            )
        ).one()
        released = dict(
            conn.execute(
                select(p.c.method, func.sum(p.c.released_area_m2))
                .select_from(p.join(a, a.c.id == p.c.activity_id))
                .where(
                    p.c.released_on.between(date(int(year), 1, 1), date(int(year), 12, 31)),
                    hazard_admin.startswith(region),
                    a.c.organisation_id == org_id,
                )
                .group_by(p.c.method)
            ).all()
        )
        items = dict(
            conn.execute(
                select(f.c.category, func.sum(f.c.quantity))
                .select_from(f.join(a, a.c.id == f.c.activity_id))
                .where(
                    f.c.found_on.between(date(int(year), 1, 1), date(int(year), 12, 31)),
                    select(h.c.admin_pcode)
                    .where(h.c.id == f.c.hazard_id)
                    .scalar_subquery()
                    .startswith(region),
                    a.c.organisation_id == org_id,
                )
                .group_by(f.c.category)
            ).all()
        )
    assert shown["hazards.count"] == hazards[0] < whole["hazards.count"]
    assert math.isclose(shown["area.original_m2"], hazards[1] or 0.0, rel_tol=1e-9)
    assert math.isclose(shown["area.remaining_m2"], hazards[2] or 0.0, rel_tol=1e-9)
    assert sum(released.values()) > 0
    for method in ("cancelled", "reduced", "cleared"):
        assert math.isclose(shown[f"area.{method}_m2"], released.get(method) or 0.0, abs_tol=1e-6), method
    assert shown["area.released_m2"] < whole["area.released_m2"]
    assert {k: v for k, v in shown.items() if k.startswith("eo_found.")} == {
        f"eo_found.{k}": float(v) for k, v in items.items()
    }
    # A balance is only claimed where it can hold: the whole programme, or a region.
    assert "area.balance_m2" in whole and "area.balance_m2" not in shown
    regional = figures(viewer.get("/dashboard", params={"admin": region}).text)
    assert abs(regional["area.balance_m2"]) <= 0.001 * regional["area.original_m2"]


def test_the_unfiltered_dashboard_is_demine_summary(viewer, server):
    done = subprocess.run(
        [sys.executable, "-m", "demine", "summary", "--db", str(server.db), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(done.stdout)
    shown = figures(viewer.get("/dashboard").text)
    expected = {"hazards.count": summary["hazards"]["count"], "accidents": summary["accidents"]}
    expected |= {f"area.{k}": v for k, v in summary["area"].items() if k != "balanced"}
    expected |= {f"victims.{k}": v for k, v in summary["victims"].items()}
    expected |= {f"eo_found.{k}": v for k, v in summary["eo_found"].items()}
    for row in summary["teams"]:
        expected |= {
            f"teams.{row['team_type']}.{k}": row[k] for k in ("total", "valid", "expiring", "expired", "none")
        }
    assert set(shown) == set(expected)
    for key, value in expected.items():
        assert math.isclose(shown[key], value, rel_tol=1e-9, abs_tol=1e-6), key


def test_the_form_keeps_the_filter_and_names_things_by_their_labels(viewer, db, choice):
    region, org = choice["admin"], choice["org"]
    page = viewer.get("/dashboard", params={"year": choice["year"], "admin": region, "org": org}).text
    with db.connect() as conn:
        region_name = conn.execute(select(S.admin_area.c.name).where(S.admin_area.c.pcode == region)).scalar()
        org_name = conn.execute(select(S.organisation.c.name).where(S.organisation.c.code == org)).scalar()
    assert f'<option value="{choice["year"]}" selected>' in page
    assert f'<option value="{region}" selected>' in page and f'<option value="{org}" selected>' in page
    summary = re.search(r'<p id="filter-summary" role="status">(.*?)</p>', page, re.S)[1]
    assert f"1 Jan {choice['year']} – 31 Dec {choice['year']}" in summary
    assert f"{region_name} ({region})" in summary and f"{html.escape(org_name)} ({org})" in summary
    # labels, not codes, where people read them
    whole = viewer.get("/dashboard").text
    types = re.findall(r'<tr data-type="[^"]*" data-status="[^"]*"><td>([^<]*)</td><td>([^<]*)</td>', whole)
    assert types and all(t.endswith("hazardous area") for t, _ in types)
    assert {s for _, s in types} <= {
        "Open",
        "Suspended",
        "Closed (fully released)",
        "Handed over to the community",
    }
    assert "Cancelled by non-technical survey" in whole and "Reduced by technical survey" in whole
    eo = re.findall(r'<tr data-category="([^"]*)"><th scope="row">([^<]*)</th>', whole)
    assert eo and all(label != code for code, label in eo)
    orgs = re.findall(r'<tr data-org="([^"]*)"><th scope="row">([^<]*)</th>', whole)
    assert orgs and all(html.unescape(name) != code for code, name in orgs)


def test_a_wrong_filter_is_explained_not_shown_as_figures(viewer):
    r = viewer.get("/dashboard", params={"date_from": "2025-13-01", "org": "NO-SUCH-ORG"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    errors = re.search(
        r'<div class="notice error" id="filter-errors" role="alert">(.*?)</div>', r.text, re.S
    )[1]
    assert "From: &#39;2025-13-01&#39; is not a date written YYYY-MM-DD." in errors
    assert "Organisation: there is no organisation &#39;NO-SUCH-ORG&#39;." in errors
    assert 'class="drill"' not in r.text and "Traceback" not in r.text
    assert 'value="2025-13-01"' in r.text  # what was typed stays in the form to correct
    backwards = viewer.get("/dashboard", params={"date_from": "2025-06-01", "date_to": "2025-01-01"})
    assert (
        backwards.status_code == 400 and "ends (1 Jan 2025) before it starts (1 Jun 2025)" in backwards.text
    )
    listed = viewer.get("/register/release_products", params={"date_to": "yesterday"})
    assert (
        listed.status_code == 400
        and "To: &#39;yesterday&#39; is not a date written YYYY-MM-DD." in listed.text
    )


def test_set_a_filter_and_drill_down_in_the_browser(open_as, server, choice):
    page = open_as("im")
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url("**/dashboard")
    keep_screenshot(page, "dashboard", full_page=True)
    unfiltered = int(page.locator("[data-key='hazards.count'] a").get_attribute("data-count"))
    page.get_by_label("Year", exact=True).select_option(str(choice["year"]))
    page.get_by_label("Region", exact=True).select_option(choice["admin"])
    page.get_by_label("Organisation", exact=True).select_option(choice["org"])
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(f"**org={choice['org']}**")
    query = parse_qs(urlsplit(page.url).query)  # the address is the view to share
    assert query == {"year": [str(choice["year"])], "admin": [choice["admin"]], "org": [choice["org"]]}
    figure = page.locator("[data-key='area.released_m2'] a")
    released = int(figure.get_attribute("data-count"))
    hazards = int(page.locator("[data-key='hazards.count'] a").get_attribute("data-count"))
    assert 0 < hazards < unfiltered and released > 0
    keep_screenshot(page, "dashboard-filtered", full_page=True)
    figure.click()
    page.wait_for_url("**/register/release_products?**")
    assert int(page.locator("#register-count").get_attribute("data-total")) == released
    assert page.get_by_label("Organisation", exact=True).input_value() == choice["org"]
    assert page.get_by_label("Admin area").input_value() == choice["admin"]
    assert page.get_by_label("From (released on)").input_value() == f"{choice['year']}-01-01"
    page.go_back()
    page.locator("[data-key='hazards.count'] a").click()
    page.wait_for_url("**/register/hazards?**")
    assert int(page.locator("#register-count").get_attribute("data-total")) == hazards
    assert page.js_errors == [] and console == []
