"""REST records: filters, paging, GeoJSON, ETags, If-Match, locked fields, validated creation."""

from __future__ import annotations

from datetime import date

import pytest
import shapely
from sqlalchemy import func, select

from backend_support import index_count_query
from demine.storage import schema


def _count(server, query):
    engine = server.engine()
    with engine.connect() as conn:
        n = conn.execute(query).scalar_one()
    engine.dispose()
    return n


def test_hazard_list_is_a_paged_feature_collection(clients, server):
    viewer = clients["viewer"]
    first = viewer.get("/api/hazards", params={"limit": 40})
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("application/geo+json")
    page = first.json()
    total = _count(server, select(func.count()).select_from(schema.hazard))
    assert page["type"] == "FeatureCollection"
    assert page["numberMatched"] == total and page["numberReturned"] == 40
    seen = [f["id"] for f in page["features"]]
    while next_link := next((link["href"] for link in page["links"] if link["rel"] == "next"), None):
        page = viewer.get(next_link).json()
        seen += [f["id"] for f in page["features"]]
    assert len(seen) == len(set(seen)) == total
    feature = first.json()["features"][0]
    assert shapely.geometry.shape(feature["geometry"]).geom_type == "MultiPolygon"
    assert "entered_geometry" not in feature["properties"]


def test_bbox_filter_matches_the_rtree(clients, server):
    box = (31.9, 47.3, 32.1, 47.5)
    page = (
        clients["viewer"]
        .get("/api/hazards", params={"bbox": ",".join(map(str, box)), "limit": 10_000})
        .json()
    )
    dialect = "sqlite" if str(server.db).endswith(".gpkg") else "postgresql"
    expected = _count(server, index_count_query(dialect, "hazard", box))
    assert page["numberMatched"] == expected > 0
    for f in page["features"]:
        minx, miny, maxx, maxy = shapely.geometry.shape(f["geometry"]).bounds
        assert maxx >= box[0] and minx <= box[2] and maxy >= box[1] and miny <= box[3]


def test_filters_combine(clients, server):
    h = schema.hazard
    params = {"status": "open", "type": "CHA", "date_from": "2025-01-01", "date_to": "2025-12-31"}
    page = clients["viewer"].get("/api/hazards", params=params | {"limit": 10_000}).json()
    expected = _count(
        server,
        select(func.count()).where(
            h.c.status == "open",
            h.c.hazard_type == "CHA",
            h.c.reported_on.between(date(2025, 1, 1), date(2025, 12, 31)),
        ),
    )
    assert page["numberMatched"] == expected
    assert all(f["properties"]["status"] == "open" for f in page["features"])


def test_organisation_and_admin_area_filters(clients):
    page = clients["im"].get("/api/activities", params={"organisation": "HDT", "limit": 5}).json()
    orgs = {o["code"]: o["id"] for o in clients["im"].get("/api/organisations").json()["items"]}
    assert page["numberMatched"] > 0 and all(a["organisation_id"] == orgs["HDT"] for a in page["items"])
    hazards = clients["viewer"].get("/api/hazards", params={"admin_area": "DL01", "limit": 50}).json()
    assert hazards["numberMatched"] > 0
    assert all(f["properties"]["admin_pcode"].startswith("DL01") for f in hazards["features"])


def test_a_filter_that_does_not_apply_is_refused(clients):
    r = clients["viewer"].get("/api/code_lists", params={"bbox": "0,0,1,1"})
    assert r.status_code == 400 and "bbox" in r.json()["detail"]
    assert clients["viewer"].get("/api/hazards", params={"bbox": "1,2,3"}).status_code == 400


