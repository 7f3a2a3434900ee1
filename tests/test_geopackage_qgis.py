"""The GeoPackage opens well in QGIS: default styles in ``layer_styles``, codes beside ids.

What QGIS reads is checked with GDAL's ``ogrinfo`` (Debian's gdal-bin, the GDAL QGIS uses
there): the styles table, the fields each style names, the remaining area's code and status.
The triggers that keep the copied codes equal to their source run on either store.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from contextlib import closing
from datetime import date, timedelta

import pytest
import shapely
from alembic import command
from sqlalchemy import insert, select, text

from demine.domain.codelists import DEFAULT_CODE_LISTS
from demine.domain.errors import ValidationError
from demine.export.write import export_layer
from demine.geometry.reading import EnteredGeometry
from demine.landrelease.accounting import NewRelease, record_release
from demine.register.hazards import NewHazard, add_hazards
from demine.register.organisations import NewOrganisation, add_organisations
from demine.storage import qgis_styles, schema
from demine.storage.database import alembic_config, head_revision, open_database
from demine.storage.geopackage import USER_VERSION
from demine.workflow.records import update_record

DEMINE = [sys.executable, "-m", "demine"]
# layer -> the field its style classifies by
STYLED = {
    "hazard": "status",
    "hazard_remaining": "status",
    "release_product": "method",
    "eo_find": "category",
    "accident": "accident_kind",
}
HAZARD = shapely.Polygon([(30.0, 48.0), (30.01, 48.0), (30.012, 48.006), (30.004, 48.009), (29.999, 48.005)])
REPORTED = date(2025, 1, 10)


def _ogrinfo(ogrinfo: str, *args: str) -> str:
    """ogrinfo's output, after checking GDAL said nothing on stderr (no warning, no error)."""
    proc = subprocess.run([ogrinfo, "-ro", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr
    return proc.stdout


def _sql_rows(ogrinfo: str, path: str, sql: str) -> list[dict[str, str]]:
    """The rows GDAL returns for ``sql``, as {field: text}."""
    return _features(_ogrinfo(ogrinfo, "-q", "-geom=NO", path, "-sql", sql))


def _features(stdout: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for line in stdout.splitlines():
        if line.startswith("OGRFeature("):
            rows.append({})
        elif (m := re.match(r"^  (\w+) \(\w+(?:\(\w+\))?\) = (.*)$", line)) and rows:
            rows[-1][m.group(1)] = m.group(2)
    return rows


def _fields(ogrinfo: str, path: str, layer: str) -> set[str]:
    """The attribute fields GDAL reports for ``layer``."""
    out = _ogrinfo(ogrinfo, "-so", path, layer)
    return {m.group(1) for m in re.finditer(r"^(\w+): \w+", out, re.M)} - {"INFO", "Layer", "Geometry"}


def _styles(path: str) -> dict[str, str]:
    with closing(sqlite3.connect(path)) as raw:
        return dict(raw.execute("SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault"))


def _check_qml(document: str, fields: set[str], field: str, geometry: str) -> dict[str, str]:
    """Parse a style and check it against the layer; return its colours by category value."""
    root = ET.fromstring(document)
    assert root.tag == "qgis"
    renderer = root.find("renderer-v2")
    assert renderer is not None and renderer.get("type") == "categorizedSymbol"
    assert renderer.get("attr") == field and field in fields
    symbols = {s.get("name"): s for s in renderer.iter("symbol")}
    colours = {}
    for category in renderer.iter("category"):
        symbol = symbols[category.get("symbol")]
        assert symbol.get("type") == ("fill" if geometry == "polygon" else "marker")
        options = {o.get("name"): o.get("value") for o in symbol.iter("Option") if o.get("name")}
        colours[category.get("value")] = options["color"].rsplit(",", 1)[0]  # r,g,b without alpha
    assert root.findtext("layerGeometryType") == ("2" if geometry == "polygon" else "0")
    return colours


# --- the register's own file -----------------------------------------------------------------


@pytest.mark.sqlite_only
def test_gdal_lists_a_default_style_for_each_styled_layer(ogrinfo, demo):
    path = str(demo.path)
    assert "layer_styles (None)" in _ogrinfo(ogrinfo, "-so", path)  # an attribute table, no warning
    rows = _sql_rows(
        ogrinfo,
        path,
        "SELECT f_table_schema, f_table_name, f_geometry_column, styleName, useAsDefault, owner "
        "FROM layer_styles ORDER BY f_table_name",
    )
    # QGIS looks a GeoPackage layer's style up by an empty schema, the layer and its geometry column.
    assert {r["f_table_name"] for r in rows} == set(STYLED)
    for row in rows:
        assert row["f_geometry_column"] == "geom" and row["useAsDefault"] == "1"
        assert row["styleName"] == "demine" and row["owner"] == "demine"
        assert row.get("f_table_schema", "") == ""
    with closing(sqlite3.connect(path)) as raw:
        kind = raw.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
    assert kind == ("attributes",)


@pytest.mark.sqlite_only
def test_each_style_is_qml_on_a_field_the_layer_has(ogrinfo, demo):
    path = str(demo.path)
    styles = _styles(path)
    assert set(styles) == set(STYLED)
    with closing(sqlite3.connect(path)) as raw:
        codes = {(n, c) for n, c in raw.execute("SELECT list_name, code FROM code_list WHERE active")}
    colours = {}
    for layer, field in STYLED.items():
        style = qgis_styles.STYLES[layer]
        colours[layer] = _check_qml(styles[layer], _fields(ogrinfo, path, layer), field, style.geometry)
        values = set(colours[layer]) - {""}  # "": QGIS's "all other values"
        # Every default code of the field's list has its own colour, and only codes of that list.
        assert values == {code for code, _label in DEFAULT_CODE_LISTS[style.code_list]}
        assert values <= {c for n, c in codes if n == style.code_list}
        assert len(set(colours[layer].values())) == len(colours[layer])  # no two categories alike
    # Cleared land is not drawn in the green of a closed hazard.
    assert colours["release_product"]["cleared"] != colours["hazard"]["closed"]
    assert colours["hazard"] == colours["hazard_remaining"]


@pytest.mark.sqlite_only
def test_a_style_the_user_saved_in_qgis_is_kept(empty_db):
    path = empty_db.url.database
    with closing(sqlite3.connect(path)) as raw, raw:
        raw.execute("DELETE FROM layer_styles WHERE f_table_name = 'hazard'")
        raw.execute(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
            "styleName, styleQML, useAsDefault) VALUES ('', '', 'hazard', 'geom', 'mine', '<qgis/>', 1)"
        )
        qgis_styles.install(raw.execute, {name: name for name in STYLED})
        qgis_styles.install(raw.execute, {name: name for name in STYLED})  # twice: nothing doubles
        rows = raw.execute(
            "SELECT f_table_name, styleName, useAsDefault FROM layer_styles ORDER BY f_table_name, styleName"
        ).fetchall()
    assert [r for r in rows if r[0] == "hazard"] == [("hazard", "demine", 0), ("hazard", "mine", 1)]
    assert len(rows) == len(STYLED) + 1


# --- codes beside ids, on either store --------------------------------------------------------


def _programme(engine) -> None:
    with engine.begin() as conn:
        add_organisations(
            conn,
            [NewOrganisation("OPA", "Operator A", "ngo"), NewOrganisation("OPB", "Operator B", "commercial")],
        )
        add_hazards(
            conn,
            [
                NewHazard("H1", "CHA", HAZARD, REPORTED, organisation="OPA"),
                NewHazard("H2", "SHA", shapely.affinity.translate(HAZARD, 0.05), REPORTED),
            ],
        )


def _entered(geom) -> EnteredGeometry:
    return EnteredGeometry(geometry=geom, entered_text=geom.wkt, entered_crs="EPSG:4326")


def _remaining(conn) -> dict[str, tuple[str, str]]:
    r = schema.hazard_remaining
    return {code: (code, status) for code, status in conn.execute(select(r.c.code, r.c.status))}


def test_remaining_area_carries_the_code_and_status_of_its_hazard(empty_db, ogrinfo):
    _programme(empty_db)
    with empty_db.connect() as conn:
        assert _remaining(conn) == {"H1": ("H1", "open"), "H2": ("H2", "open")}
    with empty_db.begin() as conn:  # H1 released in full: it closes
        record_release(conn, NewRelease("H1", "cleared", REPORTED + timedelta(days=5), _entered(HAZARD)))
    with empty_db.connect() as conn:
        assert _remaining(conn) == {"H1": ("H1", "closed"), "H2": ("H2", "open")}
    if empty_db.dialect.name != "sqlite":
        return
    path = empty_db.url.database
    empty_db.dispose()  # the write-ahead log into the file, as a desktop GIS would find it
    rows = _features(_ogrinfo(ogrinfo, "-q", "-geom=NO", path, "hazard_remaining"))
    assert {(r["code"], r["status"]) for r in rows} == {("H1", "closed"), ("H2", "open")}
    assert {r["code"]: float(r["area_m2"]) for r in rows}["H1"] == 0


def test_codes_follow_their_source_whoever_writes(empty_db):
    _programme(empty_db)
    h, t = schema.hazard, schema.team
    with empty_db.begin() as conn:
        org = dict(conn.execute(select(schema.organisation.c.code, schema.organisation.c.id)).all())
        h1, version = conn.execute(select(h.c.id, h.c.version).where(h.c.code == "H1")).one()
        assert conn.execute(select(h.c.code, h.c.organisation_code)).all() == [("H1", "OPA"), ("H2", None)]
        # Through demine: the id is set, the code follows; the code itself is not a field to set.
        update_record(conn, "hazard", h1, version, {"organisation_id": org["OPB"]}, "test")
        with pytest.raises(ValidationError, match="organisation_code"):
            update_record(conn, "hazard", h1, version + 1, {"organisation_code": "OPA"}, "test")
        # Through SQL, as QGIS would write: a changed copy is put back, a changed status followed.
        conn.execute(h.update().where(h.c.id == h1).values(organisation_code="XX", status="suspended"))
        conn.execute(
            insert(t).values(
                code="T1", name="Team 1", organisation_id=org["OPA"], team_type="manual", members=4
            )
        )
        conn.execute(
            schema.organisation.update().where(schema.organisation.c.code == "OPA").values(code="OPA2")
        )
    with empty_db.connect() as conn:
        assert conn.execute(select(h.c.organisation_code).where(h.c.id == h1)).scalar_one() == "OPB"
        assert _remaining(conn)["H1"] == ("H1", "suspended")
        assert conn.execute(select(t.c.organisation_code)).scalar_one() == "OPA2"
        # Nothing of the register that had no organisation gained one.
        assert conn.execute(select(h.c.organisation_code).where(h.c.code == "H2")).scalar_one() is None


def test_migration_0006_fills_the_codes_of_existing_records_and_undoes(empty_db):
    _programme(empty_db)
    config = alembic_config(empty_db)
    command.downgrade(config, "0005")
    with empty_db.connect() as conn:  # a query of no rows: its column names, on either store
        columns = set(conn.execute(select(text("*")).select_from(text("hazard_remaining")).limit(0)).keys())
    assert columns == {"id", "area_m2", "geom"}
    with empty_db.begin() as conn:  # written by a demine from before: no codes, no triggers
        conn.execute(text("UPDATE hazard SET status = 'suspended' WHERE code = 'H2'"))
    command.upgrade(config, "head")
    with empty_db.connect() as conn:
        assert _remaining(conn) == {"H1": ("H1", "open"), "H2": ("H2", "suspended")}
        h = schema.hazard
        assert dict(conn.execute(select(h.c.code, h.c.organisation_code)).all()) == {"H1": "OPA", "H2": None}


# --- files from before, and exported files ----------------------------------------------------


@pytest.mark.sqlite_only
def test_an_older_register_file_migrates_to_codes_and_styles(ogrinfo, demo, clone_db):
    path = str(clone_db(demo.template, "older"))
    engine = open_database(path)
    command.downgrade(alembic_config(engine), "0005")  # the file as demine wrote it before
    with engine.connect() as conn:
        columns = {r[1] for r in conn.exec_driver_sql("PRAGMA table_info(hazard_remaining)")}
        tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    engine.dispose()
    assert columns == {"id", "area_m2", "geom"} and "layer_styles" not in tables

    run = subprocess.run(
        [*DEMINE, "db", "migrate", "--db", path, "--json"], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"from": "0005", "to": head_revision(), "head": head_revision()}

    engine = open_database(path)
    with engine.connect() as conn:
        stale = conn.execute(
            text(
                "SELECT count(*) FROM hazard_remaining r JOIN hazard h ON h.id = r.id "
                "WHERE r.code IS NOT h.code OR r.status IS NOT h.status"
            )
        ).scalar_one()
        orgs = conn.execute(
            text(
                "SELECT count(*), count(h.organisation_code) FROM hazard h "
                "JOIN organisation o ON o.id = h.organisation_id AND o.code = h.organisation_code"
            )
        ).one()
        with_org = conn.execute(text("SELECT count(organisation_id) FROM hazard")).scalar_one()
        version = conn.exec_driver_sql("PRAGMA user_version").scalar_one()
    engine.dispose()
    assert stale == 0 and orgs == (with_org, with_org) and with_org > 0
    assert version == USER_VERSION
    assert set(_styles(path)) == set(STYLED)
    _ogrinfo(ogrinfo, "-so", path)  # no warning


@pytest.mark.sqlite_only
def test_an_exported_geopackage_opens_styled(ogrinfo, demo_db, tmp_path):
    out = tmp_path / "remaining.gpkg"
    with demo_db.connect() as conn:
        export_layer(conn, "remaining", out, fmt="gpkg")
    path = str(out)
    assert "layer_styles (None)" in _ogrinfo(ogrinfo, "-so", path)
    rows = _sql_rows(ogrinfo, path, "SELECT f_table_name, f_geometry_column, useAsDefault FROM layer_styles")
    assert rows == [{"f_table_name": "remaining", "f_geometry_column": "geom", "useAsDefault": "1"}]
    _check_qml(_styles(path)["remaining"], _fields(ogrinfo, path, "remaining"), "status", "polygon")
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == USER_VERSION
    # A kind without a style exports as before.
    with demo_db.connect() as conn:
        export_layer(conn, "admin", tmp_path / "admin.gpkg", fmt="gpkg")
    assert "layer_styles" not in _ogrinfo(ogrinfo, "-so", str(tmp_path / "admin.gpkg"))
