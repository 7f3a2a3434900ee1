"""Every format an operator may send, written by GDAL, openpyxl or csv, is read correctly."""

from __future__ import annotations

import csv
import zipfile
from datetime import date, datetime

import numpy as np
import openpyxl
import pytest
import shapely
from ingest_support import (
    TO_UTM,
    UTM36,
    hazard_fields,
    lonlat_square,
    read_rejects,
    run_import,
    to_wgs84,
    utm_square,
    write_layer,
)
from pyproj import Transformer
from sqlalchemy import select

from demine.domain.errors import DemineError
from demine.geometry.polygons import as_multipolygon
from demine.storage import schema


def _hazards(engine):
    h = schema.hazard
    with engine.connect() as conn:
        rows = conn.execute(select(h).order_by(h.c.code)).all()
    return {r.code: r for r in rows}


def _same(a, b, tolerance=1e-9):
    """Same vertices to ``tolerance`` degrees, whatever the ring order or Polygon/MultiPolygon."""
    if a.geom_type != b.geom_type:
        a, b = as_multipolygon(a), as_multipolygon(b)
    return shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=tolerance)


def _utm_squares(n):
    return [utm_square(500_000 + 300 * i, 5_320_000 + 200 * i, 120.0) for i in range(n)]


def test_utm_geopackage_is_reprojected_and_keeps_what_was_entered(register, tmp_path):
    squares = _utm_squares(5)
    path = write_layer(tmp_path / "utm.gpkg", squares, hazard_fields(5), crs=UTM36, driver="GPKG")
    result = run_import(register, path, source_id="sid")
    assert (result.read, result.imported, result.rejected) == (5, 5, 0)
    assert result.source_crs == UTM36 and result.source_format == "GPKG"
    hazards = _hazards(register)
    for i, square in enumerate(squares):
        h = hazards[f"HZ-{i:05d}"]
        assert _same(h.geom, to_wgs84(square))
        assert h.entered_crs == UTM36
        assert _same(shapely.from_wkt(h.entered_geometry), square, 1e-6)
        assert h.hazard_type == ("SHA" if i % 2 else "CHA")  # label "Confirmed hazardous area" → CHA
        assert h.eo_categories == ("apm,uxo" if i % 4 else "apm")
        assert h.organisation_id is not None
        assert h.area_m2 == pytest.approx(120 * 120, rel=2e-3)


def test_zipped_shapefile(register, tmp_path):
    folder = tmp_path / "shp"
    folder.mkdir()
    squares = _utm_squares(4)
    # Names as a DBF cuts them (10 characters): they map by themselves.
    fields = {name[:10]: values for name, values in hazard_fields(4).items()}
    write_layer(folder / "hazards.shp", squares, fields, crs=UTM36, driver="ESRI Shapefile")
    archive = tmp_path / "hazards.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in folder.iterdir():
            z.write(part, part.name)
    result = run_import(register, archive, source_id="sid")
    assert (result.imported, result.rejected) == (4, 0)
    hazards = _hazards(register)
    for i, square in enumerate(squares):
        # Shapefiles store outer rings clockwise: the same polygon, vertices in another order.
        assert _same(hazards[f"HZ-{i:05d}"].geom, to_wgs84(square))


def test_geojson_and_flatgeobuf(register, tmp_path):
    squares = [lonlat_square(33 + 0.01 * i, 48) for i in range(3)]
    write_layer(tmp_path / "a.geojson", squares, hazard_fields(3), driver="GeoJSON")
    merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    in_merc = [shapely.transform(g, lambda xy: np.column_stack(merc.transform(*xy.T))) for g in squares]
    write_layer(tmp_path / "b.fgb", in_merc, hazard_fields(3, start=10), crs="EPSG:3857", driver="FlatGeobuf")
    first = run_import(register, tmp_path / "a.geojson", source_id="sid")
    second = run_import(register, tmp_path / "b.fgb", source_id="sid")
    assert first.imported == 3 and second.imported == 3 and second.source_crs == "EPSG:3857"
    hazards = _hazards(register)
    for i, square in enumerate(squares):
        assert _same(hazards[f"HZ-{i:05d}"].geom, square)
        assert _same(hazards[f"HZ-{10 + i:05d}"].geom, square)
        # A WGS 84 file entered what is stored: the register does not keep it twice.
        assert hazards[f"HZ-{i:05d}"].entered_geometry is None


def test_kml_drops_z_and_keeps_it_as_entered(register, tmp_path):
    squares = [shapely.force_3d(lonlat_square(33 + 0.01 * i, 48), 120.0) for i in range(3)]
    path = write_layer(tmp_path / "h.kml", squares, hazard_fields(3), driver="KML")
    result = run_import(register, path, source_id="sid")
    assert (result.imported, result.rejected) == (3, 0)
    h = _hazards(register)["HZ-00001"]
    assert not shapely.has_z(h.geom)
    assert _same(h.geom, shapely.force_2d(squares[1]))
    assert "Z" in h.entered_geometry


def test_csv_with_wkt_in_utm(register, tmp_path):
    squares = _utm_squares(3)
    fields = hazard_fields(3)
    path = tmp_path / "hazards.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(["Shape", *fields])
        for i, square in enumerate(squares):
            writer.writerow([square.wkt, *(fields[k][i] for k in fields)])
    result = run_import(register, path, source_id="sid", crs=UTM36)
    assert (result.imported, result.rejected) == (3, 0)
    hazards = _hazards(register)
    for i, square in enumerate(squares):
        assert _same(hazards[f"HZ-{i:05d}"].geom, to_wgs84(square))
        assert hazards[f"HZ-{i:05d}"].entered_geometry == square.wkt  # the text exactly as entered


