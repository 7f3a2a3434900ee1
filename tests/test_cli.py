"""The ``demine`` command end to end: real processes on a real GeoPackage file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyogrio.raw
import pytest
import shapely

import backend_support
from demine.storage.database import open_database

DEMINE = [sys.executable, "-m", "demine"]


def run(*args, db=None, check=True, stdin=None):
    cmd = [*DEMINE, *args] + (["--db", str(db)] if db else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, input=stdin, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def demo(tmp_path_factory, store):
    db = backend_support.new(tmp_path_factory.mktemp("cli") / "demo.gpkg")
    proc = run("demo", "--hazards", "120", "--seed", "3", "--as-of", "2026-06-30", "--json", db=db)
    return db, json.loads(proc.stdout)


def test_demo_counts_and_summary_add_up(demo):
    db, counts = demo
    assert counts["hazards"] == 120 and counts["release_products"] > 0 and counts["progress_reports"] > 0
    summary = json.loads(run("summary", "--json", db=db).stdout)
    area = summary["area"]
    assert summary["hazards"]["count"] == 120
    assert sum(r["count"] for r in summary["hazards"]["by_type_status"]) == 120
    total = area["cancelled_m2"] + area["reduced_m2"] + area["cleared_m2"] + area["remaining_m2"]
    assert total == pytest.approx(area["original_m2"], rel=1e-3)
    assert area["balanced"] is True
    assert sum(t["total"] for t in summary["teams"]) == counts["teams"]
    for t in summary["teams"]:
        assert t["total"] == t["valid"] + t["expiring"] + t["expired"] + t["none"]
    human = run("summary", db=db).stdout
    assert "Land release balance" in human and "balanced" in human


def test_demo_is_deterministic(tmp_path, store):
    outs = []
    for name in ("a.gpkg", "b.gpkg"):
        db = backend_support.new(tmp_path / name)
        run("demo", "--hazards", "40", "--seed", "11", "--as-of", "2026-01-31", db=db)
        outs.append(run("summary", "--json", db=db).stdout)
    a, b = (json.loads(o) for o in outs)
    a.pop("as_of"), b.pop("as_of")
    assert a == b


def test_demo_refuses_to_overwrite(demo, tmp_path):
    db, _ = demo
    for extra in ([], ["--replace"]) if str(db).startswith("postgresql") else ([],):
        proc = run("demo", "--hazards", "5", *extra, db=db, check=False)
        assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr
        # a file can be replaced (--replace deletes it); a server database is never emptied
        assert ("already holds records" if str(db).startswith("postgresql") else "--replace") in proc.stderr
    assert json.loads(run("summary", "--json", db=db).stdout)["hazards"]["count"] == 120


def test_hazards_list_refuses_unknown_values_and_says_how_many_it_shows(demo):
    db, _ = demo
    bogus = run("hazards", "list", "--status", "bogus", db=db, check=False)
    assert bogus.returncode == 3 and bogus.stdout == ""
    assert (
        "'bogus' is neither a code nor a label" in bogus.stderr and "open, suspended, closed" in bogus.stderr
    )
    assert "Traceback" not in bogus.stderr
    exact = json.loads(run("hazards", "list", "--type", "CHA", "--json", "--limit", "500", db=db).stdout)
    loose = json.loads(run("hazards", "list", "--type", "cha", "--json", "--limit", "500", db=db).stdout)
    assert exact and loose == exact and {r["hazard_type"] for r in loose} == {"CHA"}
    table = run("hazards", "list", "--limit", "5", "--offset", "10", db=db).stdout
    assert "11–15 of 120" in table and "--offset and --limit page through the rest" in table


def test_hazards_show_prints_beneficiaries_and_history_readably(demo):
    db, _ = demo
    rows = json.loads(run("hazards", "list", "--json", "--limit", "500", db=db).stdout)
    shown = [run("hazards", "show", r["code"], db=db).stdout for r in rows[:5]]
    for text in shown:
        assert "None" not in text and "['" not in text
        assert "Remaining area over time" in text
        assert "Beneficiaries" in text
    assert any("people" in text for text in shown)  # a beneficiaries table, not only "none recorded"


def test_history_says_when_it_shows_only_the_last_changes(demo):
    db, _ = demo
    changes = len(json.loads(run("history", "--json", db=db).stdout))
    assert changes > 40
    short = run("history", db=db).stdout
    assert f"the last 40 of {changes:,} changes" in " ".join(short.split())
    full = run("history", "--last", "0", db=db).stdout
    assert "the last" not in full and full.count("\n") > short.count("\n")


def test_hazards_list_show_and_bbox(demo):
    db, _ = demo
    rows = json.loads(run("hazards", "list", "--json", "--limit", "500", db=db).stdout)
    assert len(rows) == 120
    closed = json.loads(
        run("hazards", "list", "--status", "closed", "--json", "--limit", "500", db=db).stdout
    )
    assert all(r["status"] == "closed" for r in closed)
    detail = json.loads(run("hazards", "show", rows[0]["code"], "--json", db=db).stdout)
    geom = shapely.geometry.shape(detail["geometry"])
    minx, miny, maxx, maxy = geom.bounds
    inside = json.loads(
        run("hazards", "list", "--json", "--bbox", f"{minx},{miny},{maxx},{maxy}", db=db).stdout
    )
    assert rows[0]["code"] in {r["code"] for r in inside}
    assert detail["history"][0]["remaining_m2"] == pytest.approx(detail["area_m2"])


def _remaining(db, hazard_id):
    """What remains of a hazard, read the way QGIS would: GDAL on the hazard_remaining layer.

    GDAL here has no PostgreSQL driver: on PostgreSQL the layer is read through PostGIS itself.
    """
    if isinstance(db, Path):
        _meta, _fids, geoms, _fields = pyogrio.raw.read(
            str(db), layer="hazard_remaining", where=f"id = {hazard_id}"
        )
        return shapely.from_wkb(geoms[0])
    engine = open_database(db)
    with engine.connect() as conn:
        wkb = conn.exec_driver_sql(
            f"SELECT ST_AsBinary(geom) FROM hazard_remaining WHERE id = {int(hazard_id)}"
        )
        geom = shapely.from_wkb(bytes(wkb.scalar_one()))
    engine.dispose()
    return geom


def _open_hazard(db):
    rows = json.loads(run("hazards", "list", "--status", "open", "--json", "--limit", "500", db=db).stdout)
    return max(rows, key=lambda r: r["remaining_area_m2"])


def test_release_from_geojson_file(demo, tmp_path):
    db, _ = demo
    hazard = _open_hazard(db)
    detail = json.loads(run("hazards", "show", hazard["code"], "--json", db=db).stdout)
    # What remains of the hazard, read the way QGIS would: GDAL on the hazard_remaining layer.
    rem = _remaining(db, detail["id"])
    point = rem.representative_point()
    product = rem.intersection(point.buffer(0.0004))
    path = tmp_path / "product.geojson"
    path.write_text(
        json.dumps({"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(product)})
    )
    out = json.loads(
        run(
            "release",
            hazard["code"],
            str(path),
            "--method",
            "cleared",
            "--date",
            "2026-07-15",
            "--json",
            db=db,
        ).stdout
    )
    assert out["remaining_area_m2"] == pytest.approx(
        hazard["remaining_area_m2"] - out["released_area_m2"], rel=1e-9
    )
    assert out["released_area_m2"] > 0
    summary = json.loads(run("summary", "--json", db=db).stdout)
    assert summary["area"]["balanced"]
    # The same product again overlaps itself: refused, exit 2, one clear line, nothing written.
    again = run(
        "release",
        hazard["code"],
        str(path),
        "--method",
        "cleared",
        "--date",
        "2026-07-16",
        db=db,
        check=False,
    )
    assert again.returncode == 3
    assert "overlaps land already released" in again.stderr and "nothing was written" in again.stderr
    assert "Traceback" not in again.stderr
    assert json.loads(run("summary", "--json", db=db).stdout)["area"] == summary["area"]


@pytest.mark.parametrize(
    ("geometry", "fragment"),
    [
        ("POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))", "Self-intersection"),
        ("POLYGON ((30 48, 30.1 48, 30 48))", "distinct vertices"),
        ("POLYGON ((48 300, 49 300, 49 301, 48 300))", "outside [-180,180]"),
        ("POINT (30 48)", "must be a Polygon"),
        ("not a geometry", "cannot read geometry"),
    ],
)
def test_release_bad_geometry_is_a_clear_error(demo, tmp_path, geometry, fragment):
    db, _ = demo
    hazard = _open_hazard(db)
    before = run("summary", "--json", db=db).stdout
    path = tmp_path / "bad.wkt"
    path.write_text(geometry)
    proc = run(
        "release",
        hazard["code"],
        str(path),
        "--method",
        "cleared",
        "--date",
        "2026-07-01",
        db=db,
        check=False,
    )
    assert proc.returncode == 3
    assert fragment in proc.stderr and f"release for hazard {hazard['code']}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads(run("summary", "--json", db=db).stdout)["area"] == json.loads(before)["area"]


def test_release_from_stdin_in_utm(demo):
    db, _ = demo
    hazard = _open_hazard(db)
    from pyproj import Transformer

    detail = json.loads(run("hazards", "show", hazard["code"], "--json", db=db).stdout)
    rem = _remaining(db, detail["id"])
    p = rem.representative_point()
    to_utm = Transformer.from_crs(4326, 32636, always_xy=True)
    x, y = to_utm.transform(p.x, p.y)
    square = shapely.box(x - 3, y - 3, x + 3, y + 3)  # 36 m² in UTM zone 36N
    out = json.loads(
        run(
            "release",
            hazard["code"],
            "-",
            "--method",
            "cleared",
            "--date",
            "2026-07-20",
            "--crs",
            "EPSG:32636",
            "--json",
            db=db,
            stdin=square.wkt,
        ).stdout
    )
    assert out["product_area_m2"] == pytest.approx(36.0, rel=0.01)


def test_user_errors_never_traceback(tmp_path):
    missing = run("summary", db=tmp_path / "nope.gpkg", check=False)
    assert missing.returncode == 4 and "demine init" in missing.stderr and "Traceback" not in missing.stderr
    run("init", db=tmp_path / "new.gpkg")
    bad_bbox = run("hazards", "list", "--bbox", "1,2,3", db=tmp_path / "new.gpkg", check=False)
    assert bad_bbox.returncode == 3 and "--bbox" in bad_bbox.stderr
    unknown = run("hazards", "show", "HA-404", db=tmp_path / "new.gpkg", check=False)
    assert unknown.returncode == 4 and "HA-404" in unknown.stderr and "Traceback" not in unknown.stderr
    bad_date = run("demo", "--as-of", "31/12/2026", db=tmp_path / "d.gpkg", check=False)
    assert bad_date.returncode == 3 and "--as-of" in bad_date.stderr
