"""``demine check`` finds every planted defect, with the right rule and record, and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from demine.checks.rules import LAYER_TABLES, RULES, SEVERITIES
from demine.checks.run import run_checks
from demine.storage.database import open_database

DEMINE = [sys.executable, "-m", "demine"]


def run(*args, check_rc=None):
    proc = subprocess.run([*DEMINE, *args], capture_output=True, text=True, timeout=300)
    if check_rc is not None:
        assert proc.returncode == check_rc, f"{args}: rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def findings_of(path, **kw):
    engine = open_database(path)
    try:
        with engine.connect() as conn:
            return run_checks(conn, **kw)
    finally:
        engine.dispose()


def test_every_planted_defect_is_found_once_and_nothing_else(planted_template):
    report = findings_of(planted_template.path)
    got = [(f.rule, f.layer, f.record) for f in report.findings]
    assert len(got) == len(set(got)), "a defect was reported twice"
    assert set(got) == planted_template.expected
    # Every rule of the catalogue is exercised by the planted register (but the two defects
    # PostGIS cannot store: a line in a MultiPolygon column, malformed WKB).
    assert {f.rule for f in report.findings} == set(RULES) - planted_template.unstorable
    for f in report.findings:
        assert f.severity == RULES[f.rule].severity
        # The message names the record the way people know it.
        assert f.record in f.message


def test_findings_are_ordered_worst_first(planted_template):
    report = findings_of(planted_template.path)
    ranks = [SEVERITIES.index(f.severity) for f in report.findings]
    assert ranks == sorted(ranks)


def test_cli_json_lists_every_planted_defect(planted_template):
    proc = run("check", "--json", "--db", str(planted_template.path), check_rc=1)
    data = json.loads(proc.stdout)
    assert set(data) == {"checked", "findings", "counts"}
    got = {(f["rule"], f["layer"], f["record"]) for f in data["findings"]}
    assert got == planted_template.expected
    for f in data["findings"]:
        assert {"rule", "severity", "layer", "record", "message", "value"} <= set(f)
        assert f["severity"] == RULES[f["rule"]].severity
    assert sum(data["counts"].values()) == len(data["findings"])
    assert data["counts"]["invalid_polygon"] == 5
    assert data["checked"] == {
        "hazard": 21,
        "remaining": 20,
        "release": 10,
        "admin": 3 - len(planted_template.unstorable) // 2,
        "find": 6,
        "accident": 4 - len(planted_template.unstorable) // 2,
    }


def test_measured_values_are_reported(planted_template):
    by_key = {(f.rule, f.record): f for f in findings_of(planted_template.path).findings}
    ids = planted_template.ids
    assert by_key["hazard_overlap", "HA-OVL"].value == pytest.approx(50.0, abs=0.1)
    assert by_key["partly_outside_admin_area", "HA-PART"].value == pytest.approx(30.0, abs=0.2)
    assert by_key["outside_admin_area", "HA-OUT"].value == 100.0
    assert by_key["release_outside_hazard", str(ids["P5"])].value == pytest.approx(50.0, abs=0.1)
    assert by_key["release_overlap", str(ids["P3"])].value == pytest.approx(50.0, abs=0.1)
    assert by_key["find_outside_hazard", str(ids["FOUTH"])].value == pytest.approx(50.0, abs=0.5)
    assert by_key["find_outside_release", str(ids["FOUTR"])].value == pytest.approx(30.0, abs=0.5)
    assert by_key["release_balance", "HA-0007"].value == pytest.approx(-300.0, abs=0.01)
    assert by_key["long_segment", "HA-LONG"].value == pytest.approx(6672, rel=1e-3)
    assert by_key["duplicate_vertices", "HA-DUPV"].value == 1
    assert by_key["too_few_vertices", str(ids["PFEW"])].value == 2
    assert "Self-intersection" in by_key["invalid_polygon", "HA-BOW"].message


def test_layer_and_severity_filters(planted_template):
    report = findings_of(planted_template.path, layers=["find", "accident"], severity="medium")
    assert report.checked == {"find": 6, "accident": 4 - len(planted_template.unstorable) // 2}
    assert {f.layer for f in report.findings} == {"find", "accident"}
    assert all(f.severity in ("high", "medium") for f in report.findings)
    expected = {
        e for e in planted_template.expected if e[1] in ("find", "accident") and RULES[e[0]].severity != "low"
    }
    assert {(f.rule, f.layer, f.record) for f in report.findings} == expected


def test_exit_status_follows_the_reported_high_findings(planted_template):
    # The status counts the high findings that are reported: those of the chosen layers.
    proc = run("check", "--layer", "find", "--db", str(planted_template.path), check_rc=1)
    assert "2 high-severity finding(s)" in proc.stdout
    # The clean demo (test_clean_demo_has_no_high_or_medium_findings) exits with 0.


def test_human_output_summarises_and_lists(planted_template):
    proc = run("check", "--limit", "3", "--db", str(planted_template.path), check_rc=1)
    assert "Findings by rule" in proc.stdout
    assert f"First 3 of {len(planted_template.expected)} findings" in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--layer", "nonsense"], "unknown layer"),
        (["--severity", "urgent"], "unknown severity"),
    ],
)
def test_refused_values_exit_3(planted_template, args, message):
    proc = run("check", *args, "--db", str(planted_template.path), check_rc=3)
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_missing_database_exits_4(tmp_path):
    proc = run("check", "--db", str(tmp_path / "none.gpkg"), check_rc=4)
    assert "no database" in proc.stderr


def test_rules_are_listed():
    proc = run("check", "--rules", "--json", check_rc=0)
    rules = json.loads(proc.stdout)
    assert {r["id"] for r in rules} == set(RULES)
    assert all(r["severity"] in SEVERITIES and r["description"] and r["source"] for r in rules)
    assert set(LAYER_TABLES) == {"hazard", "remaining", "release", "admin", "find", "accident"}


def test_clean_demo_has_no_high_or_medium_findings(demo, demo_db):
    with demo_db.connect() as conn:
        report = run_checks(conn)
    assert report.checked["hazard"] == demo.counts["hazards"]
    assert report.checked["release"] == demo.counts["release_products"]
    # The demo draws each hazard's P-code from the point it grew around, so hazards near a
    # boundary straddle it: that is the only thing worth knowing about clean demo data.
    assert {f.rule for f in report.findings} <= {"partly_outside_admin_area"}
    assert report.high == 0
    proc = run("check", "--db", str(demo.path), check_rc=0)
    assert "no high-severity findings" in proc.stdout
