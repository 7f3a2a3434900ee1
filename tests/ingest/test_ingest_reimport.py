"""Re-imports update by source id (audited), never duplicate; runs are atomic."""

from __future__ import annotations

import json
from datetime import date

import pytest
import shapely
from ingest_support import TODAY, hazard_fields, lonlat_square, read_rejects, run_import, write_layer
from sqlalchemy import func, select

from demine.domain.errors import DemineError
from demine.geometry.area import geodesic_area
from demine.geometry.reading import EnteredGeometry
from demine.ingest import run as ingest_run
from demine.landrelease.accounting import NewRelease, record_release
from demine.landrelease.history import remaining_area_history
from demine.storage import schema
from demine.storage.audit import history

N = 12


def _counts(engine):
    tables = (
        schema.hazard,
        schema.hazard_remaining,
        schema.hazard_area_event,
        schema.release_product,
        schema.eo_find,
        schema.accident,
        schema.admin_area,
        schema.audit_log,
    )
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}


def _squares(n, shift=0.0):
    return [lonlat_square(33 + i * 0.01 + shift, 48, 0.005) for i in range(n)]


@pytest.fixture
def hazards_file(tmp_path):
    return write_layer(tmp_path / "hazards.gpkg", _squares(N), hazard_fields(N), driver="GPKG")


def test_reimport_of_the_same_file_changes_nothing(register, hazards_file):
    first = run_import(register, hazards_file, source_id="sid")
    assert (first.imported, first.updated, first.rejected) == (N, 0, 0)
    before = _counts(register)
    again = run_import(register, hazards_file, source_id="sid")
    assert (again.read, again.imported, again.updated, again.unchanged, again.rejected) == (N, 0, N, N, 0)
    assert _counts(register) == before  # no new rows anywhere, not even in the audit log


def test_reimport_updates_changed_records_and_audits_them(register, hazards_file, tmp_path):
    run_import(register, hazards_file, source_id="sid")
    fields = hazard_fields(N)
    fields["status"][2] = "Suspended"  # a label, any case
    fields["code"][3] = "HZ-RENAMED"
    squares = _squares(N)
    squares[4] = lonlat_square(33.04, 48, 0.008)  # a bigger polygon, no releases yet
    changed = write_layer(tmp_path / "changed.gpkg", squares, fields, driver="GPKG")
    before = _counts(register)
    result = run_import(register, changed, source_id="sid")
    assert (result.imported, result.updated, result.unchanged, result.rejected) == (0, N, N - 3, 0)
    after = _counts(register)
    assert after["audit_log"] == before["audit_log"] + 3
    assert {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }
    h = schema.hazard
    with register.connect() as conn:
        rows = {r.source_id: r for r in conn.execute(select(h))}
        remaining = conn.execute(
            select(schema.hazard_remaining.c.area_m2).where(schema.hazard_remaining.c.id == rows["S4"].id)
        ).scalar_one()
        log = history(conn, "hazard", rows["S2"].id)
        renamed = history(conn, "hazard", rows["S3"].id)
        series = remaining_area_history(conn, "HZ-00004")
    assert rows["S2"].status == "suspended" and rows["S2"].version == 2
    assert log[-1]["action"] == "update" and log[-1]["before"]["status"] == "open"
    assert log[-1]["after"]["status"] == "suspended" and log[-1]["after"]["version"] == 2
    assert log[-1]["reason"] == "import of changed.gpkg, row 3" and log[-1]["changed_by"] == "import"
    assert renamed[-1]["before"]["code"] == "HZ-00003" and renamed[-1]["after"]["code"] == "HZ-RENAMED"
    assert rows["S3"].code == "HZ-RENAMED"
    new_area = geodesic_area(squares[4])
    assert rows["S4"].area_m2 == pytest.approx(new_area) and remaining == pytest.approx(new_area)
    assert series[-1]["remaining_m2"] == pytest.approx(new_area)  # the history follows the new polygon


def test_geometry_of_a_released_hazard_is_not_rewritten(register, hazards_file, tmp_path):
    run_import(register, hazards_file, source_id="sid")
    with register.begin() as conn:
        record_release(
            conn,
            NewRelease(
                "HZ-00001",
                "cleared",
                date(2025, 6, 1),
                EnteredGeometry(lonlat_square(33.01, 48, 0.002), "", "EPSG:4326"),
            ),
            today=TODAY,
        )
    fields = hazard_fields(N)
    fields["name"] = [f"renamed {i}" for i in range(N)]
    squares = _squares(N)
    squares[1] = lonlat_square(33.01, 48, 0.004)
    changed = write_layer(tmp_path / "changed.gpkg", squares, fields, driver="GPKG")
    result = run_import(register, changed, source_id="sid")
    assert result.reasons == {"hazard_has_releases": 1} and result.updated == N - 1
    [reject] = read_rejects(result.rejects_file)
    assert reject["_source_id"] == "S1" and "1 land release product" in reject["_message"]
    # The same row with only its name changed is accepted.
    squares[1] = _squares(N)[1]
    again = write_layer(tmp_path / "again.gpkg", squares, fields, driver="GPKG")
    assert run_import(register, again, source_id="sid").rejected == 0


def test_without_source_ids_a_second_import_is_all_duplicates(register, hazards_file):
    run_import(register, hazards_file)
    before = _counts(register)
    result = run_import(register, hazards_file)
    assert result.reasons == {"duplicate": N}
    assert "already in the register" in read_rejects(result.rejects_file)[0]["_message"]
    assert _counts(register) == before


