"""``demine db copy`` / ``backup`` / ``migrate``: a programme moves between SQLite and PostGIS intact.

A real GeoPackage programme (with edits in its audit log and an id freed by a deletion) is
copied into a real PostGIS database and back; the copy back is identical to the original,
row by row and coordinate by coordinate, and is still a GeoPackage GDAL reads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pyogrio
import pytest
from sqlalchemy import func, select, text

from demine.domain.errors import DemineError
from demine.register.organisations import NewOrganisation, add_organisations
from demine.reports.summary import programme_summary
from demine.storage import schema
from demine.storage.audit import history
from demine.storage.backup import restore_postgres
from demine.storage.copy import copy_database, id_counters, verify_copy
from demine.storage.database import head_revision, open_database
from demine.synthetic.programme import build_programme
from demine.workflow.records import update_record

DEMINE = [sys.executable, "-m", "demine"]


def run(*args, check=True):
    proc = subprocess.run([*DEMINE, *args], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def programme(tmp_path_factory):
    """A SQLite programme with history: an edited hazard and an organisation deleted (id freed)."""
    path = tmp_path_factory.mktemp("source") / "programme.gpkg"
    engine = open_database(path, create=True)
    with engine.begin() as conn:
        build_programme(conn, hazards=120, seed=5, as_of=date(2026, 6, 30))
        version = conn.execute(select(schema.hazard.c.version).where(schema.hazard.c.id == 1)).scalar_one()
        update_record(conn, "hazard", 1, version, {"name": "Renamed on SQLite"}, actor="tests", reason="copy")
        (gone,) = add_organisations(conn, [NewOrganisation("GONE", "Closed down", "ngo")])
        conn.execute(schema.organisation.delete().where(schema.organisation.c.id == gone))
    engine.dispose()
    return path, gone


def _counts(engine):
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in schema.metadata.sorted_tables
        }


def test_sqlite_to_postgis_and_back_is_lossless(programme, store, tmp_path):
    source, gone = programme
    url = store.new("copied")
    report = copy_database(str(source), url)
    assert report.verified and not report.differences
    src, pg = open_database(source), open_database(url)
    counts = _counts(src)
    assert report.rows == counts and _counts(pg) == counts
    assert counts["hazard"] == 120 and counts["audit_log"] >= 1 and report.geometries > 120
    with pg.connect() as conn:
        # Real PostGIS geometries in WGS 84, whose geodesic area is the area the register stored.
        srid, kind = conn.execute(text("SELECT DISTINCT ST_SRID(geom), GeometryType(geom) FROM hazard")).one()
        assert (srid, kind) == (4326, "MULTIPOLYGON")
        worst = conn.execute(
            text("SELECT max(abs(ST_Area(geom::geography) - area_m2) / area_m2) FROM hazard")
        ).scalar_one()
        assert worst < 1e-6
        # The land release identity holds on the copy; the edit's history came along.
        assert programme_summary(conn)["area"]["balanced"] is True
        on_pg = history(conn, "hazard", 1)
        assert on_pg[-1]["after"]["name"] == "Renamed on SQLite"
    with src.connect() as conn:
        assert history(conn, "hazard", 1) == on_pg
    # The id the deleted organisation had is not handed out again on PostgreSQL.
    with pg.begin() as conn:
        (new_id,) = add_organisations(conn, [NewOrganisation("NEW", "New on PostGIS", "ngo")])
    assert new_id > gone
    with pg.begin() as conn:
        conn.execute(schema.organisation.delete().where(schema.organisation.c.id == new_id))

    back = tmp_path / "back.gpkg"
    assert copy_database(url, str(back)).verified
    round_trip = open_database(back)
    assert verify_copy(src, round_trip) == []  # SQLite -> PostGIS -> SQLite: identical
    with round_trip.connect() as conn:
        assert id_counters(conn)["organisation"] >= new_id
        indexed = conn.exec_driver_sql("SELECT count(*) FROM rtree_hazard_geom").scalar_one()
    assert indexed == counts["hazard"]
    for engine in (src, pg, round_trip):
        engine.dispose()
    info = pyogrio.read_info(back, layer="hazard")
    assert info["features"] == counts["hazard"] and info["crs"] == "EPSG:4326"


def test_copy_refuses_a_target_that_holds_records(programme, store):
    source, _ = programme
    url = store.new("busy")
    copy_database(str(source), url)
    before = _counts(open_database(url))
    with pytest.raises(DemineError, match="already holds records"):
        copy_database(str(source), url)
    assert _counts(open_database(url)) == before
    proc = run("db", "copy", "--from", str(source), "--to", url, check=False)
    assert proc.returncode == 3 and "already holds records" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_migrate_copy_and_backup_both_stores(programme, store, tmp_path):
    source, _ = programme
    url = store.new("cli")
    migrated = json.loads(run("db", "migrate", "--db", url, "--json").stdout)
    assert migrated == {"from": None, "to": head_revision(), "head": head_revision()}
    again = json.loads(run("db", "migrate", "--db", url, "--json").stdout)
    assert again["from"] == again["to"] == head_revision()

    copied = json.loads(run("db", "copy", "--from", str(source), "--to", url, "--json").stdout)
    assert copied["verified"] is True and copied["rows"]["hazard"] == 120

    # PostgreSQL: pg_dump -Fc, restored with pg_restore into a new database, identical.
    dump = tmp_path / "programme.dump"
    done = json.loads(run("db", "backup", str(dump), "--db", url, "--json").stdout)
    assert done["method"] == "pg_dump -Fc" and dump.stat().st_size == done["bytes"] > 0
    restored = store.new("restored")
    restore_postgres(dump, restored)
    assert verify_copy(open_database(url), open_database(restored)) == []

    # SQLite: the online backup API; the backup is a GeoPackage with the same records.
    out = tmp_path / "backup.gpkg"
    done = json.loads(run("db", "backup", str(out), "--db", str(source), "--json").stdout)
    assert done["method"] == "sqlite online backup"
    assert verify_copy(open_database(source), open_database(out)) == []
    assert pyogrio.read_info(out, layer="hazard")["features"] == 120
    refused = run("db", "backup", str(out), "--db", str(source), check=False)
    assert refused.returncode == 3 and "--overwrite" in refused.stderr and "Traceback" not in refused.stderr
