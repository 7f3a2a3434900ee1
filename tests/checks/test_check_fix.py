"""``demine check --fix``: safe repairs only, each audited, the land release identity kept exactly."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import shapely
from sqlalchemy import func, select

from demine.checks.repair import IDENTITY_EPSILON_M2, repair_findings, repaired_geometry
from demine.checks.run import run_checks
from demine.geometry.area import geodesic_area
from demine.storage import schema
from demine.storage.audit import history
from demine.storage.database import open_database

DEMINE = [sys.executable, "-m", "demine"]

REPAIRED = {
    ("duplicate_vertices", "hazard", "HA-DUPV"),
    ("duplicate_vertices", "remaining", "HA-DUPV"),
    ("invalid_polygon", "hazard", "HA-SPIKE"),
    ("invalid_polygon", "remaining", "HA-SPIKE"),
}
REFUSED = {
    ("invalid_polygon", "hazard", "HA-BOW"),  # make_valid would create land
    ("invalid_polygon", "remaining", "HA-BOW"),
    ("invalid_polygon", "hazard", "HA-LOOP"),  # has a release product: only epsilon changes allowed
}


def fix(path):
    proc = subprocess.run(
        [*DEMINE, "check", "--fix", "--json", "--db", str(path)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1, proc.stderr  # duplicates, overlaps ... still need a person
    return json.loads(proc.stdout)


def test_fix_repairs_the_repairable_and_refuses_the_rest(planted):
    p7 = ("duplicate_vertices", "release", str(planted.ids["P7"]))
    data = fix(planted.path)
    outcomes = {(r["rule"], r["layer"], r["record"]): r for r in data["repairs"]}
    assert {k for k, r in outcomes.items() if r["repaired"]} == REPAIRED | {p7}
    assert {k for k, r in outcomes.items() if not r["repaired"]} == REFUSED
    assert "release product" in outcomes["invalid_polygon", "hazard", "HA-LOOP"]["message"]
    assert "5,007" in outcomes["invalid_polygon", "hazard", "HA-BOW"]["message"]
    # What --fix reports afterwards is the expected set minus what it repaired.
    after = {(f["rule"], f["layer"], f["record"]) for f in data["findings"]}
    assert after == planted.expected - REPAIRED - {p7}
    # ... and a second check, in a new process, agrees.
    proc = subprocess.run(
        [*DEMINE, "check", "--json", "--db", str(planted.path)], capture_output=True, text=True, timeout=300
    )
    again = {(f["rule"], f["layer"], f["record"]) for f in json.loads(proc.stdout)["findings"]}
    assert again == after


def test_repairs_are_audited_and_keep_the_identity(planted):
    engine = open_database(planted.path)
    with engine.connect() as conn:
        before = {
            code: conn.execute(select(schema.hazard).where(schema.hazard.c.code == code)).one()
            for code in ("HA-DUPV", "HA-SPIKE", "HA-BOW", "HA-LOOP")
        }
    engine.dispose()
    fix(planted.path)
    engine = open_database(planted.path)
    h, r = schema.hazard, schema.hazard_remaining
    with engine.connect() as conn:
        for code in ("HA-DUPV", "HA-SPIKE"):
            row = conn.execute(select(h).where(h.c.code == code)).one()
            rem = conn.execute(select(r).where(r.c.id == row.id)).one()
            assert row.geom.is_valid and shapely.equals_exact(row.geom, rem.geom, 0)
            area = geodesic_area(row.geom)
            # No release products: original = remaining, both recomputed from the new polygon.
            assert row.area_m2 == row.remaining_area_m2 == rem.area_m2 == pytest.approx(area, abs=1e-6)
            assert row.version == before[code].version + 1
            events = conn.execute(
                select(schema.hazard_area_event).where(schema.hazard_area_event.c.hazard_id == row.id)
            ).all()
            assert [(e.event, e.change_m2, e.remaining_m2) for e in events] == [
                ("registered", row.area_m2, row.area_m2)
            ]
            audit = history(conn, "hazard", row.id)
            assert [(a["action"], a["reason"]) for a in audit] == [
                ("repair", "duplicate_vertices" if code == "HA-DUPV" else "invalid_polygon")
            ]
            assert audit[0]["before"]["geom"] == before[code].geom.wkt
            assert shapely.from_wkt(audit[0]["after"]["geom"]).equals(row.geom)
            assert audit[0]["changed_by"] == "demine check --fix"
            assert len(history(conn, "hazard_remaining", row.id)) == 1
        # Refused repairs change nothing.
        for code in ("HA-BOW", "HA-LOOP"):
            row = conn.execute(select(h).where(h.c.code == code)).one()
            assert row.geom.equals_exact(before[code].geom, 0) and row.version == before[code].version
            assert history(conn, "hazard", row.id) == []
        # The repaired release product: new polygon, stored area follows, released area does not.
        p7 = conn.execute(
            select(schema.release_product).where(schema.release_product.c.id == planted.ids["P7"])
        ).one()
        assert p7.area_m2 == pytest.approx(geodesic_area(p7.geom), abs=1e-6)
        assert [a["reason"] for a in history(conn, "release_product", p7.id)] == ["duplicate_vertices"]
        # Per hazard, original = released + remaining wherever it held before the fix.
        released = dict(
            conn.execute(
                select(
                    schema.release_product.c.hazard_id, func.sum(schema.release_product.c.released_area_m2)
                ).group_by(schema.release_product.c.hazard_id)
            ).all()
        )
        for row in conn.execute(select(h)):
            gap = row.area_m2 - released.get(row.id, 0.0) - row.remaining_area_m2
            assert abs(gap) < 1e-6 or row.code == "HA-0007"  # HA-0007's imbalance was planted
        total = conn.execute(select(func.count()).select_from(schema.audit_log)).scalar_one()
        assert total == 7  # 2 × (hazard, remainder, history row) + 1 product, nothing else
    engine.dispose()


def test_fix_runs_in_one_transaction(planted, monkeypatch):
    """A failure half-way through leaves the database as it was."""
    engine = open_database(planted.path)
    calls = []

    def explode(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(*args, **kwargs)

    import demine.checks.repair as repair_module

    original = repair_module.record_change
    monkeypatch.setattr(repair_module, "record_change", explode)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        repair_findings(conn, run_checks(conn).findings)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.audit_log)).scalar_one() == 0
        after = {(f.rule, f.layer, f.record) for f in run_checks(conn).findings}
    assert after == planted.expected
    engine.dispose()


def test_fix_on_clean_data_changes_nothing(demo_copy):
    with demo_copy.begin() as conn:
        report = run_checks(conn)
        assert repair_findings(conn, report.findings) == []
    with demo_copy.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.audit_log)).scalar_one() == 0


def test_repaired_geometry_rules():
    square = shapely.box(0, 0, 0.001, 0.001)
    c = shapely.get_coordinates(square)
    dup = shapely.Polygon([c[0], c[1], c[1], c[2], c[3]])
    fixed, _ = repaired_geometry("duplicate_vertices", dup)
    assert fixed.geom_type == "MultiPolygon" and len(shapely.get_coordinates(fixed)) == 5
    bow = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    fixed, _ = repaired_geometry("invalid_polygon", bow)
    assert fixed.is_valid and geodesic_area(fixed) > 0 and geodesic_area(bow) == pytest.approx(0, abs=1e-3)
    line_like = shapely.Polygon([(0, 0), (1, 0), (2, 0), (0, 0)])
    assert repaired_geometry("invalid_polygon", line_like)[0] is None
    assert repaired_geometry("hazard_overlap", square)[0] is None
    assert IDENTITY_EPSILON_M2 < 1.0
