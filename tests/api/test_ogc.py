"""OGC API – Features: the endpoints by hand, then GDAL's OAPIF driver against the live server."""

from __future__ import annotations

import re
import subprocess

import pytest
from sqlalchemy import func, select

from demine.api.features import COLLECTIONS
from demine.storage import schema


def _db_count(server, collection_id):
    c = COLLECTIONS[collection_id]
    query = select(func.count()).select_from(c.table)
    if c.where is not None:
        query = query.where(c.where())
    engine = server.engine()
    with engine.connect() as conn:
        n = conn.execute(query).scalar_one()
    engine.dispose()
    return n


def test_landing_and_conformance_are_public_collections_are_not(clients):
    anon = clients[None]
    landing = anon.get("/ogc/").json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    conf = anon.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf
    assert anon.get("/ogc/collections").status_code == 401
    assert anon.get("/ogc/collections/hazards/items").status_code == 401


def test_collections_items_paging_and_filters(clients, server):
    viewer = clients["viewer"]
    ids = [c["id"] for c in viewer.get("/ogc/collections").json()["collections"]]
    assert ids == ["hazards", "remaining", "release_products", "finds", "accidents"]
    page = viewer.get("/ogc/collections/finds/items", params={"limit": 7})
    assert page.headers["content-type"].startswith("application/geo+json")
    body = page.json()
    assert body["numberMatched"] == _db_count(server, "finds") and body["numberReturned"] == 7
    assert any(link["rel"] == "next" for link in body["links"])
    fid = body["features"][0]["id"]
    one = viewer.get(f"/ogc/collections/finds/items/{fid}").json()
    assert one["id"] == fid and one["geometry"]["type"] == "Point"
    assert viewer.get("/ogc/collections/finds/items/999999").status_code == 404
    assert viewer.get("/ogc/collections/victims/items").status_code == 404
    dated = viewer.get(
        "/ogc/collections/hazards/items", params={"datetime": "2025-01-01/2025-06-30", "limit": 1000}
    )
    days = [f["properties"]["reported_on"] for f in dated.json()["features"]]
    assert days and all("2025-01-01" <= d <= "2025-06-30" for d in days)
    assert (
        viewer.get("/ogc/collections/remaining/items", params={"datetime": "2025-01-01"}).status_code == 400
    )
    assert viewer.get("/ogc/collections/hazards/items", params={"datetime": "yesterday"}).status_code == 400


def test_no_personal_data_in_any_collection(clients):
    for cid in COLLECTIONS:
        props = clients["viewer"].get(f"/ogc/collections/{cid}/items", params={"limit": 5}).json()["features"]
        for f in props:
            assert not {"full_name", "identification", "birth_date", "description", "note"} & set(
                f["properties"]
            )


@pytest.mark.parametrize("collection_id", list(COLLECTIONS))
def test_gdal_oapif_reads_the_same_feature_counts(ogrinfo, server, collection_id):
    header = f"Authorization: Bearer {server.tokens['viewer']}"
    cmd = [
        ogrinfo,
        "-ro",
        "-so",
        "--config",
        "GDAL_HTTP_HEADERS",
        header,
        f"OAPIF:{server.url}/ogc",
        collection_id,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    count = int(re.search(r"Feature Count: (\d+)", out.stdout).group(1))
    assert count == _db_count(server, collection_id)


def test_gdal_oapif_pages_through_every_feature(ogrinfo, server):
    # Without -so GDAL fetches the features themselves, following the next links.
    header = f"Authorization: Bearer {server.tokens['viewer']}"
    cmd = [
        ogrinfo, "-ro", "-al", "-q", "--config", "GDAL_HTTP_HEADERS", header,
        "-oo", "PAGE_SIZE=50", f"OAPIF:{server.url}/ogc", "finds",
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert len(re.findall(r"^OGRFeature\(finds\):", out.stdout, re.MULTILINE)) == _db_count(server, "finds")


def test_gdal_without_a_token_is_refused(ogrinfo, server):
    out = subprocess.run(
        [ogrinfo, "-ro", "-so", f"OAPIF:{server.url}/ogc", "hazards"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0


def test_schema_rows_exist(server):
    assert _db_count(server, "accidents") > 0 and _db_count(server, "release_products") > 0
    engine = server.engine()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.victim)).scalar_one() > 0
    engine.dispose()
