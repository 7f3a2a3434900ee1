"""``demine import`` and ``demine export`` as real processes on a real GeoPackage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pyogrio
import pytest
import shapely
from ingest_support import DEMINE, UTM36, hazard_fields, read_rejects, run_cli, utm_square, write_layer
from sqlalchemy import func, select

import backend_support
from demine.storage import schema
from demine.storage.database import open_database


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory, store):
    db = backend_support.new(tmp_path_factory.mktemp("cli") / "demo.gpkg")
    run_cli("demo", "--hazards", "100", "--seed", "3", "--as-of", "2026-06-30", "--json", db=db)
    return db


def _hazard_count(db):
    engine = open_database(db)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(schema.hazard)).scalar_one()
    finally:
        engine.dispose()


def test_export_then_import_back_end_to_end(demo_file, tmp_path):
    out = tmp_path / "hazards.gpkg"
    exported = json.loads(run_cli("export", out, "--kind", "hazard", "--json", db=demo_file).stdout)
    assert exported["rows"] == 100 and exported["format"] == "gpkg"
    assert pyogrio.read_info(out, layer="hazard")["features"] == 100
    # Back into the same register without source ids: every hazard is already there.
    rejects = tmp_path / "rejects.csv"
    proc = run_cli(
        "import", out, "--kind", "hazard", "--rejects", rejects, "--json", db=demo_file, check=False
    )
    assert proc.returncode == 1, proc.stderr  # rejected rows are findings
    report = json.loads(proc.stdout)
    assert (report["read"], report["imported"], report["rejected"]) == (100, 0, 100)
    assert report["reasons"] == {"duplicate": 100} and report["rejects_file"] == str(rejects)
    assert len(read_rejects(rejects)) == 100
    assert _hazard_count(demo_file) == 100


def test_import_a_utm_file_with_a_broken_feature(demo_file, tmp_path):
    squares = [utm_square(520_000 + 400 * i, 5_300_000, 150) for i in range(5)]
    squares[2] = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])  # a bow-tie
    fields = hazard_fields(5)
    fields["code"] = [f"CLI-{i}" for i in range(5)]
    fields["organisation"] = [None] * 5
    path = write_layer(tmp_path / "new.gpkg", squares, fields, crs=UTM36, driver="GPKG")
    proc = run_cli(
        "import",
        path,
        "--kind",
        "hazard",
        "--source-id",
        "sid",
        "--json",
        db=demo_file,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr  # one feature rejected, four imported
    report = json.loads(proc.stdout)
    assert (report["read"], report["imported"], report["rejected"]) == (5, 4, 1)
    assert report["reasons"] == {"invalid_geometry": 1} and report["crs"] == UTM36
    assert report["rejects_file"] == str(tmp_path / "new-rejects.geojson")
    human = run_cli(
        "import", path, "--kind", "hazard", "--source-id", "sid", db=demo_file, cwd=tmp_path, check=False
    )
    assert (
        human.returncode == 1
        and "updated" in human.stdout
        and "4 unchanged" in human.stdout
        and "Traceback" not in human.stderr
    )


def test_export_with_where_labels_and_formats(demo_file, tmp_path):
    csv_out = tmp_path / "open.csv"
    report = json.loads(
        run_cli(
            "export", csv_out, "--kind", "hazard", "--where", "status = 'open'", "--json", db=demo_file
        ).stdout
    )
    assert "status_label" in report["columns"] and report["rows"] == len(csv_out.read_text().splitlines()) - 1
    codes = json.loads(
        run_cli("export", tmp_path / "f.xlsx", "--kind", "find", "--codes", "--json", db=demo_file).stdout
    )
    assert not any(c.endswith("_label") for c in codes["columns"])
    shp = json.loads(
        run_cli("export", tmp_path / "r.shp", "--kind", "remaining", "--json", db=demo_file).stdout
    )
    assert shp["format"] == "shp" and (tmp_path / "r.dbf").exists()


def test_personal_data_only_with_the_flag(demo_file, tmp_path):
    plain = json.loads(
        run_cli("export", tmp_path / "v.csv", "--kind", "victim", "--json", db=demo_file).stdout
    )
    assert "full_name" not in plain["columns"] and not plain["personal_data"]
    full = json.loads(
        run_cli(
            "export",
            tmp_path / "v2.csv",
            "--kind",
            "victim",
            "--include-personal-data",
            "--json",
            db=demo_file,
        ).stdout
    )
    assert "full_name" in full["columns"] and full["personal_data"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["import", "missing.gpkg", "--kind", "hazard"], "no file"),
        (["import", "{file}", "--kind", "hazard", "--map", "colour=code"], "no field 'colour'"),
        (["import", "{file}", "--kind", "hazard", "--aoi", "1,2,3"], "--aoi"),
        (["import", "{file}", "--kind", "hazard", "--crs", "EPSG:0"], "unknown CRS"),
        (["import", "{file}", "--kind", "minefield"], "minefield"),  # Click's own: usage, 2
        (["export", "{out}", "--kind", "hazard", "--where", "1=1; DROP TABLE hazard"], "--where"),
        (["export", "{out}", "--kind", "hazard", "--where", "colour = 'red'"], "no column 'colour'"),
        (["export", "{exists}", "--kind", "hazard"], "--overwrite"),
        (["export", "out.dat", "--kind", "hazard"], "cannot tell the format"),
    ],
)
def test_user_errors_exit_2_or_3_without_a_traceback(demo_file, tmp_path, args, fragment):
    source = write_layer(tmp_path / "h.gpkg", [utm_square(500_000, 5_300_000)], hazard_fields(1), crs=UTM36)
    exists = tmp_path / "exists.gpkg"
    exists.write_bytes(b"")
    args = [a.format(file=source, out=tmp_path / "out.gpkg", exists=exists) for a in args]
    proc = run_cli(*args, db=demo_file, check=False, cwd=tmp_path)
    # An option Click itself refuses is a usage error (2); a value or file demine refuses is 3.
    assert proc.returncode == (2 if fragment == "minefield" else 3), proc.stderr
    assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _hazard_count(demo_file) >= 100


@pytest.mark.slow
@pytest.mark.sqlite_only  # about SQLite's write-ahead log file
def test_a_killed_import_writes_nothing(demo_file, tmp_path):
    """SIGKILL mid-import: the write-ahead log is discarded, the register is as it was.

    (``test_a_failed_run_writes_nothing`` checks the same in-process in the default run.)
    """
    n = 20_000
    squares = [utm_square(500_000 + (i % 200) * 150.0, 5_300_000 + (i // 200) * 150.0) for i in range(n)]
    fields = hazard_fields(n)
    fields["code"] = [f"KILL-{i}" for i in range(n)]
    fields["sid"] = [f"K{i}" for i in range(n)]
    fields["organisation"] = [None] * n  # the demo has other organisations
    path = write_layer(tmp_path / "big.gpkg", squares, fields, crs=UTM36, driver="GPKG")
    db = tmp_path / "copy.gpkg"
    db.write_bytes(demo_file.read_bytes())
    before = _hazard_count(db)
    wal = db.with_name(db.name + "-wal")
    proc = subprocess.Popen(
        [*DEMINE, "import", str(path), "--kind", "hazard", "--json", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 60
    # Kill it once it has written a good part of the file into the write-ahead log.
    while proc.poll() is None and time.monotonic() < deadline:
        if wal.exists() and wal.stat().st_size > 4_000_000:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    proc.stdout.close()
    proc.stderr.close()
    if proc.returncode != -signal.SIGKILL:
        pytest.skip(f"the import finished before it could be killed (exit {proc.returncode})")
    assert _hazard_count(db) == before
    engine = open_database(db)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    finally:
        engine.dispose()