def test_csv_of_finds_with_lat_lon_and_decimal_commas(register, tmp_path):
    path = tmp_path / "finds.csv"
    rows = [
        ["Latitude", "Longitude", "category", "found_on", "quantity", "sid"],
        ["48,1", "33,2", "Anti-personnel mine", "2025-04-01", "2", "F1"],
        ["48.2", "33.3", "uxo", "2025/04/02", "1", "F2"],
        ["", "", "uxo", "2025-04-02", "1", "F3"],
        ["48.2", "north", "uxo", "2025-04-02", "1", "F4"],
        ["148.2", "33.3", "uxo", "2025-04-02", "1", "F5"],
    ]
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    result = run_import(register, path, kind="find", source_id="sid")
    assert result.imported == 2
    assert result.reasons == {"missing_geometry": 1, "invalid_geometry": 1, "out_of_range_coordinates": 1}
    f = schema.eo_find
    with register.connect() as conn:
        finds = {r.source_id: r for r in conn.execute(select(f))}
    assert (finds["F1"].geom.x, finds["F1"].geom.y) == (33.2, 48.1)
    assert finds["F1"].category == "apm" and finds["F1"].quantity == 2
    assert finds["F2"].found_on == date(2025, 4, 2)


def test_xlsx_written_by_openpyxl(register, tmp_path):
    path = tmp_path / "accidents.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Accidents"
    sheet.append(["Accident code", "Occurred on", "Kind", "lon", "lat", "EO category"])
    sheet.append(["ACC-1", datetime(2025, 5, 1), "Demining accident", 33.25, 48.05, "apm"])
    sheet.append(["ACC-2", date(2025, 5, 2), "non_demining", "33.26", "48.06", None])
    sheet.append([None, None, None, None, None, None])  # a blank row is not a feature
    sheet.append(["ACC-3", "yesterday", "demining", 33.27, 48.07, None])
    book.save(path)
    result = run_import(
        register,
        path,
        kind="accident",
        maps=["code=Accident code", "occurred_on=Occurred on", "accident_kind=Kind"],
    )
    assert (result.read, result.imported, result.rejected) == (3, 2, 1)
    assert result.reasons == {"bad_date": 1}
    a = schema.accident
    with register.connect() as conn:
        rows = {r.code: r for r in conn.execute(select(a))}
    assert rows["ACC-1"].accident_kind == "demining" and rows["ACC-1"].occurred_on == date(2025, 5, 1)
    assert rows["ACC-2"].geom.equals(shapely.Point(33.26, 48.06))


def test_latin1_csv_is_detected(register, tmp_path):
    path = tmp_path / "latin1.csv"
    square = lonlat_square(33.1, 48.1)
    text = (
        f'code,name,hazard_type,reported_on,wkt\nH-1,Champ près de l\'école,SHA,2025-01-02,"{square.wkt}"\n'
    )
    path.write_bytes(text.encode("latin-1"))
    result = run_import(register, path)
    assert result.imported == 1 and result.encoding == "cp1252"
    assert any("not UTF-8" in w for w in result.warnings)
    assert _hazards(register)["H-1"].name == "Champ près de l'école"


def test_layers_are_chosen_or_named(register, tmp_path):
    path = tmp_path / "two.gpkg"
    write_layer(path, [lonlat_square(33, 48)], hazard_fields(1), driver="GPKG", layer="first")
    write_layer(path, [lonlat_square(33.1, 48)], hazard_fields(1, start=5), driver="GPKG", layer="second")
    with pytest.raises(DemineError, match="2 layers; choose one with --layer: first, second"):
        run_import(register, path)
    with pytest.raises(DemineError, match="no layer 'third'"):
        run_import(register, path, layer="third")
    assert run_import(register, path, layer="second").imported == 1
    assert "HZ-00005" in _hazards(register)


def test_rejects_as_csv_keep_attributes(register, tmp_path):
    squares = [lonlat_square(33, 48), shapely.Point(33, 48)]
    path = write_layer(tmp_path / "h.geojson", squares, hazard_fields(2), driver="GeoJSON")
    result = run_import(register, path, rejects=tmp_path / "out" / "rejects.csv")
    rows = read_rejects(result.rejects_file)
    assert len(rows) == 1
    assert rows[0]["_row"] == "2" and rows[0]["_reason"] == "wrong_geometry_type"
    assert rows[0]["code"] == "HZ-00001" and rows[0]["_geometry_wkt"] == "POINT (33 48)"


def test_utm_csv_entered_coordinates_round_trip(register, tmp_path):
    lon, lat = 33.123456, 48.654321
    x, y = TO_UTM.transform(lon, lat)
    path = tmp_path / "finds.csv"
    path.write_text(f"x,y,category,found_on\n{x!r},{y!r},uxo,2025-01-01\n")
    assert run_import(register, path, kind="find", crs=UTM36).imported == 1
    with register.connect() as conn:
        geom = conn.execute(select(schema.eo_find.c.geom)).scalar_one()
    assert geom.x == pytest.approx(lon, abs=1e-9) and geom.y == pytest.approx(lat, abs=1e-9)
