"""``demine prioritise`` and ``demine plan`` end to end: real processes on a small demo programme."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from openpyxl import load_workbook

import backend_support
from demine.storage.database import open_database
from demine.synthetic.context import add_context

DEMINE = [sys.executable, "-m", "demine"]


def run(*args, db=None, check=True):
    cmd = [*DEMINE, *args] + (["--db", str(db)] if db else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def db(tmp_path_factory, store):
    path = backend_support.new(tmp_path_factory.mktemp("planner") / "demo.gpkg")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "demine",
            "demo",
            "--hazards",
            "120",
            "--seed",
            "3",
            "--as-of",
            "2026-06-30",
            "--db",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    engine = open_database(path)
    with engine.begin() as conn:
        if conn.exec_driver_sql("SELECT count(*) FROM context_point").scalar() == 0:  # the demo may add them
            add_context(conn, seed=3)
    engine.dispose()
    return path


def test_prioritise_json_explains_every_factor(db):
    data = json.loads(run("prioritise", "--json", "--limit", "5", "--as-of", "2026-06-30", db=db).stdout)
    engine = open_database(db)
    with engine.connect() as conn:
        open_hazards = conn.exec_driver_sql("SELECT count(*) FROM hazard WHERE status = 'open'").scalar()
    engine.dispose()
    assert data["hazards"] == open_hazards and len(data["ranking"]) == 5
    assert [r["rank"] for r in data["ranking"]] == [1, 2, 3, 4, 5]
    scores = [r["score"] for r in data["ranking"]]
    assert scores == sorted(scores, reverse=True)
    top = data["ranking"][0]
    assert {"raw", "normalised", "weight", "contribution", "group", "unit"} <= set(top["factors"][0])
    assert sum(f["contribution"] for f in top["factors"]) == pytest.approx(top["score"], abs=1e-4)
    assert data["context_layers"]["school"] > 0 and data["context_layers"]["farmland"] > 0
    assert "Lambert azimuthal equal-area" in data["projection"]
    human = run("prioritise", "--limit", "3", db=db).stdout
    assert "Impact ranking" in human


def test_plan_json_files_and_human_summary(db, tmp_path):
    xlsx, png = tmp_path / "plan.xlsx", tmp_path / "plan.png"
    args = ["plan", "--json", "--months", "6", "--start", "2026-07", "--time-limit", "15"]
    data = json.loads(run(*args, "--out", str(xlsx), "--gantt", str(png), db=db).stdout)
    solver = data["solver"]
    assert solver["name"] == "highs-milp" and solver["objective"] >= solver["greedy_objective"] - 1e-6
    assert solver["gap"] is not None and solver["gap"] <= 0.05
    assert data["violations"] == []
    assert data["horizon"]["start"] == "2026-07-01" and data["horizon"]["months"] == 6
    assert data["summary"]["hazards_started"] > 0
    assert all(t["team"] for t in data["teams"]) and data["hazards"]
    assert data["inputs"]["productivity_m2_per_team_day"]["manual"]["source"]
    # dogs rest in July and August
    dogs = [t for t in data["teams"] if t["team_type"] == "mdd"]
    assert all(m["team_days"] == 0 for t in dogs for m in t["months"] if m["month"] in ("2026-07", "2026-08"))
    assert load_workbook(xlsx).sheetnames[0] == "Summary" and png.stat().st_size > 1000
    human = run("plan", "--months", "3", "--greedy", "--start", "2026-07", db=db)
    assert "Workplan 2026-07-01" in human.stdout and "greedy" in human.stdout


def test_hazards_no_accredited_team_can_survey_are_reported(db, tmp_path):
    copy = backend_support.clone(db, tmp_path / "no-ts.gpkg")
    engine = open_database(copy)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM accreditation WHERE activity_type = 'ts'")
    engine.dispose()
    data = json.loads(
        run("plan", "--json", "--months", "3", "--greedy", "--start", "2026-07", db=copy).stdout
    )
    reasons = {i["reason"] for i in data["infeasible"] if i["stage"] == "ts"}
    assert any(r.startswith("no accredited TS team during the horizon") for r in reasons)
    assert any(i["reason"] == "waits for ts, which cannot be planned" for i in data["infeasible"])
    human = run("plan", "--months", "3", "--greedy", "--start", "2026-07", db=copy)
    assert "cannot be planned" in human.stderr and "no accredited TS team" in human.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "--start", "2026-13"], "--start"),
        (["plan", "--dog-rest-months", "13"], "closed months"),
        (["prioritise", "--as-of", "yesterday"], "--as-of"),
    ],
)
def test_refused_values_exit_3_without_traceback(db, args, message):
    proc = run(*args, db=db, check=False)
    assert proc.returncode == 3, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_bad_weights_file_names_the_key(db, tmp_path):
    weights = tmp_path / "w.toml"
    weights.write_text("[factors.population]\nwieght = 2\n", encoding="utf-8")
    proc = run("prioritise", "--weights", str(weights), db=db, check=False)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert "factors.population.wieght" in proc.stderr and "unknown parameter" in proc.stderr


def test_missing_database_exits_4(tmp_path):
    proc = run("plan", db=tmp_path / "none.gpkg", check=False)
    assert proc.returncode == 4 and "no database" in proc.stderr and "Traceback" not in proc.stderr


def test_plan_reports_the_top_priorities_and_a_greedy_plan_has_no_bound(db):
    args = ["plan", "--months", "3", "--start", "2026-07", "--time-limit", "10"]
    data = json.loads(run(*args, "--json", db=db).stdout)
    top = data["priorities"]
    assert top["top_n"] == min(50, data["inputs"]["open_hazards"])
    assert top["share_started"] == pytest.approx(top["started"] / top["top_n"], abs=1e-4)
    for h in top["hazards"]:  # started, or a specific reason
        assert (h["reason"] is None) == (h["status"] not in ("not started", "not plannable")), h
    assert data["summary"]["hazards_in_plan"] == data["summary"]["hazards_started"]
    assert data["solver"]["bound"] >= data["solver"]["objective"]
    human = run(*args, db=db).stdout
    assert f"top {top['top_n']} priorities started" in human
    greedy = run("plan", "--months", "3", "--greedy", "--start", "2026-07", db=db).stdout
    assert "no upper bound is known" in greedy and "upper bound 0" not in greedy


def test_ongoing_clearance_without_a_completed_survey_is_not_counted_as_ts(db, tmp_path):
    from demine.workplan import register_inputs

    copy = backend_support.clone(db, tmp_path / "ongoing.gpkg")
    engine = open_database(copy)
    with engine.begin() as conn:
        hazard_id, code, org = conn.exec_driver_sql(
            "SELECT h.id, h.code, (SELECT min(id) FROM organisation) FROM hazard h "
            "WHERE h.status = 'open' AND h.hazard_type = 'CHA' AND h.remaining_area_m2 > 0 "
            "AND NOT EXISTS (SELECT 1 FROM activity a WHERE a.hazard_id = h.id "
            "AND (a.activity_type = 'ts' AND a.status = 'completed' OR a.activity_type = 'clearance')) "
            "AND NOT EXISTS (SELECT 1 FROM release_product r WHERE r.hazard_id = h.id) "
            "ORDER BY h.code LIMIT 1"
        ).one()
        before = {h.code: h for h in register_inputs(conn, {}).hazards}[code]
        conn.exec_driver_sql(
            "INSERT INTO activity (code, activity_type, organisation_id, hazard_id, status, start_date) "
            f"VALUES ('ACT-ONGOING-TEST', 'clearance', {int(org)}, {int(hazard_id)}, 'ongoing', '2026-06-01')"
        )
        after = {h.code: h for h in register_inputs(conn, {}).hazards}[code]
    engine.dispose()
    assert [s.stage for s in before.stages] == ["ts", "clearance"]
    assert [s.stage for s in after.stages] == ["ts", "clearance"]  # clearance under way is not a survey
