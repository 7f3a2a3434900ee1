"""Schemathesis over the whole API as an admin, then the register is checked for partial writes.

``tests/api/test_schemathesis.py`` checks that no generated request gets a 5xx. This test runs
the same ``schemathesis`` command (examples and fuzzing phases, every operation but logout and
token revocation, which would end the fuzzer's own session) against a server of its own, and
then opens the file to check that whatever was accepted or refused left the register whole:

* ``PRAGMA integrity_check`` is ``ok`` and no hazard is half-written
  (:func:`reliability_support.invariant_violations`);
* the audit log agrees with every record it mentions: a record's latest audited state has the
  record's current version (a write never lands without its audit row, nor the other way round).

``DEMINE_API_FUZZ_EXAMPLES`` sets schemathesis' ``--max-examples`` per operation (default 1, about
200 cases over the 200 operations; the nightly size is 30, over 5,000 cases).
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_support import (
    add_api_users,
    env_int,
    integrity,
    invariant_violations,
    record_result,
    start_serve,
)

# About the SQLite/GeoPackage file itself: its write-ahead log, integrity_check, R*Trees.
pytestmark = pytest.mark.sqlite_only

EXAMPLES = env_int("DEMINE_API_FUZZ_EXAMPLES", 1)


def audit_mismatches(db: Path) -> list[str]:
    """Records whose latest audited state is not their current version."""
    con = sqlite3.connect(db)
    problems = []
    try:
        latest = con.execute(
            "select table_name, record_id, action, after from audit_log a where id = (select max(id) "
            "from audit_log b where b.table_name = a.table_name and b.record_id = a.record_id)"
        ).fetchall()
        versioned = {
            name
            for (name,) in con.execute("select name from sqlite_master where type = 'table'")
            if any(col[1] == "version" for col in con.execute(f'pragma table_info("{name}")'))
        }
        for table, record_id, action, after in latest:
            if table not in versioned:
                continue
            row = con.execute(f'select version from "{table}" where id = ?', (record_id,)).fetchone()
            if action == "delete":
                if row is not None:
                    problems.append(f"{table} {record_id}: audited as deleted but still there")
                continue
            state = json.loads(after) if after else {}
            if row is None:
                problems.append(f"{table} {record_id}: audited ({action}) but missing")
            elif "version" in state and state["version"] != row[0]:
                problems.append(
                    f"{table} {record_id}: audit says version {state['version']}, record has {row[0]}"
                )
    finally:
        con.close()
    return problems


def test_schemathesis_leaves_no_partial_write(demo_file, tmp_path):
    db = demo_file
    token = add_api_users(db, {"admin": ("admin", None)})["admin"]
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    serve = start_serve(db, "--workers", "2")
    try:
        cmd = [
            exe, "run", f"{serve.url}/openapi.json",
            "--checks", "not_a_server_error",
            "--header", f"Authorization: Bearer {token}",
            "--max-examples", str(EXAMPLES),
            "--seed", "20261125",
            "--phases", "examples,fuzzing",
            "--generation-database", "none",
            "--generation-with-security-parameters", "false",
            "--workers", "2",
            # A forecast on a busy machine may take longer than schemathesis's 10 s default:
            # slow is not a server error (and a timed-out request is checked below like any).
            "--request-timeout", "120",
            "--no-color",
            "--exclude-path", "/auth/logout",
            "--exclude-path", "/auth/tokens/{token_id}",
        ]  # fmt: skip
        # Run in a folder of its own: schemathesis keeps state in ./.schemathesis.
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, cwd=tmp_path)
    finally:
        serve.stop()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    found = re.search(r"(\d+) generated, (\d+) passed(?:, (\d+) failed)?", out)
    assert found, out[-3000:]
    cases, passed = int(found.group(1)), int(found.group(2))
    operations = re.search(r"Tested: (\d+)", out)
    assert integrity(db) == "ok"
    problems = invariant_violations(db) + audit_mismatches(db)
    assert not problems, problems[:20]
    record_result(
        "api_fuzz",
        {
            "max_examples_per_operation": EXAMPLES,
            "operations": int(operations.group(1)) if operations else None,
            "cases": cases,
            "passed": passed,
            "server_errors": 0,
            "partial_writes": 0,
        },
    )