def test_a_failed_run_writes_nothing(register, tmp_path, monkeypatch):
    n = 30
    path = write_layer(tmp_path / "h.gpkg", _squares(n), hazard_fields(n), driver="GPKG")
    real = ingest_run._import_batch
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the machine fell over")
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_run, "_import_batch", failing)
    before = _counts(register)
    rejects = tmp_path / "rejects.geojson"
    with pytest.raises(RuntimeError):
        run_import(register, path, batch_size=10, rejects=rejects)
    assert _counts(register) == before
    assert not rejects.exists() and not list(tmp_path.glob(".rejects*"))


def test_finds_accidents_and_admin_areas_update_by_their_ids(register, tmp_path):
    points = [shapely.Point(33 + i * 0.01, 48) for i in range(4)]
    finds = {
        "source_id": ["F1", "F2", "F3", "F4"],
        "category": ["apm", "uxo", "Unexploded ordnance", "atm"],
        "found_on": ["2025-01-01"] * 4,
        "quantity": ["1", "2", "1", "1"],
    }
    path = write_layer(tmp_path / "finds.geojson", points, finds, driver="GeoJSON")
    assert run_import(register, path, kind="find").imported == 4
    finds["quantity"][1] = "3"
    path = write_layer(tmp_path / "finds2.geojson", points, finds, driver="GeoJSON")
    result = run_import(register, path, kind="find")
    assert (result.updated, result.unchanged) == (4, 3)

    accidents = {"code": ["A1", "A2"], "occurred_on": ["2025-02-01"] * 2, "accident_kind": ["demining"] * 2}
    accidents["source_id"] = ["X1", "X2"]
    path = write_layer(tmp_path / "acc.gpkg", points[:2], accidents, driver="GPKG")
    assert run_import(register, path, kind="accident").imported == 2
    accidents["accident_kind"][0] = "Mine/ERW accident (not demining)"
    path = write_layer(tmp_path / "acc2.gpkg", points[:2], accidents, driver="GPKG")
    assert run_import(register, path, kind="accident").unchanged == 1

    areas = [lonlat_square(33, 48, 0.5), lonlat_square(33.5, 48, 0.5)]
    admin = {"pcode": ["UA01", "UA02"], "name": ["North", "South"], "level": ["1", "1"]}
    path = write_layer(tmp_path / "admin.gpkg", areas, admin, driver="GPKG")
    assert run_import(register, path, kind="admin").imported == 2
    admin["name"][1] = "South-East"
    path = write_layer(tmp_path / "admin2.gpkg", areas, admin, driver="GPKG")
    result = run_import(register, path, kind="admin")
    assert (result.imported, result.updated, result.unchanged) == (0, 2, 1)
    with register.connect() as conn:
        a = schema.admin_area
        assert conn.execute(select(a.c.name).where(a.c.pcode == "UA02")).scalar_one() == "South-East"
        logged = conn.execute(select(schema.audit_log.c.table_name, schema.audit_log.c.after)).all()
    assert sorted(t for t, _ in logged) == ["accident", "admin_area", "eo_find"]
    assert all(json.loads(after) for _, after in logged)


def test_mapping_mistakes_are_clean_errors(register, hazards_file):
    with pytest.raises(DemineError, match=r"no field 'colour'.*the fields: code, name"):
        run_import(register, hazards_file, maps=["colour=code"])
    with pytest.raises(DemineError, match="no column 'nope'; its columns: sid, code"):
        run_import(register, hazards_file, maps=["name=nope"])
    with pytest.raises(DemineError, match="write it as field=value"):
        run_import(register, hazards_file, defaults=["status"])
    with pytest.raises(DemineError, match="--source-id: the file has no column 'id'"):
        run_import(register, hazards_file, source_id="id")
    with pytest.raises(DemineError, match="unknown CRS"):
        run_import(register, hazards_file, crs="EPSG:999999")
    with pytest.raises(DemineError, match=r"rejects\.txt.*geojson or \.csv"):
        run_import(register, hazards_file, rejects=hazards_file.with_name("rejects.txt"))


def test_defaults_and_maps_fill_fields(register, tmp_path):
    squares = _squares(3)
    fields = {
        "ID": ["a", "b", "c"],
        "Typ": ["", "CHA", ""],
        "Datum": ["01/02/2025", "03/02/2025", "2025-02-04"],
    }
    path = write_layer(tmp_path / "odd.gpkg", squares, fields, driver="GPKG")
    result = run_import(
        register,
        path,
        maps=["code=ID", "hazard_type=Typ", "reported_on=Datum"],
        defaults=["hazard_type=SHA", "priority=High"],
        date_format="%d/%m/%Y",
    )
    assert (result.imported, result.rejected) == (3, 0)
    with register.connect() as conn:
        rows = {r.code: r for r in conn.execute(select(schema.hazard))}
    assert rows["a"].hazard_type == "SHA" and rows["b"].hazard_type == "CHA"
    assert rows["b"].reported_on == date(2025, 2, 3) and rows["c"].reported_on == date(2025, 2, 4)
    assert {r.priority for r in rows.values()} == {"high"}


def test_bad_code_list_value_names_the_field_and_the_allowed_codes(register, tmp_path):
    path = write_layer(
        tmp_path / "h.gpkg", _squares(1), hazard_fields(1, hazard_type=["Dangerous"]), driver="GPKG"
    )
    result = run_import(register, path)
    [reject] = read_rejects(result.rejects_file)
    assert reject["_reason"] == "bad_code_list_value"
    assert "hazard_type: 'Dangerous'" in reject["_message"] and "SHA, CHA" in reject["_message"]
