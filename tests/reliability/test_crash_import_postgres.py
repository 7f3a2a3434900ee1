"""SIGKILL ``demine import`` writing to PostgreSQL: each import is all or nothing.

The PostgreSQL counterpart of ``test_crash_import.py`` (which also checks the SQLite file's
write-ahead log and ``integrity_check``). A copy of the demo programme on the suite's
PostgreSQL cluster takes a first, uninterrupted import to learn how long one lasts; every
other round starts a real ``demine import`` of its own file and kills it with SIGKILL at a
random moment of that length (start-up, reading, writing, commit, after). After every kill
the round's hazards are all there or none is, the register keeps its invariants (a remaining
row and a registration event per hazard, the land release identity), and no connection of the
killed process is left holding a lock that stops the next import.

Runs only on PostgreSQL (``make test`` runs it in its PostgreSQL half);
``DEMINE_RELIABILITY_ROUNDS`` sets the number of kills (default 10).
"""

from __future__ import annotations

import os
import random
import subprocess
import time

import pytest
from reliability_support import DEMINE, env_int, invariant_violations, record_result, write_round_file
from sqlalchemy import func, select

from demine.storage import schema
from demine.storage.database import open_database

pytestmark = pytest.mark.skipif(
    os.environ.get("DEMINE_TEST_BACKEND") != "postgresql",
    reason="the SQLite version is test_crash_import.py; make test runs this in its PostgreSQL half",
)

ROUNDS = env_int("DEMINE_RELIABILITY_ROUNDS", 10)
FEATURES = env_int("DEMINE_CRASH_FEATURES", 2000)
SEED = 20261203


def _count(url: str, round_no: int | None = None) -> int:
    engine = open_database(url)
    try:
        with engine.connect() as conn:
            query = select(func.count()).select_from(schema.hazard)
            if round_no is not None:
                query = query.where(schema.hazard.c.code.like(f"K{round_no:04d}-%"))
            return conn.execute(query).scalar_one()
    finally:
        engine.dispose()


def _start(url: str, source, rejects) -> subprocess.Popen:
    cmd = [*DEMINE, "import", str(source), "--kind", "hazard", "--db", url, "--rejects", str(rejects)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkilled_imports_into_postgresql_are_all_or_nothing(demo_store, tmp_path):
    url = str(demo_store)
    rng = random.Random(SEED)
    expected = _count(url)

    source = tmp_path / "round-0000.geojson"
    write_round_file(source, 0, FEATURES)
    started = time.monotonic()
    proc = _start(url, source, tmp_path / "rejects-0.geojson")
    _, err = proc.communicate(timeout=600)
    full_run = time.monotonic() - started
    assert proc.returncode == 0, err.decode()[-2000:]
    assert _count(url, 0) == FEATURES
    expected += FEATURES

    outcomes = {"none": 0, "all": 0}
    killed = 0
    for round_no in range(1, ROUNDS + 1):
        source = tmp_path / f"round-{round_no:04d}.geojson"
        write_round_file(source, round_no, FEATURES)
        proc = _start(url, source, tmp_path / f"rejects-{round_no}.geojson")
        try:
            proc.wait(timeout=rng.uniform(0.0, full_run * 1.05))
        except subprocess.TimeoutExpired:
            proc.kill()  # SIGKILL: the server sees the connection drop and rolls back
            proc.wait(timeout=30)
            killed += 1
        else:
            assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
        proc.stderr.close()
        # A dropped connection's transaction is rolled back when the server notices; a later
        # count must not see it half-done, whenever it looks.
        present = _count(url, round_no)
        assert present in (0, FEATURES), f"round {round_no}: {present} of {FEATURES}: a partial import"
        outcomes["all" if present else "none"] += 1
        expected += present
        problems = invariant_violations(url)
        assert not problems, f"round {round_no}: {problems}"
        assert _count(url) == expected, f"round {round_no}: hazards lost or added"

    assert killed >= ROUNDS // 2, f"only {killed} of {ROUNDS} imports were killed: the delays are too long"
    record_result(
        "crash_import_postgresql",
        {
            "rounds": ROUNDS,
            "features_per_import": FEATURES,
            "uninterrupted_import_s": round(full_run, 2),
            "sigkills": killed,
            "imports_found_complete": outcomes["all"],
            "imports_found_absent": outcomes["none"],
            "partial_imports": 0,
            "invariant_checks_ok": ROUNDS,
            "hazards_at_end": expected,
        },
    )
