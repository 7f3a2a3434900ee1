"""Export: every format, labels, a safe --where, no personal data by default, lossless round trips."""

from __future__ import annotations

import contextlib
import csv
from datetime import date

import openpyxl
import pyogrio
import pyogrio.raw
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_support import TODAY, run_import
from sqlalchemy import delete, func, select, text

import backend_support
from demine.domain.errors import DemineError
from demine.export import FORMATS, LAYERS, PersonalDataRefused, export_layer
from demine.export.names import short_name
from demine.export.where import WhereError
from demine.geometry.polygons import as_multipolygon
from demine.register.organisations import NewOrganisation, add_organisations
from demine.storage import schema
from demine.storage.database import open_database

SUFFIX = {"gpkg": "gpkg", "geojson": "geojson", "shp": "shp", "csv": "csv", "xlsx": "xlsx", "kml": "kml"}


def _count(engine, table, condition=None):
    query = select(func.count()).select_from(table)
    if condition is not None:
        query = query.where(condition)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_hazards_in_every_format(demo_db, tmp_path, fmt):
    out = tmp_path / f"hazards.{SUFFIX[fmt]}"
    with demo_db.connect() as conn:
        result = export_layer(conn, "hazard", out, fmt)
    total = _count(demo_db, schema.hazard)
    assert result.rows == total and out.exists()
    info = pyogrio.read_info(out)
    assert info["features"] == total
    fields = list(info["fields"])
    names = (
        [short_name(n) for n in ("hazard_type", "hazard_type_label", "area_m2")]
        if fmt == "shp"
        else [
            "hazard_type",
            "hazard_type_label",
            "area_m2",
        ]
    )
    assert set(names) <= set(fields)
    if fmt == "csv":
        assert fields[0] == "WKT"
    if fmt == "xlsx":
        assert "wkt" in fields


@pytest.mark.parametrize("kind", list(LAYERS))
def test_every_kind_exports(demo_db, tmp_path, kind):
    with demo_db.connect() as conn:
        result = export_layer(conn, kind, tmp_path / f"{kind}.gpkg")
    assert result.rows >= 0
    assert pyogrio.read_info(tmp_path / f"{kind}.gpkg", layer=kind)["features"] == result.rows


def test_labels_sit_beside_codes_and_codes_alone_on_request(demo_db, tmp_path):
    with demo_db.connect() as conn:
        export_layer(conn, "find", tmp_path / "labels.csv")
        export_layer(conn, "find", tmp_path / "codes.csv", labels=False)
    with (tmp_path / "labels.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    labels = {
        "apm": "Anti-personnel mine",
        "uxo": "Unexploded ordnance",
        "atm": "Anti-vehicle / anti-tank mine",
    }
    for row in rows:
        assert row["category_label"] == labels.get(row["category"], row["category_label"])
        point = shapely.from_wkt(row["WKT"])
        assert (float(row["lon"]), float(row["lat"])) == pytest.approx((point.x, point.y), abs=1e-12)
        date.fromisoformat(row["found_on"])  # ISO dates in CSV
    with (tmp_path / "codes.csv").open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert not any(name.endswith("_label") for name in header)


def test_multi_valued_codes_get_every_label(demo_db, tmp_path):
    with demo_db.connect() as conn:
        export_layer(conn, "hazard", tmp_path / "h.xlsx", where="eo_categories LIKE '%,%'")
    book = openpyxl.load_workbook(tmp_path / "h.xlsx", read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    book.close()
    header = rows[0]
    codes, labels = header.index("eo_categories"), header.index("eo_categories_label")
    assert len(rows) > 1
    for row in rows[1:]:
        assert len(row[codes].split(",")) == len(row[labels].split("; ")) >= 2


@pytest.mark.parametrize(
    ("where", "condition"),
    [
        ("status = 'open'", schema.hazard.c.status == "open"),
        ("status IN ('open', 'suspended') AND area_m2 > 10000", None),
        ("NOT (hazard_type = 'SHA') OR priority IS NULL", None),
        ("reported_on BETWEEN '2024-01-01' AND '2025-06-30'", None),
        ("code LIKE 'HA-00001%'", schema.hazard.c.code.like("HA-00001%")),
        ('"remaining_area_m2" <= 0', schema.hazard.c.remaining_area_m2 <= 0),
    ],
)
def test_where_filters(demo_db, tmp_path, where, condition):
    with demo_db.connect() as conn:
        result = export_layer(conn, "hazard", tmp_path / "f.geojson", where=where)
        if condition is None:
            # The same filter in SQL, for the columns that are the hazard table's own.
            condition = text(where.replace('"', ""))
        expected = conn.execute(select(func.count()).select_from(schema.hazard).where(condition)).scalar_one()
    assert result.rows == expected


@pytest.mark.parametrize(
    "where",
    [
        "status = 'open'; DROP TABLE hazard",
        "status = 'open' -- comment",
        "1 = 1",
        "status = 'open' OR 1 = 1",
        "code IN (SELECT code FROM hazard)",
        "full_name = 'x'",
        "geom IS NULL",
        "organisation_id = 1",
        "status = open",
        "area_m2 > 'big'",
        "reported_on > '2025-13-01'",
        "status = 'unterminated",
        "sqlite_version() = 1",
        "status LIKE 1",
        "area_m2 LIKE '%1%'",
        "(" * 40 + "status = 'open'" + ")" * 40,
        "",
    ],
)
def test_where_refuses_anything_but_the_grammar(demo_db, tmp_path, where):
    before = _count(demo_db, schema.hazard)
    with demo_db.connect() as conn, pytest.raises(WhereError):
        export_layer(conn, "hazard", tmp_path / "x.gpkg", where=where or " ")
    assert _count(demo_db, schema.hazard) == before
    assert not (tmp_path / "x.gpkg").exists()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    where=st.text(alphabet=st.sampled_from(list("status=' ORAND();-1%\"*IN,<>area_m2 NULL\\")), max_size=60)
)
def test_random_filters_parse_or_fail_cleanly(demo_db, tmp_path_factory, where):
    out = tmp_path_factory.mktemp("where") / "x.csv"
    with demo_db.connect() as conn, contextlib.suppress(WhereError):
        export_layer(conn, "hazard", out, where=where)


