"""``make run`` never loses a user's work: the demo database is built once, then kept.

Runs the Makefile's own targets (``demo-db``, which ``make run`` runs before serving, and
``demo``) on a small demo in a temporary folder, with this test's Python environment standing
in for ``.venv``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import shapely
from sqlalchemy import select

from demine.register.hazards import NewHazard, add_hazards
from demine.storage import schema
from demine.storage.database import open_database

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.sqlite_only,
    pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed"),
]


def make(target: str, tmp_path: Path, db: Path) -> subprocess.CompletedProcess:
    stamp = tmp_path / "installed"
    stamp.touch()  # newer than pyproject.toml: make installs nothing
    variables = [f"DB={db}", "HAZARDS=40", "SEED=3", f"BIN={Path(sys.executable).parent}", f"STAMP={stamp}"]
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), target, *variables],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ | {"NO_COLOR": "1"},
    )


def codes(db: Path) -> set[str]:
    engine = open_database(db)
    with engine.connect() as conn:
        found = set(conn.execute(select(schema.hazard.c.code)).scalars())
    engine.dispose()
    return found


def test_a_second_make_run_keeps_what_was_added_and_make_demo_starts_over(tmp_path):
    db = tmp_path / "demo.gpkg"
    first = make("demo-db", tmp_path, db)
    assert first.returncode == 0, first.stdout + first.stderr
    engine = open_database(db)
    with engine.begin() as conn:
        add_hazards(
            conn, [NewHazard("MINE-KEPT-1", "SHA", shapely.box(30.5, 48.5, 30.51, 48.51), date(2026, 1, 5))]
        )
    engine.dispose()
    assert "MINE-KEPT-1" in codes(db)

    again = make("demo-db", tmp_path, db)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "exists: using it as it is" in again.stdout
    assert "MINE-KEPT-1" in codes(db)

    fresh = make("demo", tmp_path, db)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "MINE-KEPT-1" not in codes(db)
    (backup,) = [p for p in tmp_path.glob("demo.gpkg.*.bak")]
    assert "kept the previous" in fresh.stdout and "MINE-KEPT-1" in codes(backup)


def test_make_clean_leaves_the_database_alone():
    recipe = subprocess.run(
        ["make", "-n", "-C", str(ROOT), "clean", "DB=/tmp/somewhere/demo.gpkg"],
        capture_output=True,
        text=True,
    )
    assert recipe.returncode == 0 and "demo.gpkg" not in recipe.stdout
