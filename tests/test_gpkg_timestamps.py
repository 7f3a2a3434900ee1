"""Timestamps a desktop GIS reads without a word: GeoPackage DATETIME, ``YYYY-MM-DDTHH:MM:SS.SSSZ``.

Debian's GDAL 3.6 (under QGIS there) warns "Non-conformant content" for every layer whose
timestamps lack the milliseconds, when it reads the features. Each layer of a fresh demo, of
a file written through demine's other writers (tokens, record edits, rows QGIS adds) and of a
file migrated from the older forms is read feature by feature with ``ogrinfo``; demine reads
the same instants back before and after migration 0007, and PostgreSQL keeps its
``timestamptz`` values through it.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import DateTime, insert, select

from demine.accounts.tokens import issue_token
from demine.accounts.users import get_user
from demine.register.organisations import NewOrganisation, add_organisations
from demine.storage import schema
from demine.storage.database import alembic_config, head_revision, open_database
from demine.storage.types import parse_stored_datetime, stored_text
from demine.workflow.records import current_state, update_record

DEMINE = [sys.executable, "-m", "demine"]
CONFORMANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
TIMESTAMPED = [t for t in schema.metadata.sorted_tables if any(isinstance(c.type, DateTime) for c in t.c)]


def _gdal_says(ogrinfo: str, path: Path, layer: str | None = None) -> str:
    """What GDAL writes on stderr while reading every feature of every layer (or of ``layer``)."""
    with closing(sqlite3.connect(path)) as raw:
        layers = [r[0] for r in raw.execute("SELECT table_name FROM gpkg_contents ORDER BY table_name")]
        counts = {t: raw.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in layers}
    assert "hazard" in layers and "app_user" in layers
    run = subprocess.run(
        [ogrinfo, "-ro", "-q", "-geom=NO", str(path), *([layer] if layer else ["-al"])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    # Every feature of each layer was read (ogrinfo prints a section per layer).
    read = {
        m[1]: section.count("\nOGRFeature(")
        for section in run.stdout.split("\nLayer name: ")[1:]
        if (m := re.match(r"(\w+)", section))
    }
    assert read == ({layer: counts[layer]} if layer else counts)
    return run.stderr.strip()


def _stored(path: Path) -> dict[tuple[str, str], list[tuple[int, str | None]]]:
    """Every timestamp of demine's tables as stored text, by (table, column), in rowid order."""
    out = {}
    with closing(sqlite3.connect(path)) as raw:
        for table in TIMESTAMPED:
            for column in table.c:
                if isinstance(column.type, DateTime):
                    rows = raw.execute(f'SELECT rowid, "{column.name}" FROM "{table.name}" ORDER BY rowid')
                    out[table.name, column.name] = rows.fetchall()
    return out


def _instants(engine) -> dict[tuple[str, str], list[datetime | None]]:
    """Every timestamp of demine's tables as demine reads it."""
    out = {}
    with engine.connect() as conn:
        for table in TIMESTAMPED:
            columns = [c for c in table.c if isinstance(c.type, DateTime)]
            rows = conn.execute(select(*columns).order_by(*table.primary_key.columns)).all()
            for i, column in enumerate(columns):
                out[table.name, column.name] = [row[i] for row in rows]
    return out