def test_victims_personal_data_needs_the_flag_and_a_role(demo_db, tmp_path):
    with demo_db.connect() as conn:
        plain = export_layer(conn, "victim", tmp_path / "v.csv")
        assert not plain.personal_data
        assert not {"full_name", "identification", "birth_date"} & set(plain.columns)
        with pytest.raises(PersonalDataRefused):
            export_layer(conn, "victim", tmp_path / "v2.csv", include_personal_data=True)
        with pytest.raises(PersonalDataRefused):
            export_layer(
                conn, "victim", tmp_path / "v2.csv", include_personal_data=True, role="field_officer"
            )
        full = export_layer(conn, "victim", tmp_path / "v3.csv", include_personal_data=True, role="local")
    assert full.personal_data and {"full_name", "identification", "birth_date"} <= set(full.columns)
    # A where filter cannot reach a personal column it was not allowed to export.
    with demo_db.connect() as conn, pytest.raises(WhereError, match="no column 'full_name'"):
        export_layer(conn, "victim", tmp_path / "v4.csv", where="full_name LIKE 'A%'")


def test_export_mistakes_are_clean_errors(demo_db, tmp_path):
    with demo_db.connect() as conn:
        export_layer(conn, "hazard", tmp_path / "h.gpkg")
        with pytest.raises(DemineError, match="exists; pass --overwrite"):
            export_layer(conn, "hazard", tmp_path / "h.gpkg")
        export_layer(conn, "hazard", tmp_path / "h.gpkg", overwrite=True)
        with pytest.raises(DemineError, match="cannot tell the format"):
            export_layer(conn, "hazard", tmp_path / "h.dat")
        with pytest.raises(DemineError, match="KML cannot hold it"):
            export_layer(conn, "victim", tmp_path / "v.kml")
        with pytest.raises(DemineError, match="no folder"):
            export_layer(conn, "hazard", tmp_path / "missing" / "h.gpkg")
        with pytest.raises(DemineError, match="not one of"):
            export_layer(conn, "person", tmp_path / "p.gpkg")


# Round trips ---------------------------------------------------------------------------------

HAZARD_ATTRIBUTES = (
    "code",
    "name",
    "hazard_type",
    "status",
    "organisation_id",
    "admin_pcode",
    "reported_on",
    "priority",
    "eo_categories",
    "evidence",
    "blockages",
    "benchmark_lon",
    "benchmark_lat",
    "area_m2",
)


def _same_shape(a, b):
    a, b = as_multipolygon(a) if a.area else a, as_multipolygon(b) if b.area else b
    return shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=1e-9)


@pytest.fixture
def register_with_demo_organisations(register, demo_db):
    with demo_db.connect() as conn:
        orgs = [
            NewOrganisation(r.code, r.name, r.organisation_type, r.country)
            for r in conn.execute(select(schema.organisation))
        ]
    with register.begin() as conn:
        conn.execute(delete(schema.organisation))
        add_organisations(conn, orgs)
    return register


