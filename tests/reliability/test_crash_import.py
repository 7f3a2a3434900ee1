"""SIGKILL ``demine import`` at random moments: the register survives and each import is all or nothing.

One register (a copy of the demo programme, with its release products) goes through every
round. Each round starts a real ``demine import`` process on a GeoJSON file of its own
(``DEMINE_CRASH_FEATURES`` hazards, default 4,000, with codes unique to the round) and kills
it with SIGKILL after a random delay. A first, uninterrupted import is watched to learn when
the transaction writes to the write-ahead log (SQLite spills a large transaction's pages there
before the commit makes them count); every other round waits until its own transaction has
started writing the log, then is killed at a random moment within the length of that window
(so the kill lands mid-write however loaded the machine is); the rest are killed at a random
moment of the whole run (start-up, reading, writing, commit, after the commit). After every
kill:

* ``PRAGMA integrity_check`` is ``ok``;
* the round's hazards are all there or none is (and so every earlier round's still are);
* no half-written hazard: each has its remaining row, R*Tree entry and registration event,
  and the land release identity holds for every hazard of the register;
* the file opens through :func:`open_database`, which runs the migrations.

``DEMINE_RELIABILITY_ROUNDS`` sets the number of kills (default 10, a smoke run for ``make test``;
``make reliability`` runs 50).
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
import time

import pytest
from reliability_support import (
    DEMINE,
    env_int,
    integrity,
    invariant_violations,
    record_result,
    write_round_file,
)
from sqlalchemy import func, select

from demine.storage import schema
from demine.storage.database import open_database

# About the SQLite/GeoPackage file itself: its write-ahead log, integrity_check, R*Trees.
pytestmark = pytest.mark.sqlite_only

ROUNDS = env_int("DEMINE_RELIABILITY_ROUNDS", 10)
FEATURES = env_int("DEMINE_CRASH_FEATURES", 4000)
SEED = 20261125


def round_count(db, round_no: int) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "select count(*) from hazard where code like ?", (f"K{round_no:04d}-%",)
        ).fetchone()[0]
    finally:
        con.close()


def start_import(db, source, rejects) -> subprocess.Popen:
    cmd = [*DEMINE, "import", str(source), "--kind", "hazard", "--db", str(db), "--rejects", str(rejects)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wal_size(db) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_sigkilled_imports_are_all_or_nothing(demo_file, tmp_path):
    db = demo_file
    rng = random.Random(SEED)
    con = sqlite3.connect(db)
    base = con.execute("select count(*) from hazard").fetchone()[0]
    con.close()

    # Round 0 runs to the end: it proves the file imports cleanly and gives the length of a run.
    source = tmp_path / "round-0000.geojson"
    write_round_file(source, 0, FEATURES)
    started = time.monotonic()
    proc = start_import(db, source, tmp_path / "rejects-0.geojson")
    writing = []  # moments the write-ahead log was seen non-empty
    while proc.poll() is None:
        if wal_size(db):
            writing.append(time.monotonic() - started)
        time.sleep(0.002)
    full_run = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
    proc.stderr.close()
    window = (min(writing), max(writing)) if writing else (0.0, full_run)
    assert round_count(db, 0) == FEATURES
    expected_total = base + FEATURES

    outcomes = {"none": 0, "all": 0}
    killed = killed_mid_write = 0
    for round_no in range(1, ROUNDS + 1):
        source = tmp_path / f"round-{round_no:04d}.geojson"
        write_round_file(source, round_no, FEATURES)
        mid_write = round_no % 2 == 1
        delay = rng.uniform(0.0, window[1] - window[0]) if mid_write else rng.uniform(0.0, full_run * 1.05)
        proc = start_import(db, source, tmp_path / f"rejects-{round_no}.geojson")
        if mid_write:
            while proc.poll() is None and not wal_size(db):
                time.sleep(0.002)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            wal_before = wal_size(db)
            proc.kill()  # SIGKILL
            proc.wait(timeout=30)
            killed += 1
            killed_mid_write += wal_before > 0
        else:
            assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
        proc.stderr.close()
        source.unlink()

        assert integrity(db) == "ok", f"round {round_no}: integrity_check failed"
        present = round_count(db, round_no)
        assert present in (0, FEATURES), (
            f"round {round_no}: {present} of {FEATURES} hazards: a partial import"
        )
        outcomes["all" if present else "none"] += 1
        expected_total += present
        problems = invariant_violations(db)
        assert not problems, f"round {round_no}: {problems}"
        # The file opens (and migrates) the way every command opens it, and counts add up.
        engine = open_database(db)
        with engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(schema.hazard)).scalar_one()
        engine.dispose()
        assert total == expected_total, f"round {round_no}: {total} hazards, expected {expected_total}"

    assert killed >= ROUNDS // 2, f"only {killed} of {ROUNDS} imports were killed: the delays are too long"
    record_result(
        "crash_import",
        {
            "rounds": ROUNDS,
            "features_per_import": FEATURES,
            "uninterrupted_import_s": round(full_run, 2),
            "write_window_s": [round(t, 2) for t in window],
            "sigkills": killed,
            "killed_while_writing": killed_mid_write,
            "imports_found_complete": outcomes["all"],
            "imports_found_absent": outcomes["none"],
            "partial_imports": 0,
            "integrity_checks_ok": ROUNDS,
            "invariant_checks_ok": ROUNDS,
            "hazards_at_end": expected_total,
        },
    )
