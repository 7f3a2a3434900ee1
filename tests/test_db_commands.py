"""``demine db``: copy a programme out to a GeoPackage and back, back it up, migrate, on either store.

Runs on the suite's store (SQLite or PostgreSQL): the demo programme is copied to a new
GeoPackage file and from there into a new database of the suite's store; both copies are
checked row by row against the original. Backups are restored and compared the same way.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from demine.domain.errors import DemineError
from demine.storage import schema
from demine.storage.backup import backup_database, restore_postgres
from demine.storage.copy import copy_database, verify_copy
from demine.storage.database import head_revision, open_database

DEMINE = [sys.executable, "-m", "demine"]


def test_copy_to_a_geopackage_and_back_is_identical(demo, new_db, tmp_path):
    out = tmp_path / "exported.gpkg"
    report = copy_database(str(demo.path), str(out))
    assert report.verified and report.rows["hazard"] == demo.counts["hazards"]
    back = copy_database(str(out), str(new_db))
    assert back.verified and back.rows == report.rows
    original, copied = open_database(demo.path), open_database(new_db)
    # Through a GeoPackage, whose DATETIME keeps whole seconds: PostgreSQL's fractions are gone.
    assert verify_copy(original, copied, whole_seconds=True) == []
    with copied.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(schema.audit_log)).scalar_one()
            == report.rows["audit_log"]
        )
    original.dispose()
    copied.dispose()


def test_copy_refuses_the_same_database_and_a_missing_source(demo, tmp_path):
    with pytest.raises(DemineError, match="same database"):
        copy_database(str(demo.path), str(demo.path))
    with pytest.raises(DemineError, match="no database"):
        copy_database(str(tmp_path / "missing.gpkg"), str(tmp_path / "out.gpkg"))


def test_backup_restores_to_the_same_programme(demo, new_db, tmp_path):
    out = tmp_path / ("backup.gpkg" if demo.backend == "sqlite" else "backup.dump")
    done = backup_database(demo.path, out)
    assert out.exists() and done["bytes"] == out.stat().st_size > 0
    if demo.backend == "sqlite":
        restored = out
    else:
        restore_postgres(out, new_db)
        restored = new_db
    original, copy = open_database(demo.path), open_database(restored)
    assert verify_copy(original, copy) == []
    original.dispose()
    copy.dispose()
    with pytest.raises(DemineError, match="--overwrite"):
        backup_database(demo.path, out)
    assert not out.with_name(out.name + ".partial").exists()


def test_migrate_command_creates_then_reports_the_head(new_db):
    run = [*DEMINE, "db", "migrate", "--db", str(new_db), "--json"]
    first = json.loads(subprocess.run(run, capture_output=True, text=True, check=True).stdout)
    assert first == {"from": None, "to": head_revision(), "head": head_revision()}
    again = json.loads(subprocess.run(run, capture_output=True, text=True, check=True).stdout)
    assert again["from"] == again["to"] == head_revision()
    human = subprocess.run([*DEMINE, "db", "migrate", "--db", str(new_db)], capture_output=True, text=True)
    assert human.returncode == 0 and "already at schema revision" in human.stdout


def test_copy_command_errors_exit_3_or_4_without_a_traceback(demo, tmp_path):
    proc = subprocess.run(
        [*DEMINE, "db", "copy", "--from", str(tmp_path / "none.gpkg"), "--to", str(tmp_path / "x.gpkg")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 4 and "no database" in proc.stderr and "Traceback" not in proc.stderr
    same = [*DEMINE, "db", "copy", "--from", str(demo.path), "--to", str(demo.path)]
    proc = subprocess.run(same, capture_output=True, text=True)
    assert proc.returncode == 3 and "same database" in proc.stderr and "Traceback" not in proc.stderr