def test_accident_descriptions_are_exported_only_on_request(demo_db, tmp_path):
    with demo_db.connect() as conn:
        plain = export_layer(conn, "accident", tmp_path / "a1.csv")
        full = export_layer(conn, "accident", tmp_path / "a2.csv", include_personal_data=True, role="local")
    assert "description" not in plain.columns and not plain.personal_data
    assert "description" in full.columns and full.personal_data


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_hazards_round_trip(demo_db, register_with_demo_organisations, tmp_path, fmt):
    register = register_with_demo_organisations
    out = tmp_path / f"hazards.{SUFFIX[fmt]}"
    with demo_db.connect() as conn:
        export_layer(conn, "hazard", out)
        original = {r.code: r for r in conn.execute(select(schema.hazard))}
        org_codes = dict(conn.execute(select(schema.organisation.c.id, schema.organisation.c.code)).all())
    result = run_import(register, out, today=TODAY)
    assert (result.imported, result.rejected) == (len(original), 0)
    with register.connect() as conn:
        back = {r.code: r for r in conn.execute(select(schema.hazard))}
        new_org_codes = dict(conn.execute(select(schema.organisation.c.id, schema.organisation.c.code)).all())
    assert back.keys() == original.keys()
    for code, row in back.items():
        old = original[code]
        assert _same_shape(row.geom, old.geom), code
        for column in HAZARD_ATTRIBUTES:
            a, b = getattr(row, column), getattr(old, column)
            if column == "organisation_id":
                a, b = new_org_codes.get(a), org_codes.get(b)
            if isinstance(b, float):
                assert a == pytest.approx(b, rel=1e-9, abs=1e-9), (code, column)
            else:
                assert a == b, (code, column, a, b)


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "csv", "xlsx", "shp"])
def test_finds_and_accidents_round_trip(demo, tmp_path, fmt):
    path = tmp_path / "copy.gpkg"
    path = backend_support.clone(demo.template, path)
    engine = open_database(path)
    try:
        with engine.connect() as conn:
            finds = {r.id: r for r in conn.execute(select(schema.eo_find))}
            accidents = {r.code: r for r in conn.execute(select(schema.accident))}
            export_layer(conn, "find", tmp_path / f"finds.{SUFFIX[fmt]}")
            # An accident's description is personal data: exported only on request.
            export_layer(
                conn,
                "accident",
                tmp_path / f"accidents.{SUFFIX[fmt]}",
                include_personal_data=True,
                role="local",
            )
        with engine.begin() as conn:
            conn.execute(delete(schema.eo_find))
            conn.execute(delete(schema.accident))
        kept = run_import(engine, tmp_path / f"finds.{SUFFIX[fmt]}", kind="find", today=demo.as_of)
        assert (kept.imported, kept.rejected) == (len(finds), 0)
        kept = run_import(engine, tmp_path / f"accidents.{SUFFIX[fmt]}", kind="accident", today=demo.as_of)
        assert (kept.imported, kept.rejected) == (len(accidents), 0)
        with engine.connect() as conn:
            back_finds = list(conn.execute(select(schema.eo_find).order_by(schema.eo_find.c.id)))
            back_accidents = {r.code: r for r in conn.execute(select(schema.accident))}
    finally:
        engine.dispose()
    columns = (
        "found_on",
        "category",
        "model",
        "quantity",
        "depth_cm",
        "condition",
        "disposal_method",
        "hazard_id",
    )
    for new, old in zip(back_finds, sorted(finds.values(), key=lambda r: r.id), strict=True):
        assert shapely.equals_exact(new.geom, old.geom, tolerance=1e-9)
        assert [getattr(new, c) for c in columns] == [getattr(old, c) for c in columns]
    for code, new in back_accidents.items():
        old = accidents[code]
        assert shapely.equals_exact(new.geom, old.geom, tolerance=1e-9)
        for c in ("occurred_on", "accident_kind", "eo_category", "hazard_id", "description"):
            assert getattr(new, c) == getattr(old, c)


def test_admin_areas_round_trip_through_kml(demo_db, register, tmp_path):
    with demo_db.connect() as conn:
        export_layer(conn, "admin", tmp_path / "admin.kml")
        original = {r.pcode: r for r in conn.execute(select(schema.admin_area))}
    result = run_import(register, tmp_path / "admin.kml", kind="admin")
    assert (result.imported, result.rejected) == (len(original), 0)
    with register.connect() as conn:
        for row in conn.execute(select(schema.admin_area)):
            old = original[row.pcode]
            assert _same_shape(row.geom, old.geom)
            assert (row.name, row.level, row.parent_pcode) == (old.name, old.level, old.parent_pcode)
            assert row.area_m2 == pytest.approx(old.area_m2, rel=1e-9)


def test_exported_gpkg_is_readable_by_gdal_with_dates(demo_db, tmp_path):
    with demo_db.connect() as conn:
        export_layer(conn, "release", tmp_path / "r.gpkg")
    meta, _, geometry, fields = pyogrio.raw.read(tmp_path / "r.gpkg")
    released_on = fields[list(meta["fields"]).index("released_on")]
    assert str(released_on.dtype) == "datetime64[D]"
    assert meta["crs"] == "EPSG:4326" and all(
        shapely.from_wkb(g).geom_type == "MultiPolygon" for g in geometry
    )
