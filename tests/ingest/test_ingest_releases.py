"""Release products go through the land release accounting: refusals are per row, the identity holds."""

from __future__ import annotations

from datetime import date

import pytest
import shapely
from ingest_support import TODAY, read_rejects, run_import, write_layer
from sqlalchemy import func, select

from demine.register.activities import NewActivity, add_activities
from demine.register.hazards import NewHazard, add_hazards
from demine.reports.summary import programme_summary
from demine.storage import schema
from demine.storage.audit import history

HAZARD = shapely.box(33.0, 48.0, 33.01, 48.01)


@pytest.fixture
def hazards(register):
    with register.begin() as conn:
        add_hazards(
            conn,
            [
                NewHazard("H1", "CHA", HAZARD, date(2025, 1, 1)),
                NewHazard("H2", "CHA", shapely.box(33.1, 48.0, 33.11, 48.01), date(2025, 1, 1)),
                NewHazard(
                    "H3", "SHA", shapely.box(33.2, 48.0, 33.21, 48.01), date(2025, 1, 1), status="closed"
                ),
            ],
            today=TODAY,
        )
        add_activities(
            conn,
            [NewActivity("NTS-1", "nts", "HALO", hazard="H1", status="completed", end_date=date(2025, 3, 1))],
        )
    return register


def _strip(x0, x1, y0=48.0, y1=48.01):
    return shapely.box(x0, y0, x1, y1)


def test_releases_are_accounted_row_by_row(hazards, tmp_path):
    rows = [
        # geometry, hazard, method, released_on, activity, source id -> expected
        (_strip(33.0, 33.002), "H1", "Cancelled by non-technical survey", "2025-03-01", "NTS-1", "R1"),  # ok
        (_strip(33.002, 33.004), "H1", "reduced", "2025-04-01", None, "R2"),  # ok
        (_strip(33.003, 33.005), "H1", "cleared", "2025-05-01", None, "R3"),  # half over R2: overlap
        (_strip(33.009, 33.02), "H1", "cleared", "2025-05-01", None, "R4"),  # mostly outside H1
        (_strip(33.1, 33.105), "H9", "cleared", "2025-05-01", None, "R5"),  # no such hazard
        (_strip(33.2, 33.205), "H3", "cleared", "2025-05-01", None, "R6"),  # hazard closed
        (_strip(33.1, 33.105), "H2", "swept", "2025-05-01", None, "R7"),  # not a method
        (_strip(33.1, 33.105), "H2", "cleared", "2024-12-01", None, "R8"),  # before it was reported
        (_strip(33.1, 33.105), "H2", "cleared", "2026-12-01", None, "R9"),  # in the future
        (_strip(33.1, 33.105), "H2", "cleared", "2025-06-01", "NTS-1", "R10"),  # NTS cannot clear
        (_strip(33.105, 33.11), "H2", "Cleared", "2025-06-01", None, "R11"),  # ok: closes nothing yet
        (_strip(33.105, 33.11), "H2", "cleared", "2025-06-02", None, "R12"),  # the same polygon again
    ]
    fields = {
        "hazard": [r[1] for r in rows],
        "method": [r[2] for r in rows],
        "released_on": [r[3] for r in rows],
        "activity": [r[4] for r in rows],
        "source_id": [r[5] for r in rows],
    }
    path = write_layer(tmp_path / "releases.gpkg", [r[0] for r in rows], fields, driver="GPKG")
    result = run_import(hazards, path, kind="release")
    assert result.read == 12 and result.imported == 3
    expected = {
        "R3": "release_overlap",
        "R4": "release_outside_hazard",
        "R5": "unknown_reference",
        "R6": "release_not_applicable",
        "R7": "bad_code_list_value",
        "R8": "bad_date",
        "R9": "bad_date",
        "R10": "invalid_value",
        "R12": "duplicate",
    }
    got = {r["_source_id"]: r["_reason"] for r in read_rejects(result.rejects_file)}
    assert got == expected
    with hazards.connect() as conn:
        summary = programme_summary(conn, TODAY)
        p = schema.release_product
        products = dict(conn.execute(select(p.c.source_id, p.c.method)).all())
    assert summary["area"]["balanced"]
    assert products == {"R1": "cancelled", "R2": "reduced", "R11": "cleared"}


def test_reimporting_releases_updates_notes_and_refuses_reshaping(hazards, tmp_path):
    geoms = [_strip(33.0, 33.002), _strip(33.002, 33.004)]
    fields = {
        "hazard": ["H1", "H1"],
        "method": ["cleared", "cleared"],
        "released_on": ["2025-03-01", "2025-03-02"],
        "note": ["first", "second"],
        "source_id": ["R1", "R2"],
    }
    path = write_layer(tmp_path / "r.gpkg", geoms, fields, driver="GPKG")
    assert run_import(hazards, path, kind="release").imported == 2
    with hazards.connect() as conn:
        before = conn.execute(select(func.count()).select_from(schema.hazard_area_event)).scalar_one()
    same = run_import(hazards, path, kind="release")
    assert (same.imported, same.updated, same.unchanged) == (0, 2, 2)
    fields["note"][0] = "first, corrected"
    geoms[1] = _strip(33.002, 33.006)
    path = write_layer(tmp_path / "r2.gpkg", geoms, fields, driver="GPKG")
    result = run_import(hazards, path, kind="release")
    assert (result.updated, result.unchanged, result.reasons) == (1, 0, {"release_changed": 1})
    with hazards.connect() as conn:
        p = schema.release_product
        r1 = conn.execute(select(p.c.id, p.c.note).where(p.c.source_id == "R1")).one()
        after = conn.execute(select(func.count()).select_from(schema.hazard_area_event)).scalar_one()
        log = history(conn, "release_product", r1.id)
    assert r1.note == "first, corrected" and log[-1]["before"]["note"] == "first"
    assert after == before  # no product was recorded twice


def test_releases_without_source_ids_are_not_recorded_twice(hazards, tmp_path):
    path = write_layer(
        tmp_path / "r.geojson",
        [_strip(33.0, 33.003)],
        {"hazard": ["H1"], "method": ["cleared"], "released_on": ["2025-03-01"]},
        driver="GeoJSON",
    )
    assert run_import(hazards, path, kind="release").imported == 1
    again = run_import(hazards, path, kind="release")
    assert again.reasons == {"duplicate": 1}
    assert "already has this cleared product" in read_rejects(again.rejects_file)[0]["_message"]