def test_get_returns_an_etag_and_changes_need_if_match(clients):
    im = clients["im"]
    team = im.get("/api/teams", params={"limit": 1}).json()["features"][0]
    r = im.get(f"/api/teams/{team['id']}")
    etag = r.headers["etag"]
    assert etag == f'"{r.json()["properties"]["version"]}"'
    assert im.patch(f"/api/teams/{team['id']}", json={"members": 7}).status_code == 428
    assert (
        im.patch(f"/api/teams/{team['id']}", json={"members": 7}, headers={"If-Match": "*"}).status_code
        == 428
    )
    ok = im.patch(f"/api/teams/{team['id']}", json={"members": 7}, headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.json()["properties"]["members"] == 7
    assert ok.headers["etag"] != etag
    stale = im.patch(f"/api/teams/{team['id']}", json={"members": 8}, headers={"If-Match": etag})
    assert stale.status_code == 409
    body = stale.json()
    assert body["current_version"] == ok.json()["properties"]["version"]
    assert body["current"]["members"] == 7
    assert stale.headers["etag"] == ok.headers["etag"]


def test_put_replaces_the_editable_fields(clients):
    im = clients["im"]
    org = im.get("/api/organisations").json()["items"][-1]
    etag = im.get(f"/api/organisations/{org['id']}").headers["etag"]
    body = {"name": "Renamed Org", "organisation_type": org["organisation_type"], "country": None}
    r = im.put(f"/api/organisations/{org['id']}", json=body, headers={"If-Match": etag})
    assert r.status_code == 200 and r.json()["name"] == "Renamed Org" and r.json()["country"] is None
    missing = im.put(
        f"/api/organisations/{org['id']}", json={"name": "x"}, headers={"If-Match": r.headers["etag"]}
    )
    assert missing.status_code == 422


def test_validation_problems_are_listed_field_by_field(clients):
    im = clients["im"]
    team = im.get("/api/teams", params={"limit": 1}).json()["features"][0]
    etag = im.get(f"/api/teams/{team['id']}").headers["etag"]
    r = im.patch(f"/api/teams/{team['id']}", json={"team_type": "submarine"}, headers={"If-Match": etag})
    assert r.status_code == 422
    assert r.json()["problems"][0]["field"] == "team_type"
    r = im.patch(f"/api/teams/{team['id']}", json={"members": 0}, headers={"If-Match": etag})
    assert r.status_code == 422  # the database's CHECK constraint, reported as a problem


def test_release_products_are_not_edited_in_place(clients):
    im = clients["im"]
    product = im.get("/api/release_products", params={"limit": 1}).json()["features"][0]
    etag = im.get(f"/api/release_products/{product['id']}").headers["etag"]
    moved = im.patch(
        f"/api/release_products/{product['id']}", json={"method": "cleared"}, headers={"If-Match": etag}
    )
    # method is not even an editable field of the body model
    assert moved.status_code == 422
    r = im.patch(
        f"/api/release_products/{product['id']}", json={"note": "checked in QA"}, headers={"If-Match": etag}
    )
    assert r.status_code == 200 and r.json()["properties"]["note"] == "checked in QA"
    gone = im.delete(f"/api/release_products/{product['id']}", headers={"If-Match": r.headers["etag"]})
    assert gone.status_code == 409 and "never deleted" in gone.json()["detail"]


def test_hazard_accounting_fields_are_locked_but_status_rules_apply(clients):
    im = clients["im"]
    closed = im.get("/api/hazards", params={"status": "closed", "limit": 1}).json()["features"][0]
    etag = im.get(f"/api/hazards/{closed['id']}").headers["etag"]
    reopen = im.patch(f"/api/hazards/{closed['id']}", json={"status": "open"}, headers={"If-Match": etag})
    assert reopen.status_code == 422 and "cannot be reopened" in reopen.json()["detail"]
    hazard = im.get("/api/hazards", params={"status": "open", "limit": 1}).json()["features"][0]
    etag = im.get(f"/api/hazards/{hazard['id']}").headers["etag"]
    close = im.patch(f"/api/hazards/{hazard['id']}", json={"status": "closed"}, headers={"If-Match": etag})
    assert close.status_code == 422
    ok = im.patch(
        f"/api/hazards/{hazard['id']}",
        json={"status": "suspended", "priority": "high"},
        headers={"If-Match": etag},
    )
    assert ok.status_code == 200 and ok.json()["properties"]["status"] == "suspended"


POLYGON = {
    "type": "Polygon",
    "coordinates": [[[31.70, 47.70], [31.702, 47.70], [31.702, 47.702], [31.70, 47.702], [31.70, 47.70]]],
}


def test_creation_goes_through_the_register_and_the_accounting(clients):
    im = clients["im"]
    bad = im.post(
        "/api/hazards",
        json={"code": "API-H1", "hazard_type": "XXX", "reported_on": "2099-01-01", "geometry": POLYGON},
    )
    assert bad.status_code == 422
    assert {p["field"] for p in bad.json()["problems"]} == {"hazard_type", "reported_on"}
    r = im.post(
        "/api/hazards",
        json={"code": "API-H1", "hazard_type": "CHA", "reported_on": "2026-01-05", "geometry": POLYGON},
    )
    assert r.status_code == 201, r.text
    hazard = r.json()
    assert r.headers["location"] == f"/api/hazards/{hazard['id']}"
    half = {
        "type": "Polygon",
        "coordinates": [[[31.70, 47.70], [31.701, 47.70], [31.701, 47.702], [31.70, 47.702], [31.70, 47.70]]],
    }
    product = im.post(
        "/api/release_products",
        json={"hazard": "API-H1", "method": "cancelled", "released_on": "2026-02-01", "geometry": half},
    )
    assert product.status_code == 201, product.text
    outcome = product.json()["release"]
    after = im.get(f"/api/hazards/{hazard['id']}").json()["properties"]
    assert after["remaining_area_m2"] == pytest.approx(
        hazard["properties"]["area_m2"] - outcome["released_area_m2"]
    )
    again = im.post(
        "/api/release_products",
        json={"hazard": "API-H1", "method": "cancelled", "released_on": "2026-02-02", "geometry": half},
    )
    assert again.status_code == 422 and "already released" in again.text


def test_delete_needs_if_match_and_no_dependants(clients):
    im = clients["im"]
    created = im.post(
        "/api/settlements", json={"name": "Tmp", "geometry": {"type": "Point", "coordinates": [31.8, 47.5]}}
    )
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    assert im.delete(f"/api/settlements/{sid}").status_code == 428
    assert im.delete(f"/api/settlements/{sid}", headers={"If-Match": '"99"'}).status_code == 409
    assert (
        im.delete(f"/api/settlements/{sid}", headers={"If-Match": created.headers["etag"]}).status_code == 204
    )
    assert im.get(f"/api/settlements/{sid}").status_code == 404
    accident = im.get("/api/victims", params={"limit": 1}).json()["items"][0]["accident_id"]
    etag = im.get(f"/api/accidents/{accident}").headers["etag"]
    refused = im.delete(f"/api/accidents/{accident}", headers={"If-Match": etag})
    assert refused.status_code == 409 and "victim" in refused.json()["detail"]


def test_summary_endpoint(clients):
    data = clients["viewer"].get("/api/summary").json()
    assert data["area"]["balanced"] is True and data["hazards"]["count"] > 0


def test_openapi_and_health_are_public(clients):
    anon = clients[None]
    assert anon.get("/health").json()["status"] == "ok"
    spec = anon.get("/openapi.json").json()
    assert "/api/hazards/{record_id}/restore/{audit_id}" in spec["paths"]
    assert "/ogc/collections/{collection_id}/items" in spec["paths"]
