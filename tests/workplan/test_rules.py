"""Accreditation, seasons, slopes and unplannable inputs: respected, and reported with a reason."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest
from openpyxl import load_workbook

from demine.cli.common import _default
from demine.domain.accreditation import Accreditation
from demine.workplan import HazardInput, StageWork, TeamInput, build_instance, make_plan, violations
from demine.workplan.outputs import write_gantt, write_workbook

from .test_solvers import APRIL, LAT, LON, PAPER, always, hazard, team

# Nothing here opens a database: it runs once, on the SQLite pass (tests/conftest.py).
pytestmark = pytest.mark.store_free


def test_accreditation_expiring_mid_month_stops_work_that_month():
    # Valid until 15 May: April is wholly covered, May is not.
    accs = (Accreditation("clearance", date(2026, 1, 1), date(2027, 5, 15)),)
    inst = build_instance(
        [hazard("H", 1.0, StageWork("clearance", 100_000, 100_000))],
        [team("B", "manual", accs, clearance=100.0)],
        APRIL,
        PAPER,
    )
    assert inst.able[0, 2].tolist() == [True, False]
    plan = make_plan(inst, PAPER)
    assert plan.solution.y[:, 0].sum() == pytest.approx(30.0)
    assert plan.solution.y[:, 1].sum() == 0.0


def test_renewal_recorded_ahead_keeps_the_team_working():
    accs = (
        Accreditation("clearance", date(2026, 1, 1), date(2027, 5, 15)),
        Accreditation("clearance", date(2027, 5, 16), date(2029, 5, 15)),
    )
    inst = build_instance(
        [hazard("H", 1.0, StageWork("clearance", 100_000, 100_000))],
        [team("B", "manual", accs, clearance=100.0)],
        APRIL,
        PAPER,
    )
    assert inst.able[0, 2].tolist() == [True, True]


def test_dogs_are_not_scheduled_in_hot_months():
    config = PAPER.replace(months=4, closed_months={"mdd": (7, 8)})
    inst = build_instance(
        [hazard("H", 1.0, StageWork("clearance", 1_000_000, 1_000_000))],
        [
            team("D", "mdd", always("clearance"), clearance=100.0),
            team("M", "manual", always("clearance"), clearance=100.0),
        ],
        date(2027, 6, 1),
        config,
    )
    plan = make_plan(inst, config)
    y = plan.solution.y
    dog = inst.pair_team == 0
    assert y[dog][:, [1, 2]].sum() == 0.0  # July, August
    assert y[dog][:, 0].sum() == pytest.approx(30.0) and y[dog][:, 3].sum() == pytest.approx(30.0)
    assert y[~dog].sum() == pytest.approx(30 + 31 + 31 + 30)  # the manual team works all summer
    assert all(m["days_available"] == 0.0 for m in plan.team_schedule()[0]["months"][1:3])


def test_machines_stay_off_steep_hazards():
    config = PAPER.replace(max_machine_slope_deg=15.0)
    hazards = [
        hazard("STEEP", 1.0, StageWork("clearance", 5000, 5000), slope=25.0),
        hazard("FLAT", 0.5, StageWork("clearance", 5000, 5000), slope=5.0),
        hazard("UNKNOWN", 0.5, StageWork("clearance", 5000, 5000)),
    ]
    teams = [team("MECH", "mechanical", always("clearance"), clearance=1000.0)]
    inst = build_instance(hazards, teams, APRIL, config)
    reasons = {i.code: i.reason for i in inst.issues}
    assert "STEEP" in reasons and "slope (25°) exceeds the 15° limit" in reasons["STEEP"]
    assert {inst.hazards[h].code for h in inst.task_hazard} == {"FLAT", "UNKNOWN"}
    plan = make_plan(inst, config)
    assert violations(inst, plan.solution.y) == []


def test_unplannable_inputs_are_reported_not_dropped():
    hazards = [
        # TS needed, and no team is accredited for TS: both stages reported.
        hazard("NEEDS-TS", 1.0, StageWork("ts", 5000, 2000), StageWork("clearance", 3000, 3000)),
        HazardInput("NOWHERE", float("nan"), float("nan"), 1.0, (StageWork("clearance", 100, 100),)),
        hazard("OK", 1.0, StageWork("clearance", 5000, 5000)),
        hazard("NTS-ONLY", 1.0, StageWork("nts", 5000, 2000)),
        hazard("EMPTY", 1.0, StageWork("clearance", 0, 0)),
    ]
    expired = (Accreditation("ts", date(2020, 1, 1), date(2021, 1, 1)),)
    teams = [
        team("C", "manual", always("clearance"), clearance=100.0),
        team("OLD-TS", "ts", expired, ts=100.0),
        TeamInput("NOBASE", "manual", None, None, always("clearance"), {"clearance": 100.0}),
        team("EOD", "eod_bac", always("eod")),
    ]
    inst = build_instance(hazards, teams, APRIL, PAPER)
    issues = {(i.kind, i.code, i.stage): i.reason for i in inst.issues}
    assert issues[("hazard", "NEEDS-TS", "ts")].startswith("no accredited TS team during the horizon")
    assert issues[("hazard", "NEEDS-TS", "clearance")] == "waits for ts, which cannot be planned"
    assert "no geometry" in issues[("hazard", "NOWHERE", None)]
    assert issues[("hazard", "NTS-ONLY", "nts")] == "no nts-capable team (nts) in the register"
    assert "nothing remains" in issues[("hazard", "EMPTY", None)]
    assert "no base location" in issues[("team", "NOBASE", None)]
    assert "not accredited for ts" in issues[("team", "OLD-TS", None)]
    assert "does no area release" in issues[("team", "EOD", None)]
    plan = make_plan(inst, PAPER)
    out = plan.to_dict()
    assert {i["code"] for i in out["infeasible"]} == {"NEEDS-TS", "NOWHERE", "NTS-ONLY", "EMPTY"}
    assert {i["code"] for i in out["teams_not_planned"]} == {"OLD-TS", "NOBASE", "EOD"}
    assert [h["hazard"] for h in out["hazards"]] == ["OK"]


def test_plan_json_and_files_explain_themselves(tmp_path):
    config = PAPER.replace(months=3)
    hazards = [
        hazard(f"H{i}", 1.0 / (i + 1), StageWork("clearance", 4000, 4000), lon=LON + i * 0.01)
        for i in range(4)
    ]
    teams = [
        team("A", "manual", always("clearance"), clearance=100.0),
        team("D", "mdd", always("clearance"), clearance=200.0),
    ]
    plan = make_plan(build_instance(hazards, teams, APRIL, config), config)
    data = json.loads(json.dumps(plan.to_dict(), default=_default))
    for key in (
        "objective",
        "solver",
        "summary",
        "infeasible",
        "teams_not_planned",
        "teams",
        "hazards",
        "config",
    ):
        assert key in data
    assert data["objective"]["definition"].startswith("Σ over hazards")
    assert {"status", "gap", "bound", "greedy_objective"} <= set(data["solver"])
    assert data["violations"] == []
    finished = [h for h in data["hazards"] if h["status"] == "finished"]
    assert finished and all(h["start"] <= h["finish"] for h in finished)
    xlsx = write_workbook(plan, tmp_path / "plan.xlsx")
    wb = load_workbook(xlsx)
    assert wb.sheetnames == ["Summary", "Team schedule", "Hazards", "Top priorities", "Not plannable"]
    assert wb["Top priorities"].max_row == plan.priorities()["top_n"] + 1
    assert wb["Team schedule"].max_row == len(plan.assignments()) + 1
    png = write_gantt(plan, tmp_path / "plan.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_empty_programme_plans_nothing():
    inst = build_instance([], [], APRIL, PAPER)
    plan = make_plan(inst, PAPER)
    assert plan.solution.objective == 0.0
    assert plan.to_dict()["summary"]["hazards_in_plan"] == 0
    assert np.asarray(plan.solution.y).size == 0
    assert LAT and LON  # shared constants stay importable
