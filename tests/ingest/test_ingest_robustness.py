"""Broken geometries and malformed files never crash the importer and never cost a good row.

Hypothesis mixes good hazards with generated broken ones (NaN and infinite coordinates,
empty and degenerate geometries, self-intersections, wrong types, unclosed rings, garbage
text) in GeoPackages and CSV files. Whatever it generates, the import finishes, every
feature has exactly one outcome, and every good feature is in the register.
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import openpyxl
import pyogrio
import pyogrio.raw
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_support import TODAY, hazard_fields, lonlat_square, read_rejects, run_import, write_layer
from sqlalchemy import select

import backend_support
from demine.domain.errors import DemineError
from demine.ingest import ImportOptions, import_into, plan_import
from demine.storage import schema
from demine.storage.database import open_database
from geometry_strategies import broken_geometry

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def engine(register_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "register.gpkg"
    path = backend_support.clone(register_template, path)
    engine = open_database(path)
    yield engine
    engine.dispose()


def check_import(engine, path, good_codes, n, kind="hazard", **options):
    """Import inside a transaction that is rolled back; return the result and the stored codes."""
    plan = plan_import(
        path, ImportOptions(kind=kind, rejects=path.with_suffix(".rejects.geojson"), today=TODAY, **options)
    )
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            result = import_into(conn, plan)
            table = schema.hazard if kind == "hazard" else schema.eo_find
            column = table.c.code if kind == "hazard" else table.c.source_id
            stored = set(conn.execute(select(column)).scalars())
        finally:
            transaction.rollback()
            plan.rejects.discard()
    assert result.read == n
    assert result.read == result.imported + result.updated + result.rejected
    assert sum(result.reasons.values()) == result.rejected
    assert result.repaired <= result.imported + result.updated
    assert set(good_codes) <= stored, "a good row was lost"
    return result, stored


@SETTINGS
@given(
    broken=st.lists(st.one_of(st.none(), broken_geometry()), min_size=1, max_size=12),
    seed=st.integers(0, 1000),
)
def test_broken_geometries_never_crash_or_lose_good_rows(engine, tmp_path_factory, broken, seed):
    rng = np.random.default_rng(seed)
    n_good = 5
    # Good squares far from anything generated near (32–34, 47–49): never a duplicate of one.
    good = [lonlat_square(20 + i * 0.01, 10.0) for i in range(n_good)]
    geoms = good + broken
    order = rng.permutation(len(geoms))
    geoms = [geoms[i] for i in order]
    fields = hazard_fields(len(geoms))
    codes = fields["code"]
    good_codes = [codes[pos] for pos, i in enumerate(order) if i < n_good]
    path = tmp_path_factory.mktemp("broken") / "broken.gpkg"
    write_layer(path, geoms, fields, driver="GPKG")
    check_import(engine, path, good_codes, len(geoms))


@SETTINGS
@given(
    texts=st.lists(
        st.one_of(
            st.text(max_size=40),
            st.sampled_from(
                [
                    "POLYGON ((33 48, 33.1 48, 33.1 48.1, 33 48.1))",  # unclosed: repaired
                    "POLYGON ((33 48, 33.1 48, 33.1 48.1, 33 48",
                    "POLYGON EMPTY",
                    "POINT (33 48)",
                    "POLYGON ((nan 48, 33.1 48, 33.1 48.1, nan 48))",
                    '{"type": "Polygon", "coordinates": [[[33, 48], [33.1, 48]]]}',
                    '{"type": "Polygon"',
                    "MULTIPOLYGON (((33 48, 34 48, 34 49, 33 49, 33 48)), ((33.5 48, 35 48, 35 49, 33.5 48)))",  # noqa: E501
                ]
            ),
        ),
        min_size=1,
        max_size=10,
    ),
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_malformed_csv_rows_never_crash_or_lose_good_rows(
    engine, tmp_path_factory, texts, encoding, delimiter
):
    good = [lonlat_square(20 + i * 0.01, 10.0).wkt for i in range(3)]
    rows = [(f"G{i}", "SHA", "2025-01-01", text) for i, text in enumerate(good)]
    rows += [(f"B{i}", "CHA", "2025-01-02", text) for i, text in enumerate(texts)]
    path = tmp_path_factory.mktemp("csv") / "hazards.csv"
    lines = [delimiter.join(["code", "hazard_type", "reported_on", "wkt"])]
    for row in rows:
        lines.append(delimiter.join('"' + value.replace('"', '""') + '"' for value in row))
    text = "\n".join(lines) + "\n"
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:  # text Latin-1 cannot hold: the file is UTF-8 then
        data = text.encode("utf-8")
    path.write_bytes(data)
    try:
        check_import(engine, path, [r[0] for r in rows[:3]], len(rows))
    except DemineError as exc:  # the file is readable: a clean error is not good enough here
        pytest.fail(f"a readable CSV was refused: {exc}")


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("empty.geojson", b"", "not recognized"),
        ("garbage.gpkg", bytes(range(256)) * 20, "cannot read"),
        ("garbage.xlsx", b"PK\x03\x04 not really a zip", "XLSX"),
        ("old.xls", b"\xd0\xcf\x11\xe0", ".xlsx"),
        ("empty.csv", b"", "empty"),
        ("binary.csv", bytes(range(256)) * 20, "no geometry"),
    ],
)
def test_unreadable_files_are_clean_errors(engine, tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DemineError, match=fragment):
        plan_import(path, ImportOptions(kind="hazard"))


def _good_geojson(n):
    features = [
        {
            "type": "Feature",
            "properties": {"code": f"G{i}", "hazard_type": "SHA", "reported_on": "2025-01-01"},
            "geometry": shapely.geometry.mapping(lonlat_square(33 + i * 0.01, 48)),
        }
        for i in range(n)
    ]
    return {"type": "FeatureCollection", "features": features}


def test_truncated_files_are_clean_errors(engine, tmp_path):
    text = json.dumps(_good_geojson(40))
    (tmp_path / "cut.geojson").write_text(text[: len(text) // 2])
    with pytest.raises(DemineError, match="cannot read"):
        plan_import(tmp_path / "cut.geojson", ImportOptions(kind="hazard"))
    path = write_layer(tmp_path / "whole.gpkg", [lonlat_square(33, 48)] * 3, hazard_fields(3), driver="GPKG")
    data = path.read_bytes()
    (tmp_path / "cut.gpkg").write_bytes(data[: len(data) // 3])
    with pytest.raises(DemineError):
        plan_import(tmp_path / "cut.gpkg", ImportOptions(kind="hazard"))


def test_truncated_shapefile_rejects_the_lost_features(engine, tmp_path):
    folder = tmp_path / "shp"
    folder.mkdir()
    squares = [lonlat_square(33 + i * 0.01, 48) for i in range(20)]
    fields = {k[:10]: v for k, v in hazard_fields(20).items()}
    write_layer(folder / "h.shp", squares, fields, driver="ESRI Shapefile")
    shp = folder / "h.shp"
    record = 8 + 4 + 32 + 4 + 4 + 4 + 5 * 16  # header, type, box, counts, one part, five points
    shp.write_bytes(shp.read_bytes()[: 100 + 10 * record])  # the file header and 10 records
    result, _ = check_import(engine, shp, [f"HZ-{i:05d}" for i in range(10)], 20)
    assert result.imported == 10 and result.reasons == {"missing_geometry": 10}


def test_geojson_with_wrong_types_and_bad_geometries(engine, tmp_path):
    collection = _good_geojson(3)
    good = collection["features"][0]
    collection["features"] += [
        {**good, "properties": {"code": {"nested": 1}, "hazard_type": [1, 2], "reported_on": True}},
        {**good, "properties": {**good["properties"], "code": "X1"}, "geometry": "not a geometry"},
        {
            **good,
            "properties": {**good["properties"], "code": "X2"},
            "geometry": {"type": "Polygon", "coordinates": [[[1, 2]]]},
        },
        {**good, "properties": {**good["properties"], "code": "X3", "reported_on": 20250101}},
    ]
    path = tmp_path / "types.geojson"
    path.write_text(json.dumps(collection))
    result, _ = check_import(engine, path, ["G0", "G1", "G2"], 7)
    assert result.imported == 3 and result.rejected == 4


def test_csv_with_ragged_rows_and_nul_bytes(engine, tmp_path):
    square = lonlat_square(33, 48).wkt
    path = tmp_path / "ragged.csv"
    path.write_bytes(
        (
            "code,hazard_type,reported_on,wkt\n"
            f'G1,SHA,2025-01-01,"{square}"\n'
            "B1,SHA\n"
            f'B2\x00,SHA,2025-01-01,"{lonlat_square(33.1, 48).wkt}",extra,values\n'
            f'G2,CHA,2025-01-01,"{lonlat_square(33.2, 48).wkt}"\n'
            f'B3,SHA,2025-01-01,"POLYGON ((33.3 48, 33.4 48, 33.'
        ).encode()
    )
    result, _ = check_import(engine, path, ["G1", "G2"], 5)
    assert result.rejected >= 2


def test_xlsx_with_wrong_cell_types(engine, tmp_path):
    path = tmp_path / "finds.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["lon", "lat", "category", "found_on", "quantity", "source_id"])
    sheet.append([33.1, 48.1, "uxo", "2025-01-01", 1, "G1"])
    sheet.append(["=1/0", 48.1, "uxo", "2025-01-01", 1, "B1"])
    sheet.append([33.1, 48.2, 42, "2025-01-01", 1, "B2"])
    sheet.append([33.1, 48.3, "uxo", 3.5, "many", "B3"])
    sheet.append([33.2, 48.2, "apm", "2025-01-01", 2.0, "G2"])
    book.save(path)
    result, _ = check_import(engine, path, ["G1", "G2"], 5, kind="find")
    assert result.imported == 2 and result.rejected == 3


def test_implausible_polygons_are_rejected_with_a_reason_and_good_rows_kept(engine, tmp_path):
    collection = _good_geojson(2)
    good = collection["features"][0]
    huge = shapely.box(20, 10, 40, 30)  # 20° × 20°: about 4.8 million km²
    wrapped = shapely.Polygon([(179.9, -17), (-179.9, -17), (-179.9, -16.9), (179.9, -16.9)])
    dense = shapely.Point(30.5, 48.5).buffer(0.01, quad_segs=15_000)  # 60,001 vertices
    for code, geom in (("BIG", huge), ("WRAP", wrapped), ("DENSE", dense)):
        collection["features"].append(
            {
                **good,
                "properties": {**good["properties"], "code": code},
                "geometry": shapely.geometry.mapping(geom),
            }
        )
    path = tmp_path / "implausible.geojson"
    path.write_text(json.dumps(collection))
    result, stored = check_import(engine, path, ["G0", "G1"], 5)
    assert result.imported == 2 and result.reasons == {"implausible_geometry": 3}
    assert not {"BIG", "WRAP", "DENSE"} & stored


def _with_impossible_dates(path, squares, dates):
    """A GeoPackage or Shapefile whose date field holds impossible dates, as another tool may
    write them: GDAL will not write one, so valid stand-ins are swapped for them in the file."""
    stand_in = {"2026-02-30": "2026-02-27", "2026-04-31": "2026-04-29"}
    if path.suffix == ".gpkg":
        write_layer(
            path,
            squares,
            {"code": list(dates), "hazard_type": ["SHA"] * len(dates)},
            geometry_type="Polygon",
        )
        with sqlite3.connect(path) as conn:
            # The R*Tree triggers name these functions; they never run, as no geometry changes.
            for name in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
                conn.create_function(name, 1, lambda _geom: None)
            layer = conn.execute("SELECT table_name FROM gpkg_contents").fetchone()[0]
            conn.execute(f'ALTER TABLE "{layer}" ADD COLUMN reported_on DATE')
            conn.executemany(
                f'UPDATE "{layer}" SET reported_on = ? WHERE code = ?',
                [(day, code) for code, day in dates.items()],
            )
        return
    # A Shapefile: rewrite with a date field, then put the impossible text into the .dbf.
    wkb = np.empty(len(squares), dtype=object)
    wkb[:] = [shapely.to_wkb(g) for g in squares]
    days = np.array([stand_in.get(d, d) for d in dates.values()], dtype="datetime64[D]")
    pyogrio.raw.write(
        str(path),
        wkb,
        [np.array(list(dates), dtype=object), np.array(["SHA"] * len(dates), dtype=object), days],
        ["code", "hazard_ty", "reported_o"],
        crs="EPSG:4326",
        driver="ESRI Shapefile",
        geometry_type="Polygon",
    )
    dbf = path.with_suffix(".dbf")
    raw = dbf.read_bytes()
    for bad, good in stand_in.items():
        raw = raw.replace(good.replace("-", "").encode(), bad.replace("-", "").encode())
    dbf.write_bytes(raw)


@pytest.mark.parametrize("suffix", [".geojson", ".csv", ".gpkg", ".shp"])
def test_an_impossible_date_is_refused_in_every_format(engine, tmp_path, suffix):
    """GDAL turned 2026-02-30 into 2 March in GeoJSON, GeoPackage and Shapefile date fields;
    CSV refused it. Now every format refuses it."""
    square = lonlat_square(33.5, 48.5)
    # All of the form YYYY-MM-DD, so that GDAL types the GeoJSON field as a date.
    dates = {"D0": "2026-02-28", "D1": "2026-02-30", "D2": "2026-04-31", "D3": "2026-03-01"}
    path = tmp_path / f"dates{suffix}"
    options = {}
    if suffix == ".geojson":
        features = [
            {
                "type": "Feature",
                "properties": {"code": code, "hazard_type": "SHA", "reported_on": day},
                "geometry": shapely.geometry.mapping(shapely.affinity.translate(square, 0.01 * i)),
            }
            for i, (code, day) in enumerate(dates.items())
        ]
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    elif suffix in (".gpkg", ".shp"):
        squares = [shapely.affinity.translate(square, 0.01 * i) for i in range(len(dates))]
        _with_impossible_dates(path, squares, dates)
        if suffix == ".shp":  # ten-character field names
            options["maps"] = ("hazard_type=hazard_ty", "reported_on=reported_o")
    else:
        rows = ["code,hazard_type,reported_on,wkt"] + [
            f'{code},SHA,{day},"{shapely.affinity.translate(square, 0.01 * i).wkt}"'
            for i, (code, day) in enumerate(dates.items())
        ]
        path.write_text("\n".join(rows) + "\n")
    result, stored = check_import(engine, path, ["D0", "D3"], 4, **options)
    assert result.reasons == {"bad_date": 2}
    assert {"D1", "D2"}.isdisjoint(stored)


def test_a_bow_tie_whose_halves_cancel_gets_a_readable_reason(engine, tmp_path):
    # Two triangles of almost equal area wound opposite ways: the ring encloses nearly nothing.
    ring = [[30.0, 48.0], [30.001, 48.001], [30.001, 48.0], [30.0, 48.0010001], [30.0, 48.0]]
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "BOW", "hazard_type": "SHA", "reported_on": "2025-01-01"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    path = tmp_path / "bow.geojson"
    path.write_text(json.dumps(collection))
    result = run_import(engine, path)  # nothing is written: its only feature is refused
    assert result.reasons == {"invalid_geometry": 1} and result.imported == 0
    (rejected,) = read_rejects(result.rejects_file)
    assert "enclose almost no area" in rejected["_message"] and "%" not in rejected["_message"]