@pytest.fixture(scope="module")
def fresh_demo(tmp_path_factory) -> Path:
    """A small demo with web logins, built by the command line as a user would."""
    path = tmp_path_factory.mktemp("gpkg_timestamps") / "demo.gpkg"
    run = subprocess.run(
        [*DEMINE, "demo", "--db", str(path), "--hazards", "50", "--users"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    return path


@pytest.mark.sqlite_only
def test_a_fresh_demo_reads_in_gdal_without_a_warning(ogrinfo, fresh_demo):
    assert _gdal_says(ogrinfo, fresh_demo) == ""
    stamps = _stored(fresh_demo)
    assert sum(len(v) for v in stamps.values()) > 100
    assert all(CONFORMANT.match(s) for values in stamps.values() for _, s in values if s is not None)


@pytest.mark.sqlite_only
def test_every_writer_writes_the_conformant_form(ogrinfo, fresh_demo, tmp_path):
    path = tmp_path / "written.gpkg"
    path.write_bytes(fresh_demo.read_bytes())
    engine = open_database(path)
    try:
        with engine.begin() as conn:
            admin = get_user(conn, "admin")
            issued = issue_token(conn, admin, name="QGIS", ttl=timedelta(days=3))  # a Python datetime
            hazard = conn.execute(select(schema.hazard.c.id, schema.hazard.c.version).limit(1)).one()
            update_record(
                conn, "hazard", hazard.id, hazard.version, {"name": "edited in the browser"}, "im"
            )  # utcnow()
            # A Python value with a zone other than UTC is stored as the same instant in UTC.
            kyiv = datetime(2026, 3, 1, 14, 30, 15, 250999, tzinfo=timezone(timedelta(hours=2)))
            conn.execute(
                schema.auth_token.update().where(schema.auth_token.c.id == issued.id).values(revoked_at=kyiv)
            )
            state = current_state(conn, "hazard", hazard.id)
        engine.dispose()
        # A row added in QGIS gets its timestamps from the columns' defaults.
        with closing(sqlite3.connect(path)) as raw, raw:
            raw.execute(
                "INSERT INTO organisation (code, name, organisation_type) VALUES ('QGS', 'In QGIS', 'ngo')"
            )
            added = raw.execute(
                "SELECT created_at, updated_at FROM organisation WHERE code = 'QGS'"
            ).fetchone()
            token = raw.execute(
                "SELECT created_at, expires_at, revoked_at FROM auth_token WHERE id = ?", (issued.id,)
            ).fetchone()
            edited = raw.execute("SELECT updated_at FROM hazard WHERE id = ?", (hazard.id,)).fetchone()
    finally:
        engine.dispose()
    assert all(CONFORMANT.match(s) for s in (*added, *token, *edited)), (added, token, edited)
    assert token[2] == "2026-03-01T12:30:15.250Z"
    assert parse_stored_datetime(token[1]) == issued.expires_at  # read back as written
    assert datetime.fromisoformat(state["updated_at"]) == parse_stored_datetime(edited[0])
    assert _gdal_says(ogrinfo, path) == ""


OLD_FORMS = {
    # table: (SQL giving an old form of the column's value, what that stored text means)
    "hazard": "strftime('%Y-%m-%dT%H:%M:%SZ', {c})",  # demine before 0007
    "audit_log": "strftime('%Y-%m-%d %H:%M:%S', {c})",  # demine before its GeoPackage timestamps
    "person": "strftime('%Y-%m-%d %H:%M:%S', {c}) || '.123456'",  # SQLAlchemy's own SQLite form
    "organisation": "strftime('%Y-%m-%dT%H:%M:%S', {c}, '+2 hours') || '+02:00'",  # with a zone
}


def _expected(text: str) -> datetime:
    """The instant an old stored text means, to the millisecond (no zone: UTC)."""
    when = datetime.fromisoformat(text)
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


@pytest.mark.sqlite_only
def test_an_older_file_migrates_to_conformant_timestamps_keeping_each_instant(ogrinfo, fresh_demo, tmp_path):
    path = tmp_path / "older.gpkg"
    path.write_bytes(fresh_demo.read_bytes())
    engine = open_database(path)
    command.downgrade(alembic_config(engine), "0006")  # the defaults as demine wrote them before
    with engine.begin() as conn:  # ... and the values
        for table in TIMESTAMPED:
            form = OLD_FORMS.get(table.name, "strftime('%Y-%m-%dT%H:%M:%SZ', {c})")
            columns = [c.name for c in table.c if isinstance(c.type, DateTime)]
            sets = ", ".join(f"{c} = {form.format(c=c)}" for c in columns)
            conn.exec_driver_sql(f"UPDATE {table.name} SET {sets}")
        conn.exec_driver_sql("UPDATE auth_token SET revoked_at = 'when the laptop was lost' WHERE id = 1")
        conn.exec_driver_sql(
            "INSERT INTO organisation (code, name, organisation_type) VALUES ('OLD', 'Before', 'ngo')"
        )
    engine.dispose()
    older = _stored(path)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", older["hazard", "created_at"][0][1])
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", older["audit_log", "changed_at"][0][1])
    assert older["person", "created_at"][0][1].endswith(".123456")
    assert older["organisation", "created_at"][0][1].endswith("+02:00")
    assert "Non-conformant" in _gdal_says(ogrinfo, path, "hazard")  # as GDAL 3.6 did

    run = subprocess.run(
        [*DEMINE, "db", "migrate", "--db", str(path), "--json"], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"from": "0006", "to": head_revision(), "head": head_revision()}

    migrated = _stored(path)
    assert migrated.keys() == older.keys()
    for key, rows in older.items():
        assert [rowid for rowid, _ in migrated[key]] == [rowid for rowid, _ in rows], key
        for (_, before), (_, after) in zip(rows, migrated[key], strict=True):
            if before is None:
                assert after is None, key
            elif before == "when the laptop was lost":
                assert after == before  # not a time: kept as the user wrote it
            else:
                assert CONFORMANT.match(after), (key, before, after)
                assert datetime.fromisoformat(after).replace(tzinfo=None) == _expected(before), (key, before)
    # demine reads the same instants it read from the old forms (the text it cannot read aside).
    with closing(sqlite3.connect(path)) as raw, raw:
        raw.execute("UPDATE auth_token SET revoked_at = NULL WHERE id = 1")
    engine = open_database(path)
    try:
        after = _instants(engine)
    finally:
        engine.dispose()
    for key, rows in older.items():
        expected = [None if s in (None, "when the laptop was lost") else _expected(s) for _, s in rows]
        assert after[key] == expected, key
    assert after["person", "created_at"][0].microsecond == 123000

    with closing(sqlite3.connect(path)) as raw, raw:
        # A row QGIS adds to the migrated file gets the new defaults.
        raw.execute("INSERT INTO organisation (code, name, organisation_type) VALUES ('NEW', 'After', 'ngo')")
        added = raw.execute("SELECT created_at, updated_at FROM organisation WHERE code = 'NEW'").fetchone()
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # The R*Tree triggers were not lost on the way.
        triggers = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert all(CONFORMANT.match(s) for s in added), added
    assert {"rtree_hazard_geom_insert", "rtree_hazard_geom_update4"} <= triggers
    assert _gdal_says(ogrinfo, path) == ""


def test_migration_0007_keeps_every_instant_on_either_store(empty_db):
    with empty_db.begin() as conn:
        add_organisations(conn, [NewOrganisation("OPA", "Operator A", "ngo")])
        conn.execute(
            insert(schema.audit_log).values(
                table_name="organisation",
                record_id=1,
                action="update",
                changed_at=datetime(2025, 1, 2, 3, 4, 5, 678000),
                changed_by="test",
            )
        )
    before = _instants(empty_db)
    config = alembic_config(empty_db)
    command.downgrade(config, "0006")
    assert _instants(empty_db) == before  # undoing it keeps the values demine reads
    command.upgrade(config, "head")
    assert _instants(empty_db) == before
    with empty_db.connect() as conn:
        a = schema.audit_log
        row = conn.execute(select(a.c.changed_at, stored_text(a.c.changed_at).label("text"))).one()
        created = conn.execute(select(stored_text(schema.organisation.c.created_at))).scalar_one()
    # Both stores give the API the same text: PostgreSQL formats its timestamptz the same way.
    assert row.changed_at == datetime(2025, 1, 2, 3, 4, 5, 678000)
    assert row.text == "2025-01-02T03:04:05.678Z"
    assert CONFORMANT.match(created), created
