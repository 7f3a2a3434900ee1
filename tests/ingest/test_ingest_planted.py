"""A 10,000-polygon UTM GeoPackage with 5 % planted defects: every feature has exactly one outcome."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import shapely
from ingest_support import UTM36, hazard_fields, read_rejects, run_import, to_wgs84, utm_square, write_layer
from sqlalchemy import func, select

import backend_support
from demine.storage import schema
from demine.storage.database import open_database

N = 10_000
X0, Y0 = 500_000.0, 5_320_000.0  # UTM 36N, near 33°E 48°N
AOI = (32.5, 47.5, 34.0, 48.5)


def _bowtie(x, y):
    return shapely.Polygon([(x, y), (x + 100, y + 100), (x + 100, y), (x, y + 100)])


def _figure_eight(x, y):
    # A ring that touches itself at one vertex: invalid, and make_valid keeps its area exactly.
    return shapely.Polygon(
        [(x, y), (x + 100, y), (x + 100, y + 100), (x + 50, y + 50), (x, y + 100), (x + 50, y + 50)]
    )


def _with_repeats(x, y):
    return shapely.Polygon(
        [(x, y), (x + 100, y), (x + 100, y), (x + 100, y + 100), (x, y + 100), (x, y + 100)]
    )


# reason -> how to plant it in (geometries, fields, row index)
def _plant(reason, i, geoms, fields):
    x, y = geoms[i].exterior.coords[0] if geoms[i] is not None else (X0, Y0)
    if reason == "missing_geometry":
        geoms[i] = None
    elif reason == "invalid_geometry":
        geoms[i] = _bowtie(x, y)
    elif reason == "wrong_geometry_type":
        geoms[i] = shapely.LineString([(x, y), (x + 100, y + 100)])
    elif reason == "out_of_range_coordinates":
        with np.errstate(invalid="ignore"):  # the NaN is the point
            geoms[i] = utm_square(x, y) if i % 2 else shapely.Polygon([(x, y), (np.nan, y), (x, y + 100)])
        if i % 2:
            geoms[i] = shapely.affinity.translate(geoms[i], yoff=9e7)  # 90,000 km north
    elif reason == "outside_area_of_interest":
        geoms[i] = shapely.affinity.translate(geoms[i], yoff=300_000)  # ~2.7° north of the AOI
    elif reason == "missing_required_field":
        fields["hazard_type" if i % 2 else "code"][i] = "" if i % 2 else None
    elif reason == "bad_code_list_value":
        fields["hazard_type"][i] = "RHA"
    elif reason == "bad_date":
        fields["reported_on"][i] = "2025-13-45" if i % 2 else "2027-01-01"  # impossible, or future
    elif reason == "bad_number":
        fields["benchmark_lon"][i], fields["benchmark_lat"][i] = "east", "48.1"
    elif reason == "invalid_value":
        fields["benchmark_lon"][i], fields["benchmark_lat"][i] = "33.1", ""
    elif reason == "unknown_reference":
        fields["organisation"][i] = "Nobody"
    elif reason == "duplicate":
        kind = i % 3
        if kind == 0:
            fields["sid"][i] = fields["sid"][i - 1]
        elif kind == 1:
            fields["code"][i] = fields["code"][i - 1]
        else:
            geoms[i] = geoms[i - 1]
    else:  # pragma: no cover
        raise AssertionError(reason)


REASONS = [
    "missing_geometry",
    "invalid_geometry",
    "wrong_geometry_type",
    "out_of_range_coordinates",
    "outside_area_of_interest",
    "duplicate",
    "missing_required_field",
    "bad_code_list_value",
    "bad_date",
    "bad_number",
    "invalid_value",
    "unknown_reference",
]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The file, what was planted where, and the rows planted with a repairable defect."""
    rng = np.random.default_rng(42)
    # A 100 × 100 grid of 100 m squares 150 m apart: no two overlap.
    geoms = [utm_square(X0 + (i % 100) * 150.0, Y0 + (i // 100) * 150.0, 100.0) for i in range(N)]
    geoms = list(shapely.set_precision(geoms, 0.001))
    fields = hazard_fields(N)
    fields["benchmark_lon"] = [None] * N
    fields["benchmark_lat"] = [None] * N
    broken = rng.choice(np.arange(1, N), size=N // 20, replace=False)
    plant: dict[int, str] = {}
    for n, i in enumerate(sorted(broken)):
        plant[int(i)] = REASONS[n % len(REASONS)]
    # A duplicate copies row i-1: keep that row clean, so the copy is the only defect.
    for i, reason in list(plant.items()):
        if reason == "duplicate" and (i - 1) in plant:
            plant.pop(i - 1)
    for i, reason in plant.items():
        _plant(reason, i, geoms, fields)
    clean = [i for i in range(N) if i not in plant and (i + 1) not in plant]
    repaired = {int(i): "duplicate_vertices" for i in clean[0:40]}
    repaired |= {int(i): "made_valid" for i in clean[40:70]}
    for i, repair in repaired.items():
        x, y = geoms[i].exterior.coords[0]
        geoms[i] = _with_repeats(x, y) if repair == "duplicate_vertices" else _figure_eight(x, y)
    path = write_layer(tmp_path_factory.mktemp("planted") / "hazards.gpkg", geoms, fields, crs=UTM36)
    return path, plant, repaired, geoms


@pytest.fixture(scope="module")
def imported(planted, register_template, tmp_path_factory):
    """The planted file imported once into a fresh register."""
    path = tmp_path_factory.mktemp("imported") / "register.gpkg"
    path = backend_support.clone(register_template, path)
    engine = open_database(path)
    result = run_import(engine, planted[0], source_id="sid", aoi=AOI)
    yield result, engine
    engine.dispose()


def test_every_feature_has_exactly_one_outcome(planted, imported):
    _, plant, repaired, _ = planted
    result, register = imported
    planted_reasons = Counter(plant.values())
    assert set(planted_reasons) == set(REASONS)
    assert result.read == N
    assert result.rejected == len(plant)
    assert result.imported == N - len(plant)
    assert result.updated == 0
    assert result.read == result.imported + result.updated + result.rejected
    assert result.reasons == dict(planted_reasons)
    assert result.repaired == len(repaired)
    assert result.repairs == dict(Counter(repaired.values()))

    rejects = read_rejects(result.rejects_file)
    by_row = {r["_row"]: r for r in rejects}
    assert len(by_row) == len(rejects) == len(plant)
    assert {row - 1: r["_reason"] for row, r in by_row.items()} == plant
    assert all(r["_message"] for r in rejects)
    # The rejection file keeps the original attributes and the geometry as entered (UTM).
    sample = next(r for r in rejects if r["_reason"] == "invalid_geometry")
    assert sample["code"].startswith("HZ-") and "Self-intersection" in sample["_message"]
    assert sample["geometry"]["coordinates"][0][0][0] > 100_000  # metres, not degrees

    with register.connect() as conn:
        h = schema.hazard
        stored = dict(conn.execute(select(h.c.source_id, h.c.entered_crs)).all())
        count = conn.execute(select(func.count()).select_from(h)).scalar_one()
    imported_rows = {int(sid[1:]) for sid in stored}
    rejected_rows = {row - 1 for row in by_row}
    assert count == result.imported
    assert imported_rows.isdisjoint(rejected_rows)
    assert imported_rows | rejected_rows == set(range(N))
    assert set(stored.values()) == {UTM36}


def test_imported_polygons_are_the_reprojected_originals(planted, imported):
    _, _, repaired, geoms = planted
    register = imported[1]
    with register.connect() as conn:
        h = schema.hazard
        rows = conn.execute(
            select(h.c.source_id, h.c.geom, h.c.entered_geometry, h.c.area_m2).order_by(h.c.id).limit(300)
        ).all()
    for sid, geom, entered, area in rows:
        i = int(sid[1:])
        if i in repaired:
            continue
        expected = to_wgs84(geoms[i])
        assert shapely.equals_exact(geom.geoms[0], expected, tolerance=1e-9)
        assert shapely.equals_exact(shapely.from_wkt(entered), geoms[i], tolerance=1e-6)
        assert area == pytest.approx(100 * 100, rel=2e-3)  # a 100 m square, scale factor ≈ 0.9996²


def test_dry_run_counts_the_same_and_writes_nothing(planted, register):
    path, plant, _, _ = planted
    result = run_import(register, path, source_id="sid", aoi=AOI, dry_run=True)
    assert result.rejected == len(plant) and result.imported == N - len(plant)
    with register.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.hazard)).scalar_one() == 0
