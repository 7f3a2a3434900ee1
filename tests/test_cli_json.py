"""Scriptable: ``--json`` on every command, errors as JSON under ``--json``, documented exit codes.

Exit status (``demine.cli.common.ExitCode``, the README's table): 0 done, 1 findings, 2 a usage
error, 3 refused input (nothing written), 4 not found, 5 the store busy. Under ``--json`` the
error is also a JSON object on stdout: ``error``, ``kind`` (``usage``, ``refused``, ``invalid``,
``not_found``, ``busy``), ``problems`` (record, field, message) and ``exit_code``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from demine.cli.app import COMMANDS, load_command

DEMINE = [sys.executable, "-m", "demine"]
NO_JSON = {"serve"}  # a server: it writes a log, not a result


def run(*args, stdin=None):
    return subprocess.run([*DEMINE, *args], capture_output=True, text=True, input=stdin, timeout=300)


def _leaves(command, path):
    children = getattr(command, "commands", None)
    if children:
        for name, child in children.items():
            yield from _leaves(child, [*path, name])
    else:
        yield path, command


def test_every_command_but_serve_takes_json():
    missing = []
    for name in COMMANDS:
        for path, command in _leaves(load_command(name), [name]):
            options = {o for p in command.params for o in getattr(p, "opts", [])}
            if "--json" not in options and name not in NO_JSON:
                missing.append(" ".join(path))
    assert not missing


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("json") / "register.gpkg"
    init = run("init", "--db", str(path), "--json")
    assert init.returncode == 0, init.stderr
    made = json.loads(init.stdout)
    assert made["database"] == str(path) and made["revision"]
    return path


def test_a_missing_database_is_a_json_error_with_status_4(tmp_path):
    proc = run("summary", "--db", str(tmp_path / "missing.gpkg"), "--json")
    assert proc.returncode == 4
    error = json.loads(proc.stdout)
    assert error["kind"] == "not_found" and error["exit_code"] == 4
    assert "no database at" in error["error"] and "demine init" in error["error"]
    assert "Traceback" not in proc.stderr


def test_a_refused_value_is_a_json_error_with_status_3(db):
    proc = run("forecast", "--db", str(db), "--start", "2026-02-30", "--json")
    assert proc.returncode == 3
    error = json.loads(proc.stdout)
    assert error["kind"] == "refused" and error["exit_code"] == 3 and "--start" in error["error"]


def test_a_missing_record_is_status_4(db):
    proc = run("hazards", "show", "HA-NOPE", "--db", str(db), "--json")
    assert proc.returncode == 4
    assert json.loads(proc.stdout)["kind"] == "not_found"


def test_a_locked_store_is_status_5_and_writes_nothing(db, tmp_path):
    """Another writer holding SQLite's lock past the busy timeout: try again, nothing written."""
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        proc = subprocess.run(
            [*DEMINE, "orgs", "add", "LOCK", "Locked out", "--type", "ngo", "--db", str(db), "--json"],
            capture_output=True,
            text=True,
            timeout=300,
            env=os.environ | {"DEMINE_SQLITE_BUSY_MS": "200"},
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 5, proc.stderr
    error = json.loads(proc.stdout)
    assert error["kind"] == "busy" and "try again" in error["error"]
    listed = run("orgs", "list", "--db", str(db), "--json")
    assert "LOCK" not in listed.stdout


def test_rejected_rows_are_findings_status_1_with_the_good_rows_written(db, tmp_path):
    rows = tmp_path / "hazards.csv"
    rows.write_text(
        "code,hazard_type,reported_on,wkt\n"
        'OK-1,SHA,2026-01-05,"POLYGON ((30 48, 30.01 48, 30.01 48.01, 30 48.01, 30 48))"\n'
        'BAD-1,SHA,2026-02-30,"POLYGON ((30.1 48, 30.11 48, 30.11 48.01, 30.1 48.01, 30.1 48))"\n'
    )
    rejects = tmp_path / "rejects.csv"
    proc = run("import", str(rows), "--kind", "hazard", "--db", str(db), "--rejects", str(rejects), "--json")
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert result["imported"] == 1 and result["rejected"] == 1
    assert "2026-02-30" in rejects.read_text(encoding="utf-8")
    assert run("hazards", "show", "OK-1", "--db", str(db)).returncode == 0


def test_a_usage_error_is_a_json_error_with_status_2(db):
    proc = run("hazards", "list", "--db", str(db), "--no-such-option", "--json")
    assert proc.returncode == 2
    error = json.loads(proc.stdout)
    assert error["kind"] == "usage" and "--no-such-option" in error["error"]


def test_invalid_data_lists_each_problem_in_json(db, tmp_path):
    shape = tmp_path / "bad.wkt"
    shape.write_text("POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))")
    proc = run(
        "release",
        "HA-404",
        str(shape),
        "--method",
        "cleared",
        "--date",
        "2026-01-01",
        "--db",
        str(db),
        "--json",
    )
    assert proc.returncode in (3, 4)  # an invalid polygon, or no hazard HA-404
    error = json.loads(proc.stdout)
    assert error["kind"] in ("invalid", "refused", "not_found")
    if error["kind"] == "invalid":
        assert error["problems"] and {"record", "field", "message"} <= set(error["problems"][0])


def test_users_token_and_disable_answer_in_json(db):
    added = run(
        "users",
        "add",
        "ana",
        "--role",
        "viewer",
        "--password-stdin",
        "--db",
        str(db),
        "--json",
        stdin="a long enough password 1\n",
    )
    assert added.returncode == 0, added.stderr
    token = json.loads(run("users", "token", "ana", "--name", "QGIS", "--db", str(db), "--json").stdout)
    assert token["username"] == "ana" and token["name"] == "QGIS" and token["token"] and token["expires_at"]
    disabled = run("users", "disable", "ana", "--db", str(db), "--json")
    assert disabled.returncode == 0 and json.loads(disabled.stdout) == {"username": "ana", "active": False}
    refused = run("users", "token", "ana", "--db", str(db), "--json")
    assert refused.returncode == 3 and "disabled" in json.loads(refused.stdout)["error"]


# Findings (status 1, JSON on stdout) are tested with `check --fix --json` in tests/checks/test_check_fix.py.
